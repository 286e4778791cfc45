package promwrite

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics instruments a Receiver.
type metrics struct {
	received  *prometheus.CounterVec
	rejected  [numReasons]prometheus.Counter
	skipped   *prometheus.CounterVec
	requests  *prometheus.CounterVec
	duration  prometheus.Histogram
	cacheHits prometheus.Counter
	cacheMiss prometheus.Counter

	// Children cached so that a request does no label lookups for them.
	recvSamples, recvSeries, skipHistograms, skipExemplars, skipMetadata prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, d *decoder) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		received: f.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_promwrite_received_total",
			Help: "Remote write series and samples decoded from requests, valid or not.",
		}, []string{"kind"}),
		skipped: f.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_promwrite_skipped_total",
			Help: "Remote write payload Vigil does not use and skips without error: native histograms, exemplars, metadata.",
		}, []string{"kind"}),
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_promwrite_requests_total",
			Help: "Remote write requests answered, by protocol version and HTTP status code.",
		}, []string{"version", "code"}),
		duration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_ingest_promwrite_request_duration_seconds",
			Help:    "Time to read, decode and deliver one remote write request.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
		}),
		cacheHits: f.NewCounter(prometheus.CounterOpts{
			Name: "vigil_ingest_promwrite_series_cache_hits_total",
			Help: "Remote write 1.0 series whose label set was found already decoded in the series cache.",
		}),
		cacheMiss: f.NewCounter(prometheus.CounterOpts{
			Name: "vigil_ingest_promwrite_series_cache_misses_total",
			Help: "Remote write 1.0 series whose label set had to be decoded and validated.",
		}),
	}
	rejected := f.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_ingest_promwrite_rejected_total",
		Help: "Samples refused (the sender is told why; the rest of its request is kept), by reason.",
	}, []string{"reason"})
	for i, name := range reasonNames {
		m.rejected[i] = rejected.WithLabelValues(name)
	}
	m.recvSamples = m.received.WithLabelValues("sample")
	m.recvSeries = m.received.WithLabelValues("series")
	m.skipHistograms = m.skipped.WithLabelValues("histogram")
	m.skipExemplars = m.skipped.WithLabelValues("exemplar")
	m.skipMetadata = m.skipped.WithLabelValues("metadata")
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "vigil_ingest_promwrite_series_cache_entries",
		Help: "Label sets and symbols held by the decoding caches (both generations).",
	}, func() float64 { return float64(d.series.len() + d.strs.len()) })
	return m
}

// observe counts what one decoded batch held.
func (m *metrics) observe(b *batch) {
	total := len(b.samples)
	for i, n := range b.rejected {
		if n > 0 {
			m.rejected[i].Add(float64(n))
			total += n
		}
	}
	m.recvSamples.Add(float64(total))
	m.recvSeries.Add(float64(b.series))
	if b.histograms > 0 {
		m.skipHistograms.Add(float64(b.histograms))
	}
	if b.exemplars > 0 {
		m.skipExemplars.Add(float64(b.exemplars))
	}
	if b.metadata > 0 {
		m.skipMetadata.Add(float64(b.metadata))
	}
	if b.cacheHits > 0 {
		m.cacheHits.Add(float64(b.cacheHits))
	}
	if b.cacheMisses > 0 {
		m.cacheMiss.Add(float64(b.cacheMisses))
	}
}
