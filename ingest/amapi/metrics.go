package amapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Rejection reasons, the bounded values of the rejected_total reason label.
const (
	reasonDecode      = "decode"      // the element is not an alert object
	reasonLabels      = "labels"      // missing or invalid labels
	reasonAnnotations = "annotations" // invalid annotation names
	reasonTime        = "time"        // bad or inconsistent startsAt/endsAt
	reasonStatus      = "status"      // webhook alert status not firing/resolved
	reasonStateFull   = "state_full"  // the alert state has no room
)

var rejectReasons = []string{reasonDecode, reasonLabels, reasonAnnotations, reasonTime, reasonStatus, reasonStateFull}

// metrics instrument one receiver; name is its Name() ("amapi", "amwebhook").
type metrics struct {
	received *prometheus.CounterVec   // kind
	rejected *prometheus.CounterVec   // reason
	requests *prometheus.CounterVec   // route, code
	duration *prometheus.HistogramVec // route
}

func newMetrics(reg prometheus.Registerer, name string) (*metrics, error) {
	prefix := "vigil_ingest_" + name + "_"
	m := &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: prefix + "received_total",
			Help: "Records accepted and delivered to the pipeline, by kind.",
		}, []string{"kind"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: prefix + "rejected_total",
			Help: "Records refused from otherwise accepted batches, by reason.",
		}, []string{"reason"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: prefix + "requests_total",
			Help: "HTTP requests served, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    prefix + "request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
	}
	// Touch the bounded label values so dashboards see zeros.
	m.received.WithLabelValues("alert")
	for _, r := range rejectReasons {
		m.rejected.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.received, m.rejected, m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register %s metrics: %w", name, err)
		}
	}
	return m, nil
}

// instrument counts and times h under the route label pattern. Durations
// use the real clock: they measure the process, not the data.
func (m *metrics) instrument(pattern string, h http.Handler) http.Handler {
	dur := m.duration.WithLabelValues(pattern)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		m.requests.WithLabelValues(pattern, strconv.Itoa(sw.status)).Inc()
		dur.Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// stateMetrics instrument a State.
type stateMetrics struct {
	refused prometheus.Counter
	removed *prometheus.CounterVec // reason: resolved, stale, evicted
}

func newStateMetrics(reg prometheus.Registerer, size func() int) (*stateMetrics, error) {
	m := &stateMetrics{
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_ingest_amapi_state_refused_total",
			Help: "Alerts with new fingerprints refused because the alert state was full.",
		}),
		removed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_amapi_state_removed_total",
			Help: "Alerts dropped from the alert state: resolved past retention, stale without endsAt, or resolved ones evicted early to make room.",
		}, []string{"reason"}),
	}
	for _, r := range []string{"resolved", "stale", "evicted"} {
		m.removed.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	gauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "vigil_ingest_amapi_state_alerts",
		Help: "Alerts held in the alert state, firing and resolved.",
	}, func() float64 { return float64(size()) })
	for _, c := range []prometheus.Collector{m.refused, m.removed, gauge} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register alert state metrics: %w", err)
		}
	}
	return m, nil
}
