package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Scenario names accepted in Fault.Scenario.
const (
	ScenarioNone                = "none"
	ScenarioRedisMemory         = "redis-memory"
	ScenarioPaymentProvider200  = "payment-provider-200-error"
	ScenarioBadDeploy           = "bad-deploy"
	ScenarioTrafficSurge        = "traffic-surge"
	ScenarioNetworkPartition    = "network-partition"
	ScenarioDBConnectionRefused = "db-connection-refused"
	ScenarioRunawayCron         = "runaway-cron"
	ScenarioSilence             = "silence"
)

// Fault is one injected fault: a scenario from Scenarios starting at Onset.
type Fault struct {
	Scenario string    `json:"scenario"`
	Onset    time.Time `json:"onset"`
	// Duration is how long the cause lasts; 0 means the scenario's default.
	Duration time.Duration `json:"duration"`
}

// ScenarioInfo describes a scenario of the fault library.
type ScenarioInfo struct {
	Name            string        `json:"name"`
	Description     string        `json:"description"`
	DefaultDuration time.Duration `json:"default_duration"`
	// RootCause is the service the fault originates in (empty for none).
	RootCause string `json:"root_cause,omitempty"`
}

// Effect indices: the model reads one intensity per scenario.
const (
	fxRedisMemory = iota
	fxProvider
	fxBadDeploy
	fxSurge
	fxPartition
	fxDBDown
	fxCron
	fxSilence
	numEffects
)

type scenarioDef struct {
	info ScenarioInfo
	fx   int
	// delay is the time from onset until symptoms begin (a deploy takes a
	// minute to roll out); ramp and rampDown shape the rise and the recovery.
	delay, ramp, rampDown time.Duration
}

var scenarioDefs = []scenarioDef{
	{info: ScenarioInfo{ScenarioNone, "No fault: a clean run for false-positive tests.", time.Hour, ""}, fx: -1},
	{info: ScenarioInfo{ScenarioRedisMemory, "Redis fills to maxmemory: evictions rise, the cache hit ratio falls, catalog's misses turn into database queries, postgres load and connections rise, catalog and gateway latency follow.", 45 * time.Minute, "redis"},
		fx: fxRedisMemory, ramp: 8 * time.Minute, rampDown: 5 * time.Minute},
	{info: ScenarioInfo{ScenarioPaymentProvider200, "The payment provider rate-limits while answering HTTP 200 with an error body; only payments' log content shows it, metrics stay normal.", 30 * time.Minute, "payment-provider"},
		fx: fxProvider, ramp: 2 * time.Minute, rampDown: time.Minute},
	{info: ScenarioInfo{ScenarioBadDeploy, "A checkout release with a null-pointer bug: a deploy event, then within two minutes errors, slower requests and stack traces in checkout, 5xx upstream; rolled back at the end.", 40 * time.Minute, "checkout"},
		fx: fxBadDeploy, delay: 70 * time.Second, ramp: 50 * time.Second, rampDown: time.Minute},
	{info: ScenarioInfo{ScenarioTrafficSurge, "Edge traffic triples: the gateway saturates, the cache fills and evicts, upstream timeouts surface as 502/504 at the frontend.", 30 * time.Minute, "frontend"},
		fx: fxSurge, ramp: 5 * time.Minute, rampDown: 5 * time.Minute},
	{info: ScenarioInfo{ScenarioNetworkPartition, "Network partition between cart and redis: cart times out on redis, cart and checkout fail, the gateway returns 5xx.", 20 * time.Minute, "cart"},
		fx: fxPartition},
	{info: ScenarioInfo{ScenarioDBConnectionRefused, "Postgres goes down: clients log connection refused to db-prod-1:5432, error rates rise, postgres' metrics disappear (up=0) and its logs stop after the shutdown lines.", 15 * time.Minute, "postgres"},
		fx: fxDBDown},
	{info: ScenarioInfo{ScenarioRunawayCron, "The reports-cron job runs away and exhausts node-2's CPU and memory: node load rises and co-located checkout and payments slow down, until the kernel kills the job.", time.Hour, "reports-cron"},
		fx: fxCron, ramp: 10 * time.Minute},
	{info: ScenarioInfo{ScenarioSilence, "Catalog's log writer hangs: catalog stops logging entirely while its metrics continue, slightly slower.", 30 * time.Minute, "catalog"},
		fx: fxSilence},
}

// Scenarios lists the fault library in a fixed order.
func Scenarios() []ScenarioInfo {
	out := make([]ScenarioInfo, len(scenarioDefs))
	for i, d := range scenarioDefs {
		out[i] = d.info
	}
	return out
}

func scenarioNames() []string {
	out := make([]string, len(scenarioDefs))
	for i, d := range scenarioDefs {
		out[i] = d.info.Name
	}
	return out
}

func lookupScenario(name string) (scenarioDef, error) {
	for _, d := range scenarioDefs {
		if d.info.Name == name {
			return d, nil
		}
	}
	return scenarioDef{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownScenario, name, strings.Join(scenarioNames(), ", "))
}

// injected is a validated fault with its resolved duration.
type injected struct {
	Fault
	def scenarioDef
	end time.Time
}

// intensity is the fault's strength in [0,1] at t.
func (f *injected) intensity(t time.Time) float64 {
	on := f.Onset.Add(f.def.delay)
	if t.Before(on) {
		return 0
	}
	up := 1.0
	if f.def.ramp > 0 {
		up = min(1, float64(t.Sub(on))/float64(f.def.ramp))
	}
	if t.Before(f.end) {
		return up
	}
	if f.def.rampDown <= 0 {
		return 0
	}
	down := 1 - float64(t.Sub(f.end))/float64(f.def.rampDown)
	return max(0, min(up, down))
}

// active reports whether t is inside the cause's window [onset, end).
func (f *injected) active(t time.Time) bool {
	return !t.Before(f.Onset) && t.Before(f.end)
}

// effects is the per-scenario intensity at one instant.
type effects [numEffects]float64

func (s *Sim) effectsAt(t time.Time) effects {
	var e effects
	for i := range s.faults {
		f := &s.faults[i]
		if f.def.fx < 0 {
			continue
		}
		e[f.def.fx] = min(1, e[f.def.fx]+f.intensity(t))
	}
	return e
}

// faultActive reports whether any fault of the given effect is inside its
// cause window at t.
func (s *Sim) faultActive(fx int, t time.Time) bool {
	for i := range s.faults {
		if s.faults[i].def.fx == fx && s.faults[i].active(t) {
			return true
		}
	}
	return false
}

// cronProgress is how far into a runaway job t is, in [0,1], or -1 outside.
func (s *Sim) cronProgress(t time.Time) float64 {
	for i := range s.faults {
		f := &s.faults[i]
		if f.def.fx == fxCron && f.active(t) {
			return float64(t.Sub(f.Onset)) / float64(f.end.Sub(f.Onset))
		}
	}
	return -1
}

// DemoFaults returns a rotating schedule of every scenario but none, for the
// demo: the first a couple of simulated hours after start, each resolved
// well before the next, rotation and spacing derived from the seed.
func DemoFaults(seed int64, start time.Time, span time.Duration) []Fault {
	var names []string
	for _, d := range scenarioDefs {
		if d.info.Name != ScenarioNone {
			names = append(names, d.info.Name)
		}
	}
	r := newStream()
	r.reseed(seed, streamDay, -1)
	off := r.IntN(len(names))
	end := start.Add(span)
	t := start.Add(2*time.Hour + time.Duration(r.IntN(30))*time.Minute)
	var out []Fault
	for i := 0; ; i++ {
		name := names[(off+i)%len(names)]
		d, _ := lookupScenario(name)
		dur := d.info.DefaultDuration
		if t.Add(dur).After(end) {
			break
		}
		out = append(out, Fault{Scenario: name, Onset: t})
		gap := 90*time.Minute + time.Duration(r.IntN(90))*time.Minute
		t = t.Add(dur + gap)
	}
	return out
}

// validateFaults resolves defaults and checks every fault.
func validateFaults(fs []Fault, start time.Time) ([]injected, error) {
	out := make([]injected, 0, len(fs))
	for i, f := range fs {
		d, err := lookupScenario(f.Scenario)
		if err != nil {
			return nil, fmt.Errorf("fault %d: %w", i, err)
		}
		switch {
		case f.Onset.IsZero():
			return nil, fmt.Errorf("fault %d (%s): %w: onset is zero", i, f.Scenario, ErrInvalidOptions)
		case f.Onset.Before(start):
			return nil, fmt.Errorf("fault %d (%s): %w: onset %s is before start %s", i, f.Scenario, ErrInvalidOptions, f.Onset.Format(time.RFC3339), start.Format(time.RFC3339))
		case f.Duration < 0:
			return nil, fmt.Errorf("fault %d (%s): %w: negative duration", i, f.Scenario, ErrInvalidOptions)
		}
		f.Onset = f.Onset.UTC()
		if f.Duration == 0 {
			f.Duration = d.info.DefaultDuration
		}
		out = append(out, injected{Fault: f, def: d, end: f.Onset.Add(f.Duration)})
	}
	slices.SortStableFunc(out, func(a, b injected) int { return a.Onset.Compare(b.Onset) })
	return out, nil
}

// resolvedFaults returns the injected faults with default durations filled
// in, in onset order.
func (s *Sim) resolvedFaults() []Fault {
	out := make([]Fault, len(s.faults))
	for i, f := range s.faults {
		out[i] = f.Fault
	}
	return out
}
