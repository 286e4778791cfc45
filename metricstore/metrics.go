package metricstore

import "github.com/prometheus/client_golang/prometheus"

// collector exposes Stats at scrape time: the store already keeps these
// totals as atomics, so the hot path pays nothing more for metrics.
type collector struct {
	st                                            *Store
	series, memory, limit, appended, ooo, invalid *prometheus.Desc
	evicted, pruned                               *prometheus.Desc
}

func registerMetrics(reg prometheus.Registerer, st *Store) {
	if reg == nil {
		return
	}
	reg.MustRegister(&collector{
		st:       st,
		series:   prometheus.NewDesc("vigil_metricstore_series", "Series held.", nil, nil),
		memory:   prometheus.NewDesc("vigil_metricstore_memory_bytes", "Estimated memory held by all series (rings at capacity and labels).", nil, nil),
		limit:    prometheus.NewDesc("vigil_metricstore_memory_limit_bytes", "Memory budget past which the least recently written series are evicted.", nil, nil),
		appended: prometheus.NewDesc("vigil_metricstore_appended_samples_total", "Samples stored (in order, merged late, or replacing a duplicate timestamp).", nil, nil),
		ooo: prometheus.NewDesc("vigil_metricstore_out_of_order_samples_total",
			"Samples older than their series' newest: merged, duplicate (same timestamp, value replaced), dropped_too_old (beyond the out-of-order window or retention), dropped_bucket_full.",
			[]string{"outcome"}, nil),
		invalid: prometheus.NewDesc("vigil_metricstore_invalid_samples_total", "Samples dropped for empty or unsorted labels.", nil, nil),
		evicted: prometheus.NewDesc("vigil_metricstore_evicted_series_total", "Series evicted, least recently written first, to stay within the memory limit.", nil, nil),
		pruned:  prometheus.NewDesc("vigil_metricstore_pruned_series_total", "Series removed by Prune for holding nothing within the retention.", nil, nil),
	})
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.series, c.memory, c.limit, c.appended, c.ooo, c.invalid, c.evicted, c.pruned} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.st.Stats()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v uint64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), lv...)
	}
	gauge(c.series, float64(s.Series))
	gauge(c.memory, float64(s.MemoryBytes))
	gauge(c.limit, float64(c.st.opts.MemoryLimit))
	counter(c.appended, s.Appended)
	counter(c.ooo, s.Merged, "merged")
	counter(c.ooo, s.Duplicates, "duplicate")
	counter(c.ooo, s.DroppedTooOld, "dropped_too_old")
	counter(c.ooo, s.DroppedBucketFull, "dropped_bucket_full")
	counter(c.invalid, s.DroppedInvalid)
	counter(c.evicted, s.Evicted)
	counter(c.pruned, s.Pruned)
}
