package detect

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/internal/logreplay"
	"github.com/vigilops/vigil/logtemplate"
	"github.com/vigilops/vigil/sim"
	"github.com/vigilops/vigil/telemetry"
)

// weekRun is one simulated run through the whole log side: parse, join,
// mine per service, LogDetectors with the sequence detector as Extra.
type weekRun struct {
	seed     int64
	faults   []sim.Fault
	until    time.Duration
	logScale float64
	symptom  string // first raw line containing it sets first
	// noSequence leaves the sequence detector out.
	noSequence bool
}

func (r weekRun) run(t *testing.T) (out []Anomaly, first time.Time, start time.Time, services int) {
	t.Helper()
	o := sim.DefaultOptions()
	o.Faults = r.faults
	o.Seed = r.seed
	if r.logScale > 0 {
		o.LogScale = r.logScale
	}
	s, err := sim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	lo := DefaultLogDetectorsOptions()
	if !r.noSequence {
		seq, err := NewSequenceDetector(DefaultSequenceDetectorOptions())
		if err != nil {
			t.Fatal(err)
		}
		lo.Extra = []LogDetector{seq}
	}
	ld := NewLogDetectors(lo)
	logs, err := logreplay.New(nil, func(rec *telemetry.LogRecord, m logtemplate.Match) {
		out = append(out, ld.ObserveParams(rec, m.Template, m.Params)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	for now := o.Start; now.Before(o.Start.Add(r.until)); {
		now = now.Add(o.Step)
		b := s.Advance(now)
		for _, rec := range b.Logs {
			if first.IsZero() && r.symptom != "" && strings.Contains(rec.Raw, r.symptom) {
				first = rec.Time
			}
			if err := logs.Push(rec); err != nil {
				t.Fatal(err)
			}
		}
		if err := logs.Flush(now); err != nil {
			t.Fatal(err)
		}
		out = append(out, ld.Tick(now)...)
	}
	for _, a := range out {
		if a.Score < 0 || a.Score > 1 || a.Confidence < 0 || a.Confidence > 1 {
			t.Errorf("score out of [0,1]: %+v", a)
		}
	}
	return out, first, o.Start, logs.Services()
}

// TestSimCleanWeek: seven clean simulated days of the whole shop raise at
// most one log anomaly per service per day, every type counted, warm-up
// day included, for each of three simulator seeds. Logs run at full scale
// (LogScale 1, about 1.5 million lines a week); a week takes ~15 s.
func TestSimCleanWeek(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates weeks")
	}
	const days = 7
	seeds := []int64{1, 2, 3}
	allTypes := map[Type]int{}
	serviceDays := 0
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			as, _, start, nsvc := weekRun{seed: seed, until: days * 24 * time.Hour, logScale: weekLogScale}.run(t)
			perType := map[Type]int{}
			perSvcDay := map[string]int{}
			services := map[string]bool{}
			serviceDays += nsvc * days
			for _, a := range as {
				perType[a.Type]++
				allTypes[a.Type]++
				day := int(a.End.Sub(start) / (24 * time.Hour))
				perSvcDay[fmt.Sprintf("%s day %d", a.Service, day+1)]++
				services[a.Service] = true
				t.Logf("FP day %d %s %s %s %s: %s %q", day+1, a.End.Format(time.TimeOnly), a.Type, a.Service, a.TemplateID, a.Explanation, a.Examples)
			}
			for _, typ := range slices.Sorted(maps.Keys(perType)) {
				t.Logf("%-12s %3d in %d service-days (%.4f per service per day)", typ, perType[typ], nsvc*days, float64(perType[typ])/float64(nsvc*days))
			}
			worst := 0
			for _, k := range slices.Sorted(maps.Keys(perSvcDay)) {
				worst = max(worst, perSvcDay[k])
				t.Logf("%s: %d", k, perSvcDay[k])
			}
			rate := float64(len(as)) / float64(nsvc*days)
			t.Logf("seed %d: total %d false positives from %d of %d services in %d days: %.3f per service per day; worst service-day %d",
				seed, len(as), len(services), nsvc, days, rate, worst)
			if worst > 1 {
				t.Errorf("a service raised %d false log anomalies in one clean day, want ≤ 1", worst)
			}
		})
	}
	for _, typ := range []Type{TypeFrequency, TypeErrorBurst, TypeNewPattern, TypeSequence, TypeContent, TypeSilence} {
		t.Logf("seeds %v: %-12s %2d in %d service-days (%.4f per service per day)",
			seeds, typ, allTypes[typ], serviceDays, float64(allTypes[typ])/float64(max(serviceDays, 1)))
	}
}

const weekLogScale = 1

// TestSimWeekScenarios: with the full log side (sequence detector too),
// each fault is caught in its service by the expected detector types
// within a bound from onset, and the clean history before it stays
// within the false-positive budget. Onset is 10:00 on the second day.
func TestSimWeekScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates hours")
	}
	const warm = 34 * time.Hour
	tests := []struct {
		scenario, service string
		types             []Type
		within            time.Duration // from the first symptom line, or from onset if none
		seed              int64
		symptom           string
	}{
		{sim.ScenarioPaymentProvider200, "payments", []Type{TypeContent, TypeNewPattern}, 2 * time.Minute, 2, "rate_limited"},
		{sim.ScenarioSilence, "catalog", []Type{TypeSilence}, 5 * time.Minute, 1, ""},
		{sim.ScenarioBadDeploy, "checkout", []Type{TypeNewPattern, TypeContent}, 5 * time.Minute, 1, "NullPointerException"},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			onset := sim.DefaultOptions().Start.Add(warm)
			as, first, _, _ := weekRun{seed: tt.seed, faults: []sim.Fault{{Scenario: tt.scenario, Onset: onset}},
				until: warm + 15*time.Minute, symptom: tt.symptom}.run(t)
			from := onset
			if !first.IsZero() {
				from = first
				t.Logf("first symptom line at onset+%v", first.Sub(onset).Round(time.Millisecond))
			}
			pre := 0
			var hit *Anomaly
			for i, a := range as {
				if a.End.Before(onset) {
					pre++
					continue
				}
				t.Logf("onset+%v: %s %s %s: %s", a.End.Sub(onset).Round(time.Second), a.Type, a.Service, a.TemplateID, a.Explanation)
				if hit == nil && a.Service == tt.service && slices.Contains(tt.types, a.Type) && a.End.Sub(from) <= tt.within {
					hit = &as[i]
				}
			}
			t.Logf("%d anomalies in the %v of clean history before onset", pre, warm)
			if hit == nil {
				t.Fatalf("%s not caught in %s by %v within %v", tt.scenario, tt.service, tt.types, tt.within)
			}
			t.Logf("CAUGHT %s %v after onset, %v after the first symptom line: %s %s",
				tt.scenario, hit.End.Sub(onset).Round(time.Second), hit.End.Sub(from).Round(time.Second), hit.Type, hit.Explanation)
		})
	}
}
