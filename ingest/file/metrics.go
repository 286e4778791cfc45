package file

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/internal/promreg"
)

// Values of the op label of vigil_ingest_file_errors_total.
const (
	opOpen    = "open"
	opStat    = "stat"
	opRead    = "read"
	opDeliver = "deliver"
	opSave    = "save"
)

// Values of the kind label of vigil_ingest_file_rotations_total.
const (
	rotReplaced  = "replaced"  // another file now at the path (rename rotation)
	rotRemoved   = "removed"   // nothing at the path any more (deleted, or renamed with no successor yet)
	rotTruncated = "truncated" // shrank or rewritten (copy-truncate)
)

type metrics struct {
	lines         prometheus.Counter // received_total{kind="line"}
	unterminated  prometheus.Counter
	truncated     prometheus.Counter
	bytes         prometheus.Counter
	delivered     prometheus.Counter
	backpressure  prometheus.Counter
	errors        *prometheus.CounterVec
	rotations     *prometheus.CounterVec
	files         prometheus.Gauge
	lag           prometheus.Gauge
	flushDuration prometheus.Histogram
	pollDuration  prometheus.Histogram
}

var durationBuckets = []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5, 30}

// newMetrics builds the metrics of the tailer called name. Counters are
// shared by the tailers of one registry; gauges, which each tailer sets,
// carry its name.
func newMetrics(reg prometheus.Registerer, name string) (*metrics, error) {
	received := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_ingest_file_received_total",
		Help: "Lines read from tailed files (empty lines excluded), by kind.",
	}, []string{"kind"})
	files := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "vigil_ingest_file_files",
		Help: "Files open for tailing, rotated ones still being finished included.",
	}, []string{"tailer"})
	lag := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "vigil_ingest_file_lag_bytes",
		Help: "Bytes written to tailed files but not yet accepted by the sink, as of the last poll.",
	}, []string{"tailer"})
	m := &metrics{
		unterminated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_ingest_file_unterminated_lines_total",
			Help: "Last lines without a newline delivered as they were because their file was rotated away and stayed quiet for rotate_wait.",
		}),
		truncated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_ingest_file_truncated_lines_total",
			Help: "Lines longer than max_line_bytes, delivered cut to that length.",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_ingest_file_read_bytes_total",
			Help: "Bytes read from tailed files (bytes read again after a failed delivery count again).",
		}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_ingest_file_delivered_total",
			Help: "Records accepted by the sink.",
		}),
		backpressure: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_ingest_file_backpressure_total",
			Help: "Sink answers of ErrBackpressure; each one pauses reading for a short backoff.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_file_errors_total",
			Help: "Failed operations, by op (open, stat, read, deliver, save); each is retried on a later poll.",
		}, []string{"op"}),
		rotations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_file_rotations_total",
			Help: "Rotations seen, by kind: replaced (rename), removed, truncated (copy-truncate).",
		}, []string{"kind"}),
		flushDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_ingest_file_flush_duration_seconds",
			Help:    "Time to hand one batch to the sink, retries on backpressure included.",
			Buckets: durationBuckets,
		}),
		pollDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_ingest_file_poll_duration_seconds",
			Help:    "Time of one poll: listing, checking, reading and delivering.",
			Buckets: durationBuckets,
		}),
	}
	for _, op := range []string{opOpen, opStat, opRead, opDeliver, opSave} {
		m.errors.WithLabelValues(op)
	}
	for _, k := range []string{rotReplaced, rotRemoved, rotTruncated} {
		m.rotations.WithLabelValues(k)
	}
	var err error
	if received, err = promreg.Register(reg, received); err != nil {
		return nil, err
	}
	m.lines = received.WithLabelValues("line")
	for _, c := range []*prometheus.Counter{&m.unterminated, &m.truncated, &m.bytes, &m.delivered, &m.backpressure} {
		if *c, err = promreg.Register(reg, *c); err != nil {
			return nil, err
		}
	}
	for _, c := range []**prometheus.CounterVec{&m.errors, &m.rotations} {
		if *c, err = promreg.Register(reg, *c); err != nil {
			return nil, err
		}
	}
	if files, err = promreg.Register(reg, files); err != nil {
		return nil, err
	}
	if lag, err = promreg.Register(reg, lag); err != nil {
		return nil, err
	}
	m.files, m.lag = files.WithLabelValues(name), lag.WithLabelValues(name)
	for _, h := range []*prometheus.Histogram{&m.flushDuration, &m.pollDuration} {
		if *h, err = promreg.Register(reg, *h); err != nil {
			return nil, err
		}
	}
	return m, nil
}
