package correlate

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/telemetry"
)

// FuzzObserve feeds arbitrary names, labels and templates: the correlator
// must neither panic nor lose track of what it was given.
func FuzzObserve(f *testing.F) {
	f.Add("HighErrorRate", "checkout", "critical", "connection refused to <*>", 0.9, int64(0))
	f.Add("", "", "", "", -1.0, int64(-5))
	f.Add("ÄÖÜ\xffSLO", "a b", "page", "\x00\x00", 2.0, int64(1<<40))
	f.Fuzz(func(t *testing.T, name, svc, sev, text string, score float64, dt int64) {
		o := DefaultOptions()
		o.Registerer = prometheus.NewRegistry()
		o.Topology = NewGraph([][2]string{{svc, "x"}})
		c, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
		ts := base.Add(time.Duration(dt % int64(48*time.Hour)))
		a := telemetry.Alert{Labels: telemetry.LabelsFromMap(map[string]string{"alertname": name, "service": svc, "severity": sev, "x": text}),
			Annotations: telemetry.LabelsFromStrings("summary", text), StartsAt: ts}
		an := detect.Anomaly{Type: detect.Type(name), Service: svc, Template: text, Score: score, End: ts}
		ev := telemetry.Event{Kind: telemetry.EventDeploy, Service: svc, Time: ts, Summary: text}
		for i, s := range []Signal{AlertSignal(&a, ts), AnomalySignal(&an), EventSignal(&ev), AlertSignal(&a, ts.Add(time.Minute))} {
			if err := c.Observe(ctx, s); err != nil {
				t.Fatalf("signal %d: %v", i, err)
			}
		}
		if err := c.Tick(ctx, ts.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if st := c.Stats(); st.Correlation.Signals != 4 {
			t.Fatalf("counted %d signals, want 4", st.Correlation.Signals)
		}
		_ = tokensOf(name, a.Labels, text)
	})
}
