package correlate

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/telemetry"
)

func benchCorrelator(b *testing.B, topo Topology) *Correlator {
	b.Helper()
	o := DefaultOptions()
	o.Registerer = prometheus.NewRegistry()
	o.Topology = topo
	c, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkCorrelateStorm replays the storm's signals; signals/s is the
// throughput figure (run with GOMAXPROCS=1: -cpu 1).
func BenchmarkCorrelateStorm(b *testing.B) {
	st, err := GenerateStorm(StormOptions{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	c := benchCorrelator(b, NewGraph(st.Edges))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % len(st.Signals)
		if k == 0 && i > 0 {
			// Start a fresh pass on a fresh correlator, so every pass sees
			// the storm as it was generated (not a correlator full of the
			// previous pass's incidents).
			b.StopTimer()
			c = benchCorrelator(b, NewGraph(st.Edges))
			b.StartTimer()
		}
		s := st.Signals[k].Signal
		if err := c.Observe(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signals/s")
}

// BenchmarkAlertStatusChange flips one alert between firing and resolved
// with n other alerts open: the cost must not grow with n.
func BenchmarkAlertStatusChange(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run("open="+strconv.Itoa(n), func(b *testing.B) {
			ctx := context.Background()
			c := benchCorrelator(b, nil)
			t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
			for i := 0; i < n; i++ {
				svc := "svc-" + strconv.Itoa(i%10)
				a := telemetry.Alert{Labels: telemetry.LabelsFromStrings("alertname", "HighLatency", "service", svc,
					"instance", "pod-"+strconv.Itoa(i)), StartsAt: t0, EndsAt: t0.Add(24 * time.Hour)}
				if err := c.Observe(ctx, AlertSignal(&a, t0)); err != nil {
					b.Fatal(err)
				}
			}
			a := telemetry.Alert{Labels: telemetry.LabelsFromStrings("alertname", "HighLatency", "service", "svc-0",
				"instance", "pod-0"), StartsAt: t0, EndsAt: t0.Add(24 * time.Hour)}
			fire, resolve := a, a
			at := t0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				at = at.Add(time.Millisecond)
				var s Signal
				if i%2 == 0 {
					resolve.EndsAt = at
					s = AlertSignal(&resolve, at)
				} else {
					fire.EndsAt = at.Add(time.Hour)
					s = AlertSignal(&fire, at)
				}
				if err := c.Observe(ctx, s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
