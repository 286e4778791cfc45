package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/matcher/parse"
)

// Detect configures anomaly detection. The log detectors take no settings
// yet; Metrics tunes the metric side.
type Detect struct {
	Metrics MetricDetect `yaml:"metrics"`
}

// MetricDetect configures the streaming metric detectors: one seasonal
// detector per series that reaches the pipeline (remote write, OTLP,
// Prometheus pulls, the demo).
type MetricDetect struct {
	Enabled bool `yaml:"enabled"`
	// MaxSeries bounds the series watched. A new series beyond it takes
	// the place of the least recently updated one only when that one has
	// gone quiet; otherwise it is not watched (and counted).
	MaxSeries int `yaml:"max_series"`
	// For is how long a series must stay far from its band before it is
	// reported (Prometheus' "for:").
	For Duration `yaml:"for"`
	// Skip lists series selectors (`name{label="value"}` or `{matchers}`,
	// Prometheus matcher syntax); a series matching any of them is not
	// watched. The defaults skip Vigil's own metrics and the log-derived
	// rates, which the log detectors already judge.
	Skip []string `yaml:"skip"`
	// Buckets also watches histograms' _bucket series (one per bucket:
	// usually too many to be worth it).
	Buckets bool `yaml:"buckets"`
	// BandPoints is how many recent points per series are kept, with their
	// expected value and band, for GET /api/v1/metrics/band.
	BandPoints int `yaml:"band_points"`
	// DeployMetrics is how many distinct request signals (metric names)
	// of a service must leave their deploy-widened bands together, each
	// for a minute, within the grace after the service's deploy for a
	// deploy regression to be reported at once rather than after For. 0
	// turns the check off.
	DeployMetrics int `yaml:"deploy_metrics"`
	// DeploySignals lists series selectors of the request signals the
	// deploy check compares; empty means by name: requests, responses,
	// errors, failures, exceptions, timeouts, latency and durations,
	// without _count, _sum and process or runtime metrics, which every
	// restart moves.
	DeploySignals []string `yaml:"deploy_signals"`
}

// DefaultMetricSkip is the default of detect.metrics.skip.
var DefaultMetricSkip = []string{
	`{__name__=~"vigil_.+"}`,
	`{__name__=~"log_lines_per_second|log_error_ratio|log_new_error_lines_per_second|log_latency_seconds"}`,
}

// Bounds of the metric detector settings.
const (
	maxMetricSeries     = 1_000_000
	maxMetricBandPoints = 360
	maxDeployMetrics    = 100
)

func defaultDetect() Detect {
	return Detect{Metrics: MetricDetect{
		Enabled:       true,
		MaxSeries:     10_000,
		For:           Duration(5 * time.Minute),
		Skip:          append([]string(nil), DefaultMetricSkip...),
		BandPoints:    120,
		DeployMetrics: 2,
	}}
}

// validate reports the problems of the detect section through add, naming
// keys by their full path.
func (d *Detect) validate(add func(key, format string, args ...any)) {
	m := d.Metrics
	if m.MaxSeries < 1 || m.MaxSeries > maxMetricSeries {
		add("detect.metrics.max_series", "%d is outside 1..%d", m.MaxSeries, maxMetricSeries)
	}
	if f := time.Duration(m.For); f < 0 || f > 24*time.Hour {
		add("detect.metrics.for", "%s is outside 0s..1d", m.For)
	}
	if m.BandPoints < 1 || m.BandPoints > maxMetricBandPoints {
		add("detect.metrics.band_points", "%d is outside 1..%d", m.BandPoints, maxMetricBandPoints)
	}
	if m.DeployMetrics != 0 && (m.DeployMetrics < 2 || m.DeployMetrics > maxDeployMetrics) {
		add("detect.metrics.deploy_metrics", "%d is outside 2..%d (0 turns the check off)", m.DeployMetrics, maxDeployMetrics)
	}
	for i, s := range m.Skip {
		if err := CheckSelector(s); err != nil {
			add("detect.metrics.skip", "entry %d %q: %v", i, s, err)
		}
	}
	for i, s := range m.DeploySignals {
		if err := CheckSelector(s); err != nil {
			add("detect.metrics.deploy_signals", "entry %d %q: %v", i, s, err)
		}
	}
}

// CheckSelector reports whether s is a series selector: a metric name, a
// brace-enclosed list of label matchers, or both.
func CheckSelector(s string) error {
	_, _, err := SplitSelector(s)
	return err
}

// SplitSelector splits `name{matchers}` into the metric name (possibly
// empty) and the matcher list (possibly empty, braces included); at least
// one must be given, and the name must be a valid metric name.
func SplitSelector(s string) (name, matchers string, err error) {
	name = s
	if i := strings.IndexByte(s, '{'); i >= 0 {
		name, matchers = s[:i], strings.TrimSpace(s[i:])
	}
	name = strings.TrimSpace(name)
	if name == "" && matchers == "" {
		return "", "", errors.New("empty selector: name a metric or give {matchers}")
	}
	for i, r := range name {
		if !(r == '_' || r == ':' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return "", "", fmt.Errorf("%q is not a metric name", name)
		}
	}
	if matchers != "" {
		if _, err := parse.Matchers(matchers); err != nil {
			return "", "", err
		}
	}
	return name, matchers, nil
}
