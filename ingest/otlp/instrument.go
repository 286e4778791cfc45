package otlp

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/ingest"
)

// Item kinds, the values of the kind label: what partial_success counts for
// each signal.
const (
	kindLogRecords = "log_records"
	kindDataPoints = "data_points"
	kindSpans      = "spans"
)

// reason classifies why an item was rejected or skipped. Its label is a
// metric label value, so the set is closed.
type reason uint8

const (
	reasonRecordTooLarge reason = iota
	reasonNonFinite
	reasonNoValue
	reasonDelta
	reasonUnspecifiedTemporality
	reasonExponentialHistogram
	reasonBadDistribution
	reasonBadName
	reasonTooManyAttributes
	reasonBadIDs
	numReasons
)

var reasonLabels = [numReasons]string{
	reasonRecordTooLarge:         "record_too_large",
	reasonNonFinite:              "non_finite_value",
	reasonNoValue:                "no_value",
	reasonDelta:                  "delta_temporality",
	reasonUnspecifiedTemporality: "unspecified_temporality",
	reasonExponentialHistogram:   "exponential_histogram",
	reasonBadDistribution:        "invalid_distribution",
	reasonBadName:                "invalid_name",
	reasonTooManyAttributes:      "too_many_attributes",
	reasonBadIDs:                 "invalid_ids",
}

func (r reason) String() string { return reasonLabels[r] }

// rejections collects the items refused from one request: the listed
// reasons for partial_success, and the counts per reason for the metrics.
type rejections struct {
	res     ingest.Result
	byWhy   [numReasons]int
	skipped int // points flagged NO_RECORDED_VALUE: not an error, not data
}

// add rejects item index (in the request's flattened order) for why, with
// a human detail for the sender.
func (r *rejections) add(index int, why reason, detail string) {
	r.res.Reject(index, detail)
	r.byWhy[why]++
}

func (r *rejections) count() int { return r.res.RejectedCount() }

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	received *prometheus.CounterVec
	accepted *prometheus.CounterVec
	rejected *prometheus.CounterVec
	skipped  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_otlp_requests_total",
			Help: "OTLP/HTTP export requests answered, by signal (logs, metrics, traces) and HTTP status code.",
		}, []string{"signal", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vigil_ingest_otlp_request_duration_seconds",
			Help:    "Time to decode, convert and deliver one OTLP/HTTP export request, by signal.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"signal"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_otlp_received_total",
			Help: "Items in decoded OTLP requests, by kind (log_records, data_points, spans).",
		}, []string{"kind"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_otlp_accepted_total",
			Help: "Items delivered to the pipeline (spans: folded into the topology), by kind.",
		}, []string{"kind"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_otlp_rejected_total",
			Help: "Items refused and reported in partial_success, by kind and reason.",
		}, []string{"kind", "reason"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_otlp_skipped_total",
			Help: "Data points flagged NO_RECORDED_VALUE (staleness markers), which carry no value to deliver.",
		}, []string{"kind"}),
	}
	for _, k := range []string{kindLogRecords, kindDataPoints, kindSpans} {
		m.received.WithLabelValues(k)
		m.accepted.WithLabelValues(k)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.received, m.accepted, m.rejected, m.skipped} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// observe counts one request's items.
func (m *metrics) observe(kind string, received, accepted int, rej *rejections) {
	m.received.WithLabelValues(kind).Add(float64(received))
	m.accepted.WithLabelValues(kind).Add(float64(accepted))
	for why, n := range rej.byWhy {
		if n > 0 {
			m.rejected.WithLabelValues(kind, reason(why).String()).Add(float64(n))
		}
	}
	if rej.skipped > 0 {
		m.skipped.WithLabelValues(kind).Add(float64(rej.skipped))
	}
}
