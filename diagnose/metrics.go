package diagnose

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics instruments the Diagnoser. Collectors are safe for concurrent use.
type metrics struct {
	runs     *prometheus.CounterVec
	duration prometheus.Histogram
}

func newMetrics(r prometheus.Registerer) *metrics {
	m := &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_diagnose_runs_total",
			Help: "Diagnoses run, by result (ok, no_data, error).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_diagnose_duration_seconds",
			Help:    "Time to rank the candidates of one incident.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 8),
		}),
	}
	if r != nil {
		r.MustRegister(m.runs, m.duration)
	}
	return m
}

func (m *metrics) observe(d time.Duration, err error) {
	res := "ok"
	switch {
	case errors.Is(err, ErrNoData):
		res = "no_data"
	case err != nil:
		res = "error"
	}
	m.runs.WithLabelValues(res).Inc()
	m.duration.Observe(d.Seconds())
}
