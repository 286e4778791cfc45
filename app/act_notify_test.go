package app

import (
	"context"
	"strings"
	"testing"

	"github.com/vigilops/vigil/act"
)

// TestRemediationNoticesAreRouted: approval requests and escalations from
// the act service reach the receivers the routing tree picks for
// alertname="VigilRemediation", once each.
func TestRemediationNoticesAreRouted(t *testing.T) {
	_, sink, a := alertingApp(t)
	ctx := context.Background()
	ap := &act.Approval{ID: "ap-1", Runbook: "redis-scale-up", IncidentID: "inc-7"}
	for i := 0; i < 2; i++ { // the second, identical notice is not sent again
		if err := a.actNotify(ctx, act.Notice{Kind: "approval_requested", Text: "redis-scale-up needs approval", Approval: ap}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.actEscalate(ctx, act.Escalation{Runbook: "redis-scale-up", IncidentID: "inc-7", Reason: "verification failed"}); err != nil {
		t.Fatal(err)
	}
	var approvals, escalations int
	for _, m := range sink.got(false) {
		alerts, _ := m["alerts"].([]any)
		for _, x := range alerts {
			al, _ := x.(map[string]any)
			ls, _ := al["labels"].(map[string]any)
			ann, _ := al["annotations"].(map[string]any)
			if ls["alertname"] != RemediationAlertName || ls["incident"] != "inc-7" {
				t.Errorf("delivered %v", ls)
				continue
			}
			switch ls["kind"] {
			case "approval_requested":
				approvals++
			case "escalation":
				escalations++
				if s, _ := ann["summary"].(string); !strings.Contains(s, "verification failed") || ls["severity"] != "critical" {
					t.Errorf("escalation %v %v", ls, ann)
				}
			}
		}
	}
	if approvals != 1 || escalations != 1 {
		t.Errorf("%d approval notices and %d escalations delivered, want 1 and 1", approvals, escalations)
	}
}
