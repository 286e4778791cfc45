package notify

import (
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

func TestNewMessage(t *testing.T) {
	a := telemetry.Alert{Labels: telemetry.LabelsFromStrings("alertname", "A", "job", "api", "pod", "1"),
		Annotations: telemetry.LabelsFromStrings("summary", "s", "runbook", "r"), StartsAt: t0.Add(-time.Hour)}
	b := telemetry.Alert{Labels: telemetry.LabelsFromStrings("alertname", "A", "job", "api", "pod", "2"),
		Annotations: telemetry.LabelsFromStrings("summary", "other", "runbook", "r"), StartsAt: t0.Add(-time.Hour), EndsAt: t0.Add(-time.Minute)}
	tests := []struct {
		name       string
		alerts     []telemetry.Alert
		wantStatus string
		wantCommon telemetry.Labels
		wantAnn    telemetry.Labels
	}{
		{"one firing", []telemetry.Alert{a, b}, StatusFiring, telemetry.LabelsFromStrings("alertname", "A", "job", "api"), telemetry.LabelsFromStrings("runbook", "r")},
		{"all resolved", []telemetry.Alert{b}, StatusResolved, b.Labels, b.Annotations},
		{"empty", nil, StatusResolved, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMessage("r", "g", nil, tt.alerts, "", t0)
			if m.Status != tt.wantStatus || !m.CommonLabels.Equal(tt.wantCommon) || !m.CommonAnnotations.Equal(tt.wantAnn) {
				t.Errorf("got status %s common %v ann %v", m.Status, m.CommonLabels, m.CommonAnnotations)
			}
			if err := m.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}
