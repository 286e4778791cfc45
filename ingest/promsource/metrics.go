package promsource

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics instruments a Source.
type metrics struct {
	requests  *prometheus.CounterVec
	duration  prometheus.Histogram
	warnings  prometheus.Counter
	watermark *prometheus.GaugeVec

	recvSamples, recvSeries, recvHistograms prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	received := f.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_ingest_promsource_received_total",
		Help: "Points and series read from Prometheus query_range answers (before deduplication); native histogram points are counted and skipped.",
	}, []string{"kind"})
	return &metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_promsource_requests_total",
			Help: "query_range requests, by outcome: success, api_error, http_error, bad_response, too_large, timeout, canceled, network_error.",
		}, []string{"outcome"}),
		duration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_ingest_promsource_request_duration_seconds",
			Help:    "Time of one query_range request, answer read and decoded.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}),
		warnings: f.NewCounter(prometheus.CounterOpts{
			Name: "vigil_ingest_promsource_warnings_total",
			Help: "Warnings returned by Prometheus with query answers (they are logged).",
		}),
		watermark: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_ingest_promsource_watermark_seconds",
			Help: "Last evaluation time delivered for each configured query, in Unix seconds; time() minus it is the lag.",
		}, []string{"query"}),
		recvSamples:    received.WithLabelValues("sample"),
		recvSeries:     received.WithLabelValues("series"),
		recvHistograms: received.WithLabelValues("histogram"),
	}
}
