package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilops/vigil/config"
)

const routesYAML = `
route:
  receiver: team
  group_by: [alertname]
  routes:
  - matchers: [severity="page"]
    receiver: pager
    group_wait: 10s
    continue: true
  - matchers: [severity=~"page|ticket"]
    receiver: tickets
receivers: [{name: team}, {name: pager}, {name: tickets, opsgenie_configs: [{api_key: x}]}]
`

func runRoutes(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestRoutesCmd(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "am.yml")
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(good, []byte(routesYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("route:\n  receiver: nope\nreceivers: [{name: team}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	out, err := runRoutes(t, "routes", "check", good)
	if err != nil || !strings.Contains(out, "valid: 3 routes, 3 receivers") || !strings.Contains(out, "opsgenie_configs: not supported") {
		t.Errorf("check: %v\n%s", err, out)
	}
	_, err = runRoutes(t, "routes", "check", bad)
	if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "bad.yml:2: route.receiver") {
		t.Errorf("check bad: %v", err)
	}
	if exitCode(err) != exitInvalid {
		t.Errorf("exit code %d", exitCode(err))
	}

	out, err = runRoutes(t, "routes", "test", good, "alertname=Down", `severity="page"`, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var hits []struct {
		Receiver  string `json:"receiver"`
		GroupKey  string `json:"group_key"`
		GroupWait string `json:"group_wait"`
	}
	if err := json.Unmarshal([]byte(out), &hits); err != nil {
		t.Fatalf("json %v:\n%s", err, out)
	}
	if len(hits) != 2 || hits[0].Receiver != "pager" || hits[0].GroupWait != "10s" || hits[1].Receiver != "tickets" || hits[1].GroupWait != "30s" {
		t.Errorf("hits %+v", hits)
	}
	out, err = runRoutes(t, "routes", "test", good, "alertname=Other")
	if err != nil || !strings.Contains(out, `team      {}:{alertname="Other"}`) {
		t.Errorf("table: %v\n%s", err, out)
	}

	for _, a := range [][]string{
		{"routes", "test", good},
		{"routes", "test", good, "severity=~page"},
		{"routes", "test", good, "a=1", "a=2"},
		{"routes", "check"},
	} {
		if _, err := runRoutes(t, a...); exitCode(err) != exitUsage {
			t.Errorf("%v: %v (exit %d)", a, err, exitCode(err))
		}
	}
}
