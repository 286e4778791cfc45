package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

func TestGetAlerts(t *testing.T) {
	env := newTestEnv(t, nil)
	_ = env.alerts.UpsertAlerts(context.Background(), []telemetry.Alert{
		{Labels: telemetry.LabelsFromStrings("alertname", "HighLatency"), StartsAt: testStart.Add(-time.Hour)},
		{Labels: telemetry.LabelsFromStrings("alertname", "DiskFull"), StartsAt: testStart.Add(-2 * time.Hour), EndsAt: testStart.Add(-time.Hour)},
		{Labels: telemetry.LabelsFromStrings("alertname", "Old"), StartsAt: testStart.Add(-3 * time.Hour), EndsAt: testStart.Add(-2 * time.Hour)},
	})
	viewer := env.secrets[store.RoleViewer]
	type view struct {
		Fingerprint string
		Status      string
		Labels      map[string]string
	}
	tests := []struct {
		query string
		want  []string // alertnames
	}{
		{"", []string{"HighLatency", "DiskFull", "Old"}},
		{"?active=true", []string{"HighLatency"}},
		{"?active=false", []string{"DiskFull", "Old"}},
		{"?active=false&limit=1", []string{"DiskFull"}},
		{"?limit=2", []string{"HighLatency", "DiskFull"}},
		{"?from=2024-05-01T09:30:00Z", []string{"HighLatency", "DiskFull"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			rec := env.do(t, "GET", "/api/v1/alerts"+tt.query, "", viewer)
			wantStatus(t, rec, http.StatusOK)
			var got struct{ Alerts []view }
			mustJSON(t, rec, &got)
			var names []string
			for _, a := range got.Alerts {
				names = append(names, a.Labels["alertname"])
				wantFP := telemetry.LabelsFromMap(a.Labels).Fingerprint().String()
				if a.Fingerprint != wantFP || (a.Status != "firing" && a.Status != "resolved") {
					t.Errorf("alert %v: fingerprint %q (want %q), status %q", a.Labels, a.Fingerprint, wantFP, a.Status)
				}
			}
			if strings.Join(names, ",") != strings.Join(tt.want, ",") {
				t.Errorf("alerts = %v, want %v", names, tt.want)
			}
		})
	}
	for _, q := range []string{"active=yes", "limit=-1", "fingerprint=abc", "to=now"} {
		t.Run(q, func(t *testing.T) {
			wantError(t, env.do(t, "GET", "/api/v1/alerts?"+q, "", viewer), http.StatusBadRequest)
		})
	}
	rec := env.do(t, "GET", "/api/v1/alerts?from=2030-01-01T00:00:00Z", "", viewer)
	if got := strings.TrimSpace(rec.Body.String()); got != `{"alerts":[]}` {
		t.Errorf("no alerts = %s", got)
	}
}
