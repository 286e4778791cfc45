package act

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// GuardOptions are the limits every execution is held to.
type GuardOptions struct {
	// MaxLevel caps every runbook's level (a site starts at 2: approvals).
	MaxLevel Level
	// MinConfidence is the diagnosis confidence automatic runs need
	// (a runbook's min_confidence may raise it).
	MinConfidence float64
	// HighConfidence is what level-4 runs of medium or high risk need.
	HighConfidence float64
	// RunbookPerHour and GlobalPerHour bound executions in any sliding hour,
	// per runbook and in all. Dry runs do not count.
	RunbookPerHour int
	GlobalPerHour  int
	// MaxTargets bounds the objects being changed at once, by one execution
	// or by all in flight together.
	MaxTargets int
	// MaxReplicaChangePercent bounds a replica change as a percentage of the
	// current count (100: at most double, or down to zero from one).
	MaxReplicaChangePercent float64
	// ChangeWindows, when any, are the only times automatic runs may start.
	// Approved runs are not held to them: a person chose the moment.
	ChangeWindows []ChangeWindow
	// BreakerFailures consecutive failed verifications of one runbook open
	// its breaker for BreakerCooldown (or until ResetBreaker).
	BreakerFailures int
	BreakerCooldown time.Duration
	// MaxConcurrent executions run at once; up to MaxQueued more wait.
	MaxConcurrent int
	MaxQueued     int
	// DryRun makes every execution a plan only. True by default, so that a
	// new install changes nothing until someone decides it should.
	DryRun bool
	// KillSwitch starts the guard with the kill switch engaged.
	KillSwitch bool
}

// DefaultGuardOptions returns the conservative defaults.
func DefaultGuardOptions() GuardOptions {
	return GuardOptions{
		MaxLevel:                LevelApprove,
		MinConfidence:           0.6,
		HighConfidence:          0.9,
		RunbookPerHour:          3,
		GlobalPerHour:           10,
		MaxTargets:              5,
		MaxReplicaChangePercent: 100,
		BreakerFailures:         2,
		BreakerCooldown:         time.Hour,
		MaxConcurrent:           2,
		MaxQueued:               16,
		DryRun:                  true,
	}
}

func (o *GuardOptions) validate() error {
	switch {
	case !o.MaxLevel.Valid():
		return fmt.Errorf("%w: guard max level %d is not 0-4", ErrInvalidOptions, o.MaxLevel)
	case o.MinConfidence < 0 || o.MinConfidence > 1 || o.HighConfidence < o.MinConfidence || o.HighConfidence > 1:
		return fmt.Errorf("%w: guard confidences must satisfy 0 <= min (%v) <= high (%v) <= 1", ErrInvalidOptions, o.MinConfidence, o.HighConfidence)
	case o.RunbookPerHour < 1 || o.GlobalPerHour < 1:
		return fmt.Errorf("%w: guard rate limits must be at least 1 per hour", ErrInvalidOptions)
	case o.MaxTargets < 1:
		return fmt.Errorf("%w: guard max targets must be at least 1", ErrInvalidOptions)
	case o.MaxReplicaChangePercent <= 0:
		return fmt.Errorf("%w: guard max replica change must be above 0%%", ErrInvalidOptions)
	case o.BreakerFailures < 1 || o.BreakerCooldown <= 0:
		return fmt.Errorf("%w: guard breaker needs failures >= 1 and a positive cooldown", ErrInvalidOptions)
	case o.MaxConcurrent < 1 || o.MaxQueued < 0:
		return fmt.Errorf("%w: guard needs max concurrent >= 1 and max queued >= 0", ErrInvalidOptions)
	}
	return nil
}

// Request is what the Guard judges: one execution of a runbook.
type Request struct {
	Runbook    *Runbook
	Mode       Mode
	Confidence float64
	// Plans are the executors' plans of every step.
	Plans []Plan
	// Now is evaluation time (rate windows, change windows, breaker).
	Now time.Time
}

// Guard enforces every limit on execution in one place. It is safe for
// concurrent use: mtx protects every field below it, and Acquire checks
// and reserves under one hold of mtx, so concurrent requests can never
// together exceed a limit.
type Guard struct {
	opts    GuardOptions
	metrics *metrics
	sem     chan struct{} // a slot per running execution

	mtx      sync.Mutex
	killed   bool
	killCh   chan struct{} // closed while killed; replaced on release
	killWhy  string
	killBy   string
	global   []time.Time            // start times of counted runs, oldest first
	perRB    map[string][]time.Time // the same per runbook
	busy     map[string]bool        // targets being changed
	queued   int                    // admitted, waiting for a slot
	running  int                    // holding a slot
	leases   map[uint64]*Lease
	nextID   uint64
	failures map[string]int       // consecutive failed verifications
	openTill map[string]time.Time // breaker open until
}

// NewGuard builds a Guard.
func NewGuard(o GuardOptions) (*Guard, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	return newGuard(o, newMetrics(nil)), nil
}

func newGuard(o GuardOptions, m *metrics) *Guard {
	g := &Guard{
		opts:     o,
		metrics:  m,
		sem:      make(chan struct{}, o.MaxConcurrent),
		killCh:   make(chan struct{}),
		perRB:    map[string][]time.Time{},
		busy:     map[string]bool{},
		leases:   map[uint64]*Lease{},
		failures: map[string]int{},
		openTill: map[string]time.Time{},
	}
	if o.KillSwitch {
		g.killed, g.killWhy, g.killBy = true, "engaged by configuration", "config"
		close(g.killCh)
		m.killswitch.Set(1)
	}
	return g
}

// DryRun reports whether executions are plans only.
func (g *Guard) DryRun() bool { return g.opts.DryRun }

// EffectiveLevel is rb's level capped by MaxLevel.
func (g *Guard) EffectiveLevel(rb *Runbook) Level {
	return min(rb.Level, g.opts.MaxLevel)
}

// AutoAllowed reports whether rb may run without a person at this
// confidence and time, by level, risk, confidence and change windows. It
// reserves nothing; Acquire decides for real.
func (g *Guard) AutoAllowed(rb *Runbook, confidence float64, now time.Time) error {
	return g.policy(Request{Runbook: rb, Mode: ModeAuto, Confidence: confidence, Now: now})
}

// policy checks what does not depend on other executions: level versus
// risk and mode, confidence, change windows.
func (g *Guard) policy(req Request) error {
	rb := req.Runbook
	lvl := g.EffectiveLevel(rb)
	if lvl < LevelApprove {
		return errorf(ErrLevel, "runbook %q is at level %d (%s): Vigil does not execute it", rb.Name, lvl, lvl)
	}
	if req.Mode == ModeApproved {
		return nil
	}
	if req.Mode != ModeAuto {
		return errorf(ErrLevel, "unknown mode %q", req.Mode)
	}
	risk := rb.EffectiveRisk()
	need := max(g.opts.MinConfidence, rb.MinConfidence)
	switch {
	case lvl < LevelAutoLow:
		return errorf(ErrLevel, "runbook %q is at level %d (%s): it needs approval", rb.Name, lvl, lvl)
	case lvl == LevelAutoLow && risk != RiskLow:
		return errorf(ErrLevel, "runbook %q has a %s-risk step; level 3 runs only low-risk steps on its own", rb.Name, risk)
	case lvl == LevelAutoHigh && risk != RiskLow:
		need = max(need, g.opts.HighConfidence)
	}
	if req.Confidence < need {
		return errorf(ErrLowConfidence, "runbook %q needs diagnosis confidence %.2f, have %.2f", rb.Name, need, req.Confidence)
	}
	if len(g.opts.ChangeWindows) > 0 {
		in := false
		for _, w := range g.opts.ChangeWindows {
			if w.Contains(req.Now) {
				in = true
				break
			}
		}
		if !in {
			return errorf(ErrChangeWindow, "%s is outside every change window", req.Now.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// Lease is an admitted execution. Its Context is cancelled, with cause
// ErrKillSwitch, when the kill switch is engaged. Release it when done.
type Lease struct {
	// DryRun says the execution must only plan.
	DryRun bool

	ctx     context.Context
	cancel  context.CancelCauseFunc
	g       *Guard
	id      uint64
	mode    Mode
	level   Level
	targets []string
	hasSlot bool
	once    sync.Once
}

// Context is the execution's context.
func (l *Lease) Context() context.Context { return l.ctx }

// CheckStep is the per-step guard: the kill switch, and that an automatic
// execution never runs a step above the risk its level allows (defence in
// depth behind Acquire's check of the whole runbook).
func (l *Lease) CheckStep(s Step) error {
	if err := context.Cause(l.ctx); err != nil {
		return err
	}
	if l.mode == ModeAuto && l.level == LevelAutoLow && s.Risk != RiskLow {
		return errorf(ErrLevel, "step %q is %s risk; level 3 runs only low-risk steps on its own", s.Name, s.Risk)
	}
	return nil
}

// Release frees the lease's slot and targets. Safe to call twice.
func (l *Lease) Release() {
	l.once.Do(func() {
		g := l.g
		g.mtx.Lock()
		for _, t := range l.targets {
			delete(g.busy, t)
		}
		delete(g.leases, l.id)
		if l.hasSlot {
			g.running--
		}
		g.mtx.Unlock()
		if l.hasSlot {
			<-g.sem
		}
		l.cancel(nil)
		g.metrics.running.Dec()
	})
}

// Acquire admits an execution or says which guard refuses it. It checks,
// in one critical section: the kill switch, level and risk, confidence,
// change windows, the circuit breaker, rate limits and blast radius, and
// reserves the rate slots and targets. It then waits for a concurrency
// slot (up to MaxQueued waiters), which the kill switch or ctx can end.
func (g *Guard) Acquire(ctx context.Context, req Request) (*Lease, error) {
	l, err := g.admit(ctx, req)
	if err != nil {
		g.metrics.denied(err)
		return nil, err
	}
	if l.DryRun {
		return l, nil
	}
	// Wait for a slot.
	g.mtx.Lock()
	kc := g.killCh
	g.mtx.Unlock()
	select {
	case g.sem <- struct{}{}:
	case <-kc:
		g.unadmit(l, req)
		g.metrics.denied(ErrKillSwitch)
		return nil, errorf(ErrKillSwitch, "rejected while queued")
	case <-ctx.Done():
		g.unadmit(l, req)
		return nil, ctx.Err()
	}
	g.mtx.Lock()
	if g.killed {
		g.mtx.Unlock()
		<-g.sem
		g.unadmit(l, req)
		g.metrics.denied(ErrKillSwitch)
		return nil, errorf(ErrKillSwitch, "rejected while queued")
	}
	g.queued--
	g.running++
	l.hasSlot = true
	g.leases[l.id] = l
	g.mtx.Unlock()
	return l, nil
}

func (g *Guard) admit(ctx context.Context, req Request) (*Lease, error) {
	rb := req.Runbook
	if rb == nil {
		return nil, errors.New("guard: request without runbook")
	}
	g.mtx.Lock()
	defer g.mtx.Unlock()
	if g.killed {
		return nil, errorf(ErrKillSwitch, "%s (by %s)", g.killWhy, g.killBy)
	}
	if err := g.policy(req); err != nil {
		return nil, err
	}
	if until, ok := g.openTill[rb.Name]; ok {
		if req.Now.Before(until) {
			return nil, errorf(ErrCircuitOpen, "runbook %q failed verification %d times in a row; closed until %s or a reset",
				rb.Name, g.failures[rb.Name], until.UTC().Format(time.RFC3339))
		}
		delete(g.openTill, rb.Name)
		g.failures[rb.Name] = 0
	}
	var targets []string
	for _, p := range req.Plans {
		targets = append(targets, p.Targets...)
		if rc := p.Replicas; rc != nil {
			if err := g.replicaOK(*rc); err != nil {
				return nil, err
			}
		}
	}
	sort.Strings(targets)
	targets = compactStrings(targets)
	if len(targets) > g.opts.MaxTargets {
		return nil, errorf(ErrBlastRadius, "runbook %q would change %d targets, the limit is %d", rb.Name, len(targets), g.opts.MaxTargets)
	}
	lctx, cancel := context.WithCancelCause(ctx)
	l := &Lease{ctx: lctx, cancel: cancel, g: g, mode: req.Mode, level: g.EffectiveLevel(rb)}
	g.nextID++
	l.id = g.nextID
	if g.opts.DryRun {
		l.DryRun = true
		g.leases[l.id] = l
		g.metrics.running.Inc()
		return l, nil
	}
	for _, t := range targets {
		if g.busy[t] {
			cancel(nil)
			return nil, errorf(ErrBusy, "%s", t)
		}
	}
	if len(g.busy)+len(targets) > g.opts.MaxTargets {
		cancel(nil)
		return nil, errorf(ErrBlastRadius, "%d targets are being changed and runbook %q adds %d; the limit is %d",
			len(g.busy), rb.Name, len(targets), g.opts.MaxTargets)
	}
	hour := req.Now.Add(-time.Hour)
	g.global = pruneBefore(g.global, hour)
	g.perRB[rb.Name] = pruneBefore(g.perRB[rb.Name], hour)
	if n := len(g.perRB[rb.Name]); n >= g.opts.RunbookPerHour {
		cancel(nil)
		return nil, errorf(ErrRateLimited, "runbook %q ran %d times in the last hour (limit %d)", rb.Name, n, g.opts.RunbookPerHour)
	}
	if n := len(g.global); n >= g.opts.GlobalPerHour {
		cancel(nil)
		return nil, errorf(ErrRateLimited, "%d executions in the last hour (global limit %d)", n, g.opts.GlobalPerHour)
	}
	if g.queued+g.running >= g.opts.MaxQueued+g.opts.MaxConcurrent {
		cancel(nil)
		return nil, errorf(ErrBusy, "%d executions already wait for a slot (limit %d)", g.queued, g.opts.MaxQueued)
	}
	g.global = insertTime(g.global, req.Now)
	g.perRB[rb.Name] = insertTime(g.perRB[rb.Name], req.Now)
	for _, t := range targets {
		g.busy[t] = true
	}
	l.targets = targets
	g.queued++
	g.metrics.running.Inc()
	return l, nil
}

// unadmit undoes admit for an execution that never ran: it gives back its
// rate slots and targets.
func (g *Guard) unadmit(l *Lease, req Request) {
	g.mtx.Lock()
	if !l.hasSlot {
		g.queued--
	}
	g.global = removeTime(g.global, req.Now)
	g.perRB[req.Runbook.Name] = removeTime(g.perRB[req.Runbook.Name], req.Now)
	for _, t := range l.targets {
		delete(g.busy, t)
	}
	l.targets = nil
	g.mtx.Unlock()
	l.once.Do(func() {
		l.cancel(nil)
		g.metrics.running.Dec()
	})
}

func (g *Guard) replicaOK(rc ReplicaChange) error {
	d := rc.To - rc.From
	if d < 0 {
		d = -d
	}
	base := rc.From
	if base < 1 {
		base = 1
	}
	allowed := int64(float64(base) * g.opts.MaxReplicaChangePercent / 100)
	if d > allowed {
		return errorf(ErrBlastRadius, "replicas %d -> %d changes %d, the limit is %.0f%% of %d (%d)",
			rc.From, rc.To, d, g.opts.MaxReplicaChangePercent, base, allowed)
	}
	return nil
}

// RecordVerification feeds the circuit breaker.
func (g *Guard) RecordVerification(runbook string, ok bool, now time.Time) {
	g.mtx.Lock()
	defer g.mtx.Unlock()
	if ok {
		g.failures[runbook] = 0
		return
	}
	g.failures[runbook]++
	if g.failures[runbook] >= g.opts.BreakerFailures {
		g.openTill[runbook] = now.Add(g.opts.BreakerCooldown)
	}
}

// ResetBreaker closes a runbook's breaker.
func (g *Guard) ResetBreaker(runbook string) {
	g.mtx.Lock()
	defer g.mtx.Unlock()
	delete(g.openTill, runbook)
	g.failures[runbook] = 0
}

func pruneBefore(ts []time.Time, cut time.Time) []time.Time {
	i := 0
	for i < len(ts) && !ts[i].After(cut) {
		i++
	}
	return ts[i:]
}

// insertTime keeps ts sorted: concurrent requests may carry times out of order.
func insertTime(ts []time.Time, t time.Time) []time.Time {
	i := sort.Search(len(ts), func(i int) bool { return ts[i].After(t) })
	ts = append(ts, time.Time{})
	copy(ts[i+1:], ts[i:])
	ts[i] = t
	return ts
}

func removeTime(ts []time.Time, t time.Time) []time.Time {
	for i := len(ts) - 1; i >= 0; i-- {
		if ts[i].Equal(t) {
			return append(ts[:i:i], ts[i+1:]...)
		}
	}
	return ts
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
