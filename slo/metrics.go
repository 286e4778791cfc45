package slo

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/internal/promreg"
)

type metrics struct {
	evaluations  prometheus.Counter
	sourceErrors prometheus.Counter
	firing       prometheus.Gauge
	// burn and remaining have one series per SLO (and window); their
	// cardinality is bounded by the configured SLOs, and forget drops
	// those of removed ones.
	burn      *prometheus.GaugeVec
	remaining *prometheus.GaugeVec
	// known names the SLOs with series; the evaluator's lock guards it.
	known map[string]bool
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		known: map[string]bool{},
		evaluations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_slo_evaluations_total", Help: "SLO evaluations run."}),
		sourceErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_slo_source_errors_total", Help: "SLO evaluations whose counts could not be read."}),
		firing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_slo_alerts_firing", Help: "Burn-rate alerts firing after the last evaluation."}),
		burn: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_slo_burn_rate_ratio", Help: "Error budget burn rate of an SLO over a window (1 spends the budget exactly)."},
			[]string{"slo", "window"}),
		remaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_slo_error_budget_remaining_ratio", Help: "Share of an SLO's error budget left over its budget window."},
			[]string{"slo"}),
	}
	var err error
	if m.evaluations, err = promreg.Register(reg, m.evaluations); err != nil {
		return nil, err
	}
	if m.sourceErrors, err = promreg.Register(reg, m.sourceErrors); err != nil {
		return nil, err
	}
	if m.firing, err = promreg.Register(reg, m.firing); err != nil {
		return nil, err
	}
	if m.burn, err = promreg.Register(reg, m.burn); err != nil {
		return nil, err
	}
	if m.remaining, err = promreg.Register(reg, m.remaining); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *metrics) observe(d *Definition, st Status) {
	m.known[d.Name] = true
	seen := map[string]bool{}
	for _, b := range st.Burns {
		for _, w := range []struct {
			name string
			rate float64
		}{{FormatDuration(b.Long), b.LongRate}, {FormatDuration(b.Short), b.ShortRate}} {
			if seen[w.name] {
				continue
			}
			seen[w.name] = true
			if math.IsNaN(w.rate) {
				m.burn.DeleteLabelValues(d.Name, w.name)
				continue
			}
			m.burn.WithLabelValues(d.Name, w.name).Set(w.rate)
		}
	}
	if math.IsNaN(st.BudgetRemaining) {
		m.remaining.DeleteLabelValues(d.Name)
		return
	}
	m.remaining.WithLabelValues(d.Name).Set(st.BudgetRemaining)
}

// forget drops the series of SLOs not in keep. It runs under the
// evaluator's lock, which also guards known.
func (m *metrics) forget(keep map[string]bool) {
	for name := range m.known {
		if !keep[name] {
			m.burn.DeletePartialMatch(prometheus.Labels{"slo": name})
			m.remaining.DeletePartialMatch(prometheus.Labels{"slo": name})
			delete(m.known, name)
		}
	}
}
