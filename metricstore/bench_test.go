package metricstore

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// benchLabels returns n distinct label sets shaped like Prometheus
// targets' (eight labels, ~170 bytes).
func benchLabels(n, offset int) []telemetry.Labels {
	out := make([]telemetry.Labels, n)
	for i := range out {
		j := i + offset
		out[i] = telemetry.LabelsFromStrings(
			"__name__", []string{"http_requests_total", "process_cpu_seconds_total", "go_goroutines"}[j%3],
			"code", fmt.Sprint(200+100*(j%4)),
			"instance", fmt.Sprintf("10.0.%d.%d:8080", j/250%250, j%250),
			"job", fmt.Sprintf("service-%d", j%17),
			"method", []string{"GET", "POST"}[j%2],
			"namespace", "production",
			"pod", fmt.Sprintf("service-%d-7d9f8c6b5-%06d", j%17, j),
			"service", fmt.Sprintf("service-%d", j%17),
		)
	}
	return out
}

// BenchmarkMetricstoreAppend appends remote-write-shaped batches (2,000
// samples, one per series) to 20,000 series, 15 s apart, from one
// goroutine and from all of them (each its own series, as bus workers
// keyed by service are).
func BenchmarkMetricstoreAppend(b *testing.B) {
	const nseries, batch = 20_000, 2000
	b.Run("serial", func(b *testing.B) {
		st, _ := New(Options{Logger: discardLogger()})
		ls := benchLabels(nseries, 0)
		samples := make([]telemetry.Sample, batch)
		ts, next := int64(0), 0
		b.ReportAllocs()
		cpu0 := cpuSeconds()
		for b.Loop() {
			for i := range samples {
				samples[i] = telemetry.Sample{Labels: ls[next], T: ts, V: float64(ts)}
				if next++; next == nseries {
					next, ts = 0, ts+15_000
				}
			}
			st.Append(samples)
		}
		reportSamples(b, batch, cpu0)
	})
	b.Run("parallel", func(b *testing.B) {
		st, _ := New(Options{Logger: discardLogger()})
		var worker atomic.Int64
		b.ReportAllocs()
		cpu0 := cpuSeconds()
		b.RunParallel(func(pb *testing.PB) {
			ls := benchLabels(nseries/4, int(worker.Add(1))*nseries)
			samples := make([]telemetry.Sample, batch)
			ts, next := int64(0), 0
			for pb.Next() {
				for i := range samples {
					samples[i] = telemetry.Sample{Labels: ls[next], T: ts, V: float64(ts)}
					if next++; next == len(ls) {
						next, ts = 0, ts+15_000
					}
				}
				st.Append(samples)
			}
		})
		reportSamples(b, batch, cpu0)
	})
}

func reportSamples(b *testing.B, perOp int, cpu0 float64) {
	n := float64(b.N) * float64(perOp)
	b.ReportMetric(n/b.Elapsed().Seconds(), "samples/s")
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		b.ReportMetric(n/cpu, "samples/cpu-s")
	}
}

// BenchmarkMetricstoreMemory fills series at 1-minute resolution over 14
// days with the default options and reports the memory per series, as
// the store estimates it and as the Go heap measures it.
func BenchmarkMetricstoreMemory(b *testing.B) {
	const nseries = 500
	const points = 14 * 24 * 60
	for b.Loop() {
		ls := benchLabels(nseries, 0)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		st, _ := New(Options{Logger: discardLogger()})
		samples := make([]telemetry.Sample, nseries)
		for p := range points {
			t := int64(p) * int64(time.Minute/time.Millisecond)
			for i := range samples {
				samples[i] = telemetry.Sample{Labels: ls[i], T: t, V: float64(p % 100)}
			}
			st.Append(samples)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(st.MemoryBytes())/nseries, "est-bytes/series")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/nseries, "heap-bytes/series")
		b.ReportMetric(float64(256<<20)/(float64(st.MemoryBytes())/nseries), "series/256MiB")
		runtime.KeepAlive(st)
	}
}
