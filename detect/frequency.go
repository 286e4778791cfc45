package detect

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// FrequencyOptions configures FrequencyDetector.
type FrequencyOptions struct {
	// Interval is the counting window; counts are compared with the
	// baseline of counts per Interval and reported as rates per hour.
	Interval time.Duration
	// Grace is how long after an interval ends Tick waits for late lines
	// before it closes the interval of a service that has gone quiet.
	Grace time.Duration
	// MinHistory is how many closed intervals a series needs before it
	// is judged.
	MinHistory int
	// Z is the robust z-score (against sqrt(λ + σ²), Poisson plus the
	// series' own spread) beyond which a count is anomalous.
	Z float64
	// SpikeRatio and MinSpikeCount: a spike is also at least SpikeRatio
	// times the usual count, at least MinSpikeCount lines, and above
	// SpikeOverMax times the largest count in the baseline bucket (so a
	// template that bursts every hour is not a spike every hour).
	SpikeRatio, MinSpikeCount, SpikeOverMax float64
	// DropRatio, MinSteady and DropIntervals: drops are judged only for a
	// steady template (median ≥ MinSteady lines per interval, spread under
	// half the median, never zero in its bucket) and fire when the count
	// stays at or under DropRatio of usual for DropIntervals intervals.
	// DropZ is the z-score a drop must reach: lower than Z, since a steady
	// rate that falls to a quarter for consecutive intervals is already
	// rare, and z is bounded by sqrt(λ) when the count falls to zero.
	DropRatio, MinSteady, DropZ float64
	DropIntervals               int
	// MinErrorBurst is the least number of error lines per interval that
	// can be an error burst.
	MinErrorBurst float64
	// MaxTemplates bounds the series kept per service.
	MaxTemplates int
	Baseline     BaselineOptions
	// PeakHalfLife: a spike must also exceed SpikeOverMax times the
	// series' peak count, a maximum over all of its history that halves
	// every PeakHalfLife. A template that bursts now and then at any hour
	// (a checkpoint, a vacuum) has shown that burst before, if not in
	// this hour's bucket; a burst it has never come near still fires.
	PeakHalfLife time.Duration
}

// DefaultFrequencyOptions returns the defaults: 1-minute intervals, z ≥ 6,
// spikes ≥ 3× usual and ≥ 10 lines, drops to ≤ ¼ of a steady rate for 2
// intervals, error bursts of ≥ 10 lines a minute.
func DefaultFrequencyOptions() FrequencyOptions {
	return FrequencyOptions{
		Interval:      time.Minute,
		Grace:         30 * time.Second,
		MinHistory:    60,
		Z:             6,
		SpikeRatio:    3,
		MinSpikeCount: 10,
		SpikeOverMax:  1.5,
		DropRatio:     0.25,
		MinSteady:     10,
		DropZ:         3,
		DropIntervals: 2,
		MinErrorBurst: 10,
		MaxTemplates:  2000,
		Baseline:      DefaultBaselineOptions(),
		PeakHalfLife:  7 * 24 * time.Hour,
	}
}

func (o *FrequencyOptions) validate() {
	d := DefaultFrequencyOptions()
	if o.PeakHalfLife <= 0 {
		o.PeakHalfLife = d.PeakHalfLife
	}
	if o.Interval <= 0 {
		o.Interval = d.Interval
	}
	if o.Grace < 0 {
		o.Grace = 0
	}
	if o.MinHistory <= 0 {
		o.MinHistory = d.MinHistory
	}
	if o.Z <= 0 {
		o.Z = d.Z
	}
	if o.SpikeRatio <= 1 {
		o.SpikeRatio = d.SpikeRatio
	}
	if o.MinSpikeCount <= 0 {
		o.MinSpikeCount = d.MinSpikeCount
	}
	if o.SpikeOverMax <= 0 {
		o.SpikeOverMax = d.SpikeOverMax
	}
	if o.DropRatio <= 0 || o.DropRatio >= 1 {
		o.DropRatio = d.DropRatio
	}
	if o.MinSteady <= 0 {
		o.MinSteady = d.MinSteady
	}
	if o.DropZ <= 0 {
		o.DropZ = d.DropZ
	}
	if o.DropIntervals <= 0 {
		o.DropIntervals = d.DropIntervals
	}
	if o.MinErrorBurst <= 0 {
		o.MinErrorBurst = d.MinErrorBurst
	}
	if o.MaxTemplates <= 0 {
		o.MaxTemplates = d.MaxTemplates
	}
	o.Baseline.validate()
	if o.MinHistory > o.Baseline.AllBucket {
		o.MinHistory = o.Baseline.AllBucket
	}
}

// FrequencyDetector counts lines per service × template per interval and
// compares each closed interval with the template's seasonal baseline
// (TypeFrequency: spikes, and drops of steady templates), and error-level
// lines per service with theirs (TypeErrorBurst).
//
// Intervals close when a later line of the same service arrives or when
// Tick passes the interval's end plus Grace. An interval in which the
// service logged nothing at all is neither judged nor learned: a stream
// gone quiet is the silence detector's finding, and learning its zeros
// would blunt every template's baseline.
//
// A FrequencyDetector is not safe for concurrent use.
type FrequencyDetector struct {
	opts FrequencyOptions
	// peakDecay is what one interval leaves of a peak, computed once.
	peakDecay float64
	services  map[string]*freqService
	// The state of the service of the last line: lines come in runs of
	// one service, and services are never forgotten.
	lastName string
	last     *freqService
}

type freqService struct {
	name  string
	start time.Time // start of the open interval
	// end is start + Interval, kept so that the check every line makes
	// is one comparison, not a time.Time.Add and a comparison.
	end    time.Time
	total  int
	series map[string]*freqSeries
	// list holds the values of series: closing an interval visits every
	// series, and walking a slice costs less than iterating a map. The
	// order does not matter, as close sorts what it finds.
	list   []*freqSeries
	errors freqSeries
}

type freqSeries struct {
	id      string // the template's, "" for the error lines
	base    *Baseline
	count   int
	lowRun  int
	example string
	peak    float64 // decaying all-time peak count, see PeakHalfLife
}

var _ LogDetector = (*FrequencyDetector)(nil)

// NewFrequencyDetector returns a detector with o, defaults filled in.
func NewFrequencyDetector(o FrequencyOptions) *FrequencyDetector {
	o.validate()
	return &FrequencyDetector{opts: o, services: make(map[string]*freqService),
		peakDecay: math.Exp2(-float64(o.Interval) / float64(o.PeakHalfLife))}
}

// Name implements LogDetector.
func (d *FrequencyDetector) Name() string { return "frequency" }

// Observe implements LogDetector.
func (d *FrequencyDetector) Observe(rec *telemetry.LogRecord) []Anomaly {
	s := d.last
	if s == nil || d.lastName != rec.Service {
		s = d.service(rec)
		d.lastName, d.last = rec.Service, s
	}
	out, _ := d.observeIn(s, nil, rec)
	return out
}

// service returns the state of rec's service, new if need be.
func (d *FrequencyDetector) service(rec *telemetry.LogRecord) *freqService {
	s := d.services[rec.Service]
	if s == nil {
		start := rec.Time.Truncate(d.opts.Interval)
		s = &freqService{name: rec.Service, start: start, end: start.Add(d.opts.Interval), series: make(map[string]*freqSeries)}
		s.errors.base = newBaselineShared(&d.opts.Baseline)
		d.services[rec.Service] = s
	}
	return s
}

// observeIn is Observe for the service state s and, when the caller has
// it from an earlier line (LogDetectors keeps it), the template's series
// ser. It returns the series the line counted in, nil for none.
func (d *FrequencyDetector) observeIn(s *freqService, ser *freqSeries, rec *telemetry.LogRecord) ([]Anomaly, *freqSeries) {
	var out []Anomaly
	if !rec.Time.Before(s.end) {
		out = d.closeUntil(s, rec.Time)
	}
	s.total++
	if rec.TemplateID != "" {
		// Looked up only after the close above: a series created
		// before it would be judged, and learn a zero, for an interval
		// it was not there for.
		if ser == nil {
			ser = s.series[rec.TemplateID]
		}
		if ser == nil && len(s.series) < d.opts.MaxTemplates {
			ser = &freqSeries{base: newBaselineShared(&d.opts.Baseline), id: rec.TemplateID}
			s.series[rec.TemplateID] = ser
			s.list = append(s.list, ser)
		}
		if ser != nil {
			if ser.count == 0 {
				ser.example = rec.Raw
			}
			ser.count++
		}
	}
	if rec.Level >= telemetry.LevelError {
		if s.errors.count == 0 {
			s.errors.example = rec.Raw
		}
		s.errors.count++
	}
	return out, ser
}

// Tick implements LogDetector: it closes the intervals of services that
// have logged nothing since the interval ended.
func (d *FrequencyDetector) Tick(now time.Time) []Anomaly {
	var out []Anomaly
	for _, s := range d.services {
		if !now.Before(s.start.Add(d.opts.Interval + d.opts.Grace)) {
			out = append(out, d.closeUntil(s, now.Add(-d.opts.Grace))...)
		}
	}
	sortAnomalies(out)
	return out
}

// closeUntil closes every interval of s that ends at or before t. Only the
// first can hold lines; the rest of a gap is empty and skipped at once.
func (d *FrequencyDetector) closeUntil(s *freqService, t time.Time) []Anomaly {
	end := s.start.Add(d.opts.Interval)
	if t.Before(end) {
		return nil
	}
	out := d.close(s, s.start, end)
	s.start = t.Truncate(d.opts.Interval)
	s.end = s.start.Add(d.opts.Interval)
	return out
}

func (d *FrequencyDetector) close(s *freqService, start, end time.Time) []Anomaly {
	if s.total == 0 {
		return nil
	}
	s.total = 0
	var out []Anomaly
	perHour := float64(time.Hour) / float64(d.opts.Interval)
	at := d.opts.Baseline.slot(start) // the same for every series: work it out once
	for _, ser := range s.list {
		if a, ok := d.judge(s, ser.id, ser, start, end, at, perHour, false); ok {
			out = append(out, a)
		}
	}
	if a, ok := d.judge(s, "", &s.errors, start, end, at, perHour, true); ok {
		out = append(out, a)
	}
	if len(out) > 1 {
		sortAnomalies(out)
	}
	return out
}

// judge compares one closed count with its baseline, then learns it. at is
// the baseline slot of start.
func (d *FrequencyDetector) judge(s *freqService, id string, ser *freqSeries, start, end time.Time, at blSlot, perHour float64, errs bool) (Anomaly, bool) {
	c := float64(ser.count)
	example := ser.example
	ser.count, ser.example = 0, ""
	o := &d.opts
	var a Anomaly
	fired := false
	// Decay the peak by one interval, judge against it, then raise it.
	ser.peak *= d.peakDecay
	peak := ser.peak
	ser.peak = max(ser.peak, c) // the builtin: math.Max's result, inline
	minCount := o.MinSpikeCount
	if errs {
		minCount = o.MinErrorBurst
	}
	if vals, level, ok := ser.base.sortedIn(at); !ok || ser.base.N() < o.MinHistory {
		// Too little history to judge.
	} else if !d.mayFire(c, peak, minCount, vals, errs) {
		// The usual case: the count is nowhere near a spike or a drop.
		ser.lowRun = 0
	} else {
		e := blEstimateSorted(vals, level)
		lam := math.Max(e.Mean, e.Median)
		sd := math.Max(1, math.Sqrt(lam+e.Sigma()*e.Sigma()))
		z := (c - lam) / sd
		what := "template " + id
		if errs {
			what = "service " + s.name + " error lines"
		}
		conf := blConfidence(e.N, 2*o.MinHistory)
		switch {
		case d.spike(e, c, lam, z, peak, minCount):
			typ := TypeFrequency
			if errs {
				typ = TypeErrorBurst
			}
			ser.lowRun = 0
			a = Anomaly{
				Type: typ, Service: s.name, TemplateID: id,
				Score: blScore(z, o.Z), Confidence: conf,
				Explanation: what + ": " + blNum(c*perHour) + "/h against " + blNum(lam*perHour) + "±" + blNum(sd*perHour) +
					"/h usual " + e.Level.String() + " (" + blNum(c) + " lines in " + o.Interval.String() + ", z=" + blNum(z) + ")",
				Start: start, End: end,
				Labels: telemetry.LabelsFromStrings("direction", "spike"),
			}
			fired = true
		case !errs && d.drop(e, c, lam, z):
			ser.lowRun++
			if ser.lowRun == o.DropIntervals {
				a = Anomaly{
					Type: TypeFrequency, Service: s.name, TemplateID: id,
					Score: blScore(-z, o.DropZ), Confidence: conf,
					Explanation: what + ": " + blNum(c*perHour) + "/h against " + blNum(lam*perHour) + "±" + blNum(sd*perHour) +
						"/h usual " + e.Level.String() + " for " + blNum(float64(o.DropIntervals)) + " intervals of " + o.Interval.String(),
					Start: start.Add(-time.Duration(o.DropIntervals-1) * o.Interval), End: end,
					Labels: telemetry.LabelsFromStrings("direction", "drop"),
				}
				fired = true
			}
		default:
			ser.lowRun = 0
		}
	}
	if fired && example != "" {
		a.Examples = []string{example}
	}
	ser.base.addAt(at, c)
	return a, fired
}

// spike is the spike case of judge: count c against the estimate e, its
// λ and z, the series' decayed peak and the least count minCount.
func (d *FrequencyDetector) spike(e Estimate, c, lam, z, peak, minCount float64) bool {
	o := &d.opts
	return z >= o.Z && c >= minCount && c >= o.SpikeRatio*lam && c > o.SpikeOverMax*e.Max && c > o.SpikeOverMax*peak
}

// drop is the drop case of judge for a template's count.
func (d *FrequencyDetector) drop(e Estimate, c, lam, z float64) bool {
	o := &d.opts
	return e.Median >= o.MinSteady && e.Sigma() <= 0.5*e.Median && e.Min > 0 && c <= o.DropRatio*lam && z <= -o.DropZ
}

// mayFire reports whether count c, with the (decayed) peak and the sorted
// baseline values s, could meet the spike or the drop case of judge. It
// tests only conditions of those cases that need no mean or MAD: at every
// interval close judge runs for every template, and sparing the pass over
// s for the counts that are plainly usual makes closing an interval cheap.
// A true answer promises nothing; judge then decides in full.
func (d *FrequencyDetector) mayFire(c, peak, minCount float64, s []float64, errs bool) bool {
	o := &d.opts
	lo, hi, med := s[0], s[len(s)-1], blMedianSorted(s)
	if c >= minCount && c > o.SpikeOverMax*hi && c > o.SpikeOverMax*peak {
		return true // a spike's own conditions on the maximum and peak hold
	}
	// A drop needs c ≤ DropRatio·λ with λ = max(mean, median). Neither
	// exceeds the maximum, bar the rounding of the mean's sum: at most n
	// units in the last place, which the factor allows for.
	lamBound := hi * (1 + float64(len(s))*0x1p-52)
	return !errs && med >= o.MinSteady && lo > 0 && c <= o.DropRatio*lamBound
}

// sortAnomalies orders anomalies found in one call so that output does not
// depend on map iteration.
func sortAnomalies(as []Anomaly) {
	slices.SortStableFunc(as, func(x, y Anomaly) int {
		if c := strings.Compare(x.Service, y.Service); c != 0 {
			return c
		}
		if c := strings.Compare(string(x.Type), string(y.Type)); c != 0 {
			return c
		}
		if c := strings.Compare(x.TemplateID, y.TemplateID); c != 0 {
			return c
		}
		return x.Start.Compare(y.Start)
	})
}
