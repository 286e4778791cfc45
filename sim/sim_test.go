package sim

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNewValidates(t *testing.T) {
	base := DefaultOptions()
	cases := []struct {
		name    string
		mod     func(o *Options)
		wantErr error
		wantSub string
	}{
		{"defaults", func(o *Options) {}, nil, ""},
		{"zero start", func(o *Options) { o.Start = time.Time{} }, ErrInvalidOptions, "start is zero"},
		{"tiny step", func(o *Options) { o.Step = time.Millisecond }, ErrInvalidOptions, "step"},
		{"huge step", func(o *Options) { o.Step = time.Hour }, ErrInvalidOptions, "step"},
		{"negative log scale", func(o *Options) { o.LogScale = -1 }, ErrInvalidOptions, "log scale"},
		{"unknown scenario", func(o *Options) { o.Faults = []Fault{{Scenario: "meteor", Onset: o.Start.Add(time.Hour)}} }, ErrUnknownScenario, "redis-memory"},
		{"onset before start", func(o *Options) { o.Faults = []Fault{{Scenario: ScenarioSilence, Onset: o.Start.Add(-time.Hour)}} }, ErrInvalidOptions, "before start"},
		{"zero onset", func(o *Options) { o.Faults = []Fault{{Scenario: ScenarioSilence}} }, ErrInvalidOptions, "onset is zero"},
		{"negative duration", func(o *Options) {
			o.Faults = []Fault{{Scenario: ScenarioSilence, Onset: o.Start, Duration: -time.Minute}}
		}, ErrInvalidOptions, "negative"},
		{"none is a scenario", func(o *Options) { o.Faults = []Fault{{Scenario: ScenarioNone, Onset: o.Start}} }, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := base
			c.mod(&o)
			_, err := New(o)
			if c.wantErr == nil {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("New error = %v, want %v", err, c.wantErr)
			}
			if !strings.Contains(err.Error(), c.wantSub) {
				t.Fatalf("error %q does not mention %q", err, c.wantSub)
			}
		})
	}
}

func TestUnknownScenarioListsKnownNames(t *testing.T) {
	o := DefaultOptions()
	o.Faults = []Fault{{Scenario: "nope", Onset: o.Start}}
	_, err := New(o)
	for _, sc := range Scenarios() {
		if !strings.Contains(err.Error(), sc.Name) {
			t.Errorf("error %q does not list %q", err, sc.Name)
		}
	}
}

func TestAdvanceMovesNow(t *testing.T) {
	o := DefaultOptions()
	s := newSim(t, o)
	if !s.Now().Equal(o.Start) {
		t.Fatalf("Now = %v, want start %v", s.Now(), o.Start)
	}
	to := o.Start.Add(10 * time.Minute)
	b := s.Advance(to)
	if !s.Now().Equal(to) {
		t.Fatalf("Now = %v, want %v", s.Now(), to)
	}
	if len(b.Samples) == 0 || len(b.Logs) == 0 {
		t.Fatalf("empty batch: %d samples, %d logs", len(b.Samples), len(b.Logs))
	}
	for _, l := range b.Logs {
		if l.Time.Before(o.Start) || !l.Time.Before(to) {
			t.Fatalf("log at %v outside [%v, %v)", l.Time, o.Start, to)
		}
	}
	if again := s.Advance(to); len(again.Logs)+len(again.Samples)+len(again.Alerts)+len(again.Events) != 0 {
		t.Fatal("advancing to Now produced output")
	}
	if back := s.Advance(o.Start); len(back.Samples) != 0 || !s.Now().Equal(to) {
		t.Fatal("advancing backwards changed the simulation")
	}
}

func TestBatchIsTimeOrdered(t *testing.T) {
	o := DefaultOptions()
	o.Start = evening
	o.Faults = []Fault{{Scenario: ScenarioBadDeploy, Onset: evening.Add(20 * time.Minute)}}
	b := run(t, o, evening.Add(2*time.Hour))
	for i := 1; i < len(b.Logs); i++ {
		if b.Logs[i].Time.Before(b.Logs[i-1].Time) {
			t.Fatalf("log %d at %v before log %d at %v", i, b.Logs[i].Time, i-1, b.Logs[i-1].Time)
		}
	}
	for i := 1; i < len(b.Samples); i++ {
		if b.Samples[i].T < b.Samples[i-1].T {
			t.Fatalf("sample %d out of order", i)
		}
	}
	for i := 1; i < len(b.Alerts); i++ {
		if b.Alerts[i].UpdatedAt.Before(b.Alerts[i-1].UpdatedAt) {
			t.Fatalf("alert %d out of order", i)
		}
	}
	for i := 1; i < len(b.Events); i++ {
		if b.Events[i].Time.Before(b.Events[i-1].Time) {
			t.Fatalf("event %d out of order", i)
		}
	}
}

// TestDeterminism checks that identical options give identical output and
// that the output does not depend on how Advance is chunked.
func TestDeterminism(t *testing.T) {
	o := DefaultOptions()
	o.Start = evening.Add(-6 * time.Hour)
	o.Faults = DemoFaults(o.Seed, o.Start, 12*time.Hour)
	end := o.Start.Add(12 * time.Hour)

	single := newDigest()
	b := newSim(t, o).Advance(end)
	single.add(&b)

	minutes := newDigest()
	s := newSim(t, o)
	for s.Now().Before(end) {
		b := s.Advance(s.Now().Add(time.Minute))
		minutes.add(&b)
	}

	// Odd chunk sizes that straddle step boundaries.
	odd := newDigest()
	s = newSim(t, o)
	sizes := []time.Duration{7 * time.Second, 45 * time.Second, 13*time.Minute + 1*time.Millisecond, 2*time.Hour + 17*time.Second}
	for i := 0; s.Now().Before(end); i++ {
		b := s.Advance(minTime(s.Now().Add(sizes[i%len(sizes)]), end))
		odd.add(&b)
	}

	again := newDigest()
	b = newSim(t, o).Advance(end)
	again.add(&b)

	if single.logs == 0 || single.samples == 0 || single.alerts == 0 || single.evts == 0 {
		t.Fatalf("expected every kind of output, got %+v", single)
	}
	for name, d := range map[string]*digest{"1-minute chunks": minutes, "odd chunks": odd, "second run": again} {
		if d.sum() != single.sum() {
			t.Errorf("%s differ from one Advance: logs %d/%d samples %d/%d alerts %d/%d events %d/%d",
				name, d.logs, single.logs, d.samples, single.samples, d.alerts, single.alerts, d.evts, single.evts)
		}
	}
}

func TestDeterminismWeek(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates two weeks")
	}
	o := DefaultOptions()
	o.LogScale = 0.3
	o.Faults = []Fault{{Scenario: ScenarioRedisMemory, Onset: o.Start.Add(3*24*time.Hour + 19*time.Hour)}}
	end := o.Start.Add(7 * 24 * time.Hour)
	single := newDigest()
	b := newSim(t, o).Advance(end)
	single.add(&b)
	b = Batch{}
	chunked := newDigest()
	s := newSim(t, o)
	for s.Now().Before(end) {
		b := s.Advance(s.Now().Add(time.Minute))
		chunked.add(&b)
	}
	if chunked.sum() != single.sum() {
		t.Fatalf("week in 1-minute calls differs from one call: logs %d/%d samples %d/%d", chunked.logs, single.logs, chunked.samples, single.samples)
	}
}

func TestSeedsDiffer(t *testing.T) {
	o := DefaultOptions()
	a := newDigest()
	b1 := newSim(t, o).Advance(o.Start.Add(time.Hour))
	a.add(&b1)
	o.Seed = 2
	b := newDigest()
	b2 := newSim(t, o).Advance(o.Start.Add(time.Hour))
	b.add(&b2)
	if a.sum() == b.sum() {
		t.Fatal("seeds 1 and 2 produced identical output")
	}
}

func TestLogScale(t *testing.T) {
	count := func(scale float64) int {
		o := DefaultOptions()
		o.Start = evening
		o.LogScale = scale
		b := newSim(t, o).Advance(evening.Add(time.Hour))
		return len(b.Logs)
	}
	one, two, zero := count(1), count(2), count(0)
	if zero != 0 {
		t.Errorf("LogScale 0 wrote %d lines", zero)
	}
	if r := float64(two) / float64(one); r < 1.6 || r > 2.2 {
		t.Errorf("LogScale 2 wrote %.2f× the lines of LogScale 1 (%d vs %d)", r, two, one)
	}
}

func TestDemoFaults(t *testing.T) {
	start := DefaultOptions().Start
	fs := DemoFaults(7, start, 4*24*time.Hour)
	seen := map[string]bool{}
	for i, f := range fs {
		seen[f.Scenario] = true
		if f.Scenario == ScenarioNone {
			t.Errorf("demo schedule contains none")
		}
		if i == 0 && f.Onset.Before(start.Add(2*time.Hour)) {
			t.Errorf("first fault at %v, want at least two hours in", f.Onset)
		}
		if i > 0 {
			prev := fs[i-1]
			d, _ := lookupScenario(prev.Scenario)
			if !f.Onset.After(prev.Onset.Add(d.info.DefaultDuration + time.Hour)) {
				t.Errorf("fault %d (%s at %v) starts before %s resolved", i, f.Scenario, f.Onset, prev.Scenario)
			}
		}
	}
	for _, sc := range Scenarios() {
		if sc.Name != ScenarioNone && !seen[sc.Name] {
			t.Errorf("four demo days never schedule %s", sc.Name)
		}
	}
	o := DefaultOptions()
	o.Faults = fs
	if _, err := New(o); err != nil {
		t.Fatalf("New rejects the demo schedule: %v", err)
	}
	if again := DemoFaults(7, start, 4*24*time.Hour); len(again) != len(fs) || again[0] != fs[0] {
		t.Error("DemoFaults is not deterministic")
	}
}

func TestScenariosDescribed(t *testing.T) {
	for _, sc := range Scenarios() {
		if sc.Description == "" || sc.DefaultDuration <= 0 {
			t.Errorf("%s: missing description or duration", sc.Name)
		}
		if sc.Name != ScenarioNone && sc.RootCause == "" {
			t.Errorf("%s: missing root cause", sc.Name)
		}
		if sc.RootCause != "" {
			if _, ok := shopTopology().Service(sc.RootCause); !ok {
				t.Errorf("%s: root cause %q is not in the topology", sc.Name, sc.RootCause)
			}
		}
	}
}
