package detect

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// TypeMetricMulti is the anomaly type of a service whose related metrics
// together are unusual, though each may look ordinary alone.
const TypeMetricMulti Type = "metric_multi"

// ErrMetricCount means Observe got a different number of values than the
// detector has metrics.
var ErrMetricCount = errors.New("detect: wrong number of metric values")

// MultiOptions configures a MultiDetector.
type MultiOptions struct {
	// Service owns the metrics; Metrics names them in order, e.g. cpu,
	// memory, p99 latency, error rate.
	Service string
	Metrics []string
	// Trees and Sample size the isolation forest (defaults 100 and 256).
	Trees, Sample int
	// Window is how many recent points the forest is refitted from, and
	// Refit how many points pass between refits (defaults 2048 and 512):
	// refitting on a sliding window is how the model follows drift.
	Window, Refit int
	// Threshold is the isolation score at or above which a point is
	// anomalous (default 0.65; ordinary points score about 0.5), and For
	// how long it must last (default 5m).
	Threshold float64
	For       time.Duration
	// Seed makes fits repeatable.
	Seed uint64
}

// DefaultMultiOptions returns the defaults for metrics.
func DefaultMultiOptions(service string, metrics ...string) MultiOptions {
	return MultiOptions{Service: service, Metrics: metrics, Trees: 100, Sample: 256,
		Window: 2048, Refit: 512, Threshold: 0.65, For: 5 * time.Minute, Seed: 1}
}

func (o *MultiOptions) validate() error {
	if len(o.Metrics) == 0 {
		return errors.New("no metrics")
	}
	if len(o.Metrics) > math.MaxInt16 {
		return fmt.Errorf("%d metrics is too many", len(o.Metrics))
	}
	d := DefaultMultiOptions("")
	if o.Trees <= 0 {
		o.Trees = d.Trees
	}
	if o.Sample <= 1 {
		o.Sample = d.Sample
	}
	if o.Window < o.Sample {
		o.Window = max(d.Window, o.Sample)
	}
	if o.Refit <= 0 {
		o.Refit = d.Refit
	}
	if o.Threshold <= 0 || o.Threshold >= 1 || math.IsNaN(o.Threshold) {
		o.Threshold = d.Threshold
	}
	if o.For < 0 {
		return fmt.Errorf("for %v is negative", o.For)
	}
	return nil
}

// MultiScore is the judgement of one multi-metric point.
type MultiScore struct {
	// Score is the isolation score in (0,1); 0 before the first fit.
	Score float64
	// Contributions is each metric's share of the isolation (sums to 1);
	// Driver names the largest.
	Contributions []float64
	Driver        string
	// Anomaly is set once per episode when Score stayed at or above the
	// threshold for Options.For.
	Anomaly *Anomaly
}

// MultiDetector watches the related metrics of one service together with
// an isolation forest over their standardised values, refitted on a
// sliding window, and names the metric that drove an anomaly.
//
// Not safe for concurrent use.
type MultiDetector struct {
	opts   MultiOptions
	forest *IsolationForest
	// window is a ring of standardised past vectors (flat, dims per row)
	window []float64
	filled int
	pos    int
	since  int // points since the last fit
	mean   []float64
	vr     []float64
	n      int
	x      []float64

	epStart    time.Time
	epReported bool
	epPeak     float64
}

// NewMultiDetector returns a detector for the options' metrics.
func NewMultiDetector(o MultiOptions) (*MultiDetector, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("multi detector: %w", err)
	}
	k := len(o.Metrics)
	return &MultiDetector{
		opts:   o,
		forest: NewIsolationForest(k, o.Trees, o.Sample, o.Seed),
		window: make([]float64, o.Window*k),
		mean:   make([]float64, k),
		vr:     make([]float64, k),
		x:      make([]float64, k),
	}, nil
}

// Observe judges the metrics' values at t, in Options.Metrics order. A NaN
// value (a scrape gap) is replaced by that metric's running mean.
func (m *MultiDetector) Observe(t time.Time, values []float64) (MultiScore, error) {
	k := len(m.opts.Metrics)
	if len(values) != k {
		return MultiScore{}, fmt.Errorf("%w: got %d, want %d (%s)", ErrMetricCount, len(values), k, strings.Join(m.opts.Metrics, ", "))
	}
	m.n++
	// standardise with long EW mean and variance so that metrics of any
	// unit weigh alike, then judge before learning
	const a = 0.002
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > MaxValue {
			v = m.mean[i]
		}
		if m.n == 1 {
			m.mean[i] = v
		}
		sd := math.Sqrt(m.vr[i])
		if sd == 0 {
			sd = 1e-9 * (1 + math.Abs(m.mean[i]))
		}
		m.x[i] = (v - m.mean[i]) / sd
		// Learn from values clipped at 4 deviations (a Huber update), so
		// an incident does not widen what counts as usual.
		d := v - m.mean[i]
		if m.n > 30 {
			d = math.Max(-4*sd, math.Min(4*sd, d))
		}
		w := math.Max(a, 1/float64(m.n))
		m.mean[i] += w * d
		m.vr[i] = (1 - w) * (m.vr[i] + w*d*d)
	}
	var s MultiScore
	if m.forest.Fitted() {
		s.Contributions = make([]float64, k)
		s.Score = m.forest.Score(m.x, s.Contributions)
		best := 0
		for i, c := range s.Contributions {
			if c > s.Contributions[best] {
				best = i
			}
		}
		s.Driver = m.opts.Metrics[best]
	}
	// Points judged anomalous are kept out of the training window: the
	// model should describe normal behaviour. Drift still gets in, as the
	// standardisation follows it until the points look ordinary again.
	if s.Score < m.opts.Threshold {
		copy(m.window[m.pos*k:], m.x)
		m.pos = (m.pos + 1) % m.opts.Window
		m.filled = min(m.filled+1, m.opts.Window)
	}
	m.since++
	if (!m.forest.Fitted() && m.filled >= m.opts.Sample) || m.since >= m.opts.Refit {
		m.refit()
	}
	m.persist(t, values, &s)
	return s, nil
}

func (m *MultiDetector) refit() {
	k := len(m.opts.Metrics)
	rows := make([][]float64, m.filled)
	for i := range rows {
		rows[i] = m.window[i*k : (i+1)*k]
	}
	m.forest.Fit(rows)
	m.since = 0
}

func (m *MultiDetector) persist(t time.Time, values []float64, s *MultiScore) {
	// Until half the window is seen the forest has not met a full cycle of
	// the service's load; it scores but does not report.
	if s.Score < m.opts.Threshold || m.filled < m.opts.Window/2 {
		m.epStart, m.epReported, m.epPeak = time.Time{}, false, 0
		return
	}
	if m.epStart.IsZero() {
		m.epStart = t
	}
	m.epPeak = math.Max(m.epPeak, s.Score)
	if m.epReported || t.Sub(m.epStart) < m.opts.For {
		return
	}
	m.epReported = true
	var parts []string
	for i, name := range m.opts.Metrics {
		parts = append(parts, fmt.Sprintf("%s %s (%.0f%%, usual %s±%s)", name, fmtNum(values[i], ""),
			100*s.Contributions[i], fmtNum(m.mean[i], ""), fmtNum(math.Sqrt(m.vr[i]), "")))
	}
	s.Anomaly = &Anomaly{
		Type:        TypeMetricMulti,
		Service:     m.opts.Service,
		Score:       m.epPeak,
		Confidence:  math.Min(1, float64(m.n)/float64(m.opts.Window)),
		Explanation: "driven by " + s.Driver + ": " + strings.Join(parts, "; "),
		Start:       m.epStart,
		End:         t,
	}
}
