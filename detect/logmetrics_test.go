package detect

import (
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
