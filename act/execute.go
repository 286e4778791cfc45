package act

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigilops/vigil/act/audit"
)

// ExecStatus is where an execution stands.
type ExecStatus string

// Execution statuses.
const (
	ExecRunning    ExecStatus = "running"
	ExecSucceeded  ExecStatus = "succeeded"   // acted and verified (or nothing to verify)
	ExecDryRun     ExecStatus = "dry_run"     // planned only
	ExecDenied     ExecStatus = "denied"      // a guard refused
	ExecFailed     ExecStatus = "failed"      // a step failed; rolled back what it could
	ExecRolledBack ExecStatus = "rolled_back" // verification failed; rolled back
	ExecKilled     ExecStatus = "killed"      // stopped by the kill switch
)

// Execution is one run of a runbook.
type Execution struct {
	ID         string            `json:"id"`
	Runbook    string            `json:"runbook"`
	IncidentID string            `json:"incident_id,omitempty"`
	Mode       Mode              `json:"mode"`
	Approval   string            `json:"approval,omitempty"`
	Actor      string            `json:"actor"`
	Params     map[string]string `json:"params"`
	Status     ExecStatus        `json:"status"`
	Started    time.Time         `json:"started"`
	Finished   time.Time         `json:"finished,omitzero"`
	Steps      []StepRecord      `json:"steps,omitempty"`
	Verify     string            `json:"verify,omitempty"`
	Rollback   []StepRecord      `json:"rollback,omitempty"`
	Error      string            `json:"error,omitempty"`
}

// StepRecord is what one step planned and did.
type StepRecord struct {
	Name   string `json:"name"`
	Action string `json:"action"`
	Plan   Plan   `json:"plan"`
	Detail string `json:"detail,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Executions lists the kept executions, newest first.
func (s *Service) Executions() []Execution {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	out := make([]Execution, 0, len(s.execOrder))
	for i := len(s.execOrder) - 1; i >= 0; i-- {
		out = append(out, cloneExec(s.executions[s.execOrder[i]]))
	}
	return out
}

// Execution returns one execution by ID.
func (s *Service) Execution(id string) (Execution, bool) {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	ex, ok := s.executions[id]
	if !ok {
		return Execution{}, false
	}
	return cloneExec(ex), true
}

func cloneExec(ex *Execution) Execution {
	c := *ex
	c.Steps = append([]StepRecord(nil), ex.Steps...)
	c.Rollback = append([]StepRecord(nil), ex.Rollback...)
	return c
}

// update applies f to ex under the lock.
func (s *Service) update(ex *Execution, f func(*Execution)) {
	s.mtx.Lock()
	f(ex)
	s.mtx.Unlock()
}

// startExecution registers an execution and runs it in the background.
func (s *Service) startExecution(ctx context.Context, rb *Runbook, vals Values, incID string, mode Mode, conf float64, approval, actor string) (string, error) {
	ex := &Execution{
		ID: newID(), Runbook: rb.Name, IncidentID: incID, Mode: mode, Approval: approval, Actor: actor,
		Params: vals.Map(), Status: ExecRunning, Started: s.opts.Now(),
	}
	s.mtx.Lock()
	if s.stopped {
		s.mtx.Unlock()
		return "", ErrStopped
	}
	s.executions[ex.ID] = ex
	s.execOrder = append(s.execOrder, ex.ID)
	for len(s.execOrder) > s.opts.MaxExecutions {
		old := s.executions[s.execOrder[0]]
		if old.Status == ExecRunning {
			break // never forget one still running
		}
		delete(s.executions, s.execOrder[0])
		s.execOrder = s.execOrder[1:]
	}
	s.wg.Add(1)
	s.mtx.Unlock()
	go func() {
		defer s.wg.Done()
		// The execution outlives the request that started it, but not Stop.
		ctx, cancel := context.WithCancel(s.base)
		defer cancel()
		s.run(ctx, ex, rb, vals, conf)
	}()
	return ex.ID, nil
}

// RunSync executes a runbook in the calling goroutine, through the Guard
// like every execution, and returns the finished record. The adaptive loop
// and tests use it; mode ModeAuto is still judged by the guard's policy.
func (s *Service) RunSync(ctx context.Context, name string, sit *Situation, params map[string]string, mode Mode, actor string) (Execution, error) {
	rb, ok := s.runbooks[name]
	if !ok {
		return Execution{}, fmt.Errorf("%w: %q", ErrUnknownRunbook, name)
	}
	vals, err := rb.Bind(sit, params)
	if err != nil {
		return Execution{}, err
	}
	ex := &Execution{
		ID: newID(), Runbook: rb.Name, IncidentID: sit.incidentID(), Mode: mode, Actor: actor,
		Params: vals.Map(), Status: ExecRunning, Started: s.opts.Now(),
	}
	s.mtx.Lock()
	s.executions[ex.ID] = ex
	s.execOrder = append(s.execOrder, ex.ID)
	s.mtx.Unlock()
	s.run(ctx, ex, rb, vals, sit.confidence())
	s.mtx.Lock()
	defer s.mtx.Unlock()
	c := cloneExec(ex)
	if c.Status != ExecSucceeded && c.Status != ExecDryRun {
		return c, fmt.Errorf("runbook %s: %s: %s", name, c.Status, c.Error)
	}
	return c, nil
}

// run is the one execution path: plan, guard, act, verify, roll back,
// escalate, with every step audited (before acting) and put on the
// timeline.
func (s *Service) run(ctx context.Context, ex *Execution, rb *Runbook, vals Values, conf float64) {
	now := s.opts.Now()
	incID := ex.IncidentID
	finish := func(st ExecStatus, errText string) {
		s.update(ex, func(e *Execution) { e.Status, e.Error, e.Finished = st, errText, s.opts.Now() })
		s.metrics.executions.WithLabelValues(string(st)).Inc()
	}
	calls, err := s.calls(rb.Name, rb.Steps, vals)
	if err != nil {
		finish(ExecFailed, err.Error())
		s.escalate(ctx, Escalation{Runbook: rb.Name, IncidentID: incID, Reason: "runbook could not be prepared: " + err.Error(), Execution: ptr(cloneExec(ex))})
		return
	}
	// Plan every step before acting: the guard judges the whole execution.
	plans := make([]Plan, len(calls))
	for i, c := range calls {
		p, err := s.opts.Executors[c.family].Plan(ctx, c.Call)
		if err != nil {
			finish(ExecFailed, fmt.Sprintf("plan step %s: %v", c.Step, err))
			s.escalate(ctx, Escalation{Runbook: rb.Name, IncidentID: incID, Reason: fmt.Sprintf("could not plan step %s: %v", c.Step, err), Execution: ptr(cloneExec(ex))})
			return
		}
		plans[i] = p
		s.update(ex, func(e *Execution) {
			e.Steps = append(e.Steps, StepRecord{Name: c.Step, Action: rb.Steps[i].Action, Plan: p})
		})
	}
	lease, err := s.guard.Acquire(ctx, Request{Runbook: rb, Mode: ex.Mode, Confidence: conf, Plans: plans, Now: now})
	if err != nil {
		_ = s.audit(ctx, audit.Entry{Time: now, Kind: audit.KindDenied, Actor: ex.Actor, Runbook: rb.Name, Approval: ex.Approval,
			Incident: incID, Params: ex.Params, Outcome: "denied", Detail: truncate(err.Error(), 2000)})
		s.timeline(ctx, incID, now, fmt.Sprintf("runbook %s not executed: %v", rb.Name, err), rb.Name, ex.ID)
		finish(ExecDenied, err.Error())
		// Nothing was done about the incident: a person must know why.
		what := "automatic run of runbook " + rb.Name
		if ex.Mode == ModeApproved {
			what = "approved runbook " + rb.Name
		}
		s.escalate(ctx, Escalation{Runbook: rb.Name, IncidentID: incID, Reason: what + " refused by the guard: " + err.Error(), Execution: ptr(cloneExec2(s, ex))})
		return
	}
	defer lease.Release()
	lctx := lease.Context()

	if lease.DryRun {
		var sum []string
		for _, p := range plans {
			sum = append(sum, p.Summary)
		}
		text := "dry run: would " + strings.Join(sum, "; then ")
		if err := s.audit(ctx, audit.Entry{Time: now, Kind: audit.KindExecution, Actor: ex.Actor, Runbook: rb.Name, Approval: ex.Approval,
			Incident: incID, Params: ex.Params, Outcome: "dry_run", Detail: truncate(text, 4000)}); err != nil {
			finish(ExecFailed, err.Error())
			return
		}
		s.timeline(ctx, incID, now, fmt.Sprintf("runbook %s (dry run): %s", rb.Name, text), rb.Name, ex.ID)
		finish(ExecDryRun, "")
		return
	}

	var undo []bound
	for i, c := range calls {
		step := rb.Steps[i]
		if err := lease.CheckStep(step); err != nil {
			s.abort(ctx, lctx, ex, rb, undo, fmt.Errorf("step %s: %w", step.Name, err))
			return
		}
		if err := s.audit(ctx, audit.Entry{Kind: audit.KindExecution, Actor: ex.Actor, Runbook: rb.Name, Approval: ex.Approval,
			Incident: incID, Params: ex.Params, Outcome: "started", Detail: truncate(step.Action+": "+plans[i].Summary, 4000)}); err != nil {
			s.abort(ctx, lctx, ex, rb, undo, err)
			return
		}
		res, err := s.opts.Executors[c.family].Apply(lctx, c.Call)
		if err != nil {
			s.update(ex, func(e *Execution) { e.Steps[i].Error = err.Error() })
			_ = s.audit(ctx, audit.Entry{Kind: audit.KindExecution, Actor: ex.Actor, Runbook: rb.Name, Approval: ex.Approval,
				Incident: incID, Outcome: "failed", Detail: truncate(step.Name+": "+err.Error(), 4000)})
			s.abort(ctx, lctx, ex, rb, undo, fmt.Errorf("step %s: %w", step.Name, err))
			return
		}
		s.update(ex, func(e *Execution) { e.Steps[i].Detail = res.Detail })
		_ = s.audit(ctx, audit.Entry{Kind: audit.KindExecution, Actor: ex.Actor, Runbook: rb.Name, Approval: ex.Approval,
			Incident: incID, Outcome: "ok", Detail: truncate(step.Name+": "+res.Detail, 4000)})
		s.timeline(ctx, incID, s.opts.Now(), fmt.Sprintf("runbook %s step %s: %s", rb.Name, step.Name, res.Detail), rb.Name, ex.ID)
		if res.Undo != nil {
			undo = append(undo, bound{family: c.family, Call: *res.Undo})
		}
	}

	ok, detail := s.verify(lctx, ex, rb, vals)
	s.update(ex, func(e *Execution) { e.Verify = detail })
	if cause := context.Cause(lctx); errors.Is(cause, ErrKillSwitch) {
		s.abort(ctx, lctx, ex, rb, undo, cause)
		return
	}
	if !ok && s.base.Err() != nil {
		// Shutting down mid-verification says nothing about the change:
		// undoing it would be a second change nobody asked for.
		finish(ExecFailed, "verification interrupted by shutdown; not rolled back")
		s.escalate(ctx, Escalation{Runbook: rb.Name, IncidentID: incID,
			Reason: fmt.Sprintf("runbook %s acted, but Vigil stopped before verification finished; check the result", rb.Name), Execution: ptr(cloneExec2(s, ex))})
		return
	}
	s.guard.RecordVerification(rb.Name, ok, s.opts.Now())
	if !ok {
		s.metrics.verifications.WithLabelValues("failed").Inc()
		s.rollback(ctx, ex, rb, vals, undo)
		finish(ExecRolledBack, "verification failed: "+detail)
		s.escalate(ctx, Escalation{Runbook: rb.Name, IncidentID: incID,
			Reason: fmt.Sprintf("runbook %s acted but verification failed (%s); rolled back", rb.Name, detail), Execution: ptr(cloneExec2(s, ex))})
		return
	}
	s.metrics.verifications.WithLabelValues("ok").Inc()
	finish(ExecSucceeded, "")
	if ex.Mode == ModeAuto {
		c := cloneExec2(s, ex)
		s.notify(ctx, Notice{Kind: "executed", Execution: &c, Text: fmt.Sprintf("Vigil ran runbook %s on its own for incident %s: %s", rb.Name, incID, detail)})
	}
}

func ptr[T any](v T) *T { return &v }

func cloneExec2(s *Service, ex *Execution) Execution {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	return cloneExec(ex)
}

// abort ends an execution after a failed step or the kill switch: it rolls
// back what was done (not after the kill switch, which stops all
// execution, rollbacks included) and escalates.
func (s *Service) abort(ctx, lctx context.Context, ex *Execution, rb *Runbook, undo []bound, err error) {
	killed := errors.Is(context.Cause(lctx), ErrKillSwitch) || errors.Is(err, ErrKillSwitch)
	st := ExecFailed
	reason := fmt.Sprintf("runbook %s failed: %v", rb.Name, err)
	if killed {
		st = ExecKilled
		reason = fmt.Sprintf("runbook %s stopped by the kill switch after %d step(s); not rolled back, check the targets", rb.Name, len(undo))
	} else {
		s.rollback(ctx, ex, rb, ex.valuesFallback(rb), undo)
		reason += "; rolled back"
	}
	s.update(ex, func(e *Execution) { e.Status, e.Error, e.Finished = st, err.Error(), s.opts.Now() })
	s.metrics.executions.WithLabelValues(string(st)).Inc()
	s.escalate(ctx, Escalation{Runbook: rb.Name, IncidentID: ex.IncidentID, Reason: reason, Execution: ptr(cloneExec2(s, ex))})
}

// valuesFallback rebinds the recorded parameters for explicit rollback
// steps (they were validated when the execution started).
func (ex *Execution) valuesFallback(rb *Runbook) Values {
	v, err := rb.bindValues(ex.Params)
	if err != nil {
		return Values{}
	}
	return v
}

// verify evaluates the runbook's check until it passes or its deadline.
func (s *Service) verify(ctx context.Context, ex *Execution, rb *Runbook, vals Values) (bool, string) {
	v := rb.Verify
	if v == nil {
		return true, "no verification check"
	}
	timeout, interval := time.Duration(v.Timeout), time.Duration(v.Interval)
	if timeout <= 0 {
		timeout = s.opts.VerifyTimeout
	}
	if interval <= 0 {
		interval = s.opts.VerifyInterval
	}
	with := map[string]any{}
	if v.With != nil {
		r, err := RenderTree(map[string]any(v.With), vals)
		if err != nil {
			return false, "render verification: " + err.Error()
		}
		with = r.(map[string]any)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	last := "not evaluated"
	for attempt := 1; ; attempt++ {
		res, err := s.opts.Verifier.Verify(ctx, VerifyRequest{Runbook: rb.Name, IncidentID: ex.IncidentID, Check: v.Check,
			With: with, Values: vals.Map(), Attempt: attempt, Now: s.opts.Now()})
		switch {
		case err != nil:
			last = "check error: " + err.Error()
		case res.OK:
			_ = s.audit(ctx, audit.Entry{Kind: audit.KindVerification, Actor: SystemActor, Runbook: rb.Name, Approval: ex.Approval,
				Incident: ex.IncidentID, Outcome: "ok", Detail: truncate(fmt.Sprintf("%s passed on attempt %d: %s", v.Check, attempt, res.Detail), 2000)})
			s.timeline(ctx, ex.IncidentID, s.opts.Now(), fmt.Sprintf("verified %s: %s", v.Check, res.Detail), rb.Name, ex.ID)
			return true, res.Detail
		default:
			last = res.Detail
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			last = fmt.Sprintf("%s (stopped: %v)", last, context.Cause(ctx))
		case <-deadline.C:
			t.Stop()
			last = fmt.Sprintf("%s (not passed within %s)", last, timeout)
		case <-t.C:
			continue
		}
		_ = s.audit(ctx, audit.Entry{Kind: audit.KindVerification, Actor: SystemActor, Runbook: rb.Name, Approval: ex.Approval,
			Incident: ex.IncidentID, Outcome: "failed", Detail: truncate(v.Check+": "+last, 2000)})
		s.timeline(ctx, ex.IncidentID, s.opts.Now(), fmt.Sprintf("verification %s failed: %s", v.Check, last), rb.Name, ex.ID)
		return false, last
	}
}

// rollback runs the runbook's rollback steps, or else the executors' undo
// calls in reverse order. It runs on a context detached from the
// execution's (which may be what failed) and bounded by RollbackTimeout.
func (s *Service) rollback(ctx context.Context, ex *Execution, rb *Runbook, vals Values, undo []bound) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.RollbackTimeout)
	defer cancel()
	var todo []bound
	if len(rb.Rollback) > 0 {
		var err error
		todo, err = s.calls(rb.Name, rb.Rollback, vals)
		if err != nil {
			_ = s.audit(ctx, audit.Entry{Kind: audit.KindRollback, Actor: SystemActor, Runbook: rb.Name, Incident: ex.IncidentID,
				Outcome: "failed", Detail: truncate(err.Error(), 2000)})
			return
		}
	} else {
		for i := len(undo) - 1; i >= 0; i-- {
			todo = append(todo, undo[i])
		}
	}
	if len(todo) == 0 {
		_ = s.audit(ctx, audit.Entry{Kind: audit.KindRollback, Actor: SystemActor, Runbook: rb.Name, Incident: ex.IncidentID,
			Outcome: "nothing_to_undo"})
		return
	}
	s.metrics.rollbacks.Inc()
	for _, c := range todo {
		rec := StepRecord{Name: c.Step, Action: c.family + "." + c.Op}
		res, err := s.opts.Executors[c.family].Apply(rctx, c.Call)
		outcome := "ok"
		if err != nil {
			outcome, rec.Error = "failed", err.Error()
		} else {
			rec.Detail = res.Detail
		}
		_ = s.audit(ctx, audit.Entry{Kind: audit.KindRollback, Actor: SystemActor, Runbook: rb.Name, Incident: ex.IncidentID,
			Approval: ex.Approval, Outcome: outcome, Detail: truncate(rec.Name+": "+rec.Detail+rec.Error, 2000)})
		s.timeline(ctx, ex.IncidentID, s.opts.Now(), fmt.Sprintf("rollback %s: %s%s", rec.Name, rec.Detail, rec.Error), rb.Name, ex.ID)
		s.update(ex, func(e *Execution) { e.Rollback = append(e.Rollback, rec) })
	}
}

// bound is a call with its executor family.
type bound struct {
	family string
	Call
}

func (s *Service) calls(runbook string, steps []Step, vals Values) ([]bound, error) {
	out := make([]bound, 0, len(steps))
	for _, st := range steps {
		fam, op, err := splitAction(st.Action)
		if err != nil {
			return nil, err
		}
		if _, ok := s.opts.Executors[fam]; !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownAction, st.Action)
		}
		out = append(out, bound{family: fam, Call: Call{Runbook: runbook, Step: st.Name, Op: op, With: st.With, Values: vals}})
	}
	return out, nil
}
