package correlate

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/internal/promreg"
)

type metrics struct {
	decisions  *prometheus.CounterVec
	changes    *prometheus.CounterVec
	emitErrors *prometheus.CounterVec
	groups     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_correlate_signals_total",
			Help: "Signals by correlation decision (folded, joined, new_group, ignored, dropped_as_noise).",
		}, []string{"decision"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_correlate_changes_total",
			Help: "Incident changes emitted, by kind.",
		}, []string{"kind"}),
		emitErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_correlate_emit_errors_total",
			Help: "Incident changes the store or the sink refused, by target.",
		}, []string{"target"}),
		groups: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_correlate_groups",
			Help: "Groups held in memory: pending, active and recently resolved.",
		}),
	}
	// A clash (two correlators on one registry) must not stop correlation.
	m.decisions, _ = promreg.Register(reg, m.decisions)
	m.changes, _ = promreg.Register(reg, m.changes)
	m.emitErrors, _ = promreg.Register(reg, m.emitErrors)
	m.groups, _ = promreg.Register(reg, m.groups)
	return m
}
