package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// problemsOf runs a section's validate and collects "key: message" lines.
func problemsOf(validate func(add func(key, format string, args ...any))) []string {
	var out []string
	validate(func(key, format string, args ...any) {
		out = append(out, key+": "+fmt.Sprintf(format, args...))
	})
	return out
}

func TestDetectValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(d *Detect)
		want   string // "" for no problem, else a substring of the only problem
	}{
		{"defaults", func(*Detect) {}, ""},
		{"disabled keeps bounds", func(d *Detect) { d.Metrics.Enabled = false }, ""},
		{"zero series", func(d *Detect) { d.Metrics.MaxSeries = 0 }, "detect.metrics.max_series: 0 is outside"},
		{"too many series", func(d *Detect) { d.Metrics.MaxSeries = 2_000_000 }, "detect.metrics.max_series"},
		{"negative for", func(d *Detect) { d.Metrics.For = Duration(-time.Minute) }, "detect.metrics.for"},
		{"zero for", func(d *Detect) { d.Metrics.For = 0 }, ""},
		{"band too long", func(d *Detect) { d.Metrics.BandPoints = 361 }, "detect.metrics.band_points: 361 is outside 1..360"},
		{"one deploy metric", func(d *Detect) { d.Metrics.DeployMetrics = 1 }, "detect.metrics.deploy_metrics: 1 is outside 2..100 (0 turns the check off)"},
		{"bad deploy signal", func(d *Detect) { d.Metrics.DeploySignals = []string{`{job=~"("}`} }, `detect.metrics.deploy_signals: entry 0`},
		{"bad skip matcher", func(d *Detect) { d.Metrics.Skip = []string{`{job=~"(" }`} }, `detect.metrics.skip: entry 0`},
		{"bad skip name", func(d *Detect) { d.Metrics.Skip = []string{`9lives`} }, `is not a metric name`},
		{"empty skip entry", func(d *Detect) { d.Metrics.Skip = []string{"up", " "} }, `entry 1`},
		{"skip by name", func(d *Detect) { d.Metrics.Skip = []string{`node_load1`, `up{job="x"}`} }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := defaultDetect()
			tt.change(&d)
			ps := problemsOf(d.validate)
			switch {
			case tt.want == "" && len(ps) > 0:
				t.Fatalf("problems %v, want none", ps)
			case tt.want != "" && (len(ps) != 1 || !strings.Contains(ps[0], tt.want)):
				t.Fatalf("problems %v, want one containing %q", ps, tt.want)
			}
		})
	}
}

func TestDetectDefaults(t *testing.T) {
	m := defaultDetect().Metrics
	if !m.Enabled || m.MaxSeries != 10_000 || time.Duration(m.For) != 5*time.Minute || m.BandPoints < 1 || m.BandPoints > 360 || m.Buckets {
		t.Fatalf("defaults %+v", m)
	}
	// The default list must not alias the exported one.
	m.Skip[0] = "changed"
	if DefaultMetricSkip[0] == "changed" {
		t.Fatal("defaultDetect shares its skip list with DefaultMetricSkip")
	}
}

func TestSplitSelector(t *testing.T) {
	tests := []struct {
		in, name, matchers string
		bad                bool
	}{
		{in: "up", name: "up"},
		{in: ` http_requests_total{service="a"} `, name: "http_requests_total", matchers: `{service="a"}`},
		{in: `{service="a"}`, matchers: `{service="a"}`},
		{in: "", bad: true},
		{in: "a-b", bad: true},
		{in: `up{service=}`, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			name, ms, err := SplitSelector(tt.in)
			if (err != nil) != tt.bad {
				t.Fatalf("err = %v, want error %v", err, tt.bad)
			}
			if !tt.bad && (name != tt.name || ms != tt.matchers) {
				t.Fatalf("got %q %q, want %q %q", name, ms, tt.name, tt.matchers)
			}
		})
	}
}
