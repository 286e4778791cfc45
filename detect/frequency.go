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
	opts     FrequencyOptions
	services map[string]*freqService
	// The state of the service of the last line: lines come in runs of
	// one service, and services are never forgotten.
	lastName string
	last     *freqService
}

type freqService struct {
	name   string
	start  time.Time // start of the open interval
	total  int
	series map[string]*freqSeries
	errors freqSeries
}

type freqSeries struct {
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
	return &FrequencyDetector{opts: o, services: make(map[string]*freqService)}
}

// Name implements LogDetector.
func (d *FrequencyDetector) Name() string { return "frequency" }

// Observe implements LogDetector.
func (d *FrequencyDetector) Observe(rec *telemetry.LogRecord) []Anomaly {
	s := d.last
	if s == nil || d.lastName != rec.Service {
		s = d.services[rec.Service]
		if s == nil {
			s = &freqService{name: rec.Service, start: rec.Time.Truncate(d.opts.Interval), series: make(map[string]*freqSeries)}
			s.errors.base = newBaselineShared(&d.opts.Baseline)
			d.services[rec.Service] = s
		}
		d.lastName, d.last = rec.Service, s
	}
	var out []Anomaly
	if !rec.Time.Before(s.start.Add(d.opts.Interval)) {
		out = d.closeUntil(s, rec.Time)
	}
	s.total++
	if rec.TemplateID != "" {
		ser := s.series[rec.TemplateID]
		if ser == nil && len(s.series) < d.opts.MaxTemplates {
			ser = &freqSeries{base: newBaselineShared(&d.opts.Baseline)}
			s.series[rec.TemplateID] = ser
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
	return out
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
	return out
}

func (d *FrequencyDetector) close(s *freqService, start, end time.Time) []Anomaly {
	if s.total == 0 {
		return nil
	}
	s.total = 0
	var out []Anomaly
	perHour := float64(time.Hour) / float64(d.opts.Interval)
	for id, ser := range s.series {
		if a, ok := d.judge(s, id, ser, start, end, perHour, false); ok {
			out = append(out, a)
		}
	}
	if a, ok := d.judge(s, "", &s.errors, start, end, perHour, true); ok {
		out = append(out, a)
	}
	if len(out) > 1 {
		sortAnomalies(out)
	}
	return out
}

// judge compares one closed count with its baseline, then learns it.
func (d *FrequencyDetector) judge(s *freqService, id string, ser *freqSeries, start, end time.Time, perHour float64, errs bool) (Anomaly, bool) {
	c := float64(ser.count)
	example := ser.example
	ser.count, ser.example = 0, ""
	o := &d.opts
	var a Anomaly
	fired := false
	// Decay the peak by one interval, judge against it, then raise it.
	ser.peak *= math.Exp2(-float64(o.Interval) / float64(o.PeakHalfLife))
	peak := ser.peak
	ser.peak = math.Max(ser.peak, c)
	if e, ok := ser.base.Estimate(start); ok && ser.base.N() >= o.MinHistory {
		lam := math.Max(e.Mean, e.Median)
		sd := math.Max(1, math.Sqrt(lam+e.Sigma()*e.Sigma()))
		z := (c - lam) / sd
		minCount := o.MinSpikeCount
		if errs {
			minCount = o.MinErrorBurst
		}
		what := "template " + id
		if errs {
			what = "service " + s.name + " error lines"
		}
		conf := blConfidence(e.N, 2*o.MinHistory)
		switch {
		case z >= o.Z && c >= minCount && c >= o.SpikeRatio*lam && c > o.SpikeOverMax*e.Max &&
			c > o.SpikeOverMax*peak:
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
		case !errs && e.Median >= o.MinSteady && e.Sigma() <= 0.5*e.Median && e.Min > 0 &&
			c <= o.DropRatio*lam && z <= -o.DropZ:
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
	ser.base.Add(start, c)
	return a, fired
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
