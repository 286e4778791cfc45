package detect

import (
	"math"
	"strconv"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// SilenceOptions configures SilenceDetector.
type SilenceOptions struct {
	// Interval is the counting window of the per-service rate baseline.
	Interval time.Duration
	// MinHistory is how many intervals a service needs before its
	// silence means anything.
	MinHistory int
	// MaxP is the largest Poisson probability of seeing no line in the gap
	// that still counts as silence (1e-6: about 14 expected lines).
	MaxP float64
	// MinGap is the shortest gap reported, whatever the rate; GapFactor
	// times the longest gap the service showed in the last day is also
	// required, so a bursty service's usual pauses are not silences.
	MinGap    time.Duration
	GapFactor float64
	// MaxGapFill bounds the empty intervals of one gap learned as zeros, so
	// that a long outage does not teach the baseline that quiet is normal.
	MaxGapFill int
	Baseline   BaselineOptions
}

// DefaultSilenceOptions returns 1-minute intervals, 60 of history, P ≤ 1e-6,
// a gap of at least 2 minutes and twice the longest gap of the last day.
func DefaultSilenceOptions() SilenceOptions {
	return SilenceOptions{Interval: time.Minute, MinHistory: 60, MaxP: 1e-6, MinGap: 2 * time.Minute, GapFactor: 2,
		MaxGapFill: 10, Baseline: DefaultBaselineOptions()}
}

func (o *SilenceOptions) validate() {
	d := DefaultSilenceOptions()
	if o.Interval <= 0 {
		o.Interval = d.Interval
	}
	if o.MinHistory <= 0 {
		o.MinHistory = d.MinHistory
	}
	if o.MaxP <= 0 || o.MaxP >= 1 {
		o.MaxP = d.MaxP
	}
	if o.MinGap <= 0 {
		o.MinGap = d.MinGap
	}
	if o.GapFactor < 1 {
		o.GapFactor = d.GapFactor
	}
	if o.MaxGapFill < 0 {
		o.MaxGapFill = d.MaxGapFill
	}
	o.Baseline.validate()
	if o.MinHistory > o.Baseline.AllBucket {
		o.MinHistory = o.Baseline.AllBucket
	}
}

// SilenceDetector reports a service that usually logs at a steady rate and
// has stopped (TypeSilence): on Tick, the lines expected in the gap since
// its last line are rate × gap with the rate from the service's seasonal
// baseline; the gap is a silence when Poisson P(no line) ≤ MaxP and the gap
// is well past the service's usual pauses. It is reported once per gap and
// clears when the service logs again.
//
// A SilenceDetector is not safe for concurrent use.
type SilenceDetector struct {
	opts     SilenceOptions
	services map[string]*slService
	// The state of the service of the last line: lines come in runs of
	// one service, and services are never forgotten.
	lastName string
	last     *slService
}

type slService struct {
	start time.Time // open interval
	// end is start + Interval, kept so that the check every line makes
	// is one comparison, not a time.Time.Add and a comparison.
	end      time.Time
	count    int
	last     time.Time
	lastRaw  string
	base     *Baseline
	maxGap   [24]time.Duration // longest gap per hour of the last day
	maxGapAt [24]time.Time
	// maxGapStale[h] is maxGapAt[h] + 23h: past it, the gap is replaced.
	maxGapStale [24]time.Time
	// hour is the UTC hour of [hourFrom, hourTo), the hour of the last
	// line: working the hour out of a time.Time afresh every line costs
	// more than two comparisons.
	hourFrom, hourTo time.Time
	hour             int
	silent           bool
}

var _ LogDetector = (*SilenceDetector)(nil)

// NewSilenceDetector returns a detector with o, defaults filled in.
func NewSilenceDetector(o SilenceOptions) *SilenceDetector {
	o.validate()
	return &SilenceDetector{opts: o, services: make(map[string]*slService)}
}

// Name implements LogDetector.
func (d *SilenceDetector) Name() string { return "silence" }

// Silent reports whether service is in a reported silence now.
func (d *SilenceDetector) Silent(service string) bool {
	s := d.services[service]
	return s != nil && s.silent
}

// Observe implements LogDetector.
func (d *SilenceDetector) Observe(rec *telemetry.LogRecord) []Anomaly {
	s := d.last
	if s == nil || d.lastName != rec.Service {
		s = d.service(rec)
		d.lastName, d.last = rec.Service, s
	}
	d.observeIn(s, rec)
	return nil
}

// service returns the state of rec's service, new if need be.
func (d *SilenceDetector) service(rec *telemetry.LogRecord) *slService {
	s := d.services[rec.Service]
	if s == nil {
		start := rec.Time.Truncate(d.opts.Interval)
		s = &slService{start: start, end: start.Add(d.opts.Interval), last: rec.Time, base: NewBaseline(d.opts.Baseline)}
		d.services[rec.Service] = s
	}
	return s
}

// observeIn is Observe for the service state s; a line never raises a
// silence, it only ends one.
func (d *SilenceDetector) observeIn(s *slService, rec *telemetry.LogRecord) {
	if end := s.end; !rec.Time.Before(end) {
		s.base.Add(s.start, float64(s.count))
		s.count = 0
		empty := int(rec.Time.Sub(end) / d.opts.Interval)
		for i := 0; i < empty && i < d.opts.MaxGapFill; i++ {
			s.base.Add(end.Add(time.Duration(i)*d.opts.Interval), 0)
		}
		s.start = rec.Time.Truncate(d.opts.Interval)
		s.end = s.start.Add(d.opts.Interval)
	}
	// One Sub per line: its sign says whether the line is later than
	// the last, and comparisons with times worked out in advance stand
	// in for the rest (time.Time.Sub costs an Add and an Equal).
	gap := rec.Time.Sub(s.last)
	if !s.silent && gap > 0 {
		h := s.hourOf(rec.Time)
		if rec.Time.After(s.maxGapStale[h]) || gap > s.maxGap[h] {
			s.maxGap[h], s.maxGapAt[h] = gap, rec.Time
			s.maxGapStale[h] = rec.Time.Add(23 * time.Hour)
		}
	}
	if gap > 0 {
		s.last = rec.Time
	}
	s.lastRaw = rec.Raw
	s.count++
	s.silent = false
}

// hourOf returns the UTC hour of t.
func (s *slService) hourOf(t time.Time) int {
	if t.Before(s.hourFrom) || !t.Before(s.hourTo) {
		s.hourFrom = t.Truncate(time.Hour) // whole UTC hours since the zero time
		s.hourTo = s.hourFrom.Add(time.Hour)
		s.hour = t.UTC().Hour()
	}
	return s.hour
}

func (s *slService) usualMaxGap(now time.Time) time.Duration {
	var m time.Duration
	for h := range s.maxGap {
		if now.Sub(s.maxGapAt[h]) <= 24*time.Hour && s.maxGap[h] > m {
			m = s.maxGap[h]
		}
	}
	return m
}

// Tick implements LogDetector.
func (d *SilenceDetector) Tick(now time.Time) []Anomaly {
	var out []Anomaly
	for name, s := range d.services {
		if s.silent {
			continue
		}
		gap := now.Sub(s.last)
		if gap < d.opts.MinGap || s.base.N() < d.opts.MinHistory {
			continue
		}
		usualGap := s.usualMaxGap(now)
		if float64(gap) < d.opts.GapFactor*float64(usualGap) {
			continue
		}
		e, ok := s.base.Estimate(now)
		if !ok {
			continue
		}
		// The median, not the mean: a service that bursts now and then
		// does not usually log at its burst rate.
		perInterval := math.Min(e.Median, e.Mean)
		expected := perInterval * float64(gap) / float64(d.opts.Interval)
		p := math.Exp(-expected)
		if p > d.opts.MaxP {
			continue
		}
		s.silent = true
		perHour := perInterval * float64(time.Hour) / float64(d.opts.Interval)
		out = append(out, Anomaly{
			Type: TypeSilence, Service: name,
			Score:      blScore(-math.Log10(math.Max(p, 1e-300)), -math.Log10(d.opts.MaxP)),
			Confidence: blConfidence(e.N, 2*d.opts.MinHistory),
			Explanation: "service " + name + ": no lines for " + gap.Round(time.Second).String() + " where " + blNum(perHour) +
				"/h is usual " + e.Level.String() + " (" + blNum(expected) + " lines expected, P(none)=" +
				strconv.FormatFloat(p, 'g', 2, 64) + ", longest usual pause " + usualGap.Round(time.Second).String() + ")",
			Examples: []string{s.lastRaw},
			Start:    s.last, End: now,
		})
	}
	sortAnomalies(out)
	return out
}
