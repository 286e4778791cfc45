package api

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
)

// routeUnmatched labels requests that matched no route (404, 405, the mux's
// redirects), so raw paths never become label values.
const routeUnmatched = "unmatched"

// Auth failure reasons, the bounded label values of authFailures.
const (
	authMissing   = "missing"
	authMalformed = "malformed"
	authInvalid   = "invalid"
	authExpired   = "expired"
	authForbidden = "forbidden"
)

type metrics struct {
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	panics         prometheus.Counter
	authFailures   *prometheus.CounterVec
	eventsAccepted prometheus.Counter
	eventsRejected prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_api_requests_total",
			Help: "HTTP requests served, by registered route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vigil_api_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by registered route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_api_panics_total",
			Help: "Handler panics recovered and answered with 500.",
		}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_api_auth_failures_total",
			Help: "Requests refused by authentication or authorization, by reason.",
		}, []string{"reason"}),
		eventsAccepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_api_events_accepted_total",
			Help: "Change events stored through POST /api/v1/events.",
		}),
		eventsRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_api_events_rejected_total",
			Help: "Change events refused by POST /api/v1/events as invalid.",
		}),
	}
	// Touch every reason so dashboards see zeros rather than absent series.
	for _, r := range []string{authMissing, authMalformed, authInvalid, authExpired, authForbidden} {
		m.authFailures.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.panics, m.authFailures, m.eventsAccepted, m.eventsRejected} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// methodLabel bounds the method label: clients may send any token as a
// method, and each would otherwise become a new series.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}
