package app

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/act"
	"github.com/vigilops/vigil/api"
	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/correlate"
	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/diagnose"
	"github.com/vigilops/vigil/incident"
	"github.com/vigilops/vigil/metricstore"
	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// diagStore is a fake store: state in a map, a fixed list of events.
type diagStore struct {
	store.Store
	mtx    sync.Mutex
	state  map[string][]byte
	events []telemetry.Event
	evq    []store.EventQuery
}

func (s *diagStore) PutState(_ context.Context, k string, v []byte) error {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	if s.state == nil {
		s.state = map[string][]byte{}
	}
	s.state[k] = append([]byte(nil), v...)
	return nil
}

func (s *diagStore) GetState(_ context.Context, k string) ([]byte, error) {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	v, ok := s.state[k]
	if !ok {
		return nil, store.ErrNotFound
	}
	return v, nil
}

func (s *diagStore) Events(_ context.Context, q store.EventQuery) ([]telemetry.Event, error) {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	s.evq = append(s.evq, q)
	return s.events, nil
}

func testDiagnoseConfig() config.Diagnose {
	return config.Diagnose{
		Enabled: true, Delay: config.Duration(2 * time.Minute), NormalWindow: config.Duration(time.Hour),
		Lead: config.Duration(5 * time.Minute), MaxSeries: 2000, QueueSize: 16,
	}
}

// shopMetrics fills a metric store with an hour and a half of 15 s samples
// of three services; from onset redis's memory climbs, and two minutes
// later catalog's latency follows. Frontend stays normal.
func shopMetrics(t *testing.T, start, onset, end time.Time) *metricstore.Store {
	t.Helper()
	o := metricstore.DefaultOptions()
	o.Registerer = nil
	st, err := metricstore.New(o)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name, svc string) telemetry.Labels {
		return telemetry.LabelsFromMap(map[string]string{"__name__": name, "service": svc, "instance": svc + ":9000"})
	}
	var samples []telemetry.Sample
	i := 0
	for ts := start; ts.Before(end); ts = ts.Add(15 * time.Second) {
		i++
		wiggle := math.Sin(float64(i)) // deterministic noise
		mem := 100e6 + 1e6*wiggle
		lat := 0.05 + 0.002*wiggle
		if ts.After(onset) {
			mem += 3e6 * ts.Sub(onset).Seconds() / 15
		}
		if ts.After(onset.Add(2 * time.Minute)) {
			lat += 0.5
		}
		ms := ts.UnixMilli()
		samples = append(samples,
			telemetry.Sample{Labels: mk("redis_memory_used_bytes", "redis"), T: ms, V: mem},
			telemetry.Sample{Labels: mk("http_request_duration_seconds", "catalog"), T: ms, V: lat},
			telemetry.Sample{Labels: mk("http_request_duration_seconds", "frontend"), T: ms, V: 0.1 + 0.003*wiggle},
			telemetry.Sample{Labels: mk("http_requests_total", "frontend"), T: ms, V: float64(i) * 150},
		)
	}
	st.Append(samples)
	return st
}

func TestDiagnosisStageDiagnosesAfterDelay(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	onset := start.Add(80 * time.Minute)
	opened := onset.Add(3 * time.Minute)
	end := opened.Add(5 * time.Minute)
	ms := shopMetrics(t, start, onset, end)
	fs := &diagStore{}
	tl := &timelineRecorder{}
	var clockMtx sync.Mutex
	clock := opened.Add(time.Minute)
	var got []string
	cp, err := NewCopilot(config.Copilot{Provider: config.CopilotNone}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	ds, err := newDiagnosisStage(diagnosisDeps{
		Registerer: reg, Config: testDiagnoseConfig(), Metrics: ms, Store: fs, Copilot: cp, AddEntry: tl.AddEntry,
		Clock: func() time.Time { clockMtx.Lock(); defer clockMtx.Unlock(); return clock },
		OnDiagnosis: func(_ context.Context, inc incident.Incident, d *diagnose.Diagnosis) {
			got = append(got, inc.ID+":"+d.Top())
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ds.SetGraph(diagnose.NewGraph(diagnose.GraphSpec{Source: "test", Edges: []diagnose.Edge{{From: "frontend", To: "catalog"}, {From: "catalog", To: "redis"}}}))
	inc := incident.Incident{ID: "inc-1", Title: "catalog slow", Status: incident.StatusOpen, Services: []string{"catalog"}, OpenedAt: opened, UpdatedAt: opened}
	ds.OnChange(context.Background(), correlate.Change{Kind: correlate.ChangeOpened, Incident: inc})
	ds.OnChange(context.Background(), correlate.Change{Kind: correlate.ChangeNote, Incident: inc})

	if n := ds.step(context.Background()); n != 0 {
		t.Fatalf("diagnosed %d incidents one minute after opening; the delay is two", n)
	}
	clockMtx.Lock()
	clock = opened.Add(3 * time.Minute)
	clockMtx.Unlock()
	if n := ds.step(context.Background()); n != 1 {
		t.Fatalf("diagnosed %d incidents after the delay, want 1; timeline:\n%s", n, tl.texts("inc-1"))
	}
	if n := ds.step(context.Background()); n != 0 {
		t.Fatalf("diagnosed again without a new change: %d", n)
	}
	if len(got) != 1 || got[0] != "inc-1:redis" {
		t.Fatalf("OnDiagnosis got %v, want [inc-1:redis]; timeline:\n%s", got, tl.texts("inc-1"))
	}
	tx := tl.texts("inc-1")
	if !strings.Contains(tx, "[diagnosis] Probable root cause: redis") || !strings.Contains(tx, "Next step:") {
		t.Errorf("timeline lacks the diagnosis:\n%s", tx)
	}
	if !strings.Contains(tx, "Root-cause narrative (source: analyst)") {
		t.Errorf("timeline lacks the narrative:\n%s", tx)
	}
	if len(fs.evq) != 1 || !fs.evq[0].From.Equal(opened.Add(-65*time.Minute)) {
		t.Errorf("event queries %+v", fs.evq)
	}

	srv, err := api.New(api.Options{Tokens: newActTokens(store.Token{ID: "1", Name: "val", Role: store.RoleViewer})})
	if err != nil {
		t.Fatal(err)
	}
	ds.Register(srv)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	get := func(path string) (int, map[string]json.RawMessage) {
		req, _ := http.NewRequest("GET", hs.URL+path, nil)
		req.Header.Set("Authorization", "Bearer val")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]json.RawMessage
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	code, body := get("/api/v1/incidents/inc-1/diagnosis")
	if code != http.StatusOK {
		t.Fatalf("GET diagnosis: %d %v", code, body)
	}
	var d diagnose.Diagnosis
	if err := json.Unmarshal(body["diagnosis"], &d); err != nil || d.Top() != "redis" {
		t.Fatalf("diagnosis %s: %v", body["diagnosis"], err)
	}
	var nar struct{ Text, Source string }
	if err := json.Unmarshal(body["narrative"], &nar); err != nil || nar.Text == "" || nar.Source == "" {
		t.Fatalf("narrative %s: %v", body["narrative"], err)
	}
	var in diagnosisInputSummary
	if err := json.Unmarshal(body["input"], &in); err != nil || in.Series != 4 || in.Graph != "test" ||
		!in.Anomalous.Start.Equal(opened.Add(-5*time.Minute)) || !in.Anomalous.End.Equal(opened.Add(3*time.Minute)) {
		t.Fatalf("input %s: %v", body["input"], err)
	}
	if code, _ := get("/api/v1/incidents/nope/diagnosis"); code != http.StatusNotFound {
		t.Fatalf("unknown incident: %d", code)
	}
	if v := counterValue(t, reg, "vigil_diagnose_incidents_total", "result", "ok"); v != 1 {
		t.Errorf("ok diagnoses = %v", v)
	}
	if v := counterValue(t, reg, "vigil_diagnose_incident_changes_total", "outcome", "ignored"); v != 1 {
		t.Errorf("ignored changes = %v", v)
	}
}

// TestDiagnosisStageNoData: an incident with nothing to judge gets a
// timeline entry saying so, and no diagnosis is passed on.
func TestDiagnosisStageNoData(t *testing.T) {
	tl := &timelineRecorder{}
	called := false
	ds, err := newDiagnosisStage(diagnosisDeps{Config: testDiagnoseConfig(), AddEntry: tl.AddEntry,
		OnDiagnosis: func(context.Context, incident.Incident, *diagnose.Diagnosis) { called = true }})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ds.OnChange(context.Background(), correlate.Change{Kind: correlate.ChangeOpened,
		Incident: incident.Incident{ID: "i", Services: []string{"a"}, OpenedAt: at, UpdatedAt: at.Add(10 * time.Minute)}})
	ds.step(context.Background())
	if called || !strings.Contains(tl.texts("i"), "No diagnosis: no metric, log or change evidence for a") {
		t.Fatalf("called=%v timeline:\n%s", called, tl.texts("i"))
	}
}

// TestDiagnosisStageQueueBound: OnChange never blocks; past the bound
// changes are dropped and counted.
func TestDiagnosisStageQueueBound(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := testDiagnoseConfig()
	c.QueueSize = 2
	ds, err := newDiagnosisStage(diagnosisDeps{Registerer: reg, Config: c, AddEntry: (&timelineRecorder{}).AddEntry})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		ds.OnChange(context.Background(), correlate.Change{Kind: correlate.ChangeOpened, Incident: incident.Incident{ID: string(rune('a' + i))}})
	}
	if q, d := counterValue(t, reg, "vigil_diagnose_incident_changes_total", "outcome", "queued"), counterValue(t, reg, "vigil_diagnose_incident_changes_total", "outcome", "dropped"); q != 2 || d != 3 {
		t.Fatalf("queued %v dropped %v, want 2 and 3", q, d)
	}
}

func TestDiagnosisStageRequiresTimeline(t *testing.T) {
	if _, err := newDiagnosisStage(diagnosisDeps{Config: testDiagnoseConfig()}); err == nil || !strings.Contains(err.Error(), "AddEntry") {
		t.Fatalf("err = %v", err)
	}
}

func TestDiagPerSecond(t *testing.T) {
	tests := []struct {
		name string
		in   []telemetry.Point
		want []telemetry.Point
	}{
		{"too short", []telemetry.Point{{T: 0, V: 1}}, nil},
		{"steady", []telemetry.Point{{T: 0, V: 0}, {T: 10_000, V: 50}, {T: 20_000, V: 150}}, []telemetry.Point{{T: 10_000, V: 5}, {T: 20_000, V: 10}}},
		{"reset", []telemetry.Point{{T: 0, V: 100}, {T: 10_000, V: 20}}, []telemetry.Point{{T: 10_000, V: 2}}},
		{"same time skipped", []telemetry.Point{{T: 0, V: 0}, {T: 0, V: 5}, {T: 5000, V: 10}}, []telemetry.Point{{T: 5000, V: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := diagPerSecond(tt.in)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestDiagSeriesName(t *testing.T) {
	ls := telemetry.LabelsFromMap(map[string]string{"__name__": "http_requests_total", "service": "x", "instance": "x:1", "code": "500", "job": "x"})
	if got, want := diagSeriesName(ls), `http_requests_total{code="500"}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if got := diagSeriesName(telemetry.LabelsFromMap(map[string]string{"__name__": "up", "service": "x"})); got != "up" {
		t.Fatalf("got %s", got)
	}
}

// counterValue reads one labelled counter from reg (0 when absent).
func counterValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestDiagnosisStageWorker: started, the stage diagnoses on its own once
// evaluation time (here the incident's own update time) passes the delay,
// and stops cleanly.
func TestDiagnosisStageWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := &timelineRecorder{}
		ds, err := newDiagnosisStage(diagnosisDeps{Config: testDiagnoseConfig(), AddEntry: tl.AddEntry})
		if err != nil {
			t.Fatal(err)
		}
		ds.Start()
		at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		ds.OnChange(context.Background(), correlate.Change{Kind: correlate.ChangeOpened,
			Incident: incident.Incident{ID: "w", Services: []string{"a"}, OpenedAt: at, UpdatedAt: at.Add(time.Minute)}})
		time.Sleep(3 * diagnosisTickInterval)
		synctest.Wait()
		if tx := tl.texts("w"); tx != "" {
			t.Fatalf("diagnosed before the delay:\n%s", tx)
		}
		ds.OnChange(context.Background(), correlate.Change{Kind: correlate.ChangeSeverity,
			Incident: incident.Incident{ID: "w", Services: []string{"a", "b"}, OpenedAt: at, UpdatedAt: at.Add(2 * time.Minute)}})
		time.Sleep(3 * diagnosisTickInterval)
		synctest.Wait()
		if tx := tl.texts("w"); !strings.Contains(tx, "evidence for a, b") {
			t.Fatalf("timeline:\n%s", tx)
		}
		if err := ds.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestDiagnosisToApproval connects the two stages as serve does: the
// diagnosis of a redis incident reaches the act stage, whose demo runbook
// asks for approval.
func TestDiagnosisToApproval(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	onset := start.Add(80 * time.Minute)
	opened := onset.Add(3 * time.Minute)
	topo := testTopology(t)
	tl := &timelineRecorder{}
	as, err := newActStage(context.Background(), actDeps{Config: actDefaultsForTest(), DataDir: t.TempDir(), AddEntry: tl.AddEntry, Demo: true})
	if err != nil {
		t.Fatal(err)
	}
	defer as.Stop(context.Background())
	ds, err := newDiagnosisStage(diagnosisDeps{
		Config: testDiagnoseConfig(), Metrics: shopMetrics(t, start, onset, opened.Add(5*time.Minute)), AddEntry: tl.AddEntry,
		OnDiagnosis: as.OnDiagnosis,
	})
	if err != nil {
		t.Fatal(err)
	}
	ds.SetGraph(diagnose.FromSim(topo))
	ds.OnChange(context.Background(), correlate.Change{Kind: correlate.ChangeOpened, Incident: incident.Incident{
		ID: "inc-r", Title: "catalog slow", Services: []string{"catalog"}, OpenedAt: opened, UpdatedAt: opened.Add(3 * time.Minute)}})
	if n := ds.step(context.Background()); n != 1 {
		t.Fatalf("diagnosed %d", n)
	}
	aps := as.svc.Approvals(context.Background(), act.ApprovalPending)
	if len(aps) != 1 || aps[0].Runbook != "redis-scale-up" || aps[0].IncidentID != "inc-r" {
		t.Fatalf("approvals %+v; timeline:\n%s", aps, tl.texts("inc-r"))
	}
}

// TestAnomalyAdapters: the anomalies stage as the diagnosis input and clock.
func TestAnomalyAdapters(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	s := &anomalyStage{size: 10, newest: t0.Add(time.Hour)}
	for i, w := range [][2]time.Duration{{0, 5 * time.Minute}, {20 * time.Minute, 25 * time.Minute}, {50 * time.Minute, 55 * time.Minute}} {
		s.ring = append(s.ring, anomalyView{Anomaly: detect.Anomaly{Service: string(rune('a' + i)), Start: t0.Add(w[0]), End: t0.Add(w[1])}})
	}
	tests := []struct {
		name     string
		from, to time.Duration
		want     string
	}{
		{"all", 0, time.Hour, "cba"},
		{"overlap start", 4 * time.Minute, 30 * time.Minute, "ba"},
		{"middle only", 10 * time.Minute, 30 * time.Minute, "b"},
		{"none", 30 * time.Minute, 40 * time.Minute, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			for _, a := range anomalyRange(s)(t0.Add(tt.from), t0.Add(tt.to)) {
				got += a.Service
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	if got := anomalyClock(s)(); !got.Equal(t0.Add(time.Hour)) {
		t.Fatalf("clock = %s", got)
	}
}

// TestDiagnosisStageWindows: the windows follow the opening, or the
// reopening for a reopened incident.
func TestDiagnosisStageWindows(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		kind       correlate.ChangeKind
		updated    time.Duration
		wantAnchor time.Duration
	}{
		{"opened", correlate.ChangeOpened, 3 * time.Minute, 0},
		{"severity", correlate.ChangeSeverity, 4 * time.Minute, 0},
		{"reopened", correlate.ChangeReopened, 5 * time.Hour, 5 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var from, to time.Time
			now := t0.Add(tt.updated + 3*time.Minute)
			ds, err := newDiagnosisStage(diagnosisDeps{Config: testDiagnoseConfig(), AddEntry: (&timelineRecorder{}).AddEntry,
				Logs:  func(f, e time.Time) []detect.Anomaly { from, to = f, e; return nil },
				Clock: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			inc := incident.Incident{ID: "x", Services: []string{"a"}, OpenedAt: t0, UpdatedAt: t0.Add(tt.updated)}
			ds.OnChange(context.Background(), correlate.Change{Kind: tt.kind, Incident: inc})
			ds.step(context.Background())
			anchor := t0.Add(tt.wantAnchor)
			if want := anchor.Add(-65 * time.Minute); !from.Equal(want) {
				t.Errorf("normal window starts %s, want %s", from, want)
			}
			if want := now; !to.Equal(want) {
				t.Errorf("anomalous window ends %s, want %s (evaluation time)", to, want)
			}
		})
	}
}

// TestDiagnosisStageSeriesScope: which series a diagnosis reads.
func TestDiagnosisStageSeriesScope(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	onset := start.Add(80 * time.Minute)
	ms := shopMetrics(t, start, onset, onset.Add(10*time.Minute))
	chain := diagnose.NewGraph(diagnose.GraphSpec{Source: "test", Edges: []diagnose.Edge{{From: "frontend", To: "catalog"}, {From: "catalog", To: "redis"}}})
	tests := []struct {
		name      string
		graph     *diagnose.Graph
		maxSeries int
		services  []string
		want      string // services of the series read, sorted, with repeats
	}{
		{"no graph, small store: all", nil, 2000, []string{"catalog"}, "catalog frontend frontend redis"},
		{"no graph, large store: symptoms", nil, 3, []string{"redis"}, "redis"},
		{"bounded", nil, 2, []string{"catalog", "frontend"}, "catalog frontend"},
		{"graph: dependencies and callers", chain, 2000, []string{"redis"}, "catalog redis"},
		{"graph: transitive dependencies", chain, 2000, []string{"frontend"}, "catalog frontend frontend redis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testDiagnoseConfig()
			c.MaxSeries = tt.maxSeries
			ds, err := newDiagnosisStage(diagnosisDeps{Config: c, Metrics: ms, AddEntry: (&timelineRecorder{}).AddEntry})
			if err != nil {
				t.Fatal(err)
			}
			ds.SetGraph(tt.graph)
			inc := incident.Incident{ID: "x", Services: tt.services, OpenedAt: onset, UpdatedAt: onset}
			in := ds.input(context.Background(), inc, onset, onset.Add(5*time.Minute))
			var got []string
			for _, s := range in.Series {
				got = append(got, s.Service)
				if s.Name == "http_requests_total" && s.Points[0].V != 10 { // 150 per 15 s
					t.Errorf("counter rate %v, want 10/s", s.Points[0].V)
				}
			}
			sort.Strings(got)
			if g := strings.Join(got, " "); g != tt.want {
				t.Fatalf("series of %q, want %q", g, tt.want)
			}
		})
	}
}
