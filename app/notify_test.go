package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/notify"
	"github.com/vigilops/vigil/telemetry"
)

// recordingNotifier is a hand-written fake integration.
type recordingNotifier struct{ got []*notify.Message }

func (r *recordingNotifier) Notify(_ context.Context, m *notify.Message) error {
	r.got = append(r.got, m)
	return nil
}

func TestResolvedFilter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	firing := telemetry.Alert{Labels: telemetry.LabelsFromMap(map[string]string{"alertname": "A"}), StartsAt: now.Add(-time.Hour)}
	resolved := telemetry.Alert{Labels: telemetry.LabelsFromMap(map[string]string{"alertname": "B"}), StartsAt: now.Add(-time.Hour), EndsAt: now.Add(-time.Minute)}
	tests := []struct {
		name        string
		alerts      []telemetry.Alert
		incident    bool
		sendResolve bool
		wantCalls   int
		wantAlerts  int
	}{
		{"firing only passes", []telemetry.Alert{firing}, false, false, 1, 1},
		{"resolved dropped from a mixed group", []telemetry.Alert{firing, resolved}, false, false, 1, 1},
		{"all resolved is skipped", []telemetry.Alert{resolved}, false, false, 0, 0},
		{"send_resolved keeps resolved", []telemetry.Alert{firing, resolved}, false, true, 1, 2},
		{"incident resolution always passes", []telemetry.Alert{resolved}, true, false, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordingNotifier{}
			n := sendResolved(rec, tt.sendResolve)
			m := notify.NewMessage("r", "g", nil, tt.alerts, "", now)
			if tt.incident {
				m.Incident = &notify.IncidentInfo{ID: "inc-1", Status: notify.IncidentResolved}
			}
			if err := n.Notify(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			if len(rec.got) != tt.wantCalls {
				t.Fatalf("calls %d, want %d", len(rec.got), tt.wantCalls)
			}
			if tt.wantCalls > 0 && len(rec.got[0].Alerts) != tt.wantAlerts {
				t.Fatalf("alerts %d, want %d", len(rec.got[0].Alerts), tt.wantAlerts)
			}
		})
	}
}

func TestIntegrationsFromConfig(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "slack")
	if err := os.WriteFile(secret, []byte("https://hooks.slack.example/T/B/X\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		yaml    string
		want    []string // integration names, in order
		wantErr string
	}{
		{"every kind with global fallbacks", `
global:
  slack_api_url_file: ` + secret + `
  smtp_smarthost: mail.example:587
  smtp_from: vigil@example.com
route: {receiver: all}
receivers:
  - name: all
    slack_configs: [{channel: '#ops'}]
    pagerduty_configs: [{routing_key: 0123456789abcdef0123456789abcdef}]
    webhook_configs: [{url: 'http://127.0.0.1:1/hook'}]
    email_configs: [{to: 'a@example.com, b@example.com'}]
`, []string{"slack", "pagerduty", "webhook", "email"}, ""},
		{"missing secret file", `
route: {receiver: s}
receivers:
  - name: s
    slack_configs: [{api_url_file: ` + filepath.Join(dir, "absent") + `}]
`, nil, "slack_configs[0].api_url_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			am, err := config.ParseAlertmanagerConfig([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			ins, err := integrations(&am.Receivers[0], am.Global, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("want error with %q, got %v", tt.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, n := range ins {
				names = append(names, n.(notify.Integrator).Integration())
			}
			if strings.Join(names, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("integrations %v, want %v", names, tt.want)
			}
		})
	}
}
