package ndjson

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/internal/promreg"
)

// metrics instruments the receiver and ReadStream; both count on the same
// series when given the same Registerer. All fields are safe for
// concurrent use.
type metrics struct {
	received     prometheus.Counter
	plain        prometheus.Counter
	tooLong      prometheus.Counter
	tooMany      prometheus.Counter
	backpressure prometheus.Counter
	waits        prometheus.Counter
	requests     *prometheus.CounterVec
	duration     prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	received := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_ingest_ndjson_received_total",
		Help: "NDJSON lines accepted (over HTTP or from a stream) and delivered to the pipeline, by telemetry kind.",
	}, []string{"kind"})
	plain := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vigil_ingest_ndjson_plain_lines_total",
		Help: "Accepted lines that were not JSON objects and were kept as plain log lines.",
	})
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_ingest_ndjson_rejected_total",
		Help: "Lines refused, by reason. reason=backpressure counts lines of HTTP requests answered 429, which senders retry.",
	}, []string{"reason"})
	waits := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vigil_ingest_ndjson_backpressure_waits_total",
		Help: "Times a stream found the pipeline full and waited before delivering again.",
	})
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_ingest_ndjson_requests_total",
		Help: "NDJSON HTTP requests answered, by status code.",
	}, []string{"code"})
	duration := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "vigil_ingest_ndjson_request_duration_seconds",
		Help:    "Time to read, decode and deliver one NDJSON HTTP request.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
	})
	var err error
	if received, err = promreg.Register(reg, received); err != nil {
		return nil, err
	}
	if plain, err = promreg.Register(reg, plain); err != nil {
		return nil, err
	}
	if rejected, err = promreg.Register(reg, rejected); err != nil {
		return nil, err
	}
	if waits, err = promreg.Register(reg, waits); err != nil {
		return nil, err
	}
	if requests, err = promreg.Register(reg, requests); err != nil {
		return nil, err
	}
	if duration, err = promreg.Register(reg, duration); err != nil {
		return nil, err
	}
	return &metrics{
		received:     received.WithLabelValues("log"),
		plain:        plain,
		tooLong:      rejected.WithLabelValues(reasonLineTooLong),
		tooMany:      rejected.WithLabelValues(reasonTooManyLines),
		backpressure: rejected.WithLabelValues("backpressure"),
		waits:        waits,
		requests:     requests,
		duration:     duration,
	}, nil
}
