package bus

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics instruments a Local.
type metrics struct {
	published     *prometheus.CounterVec
	delivered     *prometheus.CounterVec
	handlerErrors *prometheus.CounterVec
	rejected      *prometheus.CounterVec
	publishWait   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, l *Local) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		published: f.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_bus_published_total",
			Help: "Messages accepted by Publish or TryPublish, once per message whatever the number of subscribers.",
		}, []string{"topic"}),
		delivered: f.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_bus_delivered_total",
			Help: "Messages handed to a subscriber's handler, whether it succeeded or not.",
		}, []string{"topic", "subscriber"}),
		handlerErrors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_bus_handler_errors_total",
			Help: "Messages whose handler returned an error or panicked.",
		}, []string{"topic", "subscriber"}),
		rejected: f.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_bus_rejected_total",
			Help: "TryPublish calls refused with ErrFull because a subscriber's queue had no room.",
		}, []string{"topic"}),
		publishWait: f.NewHistogram(prometheus.HistogramOpts{
			Name: "vigil_bus_publish_wait_seconds",
			Help: "Time Publish waited for queue room (0 when none was needed), whatever its outcome.",
			// Waits that matter for ingestion latency are well under the
			// default buckets' 5ms floor.
			Buckets: []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5, 30},
		}),
	}
	if reg != nil {
		reg.MustRegister(depthCollector{l: l, desc: prometheus.NewDesc(
			"vigil_bus_queue_depth",
			"Messages waiting in a subscriber's queue.",
			[]string{"topic", "subscriber"}, nil,
		)})
	}
	return m
}

// depthCollector reads queue depths at scrape time instead of keeping a
// gauge up to date: that takes two atomic updates per message per
// subscriber off the hot path, cannot drift, and drops the series of a
// closed subscription by itself.
type depthCollector struct {
	l    *Local
	desc *prometheus.Desc
}

func (c depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c depthCollector) Collect(ch chan<- prometheus.Metric) {
	// Two subscriptions may share a name on one topic; a registry rejects
	// duplicate series, so their depths are summed.
	type series struct{ topic, subscriber string }
	depths := make(map[series]int)
	c.l.mu.RLock()
	for name, t := range c.l.topics {
		for _, s := range t.subs {
			depths[series{name, s.name}] += s.depth()
		}
	}
	c.l.mu.RUnlock()
	for k, d := range depths {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(d), k.topic, k.subscriber)
	}
}
