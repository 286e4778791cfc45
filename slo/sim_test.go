package slo

import (
	"context"
	"testing"
	"time"

	"github.com/vigilops/vigil/metricstore"
	"github.com/vigilops/vigil/sim"
)

// TestEvaluatorOnSimulatedBadDeploy drives the evaluator with the
// simulator's own request counters, fed through Vigil's metric store, around
// a bad checkout deploy: the checkout SLO must page while the deploy is
// live and resolve once it is rolled back, and neither it before the
// deploy nor catalog's SLO (which the deploy does not touch) may alert.
func TestEvaluatorOnSimulatedBadDeploy(t *testing.T) {
	o := sim.DefaultOptions()
	o.LogScale = 0
	o.Step = time.Minute
	onset := o.Start.Add(26 * time.Hour)
	o.Faults = []sim.Fault{{Scenario: sim.ScenarioBadDeploy, Onset: onset}}
	s, err := sim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	truth := s.Truth()[0]
	st, err := metricstore.New(metricstore.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	def := func(svc string) Definition {
		return Definition{
			Name: svc + "-availability", Service: svc, Objective: 99.5,
			Bad:   mustSel(t, `http_requests_total{service="`+svc+`",code=~"5.."}`),
			Total: mustSel(t, `http_requests_total{service="`+svc+`"}`),
		}
	}
	e, err := New([]Definition{def("checkout"), def("catalog")}, NewStoreSource(st), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var paged, resolved time.Time
	for now := o.Start.Add(time.Minute); !now.After(truth.End.Add(30 * time.Minute)); now = now.Add(time.Minute) {
		st.Append(s.Advance(now).Samples)
		// A day of history fills every window but the 3d and 30d ones,
		// which then hold all there is.
		if now.Before(onset.Add(-6 * time.Hour)) {
			continue
		}
		res, err := e.Evaluate(context.Background(), now)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range res.Alerts {
			slo, win := a.Labels.Get("slo"), a.Labels.Get("window")
			switch {
			case slo != "checkout-availability":
				t.Fatalf("%v: %s alerted (window %s) though the fault is in checkout", now, slo, win)
			case now.Before(onset):
				t.Fatalf("%v: checkout alerted (window %s) before the deploy at %v", now, win, onset)
			case win == "1h" && a.EndsAt.IsZero() && paged.IsZero():
				paged = now
			case win == "1h" && !a.EndsAt.IsZero():
				resolved = now
			}
		}
	}
	if paged.IsZero() {
		t.Fatalf("no 1h/5m page for a bad deploy from %v to %v", truth.Onset, truth.End)
	}
	if paged.After(truth.End) {
		t.Errorf("paged at %v, after the deploy was rolled back at %v", paged, truth.End)
	}
	if resolved.IsZero() || resolved.Before(truth.End) || resolved.After(truth.End.Add(10*time.Minute)) {
		t.Errorf("page resolved at %v, want within 10m after the rollback at %v", resolved, truth.End)
	}
	t.Logf("bad deploy %v..%v: paged after %v, resolved %v after rollback",
		truth.Onset.Format(time.TimeOnly), truth.End.Format(time.TimeOnly), paged.Sub(onset), resolved.Sub(truth.End))
}
