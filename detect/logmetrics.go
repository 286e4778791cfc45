package detect

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// Names of the log-derived series. They are gauges per interval, stamped
// with the interval's end.
const (
	MetricLogLines         = "log_lines_per_second"           // {service}
	MetricLogErrorRatio    = "log_error_ratio"                // {service}: error-level lines / lines
	MetricLogNewErrorLines = "log_new_error_lines_per_second" // {service}: error lines of templates first seen within NewWindow
	MetricLogLatency       = "log_latency_seconds"            // {service,quantile}: durations the lines state
)

// LogMetricsOptions configures LogMetrics.
type LogMetricsOptions struct {
	// Interval is the window of one sample; Grace how long Tick waits for
	// late lines before closing a window.
	Interval, Grace time.Duration
	// Quantiles of the durations stated by lines, as log_latency_seconds.
	Quantiles []float64
	// MaxLatencies bounds the durations kept per service and interval
	// (a reservoir past it).
	MaxLatencies int
	// NewWindow and WarmUp: an error line is "new" when its template was
	// first seen less than NewWindow ago and after the service's first
	// WarmUp (before that every template is new).
	NewWindow, WarmUp time.Duration
	// MaxEmpty bounds the zero-throughput samples written for the empty
	// intervals of one gap.
	MaxEmpty int
	// MaxTemplates bounds the first-seen times kept per service.
	MaxTemplates int
	// MaxPending bounds the samples held between two Ticks; past it new
	// samples are dropped (and counted, see Dropped), so that memory
	// stays bounded for an owner that ticks late or never.
	MaxPending int
}

// DefaultLogMetricsOptions returns 1-minute samples with p50, p90 and p99.
func DefaultLogMetricsOptions() LogMetricsOptions {
	return LogMetricsOptions{Interval: time.Minute, Grace: 30 * time.Second, Quantiles: []float64{0.5, 0.9, 0.99},
		MaxLatencies: 4096, NewWindow: time.Hour, WarmUp: time.Hour, MaxEmpty: 60, MaxTemplates: 10000, MaxPending: 1 << 16}
}

func (o *LogMetricsOptions) validate() {
	d := DefaultLogMetricsOptions()
	if o.Interval <= 0 {
		o.Interval = d.Interval
	}
	if o.Grace < 0 {
		o.Grace = 0
	}
	if o.Quantiles == nil {
		o.Quantiles = d.Quantiles
	}
	if o.MaxLatencies <= 0 {
		o.MaxLatencies = d.MaxLatencies
	}
	if o.NewWindow <= 0 {
		o.NewWindow = d.NewWindow
	}
	if o.WarmUp < 0 {
		o.WarmUp = d.WarmUp
	}
	if o.MaxEmpty < 0 {
		o.MaxEmpty = d.MaxEmpty
	}
	if o.MaxTemplates <= 0 {
		o.MaxTemplates = d.MaxTemplates
	}
	if o.MaxPending <= 0 {
		o.MaxPending = d.MaxPending
	}
}

// LogMetrics turns a log stream into per-service series (throughput, error
// ratio, new-error rate, latency quantiles from duration-like parameters
// such as "took 35ms" or duration_ms=35), so that the metric detectors and
// forecasts can use what only the logs say.
//
// Observe counts; samples of the intervals that closed come out of Tick.
// A LogMetrics is not safe for concurrent use.
type LogMetrics struct {
	opts      LogMetricsOptions
	quantiles []string  // qs formatted as label values
	qs        []float64 // opts.Quantiles when the labels were formatted
	services  map[string]*lmService
	// The state of the service of the last line: lines come in runs of
	// one service, and services are never forgotten.
	lastName string
	last     *lmService
	pending  []telemetry.Sample
	dropped  int // samples not queued, see MaxPending
	// durationKeys spares working out again whether a field name or token
	// prefix names a duration.
	durationKeys ctDurationKeys
}

type lmService struct {
	name         string
	start, first time.Time
	// end is start + Interval, kept so that the check every line makes
	// is one comparison, not a time.Time.Add and a comparison.
	end                      time.Time
	lines, errors, newErrors int
	lat                      []float64
	latSeen                  uint64
	seen                     map[string]time.Time
	labels                   lmLabels
}

// lmLabels are the label sets of one service's series, built once: every
// interval of every service emits up to six samples, and building their
// labels afresh was most of what LogMetrics allocated. The samples share
// these slices, which is safe because Labels are never changed in place
// (Labels.With copies).
type lmLabels struct {
	lines, errorRatio, newErrors telemetry.Labels
	latency                      []telemetry.Labels // per quantile
	latencyQ                     []string           // the quantile label each of latency holds
}

// NewLogMetrics returns a LogMetrics with o, defaults filled in.
func NewLogMetrics(o LogMetricsOptions) *LogMetrics {
	o.validate()
	qs := make([]string, len(o.Quantiles))
	for i, q := range o.Quantiles {
		qs[i] = strconv.FormatFloat(q, 'g', -1, 64)
	}
	return &LogMetrics{opts: o, quantiles: qs, qs: slices.Clone(o.Quantiles), services: make(map[string]*lmService)}
}

// Observe counts one line.
func (m *LogMetrics) Observe(rec *telemetry.LogRecord) { m.observe(rec, nil) }

// observe is Observe with the message already cut (ctCut), when toks is
// not nil.
func (m *LogMetrics) observe(rec *telemetry.LogRecord, toks []ctTok) {
	s := m.last
	if s == nil || m.lastName != rec.Service {
		s = m.service(rec)
		m.lastName, m.last = rec.Service, s
	}
	firstSeen, known := m.firstSeen(s, rec)
	m.observeIn(s, rec, toks, firstSeen, known)
}

// service returns the state of rec's service, new if need be.
func (m *LogMetrics) service(rec *telemetry.LogRecord) *lmService {
	s := m.services[rec.Service]
	if s == nil {
		start := rec.Time.Truncate(m.opts.Interval)
		s = &lmService{name: rec.Service, start: start, end: start.Add(m.opts.Interval), first: rec.Time, seen: make(map[string]time.Time)}
		s.labels.lines = lmLabelSet(MetricLogLines, s.name, "")
		s.labels.errorRatio = lmLabelSet(MetricLogErrorRatio, s.name, "")
		s.labels.newErrors = lmLabelSet(MetricLogNewErrorLines, s.name, "")
		m.services[rec.Service] = s
	}
	return s
}

// firstSeen returns when rec's template was first seen in s, which is now
// if it was not; known is false for a line without a template, or when
// MaxTemplates are known already. A template once known stays known with
// the same time.
func (m *LogMetrics) firstSeen(s *lmService, rec *telemetry.LogRecord) (time.Time, bool) {
	firstSeen, known := s.seen[rec.TemplateID]
	if !known && rec.TemplateID != "" && len(s.seen) < m.opts.MaxTemplates {
		firstSeen, known = rec.Time, true
		s.seen[rec.TemplateID] = rec.Time
	}
	return firstSeen, known
}

// observeIn is observe for the service state s and the template's
// firstSeen.
func (m *LogMetrics) observeIn(s *lmService, rec *telemetry.LogRecord, toks []ctTok, firstSeen time.Time, known bool) {
	if !rec.Time.Before(s.end) {
		m.closeUntil(s, rec.Time)
	}
	s.lines++
	if rec.Level >= telemetry.LevelError {
		s.errors++
		if known && firstSeen.Sub(s.first) >= m.opts.WarmUp && rec.Time.Sub(firstSeen) < m.opts.NewWindow {
			s.newErrors++
		}
	}
	var d float64
	var ok bool
	if toks != nil {
		d, ok = ctLineDurationToks(toks, rec.Fields, &m.durationKeys)
	} else {
		d, ok = ctLineDurationKeys(rec.Message, rec.Fields, &m.durationKeys)
	}
	if ok {
		s.latSeen++
		if len(s.lat) < m.opts.MaxLatencies {
			s.lat = append(s.lat, d)
		} else {
			// Deterministic reservoir: a multiplicative hash of the count
			// picks the slot, keeping each value with probability max/seen.
			h := s.latSeen * 0x9E3779B97F4A7C15
			if j := h % s.latSeen; j < uint64(len(s.lat)) {
				s.lat[j] = d
			}
		}
	}
}

// Tick closes the intervals that ended at least Grace before now and
// returns the samples of every interval closed since the last Tick.
func (m *LogMetrics) Tick(now time.Time) []telemetry.Sample {
	for _, s := range m.services {
		if !now.Before(s.start.Add(m.opts.Interval + m.opts.Grace)) {
			m.closeUntil(s, now.Add(-m.opts.Grace))
		}
	}
	out := m.pending
	m.pending = nil
	slices.SortStableFunc(out, func(a, b telemetry.Sample) int {
		if a.T != b.T {
			return int(a.T - b.T)
		}
		return strings.Compare(a.Labels.String(), b.Labels.String())
	})
	return out
}

func (m *LogMetrics) closeUntil(s *lmService, t time.Time) {
	end := s.start.Add(m.opts.Interval)
	if t.Before(end) {
		return
	}
	m.emit(s, end)
	next := t.Truncate(m.opts.Interval)
	secs := m.opts.Interval.Seconds()
	for i, at := 0, end.Add(m.opts.Interval); !at.After(next) && i < m.opts.MaxEmpty; i, at = i+1, at.Add(m.opts.Interval) {
		m.push(lmSample(s.labels.lines, at, 0/secs))
	}
	s.start = next
	s.end = next.Add(m.opts.Interval)
}

// push queues a sample for the next Tick, or drops it when MaxPending are
// queued already.
func (m *LogMetrics) push(s telemetry.Sample) {
	if len(m.pending) >= m.opts.MaxPending {
		m.dropped++
		return
	}
	m.pending = append(m.pending, s)
}

// Dropped is how many samples MaxPending has dropped.
func (m *LogMetrics) Dropped() int { return m.dropped }

func lmSample(ls telemetry.Labels, at time.Time, v float64) telemetry.Sample {
	return telemetry.Sample{Labels: ls, T: at.UnixMilli(), V: v}
}

// latencyLabels returns the labels of s's k-th latency quantile, whose
// label value is q.
func (s *lmService) latencyLabels(k int, q string) telemetry.Labels {
	l := &s.labels
	for len(l.latency) <= k {
		l.latency = append(l.latency, nil)
		l.latencyQ = append(l.latencyQ, "")
	}
	if l.latency[k] == nil || l.latencyQ[k] != q {
		l.latency[k], l.latencyQ[k] = lmLabelSet(MetricLogLatency, s.name, q), q
	}
	return l.latency[k]
}

// lmLabelSet builds the labels as telemetry.LabelsFromStrings would (sorted
// by name, empty values dropped, capacity one per pair) without its map.
func lmLabelSet(name, service, quantile string) telemetry.Labels {
	n := 2
	if quantile != "" {
		n = 3
	}
	ls := make(telemetry.Labels, 0, n)
	if name != "" {
		ls = append(ls, telemetry.Label{Name: telemetry.MetricNameLabel, Value: name})
	}
	if quantile != "" {
		ls = append(ls, telemetry.Label{Name: "quantile", Value: quantile})
	}
	if service != "" {
		ls = append(ls, telemetry.Label{Name: "service", Value: service})
	}
	return ls
}

// quantileLabel is the label value of the k-th quantile q, formatted once
// (again should the caller have changed opts.Quantiles since).
func (m *LogMetrics) quantileLabel(k int, q float64) string {
	if k < len(m.qs) && math.Float64bits(m.qs[k]) == math.Float64bits(q) {
		return m.quantiles[k]
	}
	return strconv.FormatFloat(q, 'g', -1, 64)
}

func (m *LogMetrics) emit(s *lmService, end time.Time) {
	secs := m.opts.Interval.Seconds()
	m.push(lmSample(s.labels.lines, end, float64(s.lines)/secs))
	if s.lines > 0 {
		m.push(lmSample(s.labels.errorRatio, end, float64(s.errors)/float64(s.lines)))
		m.push(lmSample(s.labels.newErrors, end, float64(s.newErrors)/secs))
	}
	if len(s.lat) > 0 {
		// Each quantile is one order statistic: selecting it costs a
		// few passes where sorting every duration of the interval cost
		// n log n. Once s.lat[from] is in place, nothing after it is
		// smaller, so a higher quantile is selected among those alone.
		from := 0
		for k, q := range m.opts.Quantiles {
			i := int(math.Ceil(q*float64(len(s.lat)))) - 1
			i = min(max(i, 0), len(s.lat)-1)
			if i < from {
				from = 0
			}
			v := lmSelect(s.lat[from:], i-from)
			from = i
			m.push(lmSample(s.latencyLabels(k, m.quantileLabel(k, q)), end, v))
		}
	}
	s.lines, s.errors, s.newErrors, s.lat, s.latSeen = 0, 0, 0, s.lat[:0], 0
}

// lmSelect reorders s so that s[k] holds what sorting s would put there,
// nothing after it smaller and nothing before it larger, and returns it
// (Hoare's selection). The durations it sees are never NaN. Should the
// pivots keep falling badly, it sorts what is left, so it is never worse
// than n log n.
func lmSelect(s []float64, k int) float64 {
	lo, hi := 0, len(s)-1
	for depth := 0; lo < hi; depth++ {
		if depth > 48 {
			slices.Sort(s[lo : hi+1])
			break
		}
		// The median of the first, middle and last values as pivot.
		a, b, c := s[lo], s[lo+(hi-lo)/2], s[hi]
		if a > b {
			a, b = b, a
		}
		if b > c {
			b = c
			if a > b {
				b = a
			}
		}
		pivot := b
		i, j := lo, hi
		for i <= j {
			for i <= hi && s[i] < pivot {
				i++
			}
			for j >= lo && pivot < s[j] {
				j--
			}
			if i <= j {
				s[i], s[j] = s[j], s[i]
				i++
				j--
			}
		}
		// Now s[lo..j] ≤ pivot ≤ s[i..hi], and anything between is the
		// pivot itself.
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return s[k]
		}
	}
	return s[k]
}
