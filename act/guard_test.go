package act

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

var t0 = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC) // a Monday

func guardRunbooks(t *testing.T) map[string]*Runbook {
	rbs := mustRunbooks(t, `
name: a
risk: low
level: 4
match: 'true'
steps: [{name: s, action: fake.do}]
---
name: b
risk: low
level: 4
match: 'true'
steps: [{name: s, action: fake.do}]
---
name: risky
risk: low
level: 3
match: 'true'
steps:
  - {name: safe, action: fake.do}
  - {name: dangerous, action: fake.do, risk: high}
---
name: high4
risk: high
level: 4
match: 'true'
steps: [{name: s, action: fake.do}]
`)
	m := map[string]*Runbook{}
	for _, rb := range rbs {
		m[rb.Name] = rb
	}
	return m
}

func liveGuard(t *testing.T, mod func(*GuardOptions)) *Guard {
	o := DefaultGuardOptions()
	o.DryRun = false
	o.MaxLevel = LevelAutoHigh
	o.MaxConcurrent = 64
	o.MaxQueued = 64
	o.MaxTargets = 1000
	o.RunbookPerHour, o.GlobalPerHour = 1000, 1000
	if mod != nil {
		mod(&o)
	}
	g, err := NewGuard(o)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGuardRateLimitsUnderConcurrency fires 50 concurrent triggers at two
// runbooks and expects exactly the limits to be admitted.
func TestGuardRateLimitsUnderConcurrency(t *testing.T) {
	rbs := guardRunbooks(t)
	tests := []struct {
		name                    string
		perRunbook, global      int
		wantA, wantB, wantTotal int
	}{
		{"per runbook binds", 3, 100, 3, 3, 6},
		{"global binds", 10, 5, -1, -1, 5},
		{"one each", 1, 1, -1, -1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := liveGuard(t, func(o *GuardOptions) { o.RunbookPerHour, o.GlobalPerHour = tc.perRunbook, tc.global })
			var wg sync.WaitGroup
			var mtx sync.Mutex
			got := map[string]int{}
			start := make(chan struct{})
			for i := 0; i < 50; i++ {
				name := "a"
				if i%2 == 1 {
					name = "b"
				}
				wg.Go(func() {
					<-start
					l, err := g.Acquire(context.Background(), Request{Runbook: rbs[name], Mode: ModeAuto, Confidence: 1, Now: t0.Add(time.Duration(i) * time.Second),
						Plans: []Plan{{Targets: []string{fmt.Sprintf("obj/%d", i)}}}})
					mtx.Lock()
					defer mtx.Unlock()
					if err != nil {
						if !errors.Is(err, ErrRateLimited) {
							t.Errorf("trigger %d: %v, want ErrRateLimited", i, err)
						}
						got["denied"]++
						return
					}
					got[name]++
					l.Release()
				})
			}
			close(start)
			wg.Wait()
			total := got["a"] + got["b"]
			if total != tc.wantTotal || got["denied"] != 50-total {
				t.Fatalf("admitted %v, want total %d", got, tc.wantTotal)
			}
			if got["a"] > tc.perRunbook || got["b"] > tc.perRunbook {
				t.Fatalf("per-runbook limit %d broken: %v", tc.perRunbook, got)
			}
			if tc.wantA >= 0 && (got["a"] != tc.wantA || got["b"] != tc.wantB) {
				t.Fatalf("admitted %v, want a=%d b=%d", got, tc.wantA, tc.wantB)
			}
			// The hour slides: an hour later the budget is back.
			l, err := g.Acquire(context.Background(), Request{Runbook: rbs["a"], Mode: ModeAuto, Confidence: 1, Now: t0.Add(2 * time.Hour)})
			if err != nil {
				t.Fatalf("after an hour: %v", err)
			}
			l.Release()
		})
	}
}

// TestGuardBlastRadiusUnderConcurrency holds every admitted lease while 50
// triggers race, so that the targets in flight together stay within the
// limit exactly.
func TestGuardBlastRadiusUnderConcurrency(t *testing.T) {
	rbs := guardRunbooks(t)
	g := liveGuard(t, func(o *GuardOptions) { o.MaxTargets = 4 })
	var wg sync.WaitGroup
	var mtx sync.Mutex
	var leases []*Lease
	denied := 0
	start := make(chan struct{})
	for i := 0; i < 50; i++ {
		wg.Go(func() {
			<-start
			// Each asks for two targets, one of them shared by pairs.
			l, err := g.Acquire(context.Background(), Request{Runbook: rbs["a"], Mode: ModeAuto, Confidence: 1, Now: t0,
				Plans: []Plan{{Targets: []string{fmt.Sprintf("own/%d", i)}}, {Targets: []string{fmt.Sprintf("pair/%d", i/2)}}}})
			mtx.Lock()
			defer mtx.Unlock()
			if err != nil {
				if !errors.Is(err, ErrBlastRadius) && !errors.Is(err, ErrBusy) {
					t.Errorf("trigger %d: %v", i, err)
				}
				denied++
				return
			}
			leases = append(leases, l)
		})
	}
	close(start)
	wg.Wait()
	if len(leases) != 2 || denied != 48 {
		t.Fatalf("admitted %d (denied %d), want exactly 2 executions of 2 targets within 4", len(leases), denied)
	}
	g.mtx.Lock()
	busy := len(g.busy)
	g.mtx.Unlock()
	if busy != 4 {
		t.Fatalf("%d targets busy, want 4", busy)
	}
	for _, l := range leases {
		l.Release()
	}
	l, err := g.Acquire(context.Background(), Request{Runbook: rbs["a"], Mode: ModeAuto, Confidence: 1, Now: t0,
		Plans: []Plan{{Targets: []string{"t1", "t2", "t3", "t4"}}}})
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l.Release()
	if _, err := g.Acquire(context.Background(), Request{Runbook: rbs["a"], Mode: ModeAuto, Confidence: 1, Now: t0,
		Plans: []Plan{{Targets: []string{"t1", "t2", "t3", "t4", "t5"}}}}); !errors.Is(err, ErrBlastRadius) {
		t.Fatalf("5 targets: %v, want ErrBlastRadius", err)
	}
}

func TestGuardReplicaChange(t *testing.T) {
	rbs := guardRunbooks(t)
	g := liveGuard(t, func(o *GuardOptions) { o.MaxReplicaChangePercent = 50 })
	tests := []struct {
		from, to int64
		ok       bool
	}{
		{4, 6, true}, {4, 7, false}, {4, 2, true}, {4, 1, false}, {2, 3, true}, {1, 2, false}, {0, 0, true}, {10, 15, true}, {10, 16, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d-%d", tc.from, tc.to), func(t *testing.T) {
			l, err := g.Acquire(context.Background(), Request{Runbook: rbs["a"], Mode: ModeAuto, Confidence: 1, Now: t0,
				Plans: []Plan{{Targets: []string{"d"}, Replicas: &ReplicaChange{From: tc.from, To: tc.to}}}})
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err == nil {
				l.Release()
			} else if !errors.Is(err, ErrBlastRadius) {
				t.Fatalf("err = %v, want ErrBlastRadius", err)
			}
		})
	}
}

// TestGuardKillSwitch engages the kill switch with one execution running
// and three queued: the running one's context is cancelled at once and the
// queued ones are rejected, without any time passing.
func TestGuardKillSwitch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rbs := guardRunbooks(t)
		g := liveGuard(t, func(o *GuardOptions) { o.MaxConcurrent, o.MaxQueued = 1, 3 })
		running, err := g.Acquire(context.Background(), Request{Runbook: rbs["a"], Mode: ModeAuto, Confidence: 1, Now: t0,
			Plans: []Plan{{Targets: []string{"x"}}}})
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 3)
		for i := 0; i < 3; i++ {
			go func() {
				_, err := g.Acquire(context.Background(), Request{Runbook: rbs["b"], Mode: ModeAuto, Confidence: 1, Now: t0,
					Plans: []Plan{{Targets: []string{fmt.Sprintf("q%d", i)}}}})
				errs <- err
			}()
		}
		synctest.Wait() // all three are queued behind the running one
		// A fourth is over the queue bound.
		if _, err := g.Acquire(context.Background(), Request{Runbook: rbs["b"], Mode: ModeAuto, Confidence: 1, Now: t0}); !errors.Is(err, ErrBusy) {
			t.Fatalf("over the queue: %v, want ErrBusy", err)
		}
		start := time.Now()
		if n := g.Engage("oncall", "test"); n != 1 {
			t.Fatalf("Engage cancelled %d, want 1", n)
		}
		select {
		case <-running.Context().Done():
		case <-time.After(time.Second):
			t.Fatal("in-flight context not cancelled within 1s")
		}
		if !errors.Is(context.Cause(running.Context()), ErrKillSwitch) {
			t.Fatalf("cause = %v", context.Cause(running.Context()))
		}
		for i := 0; i < 3; i++ {
			select {
			case err := <-errs:
				if !errors.Is(err, ErrKillSwitch) {
					t.Fatalf("queued: %v, want ErrKillSwitch", err)
				}
			case <-time.After(time.Second):
				t.Fatal("queued execution not rejected within 1s")
			}
		}
		if d := time.Since(start); d >= time.Second {
			t.Fatalf("took %v", d)
		}
		running.Release()
		if _, err := g.Acquire(context.Background(), Request{Runbook: rbs["a"], Mode: ModeAuto, Confidence: 1, Now: t0}); !errors.Is(err, ErrKillSwitch) {
			t.Fatalf("while engaged: %v", err)
		}
		g.ReleaseKill()
		l, err := g.Acquire(context.Background(), Request{Runbook: rbs["a"], Mode: ModeAuto, Confidence: 1, Now: t0})
		if err != nil {
			t.Fatalf("after release: %v", err)
		}
		l.Release()
		// The rejected ones gave back their rate slots and targets.
		g.mtx.Lock()
		defer g.mtx.Unlock()
		if len(g.busy) != 0 || g.queued != 0 || g.running != 0 || len(g.perRB["b"]) != 0 {
			t.Fatalf("leftovers: busy %v queued %d running %d b %d", g.busy, g.queued, g.running, len(g.perRB["b"]))
		}
	})
}

func TestGuardPolicy(t *testing.T) {
	rbs := guardRunbooks(t)
	tests := []struct {
		name     string
		maxLevel Level
		rb       string
		mode     Mode
		conf     float64
		want     error
	}{
		{"level 3 refuses a high-risk step automatically", LevelAutoHigh, "risky", ModeAuto, 1, ErrLevel},
		{"level 3 high-risk step with approval", LevelAutoHigh, "risky", ModeApproved, 0, nil},
		{"level 4 high risk needs high confidence", LevelAutoHigh, "high4", ModeAuto, 0.8, ErrLowConfidence},
		{"level 4 high risk with high confidence", LevelAutoHigh, "high4", ModeAuto, 0.95, nil},
		{"low risk needs the minimum", LevelAutoHigh, "a", ModeAuto, 0.5, ErrLowConfidence},
		{"low risk above the minimum", LevelAutoHigh, "a", ModeAuto, 0.61, nil},
		{"site capped at approvals", LevelApprove, "a", ModeAuto, 1, ErrLevel},
		{"site capped at approvals, approved", LevelApprove, "a", ModeApproved, 0, nil},
		{"site at suggest", LevelSuggest, "a", ModeApproved, 1, ErrLevel},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := liveGuard(t, func(o *GuardOptions) { o.MaxLevel = tc.maxLevel })
			l, err := g.Acquire(context.Background(), Request{Runbook: rbs[tc.rb], Mode: tc.mode, Confidence: tc.conf, Now: t0})
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Acquire = %v, want %v", err, tc.want)
			}
			if l != nil {
				l.Release()
			}
		})
	}
	// Defence in depth: a lease for an automatic level-3 run refuses a
	// high-risk step even if it got past the runbook check.
	g := liveGuard(t, nil)
	l := &Lease{ctx: context.Background(), mode: ModeAuto, level: LevelAutoLow}
	_ = g
	if err := l.CheckStep(rbs["risky"].Steps[1]); !errors.Is(err, ErrLevel) {
		t.Fatalf("CheckStep(high) = %v, want ErrLevel", err)
	}
	if err := l.CheckStep(rbs["risky"].Steps[0]); err != nil {
		t.Fatalf("CheckStep(low) = %v", err)
	}
}

func TestGuardBreakerAndWindows(t *testing.T) {
	rbs := guardRunbooks(t)
	w, err := ParseChangeWindow("mon-fri 09:00-17:00")
	if err != nil {
		t.Fatal(err)
	}
	g := liveGuard(t, func(o *GuardOptions) {
		o.BreakerFailures, o.BreakerCooldown = 2, time.Hour
		o.ChangeWindows = []ChangeWindow{w}
	})
	try := func(now time.Time, mode Mode) error {
		l, err := g.Acquire(context.Background(), Request{Runbook: rbs["a"], Mode: mode, Confidence: 1, Now: now})
		if l != nil {
			l.Release()
		}
		return err
	}
	if err := try(t0, ModeAuto); err != nil {
		t.Fatalf("in window: %v", err)
	}
	if err := try(t0.Add(8*time.Hour), ModeAuto); !errors.Is(err, ErrChangeWindow) {
		t.Fatalf("20:00: %v, want ErrChangeWindow", err)
	}
	if err := try(t0.Add(8*time.Hour), ModeApproved); err != nil {
		t.Fatalf("20:00 approved: %v", err)
	}
	g.RecordVerification("a", false, t0)
	if err := try(t0, ModeAuto); err != nil {
		t.Fatalf("after one failure: %v", err)
	}
	g.RecordVerification("a", false, t0)
	if err := try(t0.Add(time.Minute), ModeApproved); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("after two failures: %v, want ErrCircuitOpen", err)
	}
	if err := try(t0.Add(61*time.Minute), ModeAuto); err != nil {
		t.Fatalf("after the cooldown: %v", err)
	}
	g.RecordVerification("a", false, t0.Add(62*time.Minute))
	g.RecordVerification("a", false, t0.Add(62*time.Minute))
	g.ResetBreaker("a")
	if err := try(t0.Add(63*time.Minute), ModeAuto); err != nil {
		t.Fatalf("after reset: %v", err)
	}
}

func TestChangeWindow(t *testing.T) {
	tests := []struct {
		spec string
		at   time.Time
		want bool
	}{
		{"mon-fri 09:00-17:00", time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC), true},
		{"mon-fri 09:00-17:00", time.Date(2026, 1, 5, 17, 0, 0, 0, time.UTC), false},
		{"mon-fri 09:00-17:00", time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC), false},
		{"sat 22:00-02:00", time.Date(2026, 1, 10, 23, 0, 0, 0, time.UTC), true},
		{"sat 22:00-02:00", time.Date(2026, 1, 11, 1, 0, 0, 0, time.UTC), true},
		{"sat 22:00-02:00", time.Date(2026, 1, 11, 3, 0, 0, 0, time.UTC), false},
		{"fri-mon 00:00-23:59", time.Date(2026, 1, 11, 12, 0, 0, 0, time.UTC), true},
		{"* 10:00-11:00 Europe/Berlin", time.Date(2026, 1, 7, 9, 30, 0, 0, time.UTC), true},
	}
	for _, tc := range tests {
		t.Run(tc.spec+"@"+tc.at.Format(time.RFC3339), func(t *testing.T) {
			w, err := ParseChangeWindow(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := w.Contains(tc.at); got != tc.want {
				t.Fatalf("Contains = %v, want %v", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "mon", "moon 09:00-10:00", "mon 9-10", "mon 09:00-10:00 Mars/Base", "mon 09:00"} {
		if _, err := ParseChangeWindow(bad); err == nil {
			t.Errorf("ParseChangeWindow(%q) accepted", bad)
		}
	}
}
