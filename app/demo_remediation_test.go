package app

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/incident"
)

// TestDemoRedisRemediation drives the whole loop in the demo: the Redis
// scenario opens an incident, its diagnosis names redis, the demo runbook
// asks for approval, an operator approves it through the API, it scales
// the fake cluster's redis deployment, verifies, and the audit chain holds.
func TestDemoRedisRemediation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for several seconds")
	}
	cfg := testConfig(t)
	cfg.Demo.Enabled, cfg.Demo.Speed, cfg.Demo.Seed = true, 3600, 1 // seed 1: redis-memory about 5h in
	cfg.API.AnonymousRole = "viewer"
	a := startApp(t, cfg)
	base := "http://" + a.Addr().String()
	adminB, err := os.ReadFile(filepath.Join(cfg.DataDir, AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, token, body string) (int, []byte) {
		t.Helper()
		return send(t, method, base+path, body, token)
	}
	code, body := call("POST", "/api/v1/tokens", strings.TrimSpace(string(adminB)), `{"name":"oncall","role":"operator"}`)
	var tok struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.Secret == "" {
		t.Fatalf("create operator token: %d %s", code, body)
	}

	type approval struct {
		ID, Runbook, Status, Execution string
		IncidentID                     string    `json:"incident_id"`
		RequestedAt                    time.Time `json:"requested_at"`
		ExpiresAt                      time.Time `json:"expires_at"`
	}
	var ap approval
	waitFor(t, "an approval request for the redis runbook", 90*time.Second, func() bool {
		_, b := call("GET", "/api/v1/approvals", "", "")
		var resp struct {
			Approvals []approval `json:"approvals"`
		}
		if err := json.Unmarshal(b, &resp); err != nil {
			var list []approval
			if json.Unmarshal(b, &list) != nil {
				return false
			}
			resp.Approvals = list
		}
		for _, x := range resp.Approvals {
			if strings.Contains(x.Runbook, "redis") && x.Status == "pending" {
				ap = x
				return true
			}
		}
		return false
	})
	if _, b := call("GET", "/api/v1/incidents/"+ap.IncidentID+"/diagnosis", "", ""); !strings.Contains(string(b), `"redis"`) {
		t.Errorf("the incident's diagnosis does not name redis: %.800s", b)
	}
	// The request is on the simulated clock, like the incident it is for,
	// and stays open for the configured time of the operator's (real) time.
	_, b := call("GET", "/api/v1/incidents/"+ap.IncidentID, "", "")
	var iv struct {
		Incident incident.Incident `json:"incident"`
	}
	if err := json.Unmarshal(b, &iv); err != nil {
		t.Fatalf("incident %s: %v: %.300s", ap.IncidentID, err, b)
	}
	opened := iv.Incident.OpenedAt
	if ap.RequestedAt.Before(opened) {
		t.Errorf("approval requested at %s, before its incident opened at %s", ap.RequestedAt, opened)
	}
	if got, want := ap.ExpiresAt.Sub(ap.RequestedAt), time.Duration(cfg.Act.ApprovalTTL)*3600; got != want {
		t.Errorf("approval expires %s after its request, want approval_ttl x demo speed = %s", got, want)
	}
	// Approving needs the operator role.
	if code, _ := call("POST", "/api/v1/approvals/"+ap.ID+"/approve", "", `{}`); code == http.StatusOK {
		t.Fatal("approved without a token")
	}
	if code, b := call("POST", "/api/v1/approvals/"+ap.ID+"/approve", tok.Secret, `{"comment":"go"}`); code != http.StatusOK {
		t.Fatalf("approve: %d %s", code, b)
	}
	var status string
	waitFor(t, "the approved execution to finish", 90*time.Second, func() bool {
		_, b := call("GET", "/api/v1/executions", "", "")
		var resp struct {
			Executions []struct {
				ID, Runbook, Status string
				Approval            string
			} `json:"executions"`
		}
		if json.Unmarshal(b, &resp) != nil {
			return false
		}
		for _, e := range resp.Executions {
			if e.Approval == ap.ID && e.Status != "running" && e.Status != "verifying" && e.Status != "" {
				status = e.Status
				return true
			}
		}
		return false
	})
	if status != "succeeded" && status != "verified" {
		t.Errorf("execution ended %q, want succeeded", status)
	}
	// Remediation entries sit after the incident opened on its timeline.
	_, b = call("GET", "/api/v1/incidents/"+ap.IncidentID+"/timeline", "", "")
	var tl struct {
		Entries []incident.Entry `json:"entries"`
	}
	if err := json.Unmarshal(b, &tl); err != nil {
		t.Fatalf("timeline: %v: %.300s", err, b)
	}
	actions := 0
	for _, e := range tl.Entries {
		if e.Kind != incident.EntryAction {
			continue
		}
		actions++
		if e.Time.Before(opened) {
			t.Errorf("remediation entry %q at %s is before the incident opened at %s", e.Text, e.Time, opened)
		}
	}
	if actions == 0 {
		t.Errorf("no remediation entry on the timeline: %.2000s", b)
	}
	if code, b := call("GET", "/api/v1/audit/verify", "", ""); code != http.StatusOK || !strings.Contains(string(b), `"ok":true`) {
		t.Errorf("audit verify: %d %s", code, b)
	}
	_ = a.Stop(context.Background())
}
