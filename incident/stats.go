package incident

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/internal/promreg"
)

// Stats are the operations figures of incident handling since the Ledger
// was made.
type Stats struct {
	// Signals counts every signal received, by kind (the alert volume).
	Signals map[SignalKind]int64 `json:"signals"`
	// Opened, Resolved and Reopened count lifecycle changes; Active is the
	// number of incidents open or acknowledged now.
	Opened   int64 `json:"opened"`
	Resolved int64 `json:"resolved"`
	Reopened int64 `json:"reopened"`
	Active   int64 `json:"active"`
	// NoiseReduction is 1 - opened/signals: the share of signals nobody had
	// to look at separately.
	NoiseReduction float64 `json:"noise_reduction"`
	// MTTA and MTTR are the mean time from open to acknowledgement and to
	// resolution, over the incidents acknowledged or resolved.
	MTTA         time.Duration `json:"mtta"`
	MTTR         time.Duration `json:"mttr"`
	Acknowledged int64         `json:"acknowledged"`
	// TruePositives and FalsePositives count incidents by their latest
	// verdict; Precision is TP/(TP+FP), 0 without feedback.
	TruePositives  int64   `json:"true_positives"`
	FalsePositives int64   `json:"false_positives"`
	Precision      float64 `json:"precision"`
}

// Ledger keeps the operations figures and exports them as Prometheus
// metrics. It is safe for concurrent use.
type Ledger struct {
	m *ledgerMetrics

	mtx        sync.Mutex // protects the fields below
	signals    map[SignalKind]int64
	opened     int64
	resolved   int64
	reopened   int64
	active     int64
	acked      int64
	ackTotal   time.Duration
	resolveSum time.Duration
	tp, fp     int64
}

type ledgerMetrics struct {
	signals   *prometheus.CounterVec
	opened    prometheus.Counter
	resolved  prometheus.Counter
	reopened  prometheus.Counter
	active    prometheus.Gauge
	tta       prometheus.Histogram
	ttr       prometheus.Histogram
	feedback  *prometheus.CounterVec
	precision prometheus.Gauge
}

// NewLedger returns a Ledger whose metrics are registered with reg (nil
// leaves them unregistered).
func NewLedger(reg prometheus.Registerer) *Ledger {
	// 30s to ~2.8 days: from a fast ack to a long-running incident.
	buckets := prometheus.ExponentialBuckets(30, 3, 10)
	m := &ledgerMetrics{
		signals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_incident_signals_total",
			Help: "Signals received for correlation, by kind (alert, anomaly, event).",
		}, []string{"kind"}),
		opened: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_incident_opened_total", Help: "Incidents opened.",
		}),
		resolved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_incident_resolved_total", Help: "Incidents resolved, automatically or by a person.",
		}),
		reopened: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_incident_reopened_total", Help: "Resolved incidents that came back.",
		}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_incident_active", Help: "Incidents open or acknowledged.",
		}),
		tta: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vigil_incident_time_to_acknowledge_seconds", Help: "Time from open to acknowledgement (MTTA is its mean).",
			Buckets: buckets,
		}),
		ttr: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vigil_incident_time_to_resolve_seconds", Help: "Time from open to resolution (MTTR is its mean).",
			Buckets: buckets,
		}),
		feedback: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_incident_feedback_total", Help: "Verdicts given on incidents.",
		}, []string{"verdict"}),
		precision: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_incident_precision_ratio", Help: "True positives over incidents with a verdict.",
		}),
	}
	// A clashing registration (a second Ledger on one registry in tests)
	// must not break incident handling: count into the unregistered one.
	m.signals, _ = promreg.Register(reg, m.signals)
	m.opened, _ = promreg.Register(reg, m.opened)
	m.resolved, _ = promreg.Register(reg, m.resolved)
	m.reopened, _ = promreg.Register(reg, m.reopened)
	m.active, _ = promreg.Register(reg, m.active)
	m.tta, _ = promreg.Register(reg, m.tta)
	m.ttr, _ = promreg.Register(reg, m.ttr)
	m.feedback, _ = promreg.Register(reg, m.feedback)
	m.precision, _ = promreg.Register(reg, m.precision)
	return &Ledger{m: m, signals: map[SignalKind]int64{}}
}

// Signal counts one received signal.
func (l *Ledger) Signal(k SignalKind) {
	l.m.signals.WithLabelValues(string(k)).Inc()
	l.mtx.Lock()
	l.signals[k]++
	l.mtx.Unlock()
}

// Opened counts a new incident.
func (l *Ledger) Opened() {
	l.m.opened.Inc()
	l.m.active.Inc()
	l.mtx.Lock()
	l.opened++
	l.active++
	l.mtx.Unlock()
}

// Restored counts an active incident loaded back after a restart: it is
// active again, but was not opened now.
func (l *Ledger) Restored() {
	l.m.active.Inc()
	l.mtx.Lock()
	l.active++
	l.mtx.Unlock()
}

// Acknowledged records an acknowledgement of inc (already updated).
func (l *Ledger) Acknowledged(inc *Incident) {
	d := inc.AcknowledgedAt.Sub(inc.OpenedAt)
	l.m.tta.Observe(max(d, 0).Seconds())
	l.mtx.Lock()
	l.acked++
	l.ackTotal += max(d, 0)
	l.mtx.Unlock()
}

// Resolved records the resolution of inc (already updated).
func (l *Ledger) Resolved(inc *Incident) {
	d := inc.ResolvedAt.Sub(inc.OpenedAt)
	l.m.ttr.Observe(max(d, 0).Seconds())
	l.m.resolved.Inc()
	l.m.active.Dec()
	l.mtx.Lock()
	l.resolved++
	l.active--
	l.resolveSum += max(d, 0)
	l.mtx.Unlock()
}

// Reopened records a resolved incident coming back.
func (l *Ledger) Reopened() {
	l.m.reopened.Inc()
	l.m.active.Inc()
	l.mtx.Lock()
	l.reopened++
	l.active++
	l.mtx.Unlock()
}

// Removed records an active incident that ended without resolution of its
// own (merged into another).
func (l *Ledger) Removed() {
	l.m.active.Dec()
	l.mtx.Lock()
	l.active--
	l.mtx.Unlock()
}

// Feedback records a verdict that replaces old ("" for the first one).
func (l *Ledger) Feedback(old, v Verdict) {
	l.m.feedback.WithLabelValues(string(v)).Inc()
	l.mtx.Lock()
	defer l.mtx.Unlock()
	switch old {
	case TruePositive:
		l.tp--
	case FalsePositive:
		l.fp--
	}
	switch v {
	case TruePositive:
		l.tp++
	case FalsePositive:
		l.fp++
	}
	l.m.precision.Set(precision(l.tp, l.fp))
}

func precision(tp, fp int64) float64 {
	if tp+fp == 0 {
		return 0
	}
	return float64(tp) / float64(tp+fp)
}

// Stats returns the figures so far.
func (l *Ledger) Stats() Stats {
	l.mtx.Lock()
	defer l.mtx.Unlock()
	s := Stats{
		Signals:        make(map[SignalKind]int64, len(l.signals)),
		Opened:         l.opened,
		Resolved:       l.resolved,
		Reopened:       l.reopened,
		Active:         l.active,
		Acknowledged:   l.acked,
		TruePositives:  l.tp,
		FalsePositives: l.fp,
		Precision:      precision(l.tp, l.fp),
	}
	var total int64
	for k, n := range l.signals {
		s.Signals[k] = n
		total += n
	}
	if total > 0 {
		s.NoiseReduction = 1 - float64(l.opened)/float64(total)
	}
	if l.acked > 0 {
		s.MTTA = l.ackTotal / time.Duration(l.acked)
	}
	if l.resolved > 0 {
		s.MTTR = l.resolveSum / time.Duration(l.resolved)
	}
	return s
}
