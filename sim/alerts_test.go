package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// TestAlertCadence follows one alert through Prometheus' sending rules.
func TestAlertCadence(t *testing.T) {
	o := DefaultOptions()
	o.Start = evening
	o.Faults = []Fault{{Scenario: ScenarioNetworkPartition, Onset: peakOnset}}
	b := run(t, o, peakOnset.Add(time.Hour))
	var sends []telemetry.Alert
	for _, a := range b.Alerts {
		if a.Name() == "HighErrorRate" && a.Labels.Get("service") == "cart" {
			sends = append(sends, a)
		}
	}
	if len(sends) < 5 {
		t.Fatalf("%d sends", len(sends))
	}
	end := peakOnset.Add(20 * time.Minute)
	var resolvedAt time.Time
	for i, a := range sends {
		for _, l := range []string{"alertname", "service", "severity", "instance", "job"} {
			if a.Labels.Get(l) == "" {
				t.Fatalf("alert lacks %s: %s", l, a.Labels)
			}
		}
		if a.Annotations.Get("summary") == "" || a.Annotations.Get("description") == "" {
			t.Fatalf("alert lacks annotations: %v", a.Annotations)
		}
		if !strings.HasPrefix(a.GeneratorURL, "http://prometheus:9090/graph?g0.expr=") {
			t.Fatalf("generator URL %q", a.GeneratorURL)
		}
		if !a.StartsAt.Equal(sends[0].StartsAt) {
			t.Fatalf("StartsAt moved from %v to %v", sends[0].StartsAt, a.StartsAt)
		}
		firing := !a.Resolved(a.UpdatedAt)
		switch {
		case firing:
			if want := a.UpdatedAt.Add(4 * time.Minute); !a.EndsAt.Equal(want) {
				t.Errorf("firing send at %v has EndsAt %v, want send time + 4×max(30s, 1m)", a.UpdatedAt, a.EndsAt)
			}
			if !resolvedAt.IsZero() {
				t.Errorf("fires again at %v after resolving", a.UpdatedAt)
			}
		case resolvedAt.IsZero():
			resolvedAt = a.EndsAt
			if !a.UpdatedAt.Equal(resolvedAt) {
				t.Errorf("first resolved send at %v, resolution at %v: want it sent at once", a.UpdatedAt, resolvedAt)
			}
			if resolvedAt.Before(end) {
				t.Errorf("resolved at %v, before the fault ended at %v", resolvedAt, end)
			}
		default:
			if !a.EndsAt.Equal(resolvedAt) {
				t.Errorf("resolved re-send with EndsAt %v, want %v", a.EndsAt, resolvedAt)
			}
			if a.UpdatedAt.Sub(resolvedAt) > resolvedRetention {
				t.Errorf("resolved alert still sent %v after resolution", a.UpdatedAt.Sub(resolvedAt))
			}
		}
		if i > 0 {
			gap := a.UpdatedAt.Sub(sends[i-1].UpdatedAt)
			// Prometheus resends when the 1m delay has strictly passed; with
			// 30s evaluations that is every 90s. A resolution is sent at once.
			if gap != 90*time.Second && !(a.UpdatedAt.Equal(resolvedAt) && gap <= 90*time.Second) {
				t.Errorf("send %d came %v after the previous one", i, gap)
			}
		}
	}
	if resolvedAt.IsZero() {
		t.Fatal("never resolved")
	}
	last := sends[len(sends)-1]
	if d := last.UpdatedAt.Sub(resolvedAt); d < 13*time.Minute {
		t.Errorf("resolved sends stopped %v after resolution, want about 15m", d)
	}
}

// TestCleanRunIsQuiet: a day without faults pages nobody.
func TestCleanRunIsQuiet(t *testing.T) {
	for seed, days := range map[int64]int{1: 1, 2: 1} {
		if !testing.Short() && seed == 1 {
			days = 7
		}
		o := DefaultOptions()
		o.Seed = seed
		o.LogScale = 0
		s := newSim(t, o)
		b := s.Advance(o.Start.Add(time.Duration(days) * 24 * time.Hour))
		for _, a := range b.Alerts {
			t.Errorf("seed %d: %s %s at %v (%s)", seed, a.Status(a.UpdatedAt), a.Labels, a.UpdatedAt, a.Annotations.Get("description"))
		}
		if len(b.Events) == 0 {
			t.Errorf("seed %d: no change events in %d days", seed, days)
		}
	}
}

func TestEvents(t *testing.T) {
	o := DefaultOptions()
	o.LogScale = 0
	b := newSim(t, o).Advance(o.Start.Add(5 * 24 * time.Hour))
	kinds := map[telemetry.EventKind]int{}
	ids := map[string]bool{}
	for _, e := range b.Events {
		if err := e.Validate(); err != nil {
			t.Errorf("event %+v: %v", e, err)
		}
		if ids[e.ID] {
			t.Errorf("duplicate event id %s", e.ID)
		}
		ids[e.ID] = true
		kinds[e.Kind]++
		if e.Kind == telemetry.EventDeploy {
			if h := e.Time.Hour(); h < 9 || h >= 18 {
				t.Errorf("deploy outside working hours: %v", e.Time)
			}
			if e.Attributes["version"] == "" || e.Attributes["previous_version"] == "" {
				t.Errorf("deploy without versions: %+v", e)
			}
		}
	}
	for _, k := range []telemetry.EventKind{telemetry.EventDeploy, telemetry.EventConfigChange, telemetry.EventScaling, telemetry.EventKubernetes} {
		if kinds[k] == 0 {
			t.Errorf("five days without %s events", k)
		}
	}
	if kinds[telemetry.EventDeploy] < 5 || kinds[telemetry.EventDeploy] > 30 {
		t.Errorf("%d deploys in five weekdays", kinds[telemetry.EventDeploy])
	}
}
