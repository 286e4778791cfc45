package act_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/vigilops/vigil/act"
	"github.com/vigilops/vigil/act/audit"
	"github.com/vigilops/vigil/act/kube"
	"github.com/vigilops/vigil/api"
	"github.com/vigilops/vigil/incident"
	"github.com/vigilops/vigil/sim"
	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// tokens is a hand-written store.TokenStore holding fixed tokens.
type tokens struct{ byHash map[string]store.Token }

func newTokens(ts ...store.Token) *tokens {
	m := &tokens{byHash: map[string]store.Token{}}
	for _, t := range ts {
		h := sha256.Sum256([]byte("secret-" + t.Name))
		t.Hash = h[:]
		m.byHash[string(h[:])] = t
	}
	return m
}

func (t *tokens) CreateToken(context.Context, store.Token) error { return nil }
func (t *tokens) TokenByHash(_ context.Context, h []byte) (store.Token, error) {
	tok, ok := t.byHash[string(h)]
	if !ok {
		return store.Token{}, store.ErrNotFound
	}
	return tok, nil
}
func (t *tokens) Tokens(context.Context) ([]store.Token, error)       { return nil, nil }
func (t *tokens) DeleteToken(context.Context, string) error           { return nil }
func (t *tokens) TouchToken(context.Context, string, time.Time) error { return nil }

type client struct {
	t    *testing.T
	base string
}

func (c client) do(method, path, who string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if who != "" {
		req.Header.Set("Authorization", "Bearer secret-"+who)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// redisAlerts runs the simulator's redis-memory scenario until
// RedisMemoryHigh fires and returns the alerts seen then.
func redisAlerts(t *testing.T) []telemetry.Alert {
	o := sim.DefaultOptions()
	o.LogScale = 0
	o.Faults = []sim.Fault{{Scenario: sim.ScenarioRedisMemory, Onset: o.Start.Add(30 * time.Minute)}}
	s, err := sim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	for now := o.Start.Add(10 * time.Minute); now.Before(o.Start.Add(3 * time.Hour)); now = now.Add(10 * time.Minute) {
		b := s.Advance(now)
		for _, a := range b.Alerts {
			if a.Labels.Get("alertname") == "RedisMemoryHigh" {
				return b.Alerts
			}
		}
	}
	t.Fatal("the redis-memory scenario never fired RedisMemoryHigh")
	return nil
}

// TestRedisScaleUpApprovedEndToEnd is the demo flow: the redis scenario's
// alert matches the runbook, Vigil requests approval, another operator
// approves through the API, the scale-up runs against a fake cluster, is
// verified, and the audit trail verifies.
func TestRedisScaleUpApprovedEndToEnd(t *testing.T) {
	alerts := redisAlerts(t)

	cluster := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{kube.DeploymentsGVR: "DeploymentList", kube.ReplicaSetsGVR: "ReplicaSetList"},
		&unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "redis", "namespace": "shop"},
			"spec":     map[string]any{"replicas": int64(1)},
		}})
	replicas := func() int64 {
		d, err := cluster.Resource(kube.DeploymentsGVR).Namespace("shop").Get(context.Background(), "redis", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
		return n
	}
	kx, err := kube.New(kube.Options{Client: cluster, Namespaces: []string{"shop"}})
	if err != nil {
		t.Fatal(err)
	}
	execs := map[string]act.Executor{"kube": kx}
	rbs, err := act.LoadFile(filepath.Join("testdata", "runbooks", "redis-memory.yaml"), execs)
	if err != nil {
		t.Fatal(err)
	}

	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	lg, err := audit.Open(auditPath, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()

	var mtx sync.Mutex
	var notices []act.Notice
	var timeline []incident.Entry
	var verifyReqs []act.VerifyRequest
	o := act.DefaultOptions()
	o.Runbooks, o.Executors, o.Audit, o.AuditVerify = rbs, execs, lg, lg.Verify
	o.Guard.DryRun = false // a live install; new installs default to dry run
	o.Logger = slog.New(slog.DiscardHandler)
	o.Registerer = nil
	o.Notifier = act.NotifyFunc(func(_ context.Context, n act.Notice) error {
		mtx.Lock()
		defer mtx.Unlock()
		notices = append(notices, n)
		return nil
	})
	o.Timeline = act.TimelineFunc(func(_ context.Context, id string, e incident.Entry) error {
		mtx.Lock()
		defer mtx.Unlock()
		if id != "inc-redis" {
			t.Errorf("timeline for %q", id)
		}
		timeline = append(timeline, e)
		return nil
	})
	// The check: the alert is gone once redis has the replicas asked for.
	o.Verifier = act.VerifierFunc(func(_ context.Context, r act.VerifyRequest) (act.VerifyResult, error) {
		mtx.Lock()
		verifyReqs = append(verifyReqs, r)
		mtx.Unlock()
		if r.Check == "alert_resolved" && r.With["alertname"] == "RedisMemoryHigh" && replicas() >= 2 {
			return act.VerifyResult{OK: true, Detail: "RedisMemoryHigh resolved"}, nil
		}
		return act.VerifyResult{Detail: "RedisMemoryHigh still firing"}, nil
	})
	svc, err := act.New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop(context.Background())

	srv, err := api.New(api.Options{Tokens: newTokens(
		store.Token{ID: "1", Name: "alice", Role: store.RoleOperator},
		store.Token{ID: "2", Name: "bob", Role: store.RoleOperator},
		store.Token{ID: "3", Name: "root", Role: store.RoleAdmin},
		store.Token{ID: "4", Name: "val", Role: store.RoleViewer},
	)})
	if err != nil {
		t.Fatal(err)
	}
	svc.Register(srv)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	c := client{t, hs.URL}

	// 1. The pipeline hands over the incident: the runbook matches and,
	// at level 2, becomes an approval request.
	ds, err := svc.Trigger(context.Background(), &act.Situation{IncidentID: "inc-redis", Alerts: alerts,
		Diagnosis: &act.Diagnosis{Service: "redis", Component: "memory", Metric: "redis_memory_used_bytes", Confidence: 0.8}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Runbook != "redis-memory-scale-up" || ds[0].Outcome != "approval_requested" {
		t.Fatalf("decisions = %+v", ds)
	}
	if ds[0].Params["deployment"] != "redis" || ds[0].Params["replicas"] != "2" || ds[0].Params["namespace"] != "shop" {
		t.Fatalf("params = %v", ds[0].Params)
	}
	if replicas() != 1 {
		t.Fatal("acted before approval")
	}

	// 2. Visible through the API, and sent through notify.
	st, body := c.do("GET", "/api/v1/approvals?status=pending", "val", nil)
	list, _ := body["approvals"].([]any)
	if st != 200 || len(list) != 1 {
		t.Fatalf("GET approvals = %d %v", st, body)
	}
	id := list[0].(map[string]any)["id"].(string)
	mtx.Lock()
	if len(notices) != 1 || notices[0].Kind != "approval_requested" || notices[0].Approval.ID != id {
		t.Fatalf("notices = %+v", notices)
	}
	mtx.Unlock()

	// 3. A viewer cannot approve; an operator can.
	if st, _ := c.do("POST", "/api/v1/approvals/"+id+"/approve", "val", nil); st != 403 {
		t.Fatalf("viewer approve = %d, want 403", st)
	}
	st, body = c.do("POST", "/api/v1/approvals/"+id+"/approve", "bob", map[string]string{"comment": "evictions confirmed"})
	if st != 200 || body["status"] != "approved" || body["decided_by"] != "bob" {
		t.Fatalf("approve = %d %v", st, body)
	}
	svc.Wait()

	// 4. Executed against the cluster and verified.
	if replicas() != 2 {
		t.Fatalf("replicas = %d, want 2", replicas())
	}
	st, body = c.do("GET", "/api/v1/executions", "val", nil)
	exs, _ := body["executions"].([]any)
	if st != 200 || len(exs) != 1 || exs[0].(map[string]any)["status"] != "succeeded" {
		t.Fatalf("executions = %d %v", st, body)
	}
	mtx.Lock()
	if len(verifyReqs) == 0 || verifyReqs[0].With["service"] != "redis" {
		t.Fatalf("verify requests = %+v", verifyReqs)
	}
	if len(timeline) < 4 {
		t.Fatalf("timeline = %+v", timeline)
	}
	mtx.Unlock()

	// 5. The audit trail holds every step and verifies, through the API too.
	b, _ := os.ReadFile(auditPath)
	for _, want := range []string{`"kind":"approval_requested"`, `"kind":"approved","actor":"bob"`, `"kind":"execution"`, `"kind":"verification"`} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("audit lacks %s:\n%s", want, b)
		}
	}
	st, body = c.do("GET", "/api/v1/audit/verify", "val", nil)
	if st != 200 || body["ok"] != true {
		t.Fatalf("audit verify = %d %v", st, body)
	}
	if rep, err := audit.Verify(bytes.NewReader(b)); err != nil || rep.Entries < 5 {
		t.Fatalf("audit.Verify = %+v, %v", rep, err)
	}

	// 6. The kill switch: operators may read it, only admins change it.
	if st, _ := c.do("POST", "/api/v1/killswitch", "bob", map[string]any{"engaged": true}); st != 403 {
		t.Fatalf("operator kill switch = %d, want 403", st)
	}
	st, body = c.do("POST", "/api/v1/killswitch", "root", map[string]any{"engaged": true, "reason": "game day"})
	if st != 200 || body["engaged"] != true || body["by"] != "root" {
		t.Fatalf("engage = %d %v", st, body)
	}
	// A new request approved while engaged does not run.
	st, body = c.do("POST", "/api/v1/runbooks/redis-memory-scale-up/request", "alice", map[string]any{"params": map[string]string{"replicas": "3"}})
	if st != 201 {
		t.Fatalf("request = %d %v", st, body)
	}
	id2 := body["id"].(string)
	if st, _ := c.do("POST", "/api/v1/approvals/"+id2+"/approve", "bob", nil); st != 200 {
		t.Fatalf("approve while engaged = %d", st)
	}
	svc.Wait()
	if replicas() != 2 {
		t.Fatalf("replicas = %d: executed while the kill switch was engaged", replicas())
	}
	st, body = c.do("GET", "/api/v1/killswitch", "val", nil)
	if st != 200 || body["engaged"] != true {
		t.Fatalf("GET killswitch = %d %v", st, body)
	}
	if st, body := c.do("POST", "/api/v1/killswitch", "root", map[string]any{"engaged": false}); st != 200 || body["engaged"] != false {
		t.Fatalf("release = %d %v", st, body)
	}
	// Bad input is refused with a clear error.
	if st, body := c.do("POST", "/api/v1/runbooks/redis-memory-scale-up/request", "alice", map[string]any{"params": map[string]string{"deployment": "redis; rm -rf /"}}); st != 400 {
		t.Fatalf("hostile param = %d %v", st, body)
	}
	if st, _ := c.do("POST", "/api/v1/approvals/nope/approve", "bob", nil); st != 404 {
		t.Fatalf("unknown approval = %d", st)
	}
	if st, _ := c.do("GET", "/api/v1/runbooks", "val", nil); st != 200 {
		t.Fatalf("runbooks = %d", st)
	}
}
