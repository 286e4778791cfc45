package act

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilops/vigil/act/audit"
	"github.com/vigilops/vigil/incident"
)

// fakeExec is a hand-written Executor: each method calls its Func field
// when set, and counts applies.
type fakeExec struct {
	CheckFunc func(op string, with map[string]any) error
	PlanFunc  func(ctx context.Context, c Call) (Plan, error)
	ApplyFunc func(ctx context.Context, c Call) (Result, error)

	mtx     sync.Mutex
	applied []Call
}

func (f *fakeExec) Check(op string, with map[string]any) error {
	if f.CheckFunc != nil {
		return f.CheckFunc(op, with)
	}
	return nil
}

func (f *fakeExec) Plan(ctx context.Context, c Call) (Plan, error) {
	if f.PlanFunc != nil {
		return f.PlanFunc(ctx, c)
	}
	name, _ := Render(strOr(c.With["name"], c.Step), c.Values)
	return Plan{Summary: c.Op + " " + name, Targets: []string{"obj/" + name}}, nil
}

func (f *fakeExec) Apply(ctx context.Context, c Call) (Result, error) {
	f.mtx.Lock()
	f.applied = append(f.applied, c)
	f.mtx.Unlock()
	if f.ApplyFunc != nil {
		return f.ApplyFunc(ctx, c)
	}
	return Result{Detail: "did " + c.Op}, nil
}

func (f *fakeExec) applies() []Call {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	return append([]Call(nil), f.applied...)
}

func strOr(v any, def string) string {
	if s, ok := v.(string); ok {
		return s
	}
	return def
}

// mustRunbooks parses YAML runbooks for tests.
func mustRunbooks(t testing.TB, src string) []*Runbook {
	t.Helper()
	rbs, err := ParseRunbooks(strings.NewReader(src), "test.yaml", nil)
	if err != nil {
		t.Fatalf("parse runbooks: %v", err)
	}
	return rbs
}

// recorder collects what the consumers receive.
type recorder struct {
	mtx         sync.Mutex
	escalations []Escalation
	notices     []Notice
	timeline    []incident.Entry
}

func (r *recorder) escalator() Escalator {
	return EscalateFunc(func(_ context.Context, e Escalation) error {
		r.mtx.Lock()
		defer r.mtx.Unlock()
		r.escalations = append(r.escalations, e)
		return nil
	})
}

func (r *recorder) notifier() Notifier {
	return NotifyFunc(func(_ context.Context, n Notice) error {
		r.mtx.Lock()
		defer r.mtx.Unlock()
		r.notices = append(r.notices, n)
		return nil
	})
}

func (r *recorder) tl() Timeline {
	return TimelineFunc(func(_ context.Context, _ string, e incident.Entry) error {
		r.mtx.Lock()
		defer r.mtx.Unlock()
		r.timeline = append(r.timeline, e)
		return nil
	})
}

func (r *recorder) escalated() []Escalation {
	r.mtx.Lock()
	defer r.mtx.Unlock()
	return append([]Escalation(nil), r.escalations...)
}

// testService builds a Service with a real audit log in a temp dir, the
// recorder's consumers, and the given runbooks and executors. mod edits the
// options before New.
func testService(t testing.TB, rbs []*Runbook, execs map[string]Executor, mod func(*Options)) (*Service, *recorder, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	lg, err := audit.Open(path, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lg.Close() })
	rec := &recorder{}
	o := DefaultOptions()
	o.Logger = discard()
	o.Runbooks, o.Executors, o.Audit, o.AuditVerify = rbs, execs, lg, lg.Verify
	o.Escalator, o.Notifier, o.Timeline = rec.escalator(), rec.notifier(), rec.tl()
	o.Guard.DryRun = false
	o.Registerer = nil
	o.VerifyTimeout, o.VerifyInterval = 2*time.Second, 100*time.Millisecond
	if mod != nil {
		mod(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	return s, rec, path
}

// auditKinds reads the audit log and returns its entries' kinds/outcomes.
func auditEntries(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		i := strings.Index(line, `"kind":"`)
		j := strings.Index(line[i+8:], `"`)
		kind := line[i+8 : i+8+j]
		if k := strings.Index(line, `"outcome":"`); k >= 0 {
			e := strings.Index(line[k+11:], `"`)
			kind += ":" + line[k+11:k+11+e]
		}
		out = append(out, kind)
	}
	return out
}
