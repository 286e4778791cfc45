package main

// This file belongs in cmd/vigil/explain_test.go. It lives here only
// because the analyst's author could not add files to cmd/vigil; run it
// in place with:
//   go test -overlay <(echo '{"Replace":{"cmd/vigil/explain_test.go":"copilot/analyst/testdata/cmd/explain_test.go"}}') ./cmd/vigil -run Explain

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/copilot/analyst"
)

// runExplain executes `vigil explain` in-process on a root that has only
// that subcommand, so the test does not depend on how root is wired.
func runExplain(t *testing.T, stdin string, argv ...string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "vigil", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newExplainCmd())
	var out, errOut bytes.Buffer
	root.SetArgs(append([]string{"explain"}, argv...))
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	err := root.Execute()
	return out.String(), err
}

const dbExample = `2023-10-27 10:00:01 [INFO] Starting server...
2023-10-27 10:00:05 [ERROR] ConnectionRefusedError: [Errno 111] Connection refused: 'db-prod-1:5432'
2023-10-27 10:00:06 [CRITICAL] Database health check failed. Retrying in 5s...
`

func TestExplainCmd(t *testing.T) {
	file := filepath.Join("..", "..", "copilot", "analyst", "testdata", "database_refused.log")
	tests := []struct {
		name  string
		stdin string
		argv  []string
		want  []string
	}{
		{"stdin", dbExample, []string{"-"}, []string{"cannot reach its database at db-prod-1:5432 (PostgreSQL)", "Checks:", "network policy, firewall"}},
		{"file", "", []string{file}, []string{"Most likely cause", "pg_isready -h db-prod-1 -p 5432"}},
		{"line", "", []string{"--line", "open /data/app.db: permission denied"}, []string{"Permission denied", "ls -ld /data/app.db"}},
		{"state", "", []string{"--state", "crashloopbackoff"}, []string{"CrashLoopBackOff means", "kubectl logs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runExplain(t, tt.stdin, tt.argv...)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestExplainCmdJSON(t *testing.T) {
	out, err := runExplain(t, dbExample, "--json", "-")
	if err != nil {
		t.Fatal(err)
	}
	var rep analyst.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Database != "PostgreSQL" || rep.Lines != 3 {
		t.Errorf("report %+v", rep)
	}
}

func TestExplainCmdUsage(t *testing.T) {
	for _, argv := range [][]string{
		{},
		{"-", "--state", "Pending"},
		{"--state", "Sleepy"},
	} {
		_, err := runExplain(t, "", argv...)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: err %v, want a usage error", argv, err)
		}
	}
	if _, err := runExplain(t, "", "/does/not/exist"); err == nil {
		t.Error("missing file: no error")
	}
}

// TestExplainIncident: --incident tells a running server's diagnosis of an
// incident: narrative with numbered evidence, confidence and first check.
func TestExplainIncident(t *testing.T) {
	srv := rcaServer(t, true, "")
	out, stderr, err := runVigil(t, "", "explain", "--incident", "inc-7", "--url", srv.URL)
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	for _, want := range []string{"Incident inc-7: catalog slow (catalog, redis)", "Redis filled its memory first [E1].",
		"[E1] memory 380MB against 100MB", "confidence 71%", "First check: check redis maxmemory and eviction"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, _, err = runVigil(t, "", "explain", "--incident", "inc-7", "--url", rcaServer(t, false, "").URL)
	if err != nil || !strings.Contains(out, "Not diagnosed (yet)") {
		t.Errorf("undiagnosed: %v\n%s", err, out)
	}
	if _, _, err := runVigil(t, "", "explain", "--incident", "nope", "--url", srv.URL); err == nil || !strings.Contains(err.Error(), "incident nope not found") {
		t.Errorf("unknown incident: %v", err)
	}
	if _, _, err := runVigil(t, "", "explain", "--incident", "inc-7", "--line", "x"); err == nil {
		t.Error("--incident with --line accepted")
	}
}
