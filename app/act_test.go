package app

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
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

	"github.com/vigilops/vigil/act"
	"github.com/vigilops/vigil/act/audit"
	"github.com/vigilops/vigil/act/kube"
	"github.com/vigilops/vigil/api"
	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/correlate"
	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/diagnose"
	"github.com/vigilops/vigil/incident"
	"github.com/vigilops/vigil/sim"
	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// actTokens is a token store holding fixed tokens; the secret of each is
// its name.
type actTokens struct {
	store.TokenStore
	byHash map[[sha256.Size]byte]store.Token
}

func newActTokens(ts ...store.Token) *actTokens {
	s := &actTokens{byHash: map[[sha256.Size]byte]store.Token{}}
	for _, t := range ts {
		h := sha256.Sum256([]byte(t.Name))
		t.Hash = h[:]
		s.byHash[h] = t
	}
	return s
}

func (s *actTokens) TokenByHash(_ context.Context, h []byte) (store.Token, error) {
	var k [sha256.Size]byte
	copy(k[:], h)
	if t, ok := s.byHash[k]; ok {
		return t, nil
	}
	return store.Token{}, store.ErrNotFound
}

func (s *actTokens) TouchToken(context.Context, string, time.Time) error { return nil }

// timelineRecorder is a fake correlator timeline.
type timelineRecorder struct {
	mtx     sync.Mutex
	entries map[string][]incident.Entry
}

func (r *timelineRecorder) AddEntry(_ context.Context, id string, e incident.Entry, _ correlate.ChangeKind) (incident.Incident, error) {
	r.mtx.Lock()
	defer r.mtx.Unlock()
	if r.entries == nil {
		r.entries = map[string][]incident.Entry{}
	}
	r.entries[id] = append(r.entries[id], e)
	return incident.Incident{ID: id}, nil
}

func (r *timelineRecorder) texts(id string) string {
	r.mtx.Lock()
	defer r.mtx.Unlock()
	var b strings.Builder
	for _, e := range r.entries[id] {
		fmt.Fprintf(&b, "[%s] %s\n", e.Kind, e.Text)
	}
	return b.String()
}

func testTopology(t *testing.T) sim.Topology {
	t.Helper()
	s, err := sim.New(sim.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return s.Topology()
}

func redisIncident(at time.Time) incident.Incident {
	return incident.Incident{
		ID: "inc-redis", Title: "RedisMemoryHigh on redis", Status: incident.StatusOpen, Severity: incident.SeverityWarning,
		Services: []string{"catalog", "redis"}, OpenedAt: at, UpdatedAt: at.Add(3 * time.Minute),
	}
}

func redisDiagnosis(at time.Time, conf float64) *diagnose.Diagnosis {
	return &diagnose.Diagnosis{At: at, Candidates: []diagnose.Candidate{{
		Service: "redis", Confidence: conf, Reason: "redis memory rose first",
		Evidence: []diagnose.Evidence{
			{Kind: diagnose.EvidenceLog, Service: "redis", Series: "OOM command not allowed", Score: 9},
			{Kind: diagnose.EvidenceMetric, Service: "redis", Series: "redis_memory_used_bytes", MetricKind: diagnose.KindMemory, Score: 7},
			{Kind: diagnose.EvidenceMetric, Service: "redis", Series: "redis_evicted_keys_total", MetricKind: diagnose.KindOther, Score: 3},
		},
	}}, NextStep: "check redis memory"}
}

func replicasOf(t *testing.T, st *actStage, name string) int64 {
	t.Helper()
	d, err := st.cluster.Resource(kube.DeploymentsGVR).Namespace(demoNamespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
	return n
}

// TestActDemoRedisFlow is the demo's remediation flow: a diagnosis naming
// redis matches the built-in runbook, an approval request appears in the
// API, an operator approves it, the scale-up runs against the demo's fake
// cluster (redis 1 → 2 replicas), verification passes once the alert stops
// firing, and the audit chain verifies.
func TestActDemoRedisFlow(t *testing.T) {
	topo := testTopology(t)
	dataDir := t.TempDir()
	tl := &timelineRecorder{}
	var st *actStage
	// RedisMemoryHigh fires until redis has two replicas: the fake
	// cluster stands in for the world getting better.
	firing := func(_ context.Context, service, alertname string) (bool, error) {
		if service != "redis" || alertname != "RedisMemoryHigh" {
			return false, fmt.Errorf("unexpected lookup %s/%s", service, alertname)
		}
		return replicasOf(t, st, "redis") < 2, nil
	}
	var mtx sync.Mutex
	var notices []act.Notice
	cfg := actDefaultsForTest()
	st, err := newActStage(context.Background(), actDeps{
		Config: cfg, DataDir: dataDir, AddEntry: tl.AddEntry, Demo: true, Firing: firing,
		Notify: func(_ context.Context, n act.Notice) error {
			mtx.Lock()
			defer mtx.Unlock()
			notices = append(notices, n)
			return nil
		},
		Alerts: func(context.Context, []string) []telemetry.Alert { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = st.Stop(context.Background())
		}
	}()
	// The demo cluster holds every simulated service of ours at one replica.
	for _, svc := range topo.Services {
		if !svc.External {
			if got := replicasOf(t, st, svc.Name); got != 1 {
				t.Fatalf("demo cluster: %s has %d replicas, want 1", svc.Name, got)
			}
		}
	}

	srv, err := api.New(api.Options{Tokens: newActTokens(
		store.Token{ID: "1", Name: "alice", Role: store.RoleOperator},
		store.Token{ID: "2", Name: "val", Role: store.RoleViewer},
	)})
	if err != nil {
		t.Fatal(err)
	}
	st.Register(srv)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	call := func(method, path, token string) (int, []byte) {
		t.Helper()
		return send(t, method, hs.URL+path, "{}", token)
	}

	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	st.OnDiagnosis(context.Background(), redisIncident(at), redisDiagnosis(at, 0.8))

	code, body := call("GET", "/api/v1/approvals?status=pending", "val")
	if code != http.StatusOK {
		t.Fatalf("approvals: %d %s", code, body)
	}
	var list struct {
		Approvals []act.Approval `json:"approvals"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("approvals body %s: %v", body, err)
	}
	if len(list.Approvals) != 1 {
		t.Fatalf("want one pending approval, got %s", body)
	}
	ap := list.Approvals[0]
	if ap.Runbook != "redis-scale-up" || ap.IncidentID != "inc-redis" || ap.Params["deployment"] != "redis" || ap.Params["replicas"] != "2" {
		t.Fatalf("approval: %+v", ap)
	}
	if got := replicasOf(t, st, "redis"); got != 1 {
		t.Fatalf("scaled before approval: %d replicas", got)
	}
	mtx.Lock()
	if len(notices) == 0 || notices[0].Kind != "approval_requested" {
		t.Errorf("notices: %+v", notices)
	}
	mtx.Unlock()

	if code, body := call("POST", "/api/v1/approvals/"+ap.ID+"/approve", "val"); code != http.StatusForbidden {
		t.Fatalf("a viewer approved: %d %s", code, body)
	}
	if code, body := call("POST", "/api/v1/approvals/"+ap.ID+"/approve", "alice"); code != http.StatusOK {
		t.Fatalf("approve: %d %s", code, body)
	}
	st.svc.Wait()
	if got := replicasOf(t, st, "redis"); got != 2 {
		t.Fatalf("redis replicas after approval = %d, want 2", got)
	}
	exs := st.svc.Executions()
	if len(exs) != 1 || exs[0].Status != act.ExecSucceeded || exs[0].Mode != act.ModeApproved {
		t.Fatalf("executions: %+v", exs)
	}
	if tx := tl.texts("inc-redis"); !strings.Contains(tx, "verified alert_resolved") {
		t.Errorf("timeline lacks the verification:\n%s", tx)
	}

	code, body = call("GET", "/api/v1/audit/verify", "val")
	if code != http.StatusOK {
		t.Fatalf("audit verify: %d %s", code, body)
	}
	stopped = true
	if err := st.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(filepath.Join(dataDir, audit.DefaultFileName))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	rep, err := audit.Verify(fh)
	if err != nil {
		t.Fatalf("audit chain: %v", err)
	}
	if rep.Entries < 4 { // approval requested, approved, execution, verification
		t.Fatalf("audit has %d entries", rep.Entries)
	}
}

func actDefaultsForTest() config.Act {
	// The defaults as config.Default gives them (config's default function
	// is unexported), restated.
	return config.Act{
		DryRun: true, MaxLevel: 2, MinConfidence: 0.6, HighConfidence: 0.9, PerRunbookPerHour: 3, GlobalPerHour: 10,
		MaxTargets: 5, MaxReplicaChangePercent: 100, ApprovalTTL: config.Duration(time.Hour), VerifyTimeout: config.Duration(5 * time.Minute),
	}
}

// TestActSituation: the situation runbooks see carries the top candidate,
// its strongest metric evidence as the component, and only the anomalies of
// the incident's services.
func TestActSituation(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	st := &actStage{d: actDeps{
		Anomalies: func(from, to time.Time) []detect.Anomaly {
			if !from.Equal(at.Add(-actSituationLookback)) || !to.Equal(at.Add(3*time.Minute)) {
				t.Errorf("anomaly window %s..%s", from, to)
			}
			return []detect.Anomaly{{Service: "redis", Type: detect.Type("error_burst")}, {Service: "payments"}}
		},
	}}
	sit := st.situation(context.Background(), redisIncident(at), redisDiagnosis(at, 0.7))
	if sit.Diagnosis == nil || sit.Diagnosis.Service != "redis" || sit.Diagnosis.Component != "memory" ||
		sit.Diagnosis.Metric != "redis_memory_used_bytes" || sit.Diagnosis.Confidence != 0.7 {
		t.Fatalf("diagnosis: %+v", sit.Diagnosis)
	}
	if len(sit.Anomalies) != 1 || sit.Anomalies[0].Service != "redis" || sit.IncidentID != "inc-redis" || sit.RequestedBy != act.SystemActor {
		t.Fatalf("situation: %+v", sit)
	}
	if sit := st.situation(context.Background(), redisIncident(at), &diagnose.Diagnosis{}); sit.Diagnosis != nil {
		t.Fatalf("no candidate, yet a diagnosis: %+v", sit.Diagnosis)
	}
}

// TestActVerify covers the verification checks table-wise.
func TestActVerify(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	anoms := []detect.Anomaly{{Service: "redis", Type: "error_burst", Start: now.Add(-time.Minute), End: now}}
	tests := []struct {
		name   string
		deps   actDeps
		req    act.VerifyRequest
		ok     bool
		err    bool
		detail string
	}{
		{"alert still firing", actDeps{Firing: func(context.Context, string, string) (bool, error) { return true, nil }},
			act.VerifyRequest{Check: checkAlertResolved, With: map[string]any{"alertname": "A", "service": "redis"}}, false, false, "A still firing for redis"},
		{"alert resolved", actDeps{Firing: func(context.Context, string, string) (bool, error) { return false, nil }},
			act.VerifyRequest{Check: checkAlertResolved, With: map[string]any{"alertname": "A", "service": "redis"}}, true, false, "A no longer firing"},
		{"alert lookup fails", actDeps{Firing: func(context.Context, string, string) (bool, error) { return false, fmt.Errorf("boom") }},
			act.VerifyRequest{Check: checkAlertResolved}, false, true, ""},
		{"no alert lookup", actDeps{}, act.VerifyRequest{Check: checkAlertResolved}, false, false, "no alert lookup"},
		{"anomaly present", actDeps{Anomalies: func(time.Time, time.Time) []detect.Anomaly { return anoms }},
			act.VerifyRequest{Check: checkAnomalyGone, With: map[string]any{"service": "redis"}, Now: now}, false, false, "1 anomalies of redis"},
		{"anomaly of another type", actDeps{Anomalies: func(time.Time, time.Time) []detect.Anomaly { return anoms }},
			act.VerifyRequest{Check: checkAnomalyGone, With: map[string]any{"service": "redis", "type": "new_template"}, Now: now}, true, false, "no anomaly of redis"},
		{"anomaly of another service", actDeps{Anomalies: func(time.Time, time.Time) []detect.Anomaly { return anoms }},
			act.VerifyRequest{Check: checkAnomalyGone, With: map[string]any{"service": "catalog"}, Now: now}, true, false, "no anomaly of catalog"},
		{"unknown check", actDeps{}, act.VerifyRequest{Check: "sli_ok"}, false, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &actStage{d: tt.deps}
			res, err := st.verify(context.Background(), tt.req)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if res.OK != tt.ok || !strings.Contains(res.Detail, tt.detail) {
				t.Fatalf("got %+v, want ok=%v detail containing %q", res, tt.ok, tt.detail)
			}
		})
	}
}

// TestActStageErrors: bad configuration fails construction with an error
// that names what is wrong.
func TestActStageErrors(t *testing.T) {
	badDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(badDir, "x.yaml"), []byte("name: x\nrisk: low\nlevel: 1\nmatch: 'true'\nsteps:\n  - name: s\n    action: kube.scale\n    with: {namespace: a, name: b, replicas: 2}\nverify:\n  check: sli_ok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(d *actDeps)
		want   string
	}{
		{"no data dir", func(d *actDeps) { d.DataDir = "" }, "no data directory"},
		{"unknown check", func(d *actDeps) { d.Config.RunbooksDir = badDir }, `unknown verification check "sli_ok"`},
		{"bad window", func(d *actDeps) { d.Config.ChangeWindows = []string{"never"} }, `change window "never"`},
		{"missing kubeconfig", func(d *actDeps) { d.Config.Kube.Kubeconfig = filepath.Join(badDir, "nope") }, "kubeconfig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := actDeps{Config: actDefaultsForTest(), DataDir: t.TempDir()}
			tt.change(&d)
			st, err := newActStage(context.Background(), d)
			if err == nil {
				_ = st.Stop(context.Background())
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// TestDemoRunbookMatchesFile keeps the built-in demo runbook and
// runbooks/redis-scale-up.yaml the same.
func TestDemoRunbookMatchesFile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "runbooks", "redis-scale-up.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != demoRunbook {
		t.Fatal("runbooks/redis-scale-up.yaml differs from demoRunbook in app/act.go")
	}
}

// actAlerts is a fake alert store that checks the query is as of
// evaluation time.
type actAlerts struct {
	store.AlertStore
	t      *testing.T
	at     time.Time
	alerts []telemetry.Alert
}

func (s *actAlerts) Alerts(_ context.Context, q store.AlertQuery) ([]telemetry.Alert, error) {
	if !q.ActiveAt.Equal(s.at) {
		s.t.Errorf("queried as of %s, want %s", q.ActiveAt, s.at)
	}
	return s.alerts, nil
}

func TestStoreAlertLookup(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	al := func(name, svc string) telemetry.Alert {
		return telemetry.Alert{Labels: telemetry.LabelsFromMap(map[string]string{"alertname": name, "service": svc})}
	}
	fs := &actAlerts{t: t, at: at, alerts: []telemetry.Alert{al("RedisMemoryHigh", "redis"), al("HighLatency", "catalog")}}
	firing, alerts := storeAlertLookup(fs, func() time.Time { return at })
	tests := []struct {
		service, alertname string
		want               bool
	}{
		{"redis", "RedisMemoryHigh", true},
		{"redis", "", true},
		{"", "HighLatency", true},
		{"redis", "HighLatency", false},
		{"payments", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.service+"/"+tt.alertname, func(t *testing.T) {
			got, err := firing(context.Background(), tt.service, tt.alertname)
			if err != nil || got != tt.want {
				t.Fatalf("firing = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if got := alerts(context.Background(), []string{"catalog", "frontend"}); len(got) != 1 || got[0].Labels.Get("service") != "catalog" {
		t.Fatalf("alerts = %v", got)
	}
	firing, _ = storeAlertLookup(fs, func() time.Time { return time.Time{} })
	if got, err := firing(context.Background(), "redis", ""); got || err != nil {
		t.Fatalf("before any signal: firing = %v, %v", got, err)
	}
}
