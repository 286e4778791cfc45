package app

import (
	"context"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/sim"
)

// TestMetricDetectDemo runs the stage over the demo's simulated shop, as
// `vigil serve --demo` feeds it (sim samples and deploy events through the
// bus), and checks that its anomalies point at the faults: most fall in a
// fault's window on a service it affects, and the quiet days stay quiet.
func TestMetricDetectDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates days of the shop")
	}
	const days = 5
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	so := sim.DefaultOptions()
	so.Start, so.LogScale, so.Seed = start, 0, 7
	so.Faults = sim.DemoFaults(so.Seed, start, days*24*time.Hour)
	sm, err := sim.New(so)
	if err != nil {
		t.Fatal(err)
	}
	s, reg, got := mdStage(t, nil)
	ctx := context.Background()
	series := map[string]bool{}
	for ts := start.Add(time.Hour); !ts.After(start.Add(days * 24 * time.Hour)); ts = ts.Add(time.Hour) {
		b := sm.Advance(ts)
		if err := s.handleEvents(ctx, "", b.Events); err != nil {
			t.Fatal(err)
		}
		if err := s.handleSamples(ctx, "", b.Samples); err != nil {
			t.Fatal(err)
		}
		for _, smp := range b.Samples {
			series[smp.Labels.String()] = true
		}
	}
	truths := sm.Truth()
	explained := func(a detect.Anomaly) bool {
		for _, tr := range truths {
			if a.End.Before(tr.Onset) || a.Start.After(tr.End.Add(15*time.Minute)) {
				continue
			}
			if a.Service == tr.RootCause || slices.Contains(tr.Affected, a.Service) {
				return true
			}
		}
		return false
	}
	var hit, miss int
	for _, a := range *got {
		if explained(a) {
			hit++
		} else {
			miss++
			t.Logf("outside a fault: %s %s %s", a.Start.Format("Mon 15:04"), a.Service, a.Explanation)
		}
	}
	found := 0
	for _, tr := range truths {
		verdict := "missed"
		for _, a := range *got {
			if !a.End.Before(tr.Onset) && !a.Start.After(tr.End.Add(15*time.Minute)) &&
				(a.Service == tr.RootCause || slices.Contains(tr.Affected, a.Service)) {
				found++
				verdict = "found"
				break
			}
		}
		t.Logf("fault %s on %s %s-%s: %s", tr.Scenario, tr.RootCause, tr.Onset.Format("Mon 15:04"), tr.End.Format("15:04"), verdict)
	}
	t.Logf("%d series seen, %d watched; %d anomalies: %d in a fault's window on an affected service, %d not; %d of %d faults found",
		len(series), len(s.series), len(*got), hit, miss, found, len(truths))
	bytes := 0
	for _, ser := range s.series {
		bytes += ser.det.StateBytes() + cap(ser.band)*int(unsafe.Sizeof(bandPoint{}))
	}
	t.Logf("state: %d bytes per series (detector and band ring)", bytes/max(1, len(s.series)))
	// Quality bars, not exact counts: node metrics (service "node") and
	// the first day's short history explain most of the rest.
	if found < len(truths)/2 {
		t.Errorf("found %d of %d faults, want at least half", found, len(truths))
	}
	if hit < 2*miss {
		t.Errorf("%d anomalies in fault windows against %d outside, want at least 2:1", hit, miss)
	}
	if v := metricValue(t, reg, `vigil_detect_metric_samples_total{outcome="refused"}`); v > 0 {
		t.Errorf("%v demo samples refused: the default bound is too small for the demo", v)
	}
}
