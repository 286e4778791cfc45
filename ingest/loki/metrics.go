package loki

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/internal/promreg"
)

// metrics instruments a Receiver. All fields are safe for concurrent use.
type metrics struct {
	received      prometheus.Counter
	receivedBytes *prometheus.CounterVec
	rejected      [numReasons]prometheus.Counter
	backpressure  prometheus.Counter
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	received := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_ingest_loki_received_total",
		Help: "Log entries accepted from Loki push requests and delivered to the pipeline, by telemetry kind.",
	}, []string{"kind"})
	receivedBytes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_ingest_loki_received_bytes_total",
		Help: "Decompressed bytes of Loki push request bodies read, by format (json, protobuf).",
	}, []string{"format"})
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_ingest_loki_rejected_total",
		Help: "Log entries refused, by reason. reason=backpressure counts entries of requests answered 429, which senders retry.",
	}, []string{"reason"})
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_ingest_loki_requests_total",
		Help: "Loki push requests answered, by format and HTTP status code.",
	}, []string{"format", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "vigil_ingest_loki_request_duration_seconds",
		Help:    "Time to read, decode and deliver one Loki push request, by format.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
	}, []string{"format"})
	var err error
	if received, err = promreg.Register(reg, received); err != nil {
		return nil, err
	}
	if receivedBytes, err = promreg.Register(reg, receivedBytes); err != nil {
		return nil, err
	}
	if rejected, err = promreg.Register(reg, rejected); err != nil {
		return nil, err
	}
	if requests, err = promreg.Register(reg, requests); err != nil {
		return nil, err
	}
	if duration, err = promreg.Register(reg, duration); err != nil {
		return nil, err
	}
	m := &metrics{
		received:      received.WithLabelValues("log"),
		receivedBytes: receivedBytes,
		backpressure:  rejected.WithLabelValues("backpressure"),
		requests:      requests,
		duration:      duration,
	}
	for r := range m.rejected {
		m.rejected[r] = rejected.WithLabelValues(reasonNames[r])
	}
	return m, nil
}
