package syslog

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/internal/promreg"
)

// Values of the kind label of vigil_ingest_syslog_received_total.
const (
	kind5424      = "rfc5424"
	kind3164      = "rfc3164"
	kindMalformed = "malformed"
)

// Values of the reason label of vigil_ingest_syslog_rejected_total.
const (
	reasonOversize       = "oversize"
	reasonBadStream      = "bad_stream"
	reasonMaxConnections = "max_connections"
)

// Values of the reason label of vigil_ingest_syslog_dropped_total.
const (
	dropShutdown  = "shutdown"
	dropSinkError = "sink_error"
)

type metrics struct {
	received     *prometheus.CounterVec // transport, kind
	rejected     *prometheus.CounterVec // transport, reason
	dropped      *prometheus.CounterVec // reason
	delivered    prometheus.Counter
	backpressure prometheus.Counter
	connections  prometheus.Gauge
	accepted     prometheus.Counter
	flush        prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_syslog_received_total",
			Help: "Syslog messages read, by transport and kind (rfc5424, rfc3164, malformed: delivered raw).",
		}, []string{"transport", "kind"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_syslog_rejected_total",
			Help: "Syslog frames skipped (oversize), connections closed for a corrupt stream (bad_stream) and connections refused (max_connections).",
		}, []string{"transport", "reason"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_syslog_dropped_total",
			Help: "Syslog records read but not delivered: the sink failed, or Stop ran out of time.",
		}, []string{"reason"}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_ingest_syslog_delivered_total",
			Help: "Syslog records accepted by the sink.",
		}),
		backpressure: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_ingest_syslog_backpressure_total",
			Help: "Sink answers of ErrBackpressure; each one pauses reading for a short backoff.",
		}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_ingest_syslog_connections",
			Help: "Open syslog TCP connections.",
		}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_ingest_syslog_connections_total",
			Help: "Syslog TCP connections accepted (refused ones count in rejected_total).",
		}),
		flush: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_ingest_syslog_flush_duration_seconds",
			Help:    "Time to hand one batch to the sink, retries on backpressure included.",
			Buckets: []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5, 30},
		}),
	}
	for _, t := range []string{"udp", "tcp"} {
		for _, k := range []string{kind5424, kind3164, kindMalformed} {
			m.received.WithLabelValues(t, k)
		}
		m.rejected.WithLabelValues(t, reasonOversize)
	}
	m.rejected.WithLabelValues("tcp", reasonBadStream)
	m.rejected.WithLabelValues("tcp", reasonMaxConnections)
	m.dropped.WithLabelValues(dropShutdown)
	m.dropped.WithLabelValues(dropSinkError)
	var err error
	if m.received, err = promreg.Register(reg, m.received); err != nil {
		return nil, err
	}
	if m.rejected, err = promreg.Register(reg, m.rejected); err != nil {
		return nil, err
	}
	if m.dropped, err = promreg.Register(reg, m.dropped); err != nil {
		return nil, err
	}
	if m.delivered, err = promreg.Register(reg, m.delivered); err != nil {
		return nil, err
	}
	if m.backpressure, err = promreg.Register(reg, m.backpressure); err != nil {
		return nil, err
	}
	if m.connections, err = promreg.Register(reg, m.connections); err != nil {
		return nil, err
	}
	if m.accepted, err = promreg.Register(reg, m.accepted); err != nil {
		return nil, err
	}
	if m.flush, err = promreg.Register(reg, m.flush); err != nil {
		return nil, err
	}
	return m, nil
}
