package notify

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/internal/promreg"
)

// metrics are shared by all receivers on one registerer; promreg hands a
// rebuilt receiver the collectors already registered.
type metrics struct {
	sent         *prometheus.CounterVec
	failed       *prometheus.CounterVec
	retried      *prometheus.CounterVec
	deduplicated *prometheus.CounterVec
	rateLimited  *prometheus.CounterVec
	dropped      *prometheus.CounterVec
	pending      *prometheus.GaugeVec
	latency      *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	labels := []string{"receiver", "integration"}
	counter := func(name, help string) (*prometheus.CounterVec, error) {
		return promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_notify_" + name + "_total", Help: help,
		}, labels))
	}
	m := &metrics{}
	var err error
	for _, c := range []struct {
		dst        **prometheus.CounterVec
		name, help string
	}{
		{&m.sent, "sent", "Notifications delivered."},
		{&m.failed, "failed", "Notifications that failed after all attempts."},
		{&m.retried, "retried", "Delivery attempts that were retried."},
		{&m.deduplicated, "deduplicated", "Notifications skipped because the notification log shows them delivered."},
		{&m.rateLimited, "rate_limited", "Notifications deferred by the receiver's rate limit."},
		{&m.dropped, "dropped", "Deferred notifications dropped because the receiver's pending queue was full."},
	} {
		if *c.dst, err = counter(c.name, c.help); err != nil {
			return nil, err
		}
	}
	if m.pending, err = promreg.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "vigil_notify_pending", Help: "Notifications deferred by rate limit and waiting to be sent.",
	}, []string{"receiver"})); err != nil {
		return nil, err
	}
	if m.latency, err = promreg.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "vigil_notify_latency_seconds",
		Help:    "Duration of one delivery attempt.",
		Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, labels)); err != nil {
		return nil, err
	}
	return m, nil
}
