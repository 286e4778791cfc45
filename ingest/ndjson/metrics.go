package ndjson

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
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
	if received, err = register(reg, received); err != nil {
		return nil, err
	}
	if plain, err = register(reg, plain); err != nil {
		return nil, err
	}
	if rejected, err = register(reg, rejected); err != nil {
		return nil, err
	}
	if waits, err = register(reg, waits); err != nil {
		return nil, err
	}
	if requests, err = register(reg, requests); err != nil {
		return nil, err
	}
	if duration, err = register(reg, duration); err != nil {
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

// register registers c with reg, or returns the collector already
// registered under the same description, so that the receiver and any
// number of streams in one process count on the same series.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}
