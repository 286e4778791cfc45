package act

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// scaleCluster is a fake executor over a replica count, with undo.
type scaleCluster struct {
	mtx      sync.Mutex
	replicas map[string]int64
}

func (c *scaleCluster) get(n string) int64 {
	c.mtx.Lock()
	defer c.mtx.Unlock()
	return c.replicas[n]
}

func (c *scaleCluster) exec() *fakeExec {
	return &fakeExec{
		PlanFunc: func(_ context.Context, call Call) (Plan, error) {
			name, _ := RenderArg(call, "name")
			to, _ := RenderArg(call, "replicas")
			n, _ := strconv.ParseInt(to, 10, 64)
			return Plan{Summary: "scale " + name + " to " + to, Targets: []string{"deployment/" + name},
				Replicas: &ReplicaChange{From: c.get(name), To: n}}, nil
		},
		ApplyFunc: func(_ context.Context, call Call) (Result, error) {
			name, _ := RenderArg(call, "name")
			to, _ := RenderArg(call, "replicas")
			n, _ := strconv.ParseInt(to, 10, 64)
			c.mtx.Lock()
			old := c.replicas[name]
			c.replicas[name] = n
			c.mtx.Unlock()
			return Result{Detail: "scaled " + name + " to " + to, Undo: &Call{Op: "scale", Step: call.Step + " undo",
				With: map[string]any{"name": name, "replicas": strconv.FormatInt(old, 10)}}}, nil
		},
	}
}

const scaleRunbook = `
name: scale-up
risk: low
level: 3
match: 'diagnosis.service == "redis"'
params:
  - {name: name, type: k8s_name, from: diagnosis.service}
  - {name: replicas, type: int, min: 1, max: 10, default: "4"}
steps:
  - name: scale
    action: k.scale
    with: {name: "${name}", replicas: "${replicas}"}
verify:
  check: recovered
  timeout: 115s
  interval: 10s
`

func redisSituation(conf float64) *Situation {
	return &Situation{IncidentID: "inc-1", Diagnosis: &Diagnosis{Service: "redis", Component: "memory", Confidence: conf}}
}

// TestFailedVerificationRollsBackAndEscalates runs an automatic scale-up
// whose check never passes: the scale is undone, the person is told why,
// the trail records it and the breaker counts it.
func TestFailedVerificationRollsBackAndEscalates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cl := &scaleCluster{replicas: map[string]int64{"redis": 2}}
		var attempts int
		var amtx sync.Mutex
		s, rec, path := testService(t, mustRunbooks(t, scaleRunbook), map[string]Executor{"k": cl.exec()}, func(o *Options) {
			o.Guard.MaxLevel = LevelAutoHigh
			o.Verifier = VerifierFunc(func(_ context.Context, req VerifyRequest) (VerifyResult, error) {
				amtx.Lock()
				attempts++
				amtx.Unlock()
				return VerifyResult{OK: false, Detail: "evictions still 300/s"}, nil
			})
		})
		ds, err := s.Trigger(context.Background(), redisSituation(0.9))
		if err != nil || len(ds) != 1 || ds[0].Outcome != "executing" {
			t.Fatalf("Trigger = %+v, %v", ds, err)
		}
		s.Wait()
		ex, _ := s.Execution(ds[0].Execution)
		if ex.Status != ExecRolledBack {
			t.Fatalf("status = %s (%s), want rolled_back", ex.Status, ex.Error)
		}
		if got := cl.get("redis"); got != 2 {
			t.Fatalf("replicas = %d after rollback, want 2", got)
		}
		if attempts != 12 { // t=0,10s,...,110s within the 115s deadline
			t.Fatalf("verification attempts = %d, want 12", attempts)
		}
		esc := rec.escalated()
		if len(esc) != 1 || !strings.Contains(esc[0].Reason, "verification failed") || !strings.Contains(esc[0].Reason, "evictions still 300/s") {
			t.Fatalf("escalations = %+v", esc)
		}
		kinds := auditEntries(t, path)
		for _, want := range []string{"execution:started", "execution:ok", "verification:failed", "rollback:ok", "escalation"} {
			if !slices.Contains(kinds, want) {
				t.Fatalf("audit %v lacks %s", kinds, want)
			}
		}
		// A second failure opens the breaker; the third trigger is refused.
		ds, _ = s.Trigger(context.Background(), redisSituation(0.9))
		s.Wait()
		ds, _ = s.Trigger(context.Background(), redisSituation(0.9))
		s.Wait()
		ex, _ = s.Execution(ds[0].Execution)
		if ex.Status != ExecDenied || !strings.Contains(ex.Error, "circuit breaker") {
			t.Fatalf("third run: %s %s, want denied by the breaker", ex.Status, ex.Error)
		}
	})
}

func TestStepErrorRollsBackEarlierSteps(t *testing.T) {
	cl := &scaleCluster{replicas: map[string]int64{"redis": 2}}
	failing := &fakeExec{ApplyFunc: func(context.Context, Call) (Result, error) { return Result{}, errors.New("webhook 500") }}
	rbs := mustRunbooks(t, `
name: two-steps
risk: low
level: 3
match: 'true'
params: [{name: name, type: k8s_name, default: redis}]
steps:
  - {name: scale, action: k.scale, with: {name: "${name}", replicas: "3"}}
  - {name: notify, action: f.call}
`)
	s, rec, path := testService(t, rbs, map[string]Executor{"k": cl.exec(), "f": failing}, func(o *Options) { o.Guard.MaxLevel = LevelAutoHigh })
	ex, err := s.RunSync(context.Background(), "two-steps", redisSituation(1), nil, ModeAuto, "test")
	if err == nil || ex.Status != ExecFailed {
		t.Fatalf("RunSync = %s, %v; want failed", ex.Status, err)
	}
	if cl.get("redis") != 2 {
		t.Fatalf("replicas = %d, want rolled back to 2", cl.get("redis"))
	}
	if len(rec.escalated()) != 1 || !strings.Contains(rec.escalated()[0].Reason, "webhook 500") {
		t.Fatalf("escalations = %+v", rec.escalated())
	}
	if !slices.Contains(auditEntries(t, path), "rollback:ok") {
		t.Fatalf("no rollback audited: %v", auditEntries(t, path))
	}
}

// TestKillSwitchStopsService engages the kill switch while one execution is
// inside a slow step and another is queued behind it.
func TestKillSwitchStopsService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		started := make(chan struct{}, 4)
		slow := &fakeExec{ApplyFunc: func(ctx context.Context, c Call) (Result, error) {
			started <- struct{}{}
			select {
			case <-ctx.Done():
				return Result{}, context.Cause(ctx)
			case <-time.After(time.Hour):
				return Result{Detail: "finished"}, nil
			}
		}}
		rbs := mustRunbooks(t, `
name: slow
risk: low
level: 3
match: 'true'
params: [{name: name, type: k8s_name, from: diagnosis.service}]
steps: [{name: s, action: f.do, with: {name: "${name}"}}]
`)
		s, rec, path := testService(t, rbs, map[string]Executor{"f": slow}, func(o *Options) {
			o.Guard.MaxLevel = LevelAutoHigh
			o.Guard.MaxConcurrent = 1
		})
		d1, _ := s.Trigger(context.Background(), &Situation{IncidentID: "i1", Diagnosis: &Diagnosis{Service: "a", Confidence: 1}})
		<-started
		d2, _ := s.Trigger(context.Background(), &Situation{IncidentID: "i2", Diagnosis: &Diagnosis{Service: "b", Confidence: 1}})
		synctest.Wait()
		begin := time.Now()
		s.EngageKillSwitch(context.Background(), "oncall", "stop everything")
		s.Wait()
		if d := time.Since(begin); d >= time.Second {
			t.Fatalf("executions ended %v after the kill switch", d)
		}
		e1, _ := s.Execution(d1[0].Execution)
		e2, _ := s.Execution(d2[0].Execution)
		if e1.Status != ExecKilled {
			t.Fatalf("in-flight: %s (%s), want killed", e1.Status, e1.Error)
		}
		if e2.Status != ExecDenied || !strings.Contains(e2.Error, "kill switch") {
			t.Fatalf("queued: %s (%s), want denied by the kill switch", e2.Status, e2.Error)
		}
		if len(slow.applies()) != 1 {
			t.Fatalf("%d applies, want only the in-flight one", len(slow.applies()))
		}
		if len(rec.escalated()) == 0 {
			t.Fatal("killed execution not escalated")
		}
		if !slices.Contains(auditEntries(t, path), "killswitch:engaged") {
			t.Fatal("kill switch not audited")
		}
		// New triggers are refused until release.
		d3, _ := s.Trigger(context.Background(), &Situation{IncidentID: "i3", Diagnosis: &Diagnosis{Service: "c", Confidence: 1}})
		s.Wait()
		if e3, _ := s.Execution(d3[0].Execution); e3.Status != ExecDenied {
			t.Fatalf("after engage: %s", e3.Status)
		}
	})
}

// TestLevel3NeverRunsHighRisk triggers a level-3 runbook with a high-risk
// step: it is never executed automatically, only put up for approval.
func TestLevel3NeverRunsHighRisk(t *testing.T) {
	ex := &fakeExec{}
	rbs := mustRunbooks(t, `
name: mixed
risk: low
level: 3
match: 'true'
steps:
  - {name: safe, action: f.do}
  - {name: drop-cache, action: f.do, risk: high}
`)
	s, _, _ := testService(t, rbs, map[string]Executor{"f": ex}, func(o *Options) { o.Guard.MaxLevel = LevelAutoHigh })
	for i := 0; i < 5; i++ {
		ds, err := s.Trigger(context.Background(), &Situation{IncidentID: "inc", Diagnosis: &Diagnosis{Confidence: 1}})
		if err != nil || len(ds) != 1 {
			t.Fatal(ds, err)
		}
		if ds[0].Outcome != "approval_requested" && ds[0].Outcome != "already_pending" {
			t.Fatalf("outcome %s, want an approval request", ds[0].Outcome)
		}
	}
	if _, err := s.RunSync(context.Background(), "mixed", &Situation{Diagnosis: &Diagnosis{Confidence: 1}}, nil, ModeAuto, "x"); !errors.Is(err, nil) && !strings.Contains(err.Error(), "denied") {
		t.Fatalf("RunSync auto: %v", err)
	}
	s.Wait()
	if n := len(ex.applies()); n != 0 {
		t.Fatalf("%d steps applied automatically, want 0", n)
	}
}

func TestApprovals(t *testing.T) {
	now := t0
	var nmtx sync.Mutex
	clock := func() time.Time { nmtx.Lock(); defer nmtx.Unlock(); return now }
	advance := func(d time.Duration) { nmtx.Lock(); now = now.Add(d); nmtx.Unlock() }
	ex := &fakeExec{}
	rbs := mustRunbooks(t, `
name: risky
risk: high
level: 2
match: 'any(alerts, .labels.alertname == "X")'
params: [{name: node, type: k8s_name, default: node-1}]
steps: [{name: s, action: f.do, with: {name: "${node}"}}]
`)
	s, rec, path := testService(t, rbs, map[string]Executor{"f": ex}, func(o *Options) {
		o.Now = clock
		o.ApprovalTTL = 30 * time.Minute
	})
	a, err := s.RequestApproval(context.Background(), "risky", map[string]string{"node": "node-7"}, "inc-9", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Approve(context.Background(), a.ID, "alice", ""); !errors.Is(err, ErrSelfApproval) {
		t.Fatalf("self approval: %v, want ErrSelfApproval", err)
	}
	if _, err := s.Approve(context.Background(), a.ID, "", ""); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("anonymous approval: %v", err)
	}
	if _, err := s.Approve(context.Background(), "nope", "bob", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	got, err := s.Approve(context.Background(), a.ID, "bob", "looks right")
	if err != nil || got.Status != ApprovalApproved || got.Execution == "" {
		t.Fatalf("Approve = %+v, %v", got, err)
	}
	s.Wait()
	if e, _ := s.Execution(got.Execution); e.Status != ExecSucceeded || len(ex.applies()) != 1 {
		t.Fatalf("execution %s, %d applies", e.Status, len(ex.applies()))
	}
	if _, err := s.Approve(context.Background(), a.ID, "carol", ""); !errors.Is(err, ErrNotPending) {
		t.Fatalf("second approve: %v", err)
	}
	// Expiry.
	b, _ := s.RequestApproval(context.Background(), "risky", map[string]string{"node": "node-8"}, "inc-9", "alice")
	advance(31 * time.Minute)
	if _, err := s.Approve(context.Background(), b.ID, "bob", ""); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired approve: %v, want ErrExpired", err)
	}
	// Reject.
	c, _ := s.RequestApproval(context.Background(), "risky", nil, "", "alice")
	if r, err := s.Reject(context.Background(), c.ID, "alice", "not now"); err != nil || r.Status != ApprovalRejected {
		t.Fatalf("reject: %+v %v", r, err)
	}
	// Bad parameters never make a request.
	if _, err := s.RequestApproval(context.Background(), "risky", map[string]string{"node": "x; rm -rf /"}, "", "alice"); !errors.Is(err, ErrInvalidParam) {
		t.Fatalf("bad param: %v", err)
	}
	if _, err := s.RequestApproval(context.Background(), "risky", map[string]string{"other": "x"}, "", "alice"); !errors.Is(err, ErrInvalidParam) {
		t.Fatalf("unknown param: %v", err)
	}
	// Triggers notify and deduplicate.
	sit := &Situation{IncidentID: "inc-2", Alerts: []telemetry.Alert{{Labels: telemetry.LabelsFromMap(map[string]string{"alertname": "X"})}}}
	d1, _ := s.Trigger(context.Background(), sit)
	d2, _ := s.Trigger(context.Background(), sit)
	if d1[0].Outcome != "approval_requested" || d2[0].Outcome != "already_pending" || d1[0].Approval != d2[0].Approval {
		t.Fatalf("decisions %+v %+v", d1, d2)
	}
	if pend := s.Approvals(context.Background(), ApprovalPending); len(pend) != 1 || pend[0].RequestedBy != SystemActor {
		t.Fatalf("pending = %+v", pend)
	}
	rec.mtx.Lock()
	nn := len(rec.notices)
	rec.mtx.Unlock()
	if nn < 4 {
		t.Fatalf("%d notices, want one per request", nn)
	}
	kinds := auditEntries(t, path)
	for _, want := range []string{"approval_requested", "approved", "expired", "rejected", "execution:ok"} {
		if !slices.Contains(kinds, want) {
			t.Fatalf("audit %v lacks %s", kinds, want)
		}
	}
}

func TestDryRunByDefault(t *testing.T) {
	ex := &fakeExec{}
	rbs := mustRunbooks(t, `
name: r
risk: low
level: 2
match: 'true'
steps: [{name: s, action: f.do}]
`)
	s, _, path := testService(t, rbs, map[string]Executor{"f": ex}, func(o *Options) { o.Guard = DefaultGuardOptions() })
	a, err := s.RequestApproval(context.Background(), "r", nil, "", "alice")
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Approve(context.Background(), a.ID, "bob", "")
	if err != nil {
		t.Fatal(err)
	}
	s.Wait()
	e, _ := s.Execution(got.Execution)
	if e.Status != ExecDryRun || len(ex.applies()) != 0 {
		t.Fatalf("status %s with %d applies; want a dry run", e.Status, len(ex.applies()))
	}
	if !slices.Contains(auditEntries(t, path), "execution:dry_run") {
		t.Fatal("dry run not audited")
	}
}

func TestRemediateLoop(t *testing.T) {
	cl := &scaleCluster{replicas: map[string]int64{"redis": 2}}
	rbs := mustRunbooks(t, scaleRunbook+`---
name: scale-more
risk: low
level: 3
match: 'diagnosis.service == "redis"'
params: [{name: name, type: k8s_name, from: diagnosis.service}]
steps: [{name: scale, action: k.scale, with: {name: "${name}", replicas: "4"}}]
verify: {check: recovered, timeout: 1s, interval: 100ms}
`)
	s, rec, _ := testService(t, rbs, map[string]Executor{"k": cl.exec()}, func(o *Options) {
		o.Guard.MaxLevel = LevelAutoHigh
		o.Verifier = VerifierFunc(func(_ context.Context, r VerifyRequest) (VerifyResult, error) {
			// Only the second runbook's result works.
			return VerifyResult{OK: r.Runbook == "scale-up" && cl.get("redis") == 4, Detail: "checked"}, nil
		})
	})
	obs := ObserveFunc(func(context.Context, string) (*Situation, error) { return redisSituation(0.9), nil })
	hyp := HypothesiseFunc(func(context.Context, *Situation) ([]Hypothesis, error) {
		return []Hypothesis{
			{Runbook: "scale-more", Confidence: 0.9, Reason: "memory pressure"},
			{Runbook: "scale-up", Params: map[string]string{"replicas": "4"}, Confidence: 0.8, Reason: "more replicas"},
		}, nil
	})
	res, err := s.Remediate(context.Background(), "inc-1", obs, hyp, 3)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != "resolved" || res.Rounds != 2 || len(res.Executions) != 2 {
		t.Fatalf("loop = %+v", res)
	}
	if res.Executions[0].Status != ExecRolledBack || res.Executions[1].Status != ExecSucceeded {
		t.Fatalf("executions %s, %s", res.Executions[0].Status, res.Executions[1].Status)
	}
	rec.mtx.Lock()
	n := len(rec.timeline)
	rec.mtx.Unlock()
	if n < 6 {
		t.Fatalf("%d timeline entries; every step should be recorded", n)
	}
}
