package slo

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vigilops/vigil/metricstore"
	"github.com/vigilops/vigil/telemetry"
)

// BenchmarkEvaluate times one evaluation (all eight windows, 30d budget
// included) of one SLO whose selectors match 20 instance series each of
// good and bad requests, with three days of 1-minute scrapes in the store
// (6h raw, the rest in 5m buckets): the per-tick cost of an SLO in serve.
func BenchmarkEvaluate(b *testing.B) {
	st, err := metricstore.New(metricstore.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	const instances = 20
	var ok, bad []telemetry.Labels
	for i := range instances {
		inst := fmt.Sprintf("10.0.0.%d:8080", i)
		ok = append(ok, telemetry.LabelsFromStrings("__name__", "http_requests_total", "service", "checkout", "code", "200", "instance", inst))
		bad = append(bad, telemetry.LabelsFromStrings("__name__", "http_requests_total", "service", "checkout", "code", "503", "instance", inst))
	}
	// Unrelated series the selectors must skip.
	for i := range 2000 {
		ls := telemetry.LabelsFromStrings("__name__", "http_requests_total", "service", fmt.Sprintf("svc%d", i), "code", "200")
		st.Append([]telemetry.Sample{{Labels: ls, T: t0.UnixMilli(), V: 1}})
	}
	now := t0
	samples := make([]telemetry.Sample, 0, 2*instances)
	for m := range 3 * 24 * 60 {
		now = t0.Add(time.Duration(m) * time.Minute)
		samples = samples[:0]
		for i := range instances {
			samples = append(samples,
				telemetry.Sample{Labels: ok[i], T: now.UnixMilli(), V: float64(m) * 50},
				telemetry.Sample{Labels: bad[i], T: now.UnixMilli(), V: float64(m) * 0.05})
		}
		st.Append(samples)
	}
	e, err := New([]Definition{checkoutSLO(b)}, NewStoreSource(st), DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := e.Evaluate(ctx, now)
		if err != nil || len(res.Status) != 1 {
			b.Fatal(res, err)
		}
	}
}
