// Package sim is a deterministic simulator of a small microservice shop
// (nginx frontend, API gateway, checkout, catalog, cart, payments with an
// external payment provider, postgres, redis and a reports cron job on three
// nodes) with a library of injectable faults and their ground truth. It
// drives Vigil's demo and the scenario tests of every later feature.
//
// The simulator emits what the real system would: Prometheus-style metric
// samples, raw log lines in each service's native format, alerts as
// Prometheus sends them to Alertmanager, and change events.
//
// Key invariant: the output is a pure function of Options. Time advances in
// fixed steps of Options.Step from Options.Start; each step draws its
// randomness from generators seeded by (seed, step), and records are
// released in time order only once every record before them is known, so
// advancing a week in one call or in one-minute calls yields the same
// records. Nothing reads the wall clock.
package sim

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// Errors callers can branch on.
var (
	// ErrUnknownScenario is returned by New for a fault naming no scenario.
	ErrUnknownScenario = errors.New("unknown scenario")
	// ErrInvalidOptions is returned by New for options it cannot run with.
	ErrInvalidOptions = errors.New("invalid options")
)

// Options configures a simulation.
type Options struct {
	// Seed selects the run; the same options always give the same output.
	Seed int64
	// Start is the first instant simulated (UTC).
	Start time.Time
	// Step is the metric resolution and the rule evaluation interval.
	Step time.Duration
	// LogScale multiplies log volume (1 ≈ 1.5 million lines a simulated
	// week); 0 disables logs.
	LogScale float64
	// Faults are the injected faults.
	Faults []Fault
}

// DefaultOptions returns seed 1, a Monday midnight start, 30s steps and
// normal log volume, with no faults.
func DefaultOptions() Options {
	return Options{
		Seed:     1,
		Start:    time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC),
		Step:     30 * time.Second,
		LogScale: 1,
	}
}

func (o *Options) validate() error {
	switch {
	case o.Start.IsZero():
		return fmt.Errorf("%w: start is zero", ErrInvalidOptions)
	case o.Step < time.Second || o.Step > 10*time.Minute:
		return fmt.Errorf("%w: step %s is outside [1s, 10m]", ErrInvalidOptions, o.Step)
	case o.Step%time.Millisecond != 0:
		return fmt.Errorf("%w: step %s is not a whole number of milliseconds", ErrInvalidOptions, o.Step)
	case o.LogScale < 0 || o.LogScale > 100:
		return fmt.Errorf("%w: log scale %g is outside [0, 100]", ErrInvalidOptions, o.LogScale)
	}
	return nil
}

// Batch is everything the system emitted in one Advance, each kind in time
// order. Alerts carry their send instant in UpdatedAt (when a receiver got
// them); alerts sent together share it.
type Batch struct {
	Logs    []telemetry.LogRecord
	Samples []telemetry.Sample
	Alerts  []telemetry.Alert
	Events  []telemetry.Event
}

// Sim is a running simulation. It is not safe for concurrent use: one
// goroutine advances it.
type Sim struct {
	opts   Options
	topo   Topology
	faults []injected
	truths []Truth

	now time.Time
	k   int64 // index of the next step to generate

	m         *model
	series    []seriesDef
	seriesIdx map[seriesKey]int
	counts    []uint64
	hist      []*scrape // ring of recent scrapes for rate windows
	alerts    *alertEngine
	planner   *eventPlanner
	badPrev   string
	day       int64
	restarts  []restart
	logs      *logGen

	modelRand, dayRand *stream

	pendLogs   []pendingLog
	pendEvents []telemetry.Event
}

// New validates o and returns a simulation positioned at o.Start.
func New(o Options) (*Sim, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	o.Start = o.Start.UTC()
	faults, err := validateFaults(o.Faults, o.Start)
	if err != nil {
		return nil, err
	}
	o.Faults = slices.Clone(o.Faults)
	s := &Sim{
		opts:      o,
		topo:      shopTopology(),
		faults:    faults,
		now:       o.Start,
		m:         newModel(o.Seed, o.Step),
		alerts:    newAlertEngine(),
		planner:   newEventPlanner(o.Seed),
		day:       -1 << 62,
		modelRand: newStream(),
		dayRand:   newStream(),
	}
	for _, f := range faults {
		if f.def.fx >= 0 {
			s.truths = append(s.truths, truthFor(f))
		}
	}
	s.series, s.seriesIdx = buildSeries()
	s.counts = make([]uint64, len(s.series))
	w := int(windowRate/o.Step) + 1
	s.hist = make([]*scrape, w+1)
	for i := range s.hist {
		s.hist[i] = &scrape{vals: make([]float64, len(s.series)), present: make([]bool, len(s.series))}
	}
	s.logs = newLogGen(s)
	return s, nil
}

// Topology returns the simulated system's topology.
func (s *Sim) Topology() Topology { return s.topo }

// Truth returns the ground truth of every injected fault (none-scenario
// faults have none), in onset order.
func (s *Sim) Truth() []Truth { return slices.Clone(s.truths) }

// Options returns the options the simulation runs with.
func (s *Sim) Options() Options {
	o := s.opts
	o.Faults = slices.Clone(o.Faults)
	return o
}

// Now is the simulated instant up to which output has been produced.
func (s *Sim) Now() time.Time { return s.now }

func (s *Sim) stepTime(k int64) time.Time { return s.opts.Start.Add(time.Duration(k) * s.opts.Step) }

// Advance generates everything emitted in [Now, to) and moves Now to to.
// A to at or before Now returns an empty batch.
func (s *Sim) Advance(to time.Time) Batch {
	var b Batch
	if !to.After(s.now) {
		return b
	}
	for {
		t := s.stepTime(s.k)
		if !t.Before(to) {
			break
		}
		s.genStep(t, &b)
		s.k++
		s.flush(&b, minTime(s.stepTime(s.k), to))
	}
	s.flush(&b, to)
	s.now = to
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// genStep simulates the step starting at t.
func (s *Sim) genStep(t time.Time, b *Batch) {
	seed := s.opts.Seed
	if d := dayIndex(t); d != s.day {
		s.day = d
		evs, rs := s.planDay(time.Unix(d*86400, 0).UTC(), t)
		s.pendEvents = append(s.pendEvents, evs...)
		s.restarts = append(s.restarts, rs...)
		s.m.tr.planBursts(seed, t, s.dayRand)
	}
	fx := s.effectsAt(t)
	s.modelRand.reseed(seed, streamModel, s.k)
	s.m.advance(t, fx, s.cronProgress(t), s.modelRand.Rand)
	for i, c := range s.m.scaled {
		s.pendEvents = append(s.pendEvents, s.scalingEvent(c, t.Add(time.Duration(7+i)*time.Second)))
	}

	n := int64(len(s.hist))
	cur := s.hist[s.k%n]
	s.fillScrape(cur, fx, s.modelRand.Rand)
	ms := t.UnixMilli()
	for i := range s.series {
		if cur.present[i] {
			b.Samples = append(b.Samples, telemetry.Sample{Labels: s.series[i].labels, T: ms, V: cur.vals[i]})
		}
	}
	ev := ruleEval{now: cur}
	if s.k > 0 {
		back := min(s.k, n-1)
		ev.then = s.hist[(s.k-back)%n]
		ev.window = (time.Duration(back) * s.opts.Step).Seconds()
	}
	b.Alerts = append(b.Alerts, s.alerts.evaluate(s, t, &ev, s.opts.Step)...)

	if s.opts.LogScale > 0 {
		s.logs.step(t, fx)
	}
}

// flush releases pending logs and events strictly before bound. Every step
// starting before bound has been generated and later steps only produce
// records at or after their start, so nothing can still arrive before it.
func (s *Sim) flush(b *Batch, bound time.Time) {
	if len(s.pendLogs) > 0 {
		slices.SortFunc(s.pendLogs, func(x, y pendingLog) int {
			if c := x.rec.Time.Compare(y.rec.Time); c != 0 {
				return c
			}
			switch {
			case x.seq < y.seq:
				return -1
			case x.seq > y.seq:
				return 1
			}
			return 0
		})
		i := 0
		for i < len(s.pendLogs) && s.pendLogs[i].rec.Time.Before(bound) {
			b.Logs = append(b.Logs, s.pendLogs[i].rec)
			i++
		}
		s.pendLogs = s.pendLogs[:copy(s.pendLogs, s.pendLogs[i:])]
	}
	if len(s.pendEvents) > 0 {
		slices.SortStableFunc(s.pendEvents, func(x, y telemetry.Event) int { return x.Time.Compare(y.Time) })
		i := 0
		for i < len(s.pendEvents) && s.pendEvents[i].Time.Before(bound) {
			b.Events = append(b.Events, s.pendEvents[i])
			i++
		}
		s.pendEvents = s.pendEvents[:copy(s.pendEvents, s.pendEvents[i:])]
	}
}
