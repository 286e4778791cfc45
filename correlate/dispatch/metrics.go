package dispatch

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	alerts         prometheus.Gauge
	groups         prometheus.Gauge
	refused        prometheus.Counter
	flushes        *prometheus.CounterVec
	notifyDuration prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		alerts: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_dispatch_alerts", Help: "Alert entries held in aggregation groups.",
		}),
		groups: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_dispatch_groups", Help: "Aggregation groups held.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_dispatch_refused_total", Help: "Alert entries refused because the dispatcher was full.",
		}),
		flushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_dispatch_flushes_total", Help: "Group flushes by outcome (notified, skipped, muted, failed).",
		}, []string{"outcome"}),
		notifyDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vigil_dispatch_notify_duration_seconds", Help: "Time the notifier took per notification.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.alerts, m.groups, m.refused, m.flushes, m.notifyDuration} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register dispatch metrics: %w", err)
			}
		}
	}
	return m, nil
}
