package detect

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

func TestLogMetricsSamples(t *testing.T) {
	m := NewLogMetrics(DefaultLogMetricsOptions())
	at := streamStart
	for i := range 120 {
		lvl, msg := telemetry.LevelInfo, "request took 35ms"
		if i%4 == 0 {
			lvl, msg = telemetry.LevelError, "request failed after 100ms"
		}
		m.Observe(&telemetry.LogRecord{Time: at.Add(time.Duration(i) * 500 * time.Millisecond), Service: "api", Level: lvl, Message: msg, TemplateID: "T" + lvl.String()})
	}
	got := map[string]float64{}
	for _, s := range m.Tick(at.Add(2 * time.Minute)) {
		if s.T != at.Add(time.Minute).UnixMilli() {
			continue
		}
		got[s.Labels.Get(telemetry.MetricNameLabel)+s.Labels.Get("quantile")] = s.V
		if s.Labels.Get("service") != "api" {
			t.Errorf("sample without service: %v", s.Labels)
		}
	}
	want := map[string]float64{
		MetricLogLines:            2,    // 120 lines in the first minute
		MetricLogErrorRatio:       0.25, // every fourth line
		MetricLogNewErrorLines:    0,    // still warming up
		MetricLogLatency + "0.5":  0.035,
		MetricLogLatency + "0.99": 0.1,
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g < w*0.999-1e-12 || g > w*1.001 {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, w)
		}
	}
}

// TestLmSelect: every order statistic lmSelect finds is what sorting finds,
// over ties, sorted and reversed input, and one value.
func TestLmSelect(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	tests := []struct {
		name string
		gen  func(n int) []float64
	}{
		{"random", func(n int) []float64 {
			s := make([]float64, n)
			for i := range s {
				s[i] = r.ExpFloat64()
			}
			return s
		}},
		{"ties", func(n int) []float64 {
			s := make([]float64, n)
			for i := range s {
				s[i] = float64(r.IntN(3))
			}
			return s
		}},
		{"sorted", func(n int) []float64 {
			s := make([]float64, n)
			for i := range s {
				s[i] = float64(i)
			}
			return s
		}},
		{"reversed", func(n int) []float64 {
			s := make([]float64, n)
			for i := range s {
				s[i] = float64(n - i)
			}
			return s
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, n := range []int{1, 2, 3, 10, 127, 1000} {
				s := tt.gen(n)
				want := slices.Clone(s)
				slices.Sort(want)
				for k := range n {
					if got := lmSelect(s, k); got != want[k] {
						t.Fatalf("n=%d: lmSelect(%d) = %v, want %v", n, k, got, want[k])
					}
				}
			}
		})
	}
}

// TestLogMetricsMaxPending: an owner that never ticks holds at most
// MaxPending samples, and the rest are counted as dropped, in LogMetrics
// and through LogDetectors.
func TestLogMetricsMaxPending(t *testing.T) {
	o := DefaultLogMetricsOptions()
	o.MaxPending = 5
	m := NewLogMetrics(o)
	lo := DefaultLogDetectorsOptions()
	lo.Metrics.MaxPending = 5
	ld := NewLogDetectors(lo)
	at := streamStart
	for i := range 600 { // 10 minutes, 1 line a second, 2 or more samples a minute
		rec := &telemetry.LogRecord{Time: at.Add(time.Duration(i) * time.Second), Service: "api", Message: "took 5ms", TemplateID: "T"}
		m.Observe(rec)
		ld.Observe(rec)
		if i%60 == 0 {
			ld.Tick(rec.Time)
		}
	}
	if got := m.Tick(at.Add(time.Hour)); len(got) != 5 || m.Dropped() == 0 {
		t.Errorf("LogMetrics: %d samples and %d dropped, want 5 and some", len(got), m.Dropped())
	}
	ld.Tick(at.Add(time.Hour))
	if got := ld.Samples(); len(got) != 5 || ld.DroppedSamples() == 0 {
		t.Errorf("LogDetectors: %d samples and %d dropped, want 5 and some", len(got), ld.DroppedSamples())
	}
}
