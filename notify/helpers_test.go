package notify

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/telemetry"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// testMessage returns a firing group of n alerts evaluated at now.
func testMessage(group string, n int, now time.Time) *Message {
	m := &Message{
		GroupKey:     group,
		Status:       StatusFiring,
		GroupLabels:  telemetry.LabelsFromStrings("service", "checkout"),
		CommonLabels: telemetry.LabelsFromStrings("service", "checkout", "alertname", "HighErrorRate"),
		ExternalURL:  "http://vigil.example",
		Now:          now,
	}
	for i := range n {
		m.Alerts = append(m.Alerts, telemetry.Alert{
			Labels:   telemetry.LabelsFromStrings("alertname", "HighErrorRate", "service", "checkout", "pod", string(rune('a'+i%26))+time.Duration(i).String()),
			StartsAt: now.Add(-time.Minute),
		})
	}
	return m
}

// counter reads a counter with the given labels from reg; 0 when absent.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}
