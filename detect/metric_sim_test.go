package detect

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	amlabels "github.com/prometheus/alertmanager/pkg/labels"

	"github.com/vigilops/vigil/sim"
	"github.com/vigilops/vigil/telemetry"
)

// These tests measure the metric detectors on the simulated shop, the way
// the app runs them: one SeriesDetector with default options per scraped
// series, counters read as per-second rates over a minute (what a rule
// would write as rate(x[1m])), deploy events passed to every detector, and
// a DeployWatch over each service's series.

// metricSimAnomaly is one anomaly with the series it came from.
type metricSimAnomaly struct {
	Anomaly
	series telemetry.Labels
	// reported is the evaluation time at which the detector raised it.
	reported time.Time
}

// simSeriesState is one series' detector and, for counters, the recent
// raw values from which its rate is taken.
type simSeriesState struct {
	det     *SeriesDetector
	counter bool
	hist    []telemetry.Point // counters: values over the last rate window
}

// rateWindow is the counter rate window: two scrapes at the simulator's
// default 30s step.
const rateWindow = time.Minute

// value takes one sample and returns the value to judge (the rate for
// counters); ok is false while a counter has no full window yet or has
// just reset.
func (st *simSeriesState) value(smp telemetry.Sample) (float64, bool) {
	if !st.counter {
		return smp.V, true
	}
	st.hist = append(st.hist, telemetry.Point{T: smp.T, V: smp.V})
	if n := len(st.hist); n > 1 && smp.V < st.hist[n-2].V {
		// A counter reset (a restart): start the window again.
		st.hist = append(st.hist[:0], telemetry.Point{T: smp.T, V: smp.V})
		return 0, false
	}
	cut := smp.T - rateWindow.Milliseconds()
	i := 0
	for i < len(st.hist)-1 && st.hist[i].T < cut {
		i++
	}
	st.hist = append(st.hist[:0], st.hist[i:]...)
	first := st.hist[0]
	if first.T > cut || len(st.hist) < 2 {
		return 0, false
	}
	return (smp.V - first.V) / (float64(smp.T-first.T) / 1000), true
}

// serviceOf names the owner of a series: its service label, else its node.
func serviceOf(ls telemetry.Labels) string {
	if s := ls.Get("service"); s != "" {
		return s
	}
	if n := ls.Get("node"); n != "" {
		return "node/" + n
	}
	return "unknown"
}

// metricSimRun advances a simulation without logs to until and returns
// every anomaly the per-series detectors raised, in time order, and the
// number of series judged.
func metricSimRun(t *testing.T, seed int64, faults []sim.Fault, until time.Duration) ([]metricSimAnomaly, int) {
	t.Helper()
	o := sim.DefaultOptions()
	o.Seed = seed
	o.Faults = faults
	return metricSimRunOpts(t, o, until)
}

// metricSimRunOpts is metricSimRun over a simulation with options o (logs
// off).
func metricSimRunOpts(t *testing.T, o sim.Options, until time.Duration) ([]metricSimAnomaly, int) {
	t.Helper()
	o.LogScale = 0
	s, err := sim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	states := map[telemetry.Fingerprint]*simSeriesState{}
	watch := NewDeployWatch(DefaultDeployWatchOptions())
	var out []metricSimAnomaly
	end := o.Start.Add(until)
	for now := o.Start; now.Before(end); {
		now = now.Add(time.Hour)
		if now.After(end) {
			now = end
		}
		b := s.Advance(now)
		ev := 0
		for _, smp := range b.Samples {
			// Events reach the detectors before the samples that follow them.
			for ; ev < len(b.Events) && b.Events[ev].Time.UnixMilli() <= smp.T; ev++ {
				for _, st := range states {
					st.det.ObserveEvent(b.Events[ev])
				}
				watch.ObserveEvent(b.Events[ev])
			}
			fp := smp.Labels.Fingerprint()
			st := states[fp]
			name := smp.Labels.Get(telemetry.MetricNameLabel)
			if st == nil {
				so := DefaultSeriesOptions()
				so.Service = smp.Labels.Get("service")
				so.Metric = name
				st = &simSeriesState{det: NewSeriesDetector(so), counter: strings.HasSuffix(name, "_total")}
				states[fp] = st
			}
			v, ok := st.value(smp)
			if !ok {
				continue
			}
			ts := smp.Time()
			sc := st.det.Observe(ts, v)
			if sc.Anomaly != nil {
				out = append(out, metricSimAnomaly{Anomaly: *sc.Anomaly, series: smp.Labels, reported: ts})
			}
			if svc := smp.Labels.Get("service"); svc != "" && DeploySignal(name) {
				signal, upOnly := DeploySeries(name, smp.Labels)
				if a := watch.Observe(DeployPoint{Service: svc, Name: signal, Key: fp, UpOnly: upOnly, T: ts, V: v, Score: sc}); a != nil {
					out = append(out, metricSimAnomaly{Anomaly: *a, series: smp.Labels, reported: ts})
				}
			}
		}
		for ; ev < len(b.Events); ev++ {
			for _, st := range states {
				st.det.ObserveEvent(b.Events[ev])
			}
			watch.ObserveEvent(b.Events[ev])
		}
	}
	return out, len(states)
}

// simSeeds returns the simulator seeds to run: 1, 2 and 3, or those
// listed in VIGIL_SIM_SEEDS.
func simSeeds(t *testing.T) []int64 {
	env := os.Getenv("VIGIL_SIM_SEEDS")
	if env == "" {
		return []int64{1, 2, 3}
	}
	var seeds []int64
	for _, f := range strings.Split(env, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil {
			t.Fatalf("VIGIL_SIM_SEEDS %q: %v", env, err)
		}
		seeds = append(seeds, n)
	}
	return seeds
}

// TestMetricSimCleanWeek runs a week of the whole shop without faults and
// counts the metric anomalies per service: all of them are false alarms.
func TestMetricSimCleanWeek(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates a week")
	}
	const week = 7 * 24 * time.Hour
	// The target is at most one false anomaly per service per week; each
	// seed is held to it. VIGIL_SIM_SEEDS (say "4,5,6") runs other seeds
	// instead, to check that what was tuned on seeds 1-3 holds elsewhere.
	const target = 1
	for _, seed := range simSeeds(t) {
		bound := target
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			as, n := metricSimRun(t, seed, nil, week)
			start := sim.DefaultOptions().Start
			perSvc := map[string]int{}
			afterDay1 := 0
			for _, a := range as {
				perSvc[serviceOf(a.series)]++
				if a.reported.Sub(start) >= 24*time.Hour {
					afterDay1++
				}
				t.Logf("false anomaly: %s %s day %.2f %s: %s", serviceOf(a.series), a.series, a.reported.Sub(start).Hours()/24, a.Labels.Get("kind"), a.Explanation)
			}
			svcs := slices.Sorted(func(yield func(string) bool) {
				for s := range perSvc {
					if !yield(s) {
						return
					}
				}
			})
			worst := 0
			for _, s := range svcs {
				worst = max(worst, perSvc[s])
				t.Logf("service %-14s %d false anomalies in the week", s, perSvc[s])
			}
			t.Logf("seed %d: %d series, %d false anomalies in the week (%d after the first day), worst service %d", seed, n, len(as), afterDay1, worst)
			if worst > bound {
				t.Errorf("a service raised %d false metric anomalies in a clean week, want at most %d (target %d)", worst, bound, target)
			}
			if worst > target {
				t.Logf("target missed: worst service raised %d false anomalies in the week, target %d", worst, target)
			}
		})
	}
}

// signalMatcher matches the series of one ground-truth metric signal.
type signalMatcher struct {
	sig      sim.Signal
	matchers []*amlabels.Matcher
}

func newSignalMatcher(t *testing.T, sig sim.Signal) signalMatcher {
	t.Helper()
	m := signalMatcher{sig: sig}
	if sig.Selector != "" {
		ms, err := amlabels.ParseMatchers(sig.Selector)
		if err != nil {
			t.Fatalf("selector %q: %v", sig.Selector, err)
		}
		m.matchers = ms
	}
	return m
}

// match says whether a series is the signal's: same metric name, the
// signal's service (node series have none), every selector matcher true.
func (m signalMatcher) match(ls telemetry.Labels) bool {
	if ls.Get(telemetry.MetricNameLabel) != m.sig.Name {
		return false
	}
	if svc := ls.Get("service"); svc != "" && svc != m.sig.Service {
		return false
	}
	for _, mt := range m.matchers {
		if !mt.Matches(ls.Get(mt.Name)) {
			return false
		}
	}
	return true
}

// TestMetricSimScenarios injects each fault of the library whose ground
// truth shows in metrics, after three clean days, and measures how long
// after onset an anomaly appears on one of the truth's signal series or on
// the root-cause service. The target is 3 simulated minutes.
func TestMetricSimScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates three days per scenario")
	}
	const (
		history = 3*24*time.Hour + 14*time.Hour // onset on a Thursday afternoon
		after   = 30 * time.Minute
		target  = 3 * time.Minute
	)
	// within is the delay each scenario is held to today; where it is
	// above target, the report says so. Scenarios not listed must meet the
	// target.
	within := map[string]time.Duration{
		// Only a 12% rise of catalog's latency quantiles, within their
		// usual spread: not detected within 30 minutes. The fault is a
		// log silence; the log detectors' silence check is what finds it.
		sim.ScenarioSilence: -1,
	}
	start := sim.DefaultOptions().Start
	onset := start.Add(history)
	var report []string
	for _, info := range sim.Scenarios() {
		if info.Name == sim.ScenarioNone {
			continue
		}
		faults := []sim.Fault{{Scenario: info.Name, Onset: onset}}
		s, err := sim.New(sim.Options{Seed: 1, Start: start, Step: 30 * time.Second, Faults: faults})
		if err != nil {
			t.Fatal(err)
		}
		truths := s.Truth()
		if len(truths) != 1 {
			t.Fatalf("%s: %d truths", info.Name, len(truths))
		}
		truth := truths[0]
		var sigs []signalMatcher
		for _, sig := range truth.Signals {
			if sig.Kind == sim.SignalMetric && sig.Change != "unchanged" {
				sigs = append(sigs, newSignalMatcher(t, sig))
			}
		}
		if len(sigs) == 0 {
			report = append(report, fmt.Sprintf("%-28s no metric-visible signal: skipped", info.Name))
			continue
		}
		t.Run(info.Name, func(t *testing.T) {
			as, _ := metricSimRun(t, 1, faults, history+after)
			before := 0
			var first, firstSig *metricSimAnomaly
			var onSignal bool
			for i := range as {
				a := &as[i]
				if a.reported.Before(truth.Onset) {
					before++
					continue
				}
				sig := slices.ContainsFunc(sigs, func(m signalMatcher) bool { return m.match(a.series) })
				if !sig && a.series.Get("service") != truth.RootCause {
					continue
				}
				t.Logf("+%v %s %s", a.reported.Sub(truth.Onset), a.series, a.Explanation)
				if first == nil {
					first, onSignal = a, sig
				}
				if firstSig == nil && sig {
					firstSig = a
				}
			}
			line := fmt.Sprintf("%-28s ", info.Name)
			if first == nil {
				line += fmt.Sprintf("not detected within %v", after)
			} else {
				where := "root-cause service"
				if onSignal {
					where = "signal series"
				}
				line += fmt.Sprintf("detected after %v on %s (%s)", first.reported.Sub(truth.Onset), first.series, where)
			}
			if firstSig != nil && !onSignal {
				line += fmt.Sprintf("; first on a signal series after %v (%s)", firstSig.reported.Sub(truth.Onset), firstSig.series)
			}
			line += fmt.Sprintf("; %d anomalies in the %v of clean history", before, history)
			report = append(report, line)
			t.Log(line)
			limit, ok := within[info.Name]
			if !ok {
				limit = target
			}
			if limit < 0 {
				return // not detected today
			}
			if first == nil || first.reported.Sub(truth.Onset) > limit {
				t.Errorf("%s: want an anomaly on a signal series or %s within %v of onset", info.Name, truth.RootCause, limit)
			}
		})
	}
	sort.Strings(report)
	for _, l := range report {
		t.Log(l)
	}
}

// TestMetricSimRecurring runs the demo's schedule, every fault of the
// library in turn every two to three and a half hours for five days, and
// counts the faults found: an anomaly in the fault's window (to 15 minutes
// after its end) on its root-cause service or one it affects. Recurring
// faults are what the memory of unpaged excursions must not hide: a fault
// that did not page on a series the first time is not that series'
// routine.
func TestMetricSimRecurring(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates five days")
	}
	const days = 5
	// The bound is what the detector finds today; silence (a log fault)
	// and payment-provider-200-error (errors inside 200 responses) show
	// in no metric.
	const bound = 29
	o := sim.DefaultOptions()
	o.Seed = 7
	o.Faults = sim.DemoFaults(o.Seed, o.Start, days*24*time.Hour)
	s, err := sim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	truths := s.Truth()
	as, _ := metricSimRunOpts(t, o, days*24*time.Hour)
	found := 0
	for _, tr := range truths {
		var on []string
		for _, a := range as {
			if !a.End.Before(tr.Onset) && !a.Start.After(tr.End.Add(15*time.Minute)) &&
				(a.Service == tr.RootCause || slices.Contains(tr.Affected, a.Service)) {
				on = append(on, a.series.Get(telemetry.MetricNameLabel)+"@"+a.Service)
			}
		}
		if len(on) > 0 {
			found++
		}
		t.Logf("%-28s %s found on %d series %v", tr.Scenario, tr.Onset.Format("Mon 15:04"), len(on), on[:min(3, len(on))])
	}
	t.Logf("%d of %d faults found, %d anomalies", found, len(truths), len(as))
	if found < bound {
		t.Errorf("found %d of %d recurring faults, want at least %d", found, len(truths), bound)
	}
}
