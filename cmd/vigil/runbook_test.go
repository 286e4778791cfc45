package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/vigilops/vigil/config"
)

const runbookDir = "../../act/testdata/runbooks"

func runActCmd(t *testing.T, argv ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetArgs(argv)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.Execute()
	return out.String(), err
}

func TestRunbookValidateCmd(t *testing.T) {
	out, err := runActCmd(t, "runbook", "validate", "--dir", runbookDir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Valid    bool `json:"valid"`
		Runbooks []struct {
			Name string `json:"name"`
		} `json:"runbooks"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || !got.Valid || len(got.Runbooks) != 3 {
		t.Fatalf("output %s: %v", out, err)
	}
	_, err = runActCmd(t, "runbook", "validate", "../../act/testdata/bad-runbook.yaml")
	if !errors.Is(err, config.ErrInvalid) || exitCode(err) != exitInvalid || !strings.Contains(err.Error(), "bad-runbook.yaml") {
		t.Fatalf("bad runbook: %v (exit %d)", err, exitCode(err))
	}
	if _, err := runActCmd(t, "runbook", "validate"); exitCode(err) != exitUsage {
		t.Fatalf("no files: %v", err)
	}
	if _, err := runActCmd(t, "runbook", "validate", "/nonexistent.yaml"); exitCode(err) != exitError {
		t.Fatalf("missing file: %v", err)
	}
}

func TestRunbookRunDryRunCmd(t *testing.T) {
	out, err := runActCmd(t, "runbook", "run", "redis-memory-scale-up", "--dry-run", "--dir", runbookDir, "--param", "replicas=3", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var plan struct {
		DryRun bool              `json:"dry_run"`
		Params map[string]string `json:"params"`
		Steps  []struct {
			Does string `json:"does"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if !plan.DryRun || plan.Params["replicas"] != "3" || len(plan.Steps) != 1 || plan.Steps[0].Does != "scale deployment shop/redis to 3 replicas" {
		t.Fatalf("plan = %+v", plan)
	}
	tests := []struct {
		name string
		argv []string
		code int
		want string
	}{
		{"no dry run", []string{"runbook", "run", "redis-memory-scale-up", "--dir", runbookDir}, exitUsage, "only --dry-run"},
		{"no source", []string{"runbook", "run", "x", "--dry-run"}, exitUsage, "--file"},
		{"unknown runbook", []string{"runbook", "run", "nope", "--dry-run", "--dir", runbookDir}, exitError, "unknown runbook"},
		{"bad param syntax", []string{"runbook", "run", "redis-memory-scale-up", "--dry-run", "--dir", runbookDir, "-p", "replicas"}, exitUsage, "key=value"},
		{"unknown param", []string{"runbook", "run", "redis-memory-scale-up", "--dry-run", "--dir", runbookDir, "-p", "ghost=1"}, exitUsage, "no parameter"},
		{"injection", []string{"runbook", "run", "redis-memory-scale-up", "--dry-run", "--dir", runbookDir, "-p", "deployment=redis; rm -rf /"}, exitUsage, "RFC 1123"},
		{"out of range", []string{"runbook", "run", "redis-memory-scale-up", "--dry-run", "--dir", runbookDir, "-p", "replicas=100"}, exitUsage, "maximum"},
		{"missing required", []string{"runbook", "run", "node-cordon", "--dry-run", "--dir", runbookDir}, exitUsage, "no value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runActCmd(t, tc.argv...)
			if exitCode(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v (exit %d), want exit %d mentioning %q", err, exitCode(err), tc.code, tc.want)
			}
		})
	}
	// Hostile text stays one JSON string in the rendered body.
	out, err = runActCmd(t, "runbook", "run", "checkout-restart", "--dry-run", "--dir", runbookDir, "-p", "service=checkout", "-p", "reason=ok: done, 1.2", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `\"reason\":\"ok: done, 1.2\"`) {
		t.Fatalf("body not rendered as JSON data: %s", out)
	}
}

// fakeActAPI answers the act routes the way vigil serve does, recording
// what it was sent.
func fakeActAPI(t *testing.T) (*httptest.Server, *[]string) {
	var seen []string
	var mtx sync.Mutex
	engaged := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mtx.Lock()
		defer mtx.Unlock()
		b, _ := io.ReadAll(r.Body)
		seen = append(seen, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Authorization")+" "+string(b))
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/api/v1/killswitch" && r.Method == "POST":
			if r.Header.Get("Authorization") != "Bearer admin-secret" {
				w.WriteHeader(403)
				io.WriteString(w, `{"error":{"status":403,"code":"forbidden","message":"this endpoint needs the admin role"}}`)
				return
			}
			var body struct {
				Engaged bool   `json:"engaged"`
				Reason  string `json:"reason"`
			}
			json.Unmarshal(b, &body)
			engaged = body.Engaged
			fmt.Fprintf(w, `{"engaged":%v,"reason":%q,"by":"root"}`, engaged, body.Reason)
		case r.URL.Path == "/api/v1/killswitch":
			fmt.Fprintf(w, `{"engaged":%v}`, engaged)
		case r.URL.Path == "/api/v1/approvals":
			io.WriteString(w, `{"approvals":[{"id":"a1","runbook":"redis-memory-scale-up","risk":"low","status":"pending","requested_by":"vigil","params":{"replicas":"2"}}]}`)
		case strings.HasPrefix(r.URL.Path, "/api/v1/approvals/a1/"):
			io.WriteString(w, `{"id":"a1","status":"approved","runbook":"redis-memory-scale-up","execution":"e1"}`)
		default:
			w.WriteHeader(404)
			io.WriteString(w, `{"error":{"status":404,"code":"not_found","message":"approval not found"}}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestRunbookKillSwitchAndApprovalsCmd(t *testing.T) {
	srv, seen := fakeActAPI(t)
	out, err := runActCmd(t, "runbook", "killswitch", "engage", "--reason", "game day", "--url", srv.URL, "--token", "admin-secret")
	if err != nil || !strings.Contains(out, "ENGAGED by root: game day") {
		t.Fatalf("engage = %q, %v", out, err)
	}
	if !strings.Contains((*seen)[0], `POST /api/v1/killswitch Bearer admin-secret {"engaged":true,"reason":"game day"}`) {
		t.Fatalf("sent %q", (*seen)[0])
	}
	if out, err := runActCmd(t, "runbook", "killswitch", "--url", srv.URL); err != nil || !strings.Contains(out, "ENGAGED") {
		t.Fatalf("status = %q, %v", out, err)
	}
	t.Setenv("VIGIL_TOKEN", "operator-secret")
	if _, err := runActCmd(t, "runbook", "killswitch", "release", "--url", srv.URL); err == nil || !strings.Contains(err.Error(), "admin role") {
		t.Fatalf("release as operator: %v", err)
	}
	if _, err := runActCmd(t, "runbook", "killswitch", "explode", "--url", srv.URL); exitCode(err) != exitUsage {
		t.Fatalf("bad verb: %v", err)
	}
	if _, err := runActCmd(t, "runbook", "killswitch", "--url", "ftp://x"); exitCode(err) != exitUsage {
		t.Fatalf("bad url: %v", err)
	}
	out, err = runActCmd(t, "runbook", "approvals", "--url", srv.URL)
	if err != nil || !strings.Contains(out, "a1  pending") || !strings.Contains(out, "redis-memory-scale-up") {
		t.Fatalf("list = %q, %v", out, err)
	}
	out, err = runActCmd(t, "runbook", "approvals", "approve", "a1", "--comment", "go", "--url", srv.URL)
	if err != nil || !strings.Contains(out, "a1 approved") || !strings.Contains(out, "execution e1") {
		t.Fatalf("approve = %q, %v", out, err)
	}
	if last := (*seen)[len(*seen)-1]; !strings.Contains(last, `POST /api/v1/approvals/a1/approve Bearer operator-secret {"comment":"go"}`) {
		t.Fatalf("sent %q", last)
	}
	if _, err := runActCmd(t, "runbook", "approvals", "reject", "zz", "--url", srv.URL); err == nil || !strings.Contains(err.Error(), "approval not found") {
		t.Fatalf("reject unknown: %v", err)
	}
	if _, err := runActCmd(t, "runbook", "approvals", "approve", "--url", srv.URL); exitCode(err) != exitUsage {
		t.Fatalf("approve without ID: %v", err)
	}
}
