package app

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/vigilops/vigil/correlate"
	"github.com/vigilops/vigil/diagnose"
	"github.com/vigilops/vigil/incident"
	"github.com/vigilops/vigil/metricstore"
	"github.com/vigilops/vigil/sim"
	"github.com/vigilops/vigil/telemetry"
)

// simIncident runs one simulator scenario with its metrics going into a
// metric store, and returns the store, the incident as the pipeline would
// open it (at the first alert after the onset, with the alerting services)
// and the ground truth.
func simIncident(t testing.TB, scenario string) (*metricstore.Store, []telemetry.Event, incident.Incident, sim.Truth, bool) {
	t.Helper()
	o := sim.DefaultOptions()
	o.LogScale = 0
	onset := o.Start.Add(2 * time.Hour)
	o.Faults = []sim.Fault{{Scenario: scenario, Onset: onset}}
	s, err := sim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	mo := metricstore.DefaultOptions()
	mo.Registerer = nil
	ms, err := metricstore.New(mo)
	if err != nil {
		t.Fatal(err)
	}
	var inc incident.Incident
	var events []telemetry.Event
	services := map[string]bool{}
	for now := o.Start.Add(5 * time.Minute); now.Before(onset.Add(90 * time.Minute)); now = now.Add(5 * time.Minute) {
		b := s.Advance(now)
		ms.Append(b.Samples)
		events = append(events, b.Events...)
		for _, a := range b.Alerts {
			if a.StartsAt.Before(onset) || a.Labels.Get("service") == "" {
				continue
			}
			if inc.OpenedAt.IsZero() || a.StartsAt.Before(inc.OpenedAt) {
				inc.OpenedAt = a.StartsAt
			}
			services[a.Labels.Get("service")] = true
		}
		if !inc.OpenedAt.IsZero() && now.After(inc.OpenedAt.Add(5*time.Minute)) {
			break
		}
	}
	truths := s.Truth()
	if inc.OpenedAt.IsZero() || len(truths) != 1 {
		return nil, nil, inc, sim.Truth{}, false
	}
	for svc := range services {
		inc.Services = append(inc.Services, svc)
	}
	sort.Strings(inc.Services)
	inc.ID, inc.Title, inc.UpdatedAt = "sim-"+scenario, scenario, inc.OpenedAt.Add(5*time.Minute)
	return ms, events, inc, truths[0], true
}

// TestDiagnosisStageOnSimulator diagnoses every simulator scenario whose
// alerts open an incident through the stage (series from the metric store,
// counters as rates, the simulator's change events and graph) and logs the top-1 hits. The
// demo's redis scenario must name redis: the remediation flow depends on it.
func TestDiagnosisStageOnSimulator(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates several hours per scenario")
	}
	hits, total := 0, 0
	for _, sc := range sim.Scenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			ms, events, inc, truth, ok := simIncident(t, sc.Name)
			if !ok {
				t.Skipf("scenario %s fired no service alert", sc.Name)
			}
			tl := &timelineRecorder{}
			var top string
			ds, err := newDiagnosisStage(diagnosisDeps{Config: testDiagnoseConfig(), Metrics: ms, Store: &diagStore{events: events}, AddEntry: tl.AddEntry,
				OnDiagnosis: func(_ context.Context, _ incident.Incident, d *diagnose.Diagnosis) { top = d.Top() }})
			if err != nil {
				t.Fatal(err)
			}
			topo := sim.Topology{}
			if sm, err := sim.New(sim.DefaultOptions()); err == nil {
				topo = sm.Topology()
			}
			ds.SetGraph(diagnose.FromSim(topo))
			ds.OnChange(context.Background(), correlate.Change{Kind: correlate.ChangeOpened, Incident: inc})
			if n := ds.step(context.Background()); n != 1 {
				t.Fatalf("diagnosed %d; timeline:\n%s", n, tl.texts(inc.ID))
			}
			total++
			if top == truth.RootCause {
				hits++
			} else {
				t.Logf("missed; timeline:\n%s", tl.texts(inc.ID))
			}
			t.Logf("scenario %s: incident services %v, truth %s, top %s", sc.Name, inc.Services, truth.RootCause, top)
			if sc.Name == sim.ScenarioRedisMemory && top != "redis" {
				t.Errorf("redis-memory diagnosed as %s; timeline:\n%s", top, tl.texts(inc.ID))
			}
		})
	}
	t.Logf("top-1 hits: %d of %d scenarios that opened an incident", hits, total)
}

// BenchmarkDiagnosisStageSim measures one diagnosis of the simulator's
// redis incident through the stage: reading the series from the metric
// store, rates, events and the ranking.
func BenchmarkDiagnosisStageSim(b *testing.B) {
	ms, events, inc, _, ok := simIncident(b, sim.ScenarioRedisMemory)
	if !ok {
		b.Fatal("no incident")
	}
	ds, err := newDiagnosisStage(diagnosisDeps{Config: testDiagnoseConfig(), Metrics: ms, Store: &diagStore{events: events},
		AddEntry: (&timelineRecorder{}).AddEntry})
	if err != nil {
		b.Fatal(err)
	}
	sm, err := sim.New(sim.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	ds.SetGraph(diagnose.FromSim(sm.Topology()))
	in := ds.input(context.Background(), inc, inc.OpenedAt, inc.UpdatedAt)
	for b.Loop() {
		if err := ds.diagnoseIncident(context.Background(), inc, inc.OpenedAt, inc.UpdatedAt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(in.Series)), "series")
}
