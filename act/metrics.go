package act

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/internal/promreg"
)

// metrics of package act. Label values are bounded: runbook names come
// from the loaded runbooks, reasons and outcomes from fixed lists.
type metrics struct {
	denials       *prometheus.CounterVec // reason
	executions    *prometheus.CounterVec // outcome
	verifications *prometheus.CounterVec // result
	rollbacks     prometheus.Counter
	escalations   prometheus.Counter
	running       prometheus.Gauge
	pending       prometheus.Gauge
	killswitch    prometheus.Gauge
}

func newMetrics(r prometheus.Registerer) *metrics {
	m := &metrics{
		denials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_act_guard_denials_total", Help: "Executions refused by the guard, by reason.",
		}, []string{"reason"}),
		executions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_act_executions_total", Help: "Runbook executions, by outcome.",
		}, []string{"outcome"}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_act_verifications_total", Help: "Verification checks after acting, by result.",
		}, []string{"result"}),
		rollbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_act_rollbacks_total", Help: "Rollbacks after a failed step or verification.",
		}),
		escalations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_act_escalations_total", Help: "Escalations to a person.",
		}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_act_executions_running", Help: "Executions admitted by the guard and not yet finished.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_act_approvals_pending", Help: "Approval requests waiting for a decision.",
		}),
		killswitch: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_act_killswitch_engaged", Help: "1 while the kill switch stops all execution.",
		}),
	}
	// A registration clash leaves the collector counting unregistered:
	// losing a metric must never stop remediation's guards.
	m.denials, _ = promreg.Register(r, m.denials)
	m.executions, _ = promreg.Register(r, m.executions)
	m.verifications, _ = promreg.Register(r, m.verifications)
	m.rollbacks, _ = promreg.Register(r, m.rollbacks)
	m.escalations, _ = promreg.Register(r, m.escalations)
	m.running, _ = promreg.Register(r, m.running)
	m.pending, _ = promreg.Register(r, m.pending)
	m.killswitch, _ = promreg.Register(r, m.killswitch)
	return m
}

func (m *metrics) denied(err error) {
	reason := "other"
	for _, c := range []struct {
		err  error
		name string
	}{
		{ErrKillSwitch, "kill_switch"}, {ErrRateLimited, "rate_limit"}, {ErrBlastRadius, "blast_radius"},
		{ErrChangeWindow, "change_window"}, {ErrCircuitOpen, "circuit_open"}, {ErrLowConfidence, "confidence"},
		{ErrLevel, "level"}, {ErrBusy, "busy"},
	} {
		if errors.Is(err, c.err) {
			reason = c.name
			break
		}
	}
	m.denials.WithLabelValues(reason).Inc()
}
