package correlate

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/incident"
	"github.com/vigilops/vigil/sim"
	"github.com/vigilops/vigil/telemetry"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// recorder is a Sink that keeps every change.
type recorder struct {
	mtx     sync.Mutex
	changes []Change
}

func (r *recorder) IncidentChanged(_ context.Context, c Change) error {
	r.mtx.Lock()
	defer r.mtx.Unlock()
	r.changes = append(r.changes, c)
	return nil
}

func (r *recorder) kinds() []ChangeKind {
	r.mtx.Lock()
	defer r.mtx.Unlock()
	var out []ChangeKind
	for _, c := range r.changes {
		out = append(out, c.Kind)
	}
	return out
}

// harness drives a correlator by minutes from t0.
type harness struct {
	t   *testing.T
	c   *Correlator
	rec *recorder
	reg *prometheus.Registry
}

func newHarness(t *testing.T, mutate func(*Options)) *harness {
	t.Helper()
	o := DefaultOptions()
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	o.Topology = NewGraph([][2]string{{"api-gateway", "checkout"}, {"checkout", "payments"}, {"cart", "redis"}})
	rec := &recorder{}
	o.Sink = rec
	if mutate != nil {
		mutate(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &harness{t: t, c: c, rec: rec, reg: reg}
}

func at(min float64) time.Time { return t0.Add(time.Duration(min * float64(time.Minute))) }

func alertOf(name, svc, pod, severity string) telemetry.Alert {
	return telemetry.Alert{Labels: telemetry.LabelsFromStrings("alertname", name, "service", svc, "instance", pod, "severity", severity)}
}

// fire sends the alert as firing at minute m.
func (h *harness) fire(a telemetry.Alert, m float64) {
	h.t.Helper()
	if a.StartsAt.IsZero() {
		a.StartsAt = at(m)
	}
	a.EndsAt = at(m + 6)
	h.observe(AlertSignal(&a, at(m)))
}

// resolve sends the alert as resolved at minute m.
func (h *harness) resolve(a telemetry.Alert, m float64) {
	h.t.Helper()
	a.StartsAt, a.EndsAt = at(m-1), at(m)
	h.observe(AlertSignal(&a, at(m)))
}

func (h *harness) anomaly(svc string, score float64, m float64) {
	h.t.Helper()
	an := detect.Anomaly{Type: detect.TypeErrorBurst, Service: svc, TemplateID: "t1", Template: "connection refused to <*>",
		Score: score, Confidence: 1, Start: at(m - 1), End: at(m)}
	h.observe(AnomalySignal(&an))
}

func (h *harness) deploy(svc string, m float64) {
	h.t.Helper()
	ev := telemetry.Event{ID: "d-" + svc, Kind: telemetry.EventDeploy, Service: svc, Time: at(m), Summary: svc + " v2"}
	h.observe(EventSignal(&ev))
}

func (h *harness) observe(s Signal) {
	h.t.Helper()
	if err := h.c.Observe(context.Background(), s); err != nil {
		h.t.Fatalf("observe: %v", err)
	}
}

func (h *harness) tick(m float64) {
	h.t.Helper()
	if err := h.c.Tick(context.Background(), at(m)); err != nil {
		h.t.Fatalf("tick: %v", err)
	}
}

func (h *harness) incidents() []incident.Incident {
	h.t.Helper()
	incs, err := h.c.Incidents(context.Background(), incident.Query{})
	if err != nil {
		h.t.Fatal(err)
	}
	return incs
}

func (h *harness) only() incident.Incident {
	h.t.Helper()
	incs := h.incidents()
	if len(incs) != 1 {
		h.t.Fatalf("got %d incidents, want 1: %+v", len(incs), incs)
	}
	return incs[0]
}

func reasonOf(t *testing.T, inc incident.Incident, name, svc string) string {
	t.Helper()
	for _, m := range inc.Members {
		if m.Name == name && m.Service == svc {
			return m.Reason
		}
	}
	t.Fatalf("incident %s has no member %s on %s: %+v", inc.ID, name, svc, inc.Members)
	return ""
}

func TestGrouping(t *testing.T) {
	tests := []struct {
		name string
		run  func(h *harness)
		// want is the number of incidents and, per incident (most recently
		// opened first), its services.
		want [][]string
		// reasons: member (name@service) → substring of its reason.
		reasons map[string]string
	}{
		{
			name: "one warning alone opens nothing",
			run:  func(h *harness) { h.fire(alertOf("HighLatency", "checkout", "p1", "warning"), 0) },
			want: nil,
		},
		{
			name: "re-sends fold into one member and do not count twice",
			run: func(h *harness) {
				a := alertOf("HighLatency", "checkout", "p1", "warning")
				for m := 0.0; m < 6; m += 1.5 {
					h.fire(a, m)
				}
			},
			want: nil,
		},
		{
			name: "second signal on the same service opens",
			run: func(h *harness) {
				h.fire(alertOf("HighLatency", "checkout", "p1", "warning"), 0)
				h.fire(alertOf("HighErrorRate", "checkout", "p2", "warning"), 2)
			},
			want:    [][]string{{"checkout"}},
			reasons: map[string]string{"HighLatency@checkout": "first signal", "HighErrorRate@checkout": "same service within 2m"},
		},
		{
			name: "connected service joins with the arrow",
			run: func(h *harness) {
				h.fire(alertOf("PaymentsDown", "payments", "p1", "warning"), 0)
				h.fire(alertOf("PaymentsErrors", "payments", "p2", "warning"), 1)
				h.fire(alertOf("HighErrorRate", "checkout", "p1", "warning"), 3)
			},
			want:    [][]string{{"checkout", "payments"}},
			reasons: map[string]string{"HighErrorRate@checkout": "connected service checkout→payments within 2m"},
		},
		{
			name: "similar names are scored in the reason",
			run: func(h *harness) {
				h.fire(alertOf("HighErrorRate", "payments", "p1", "warning"), 0)
				h.fire(alertOf("HighLatency", "payments", "p2", "warning"), 1)
				h.fire(alertOf("HighErrorRate", "checkout", "p1", "warning"), 2)
			},
			want:    [][]string{{"checkout", "payments"}},
			reasons: map[string]string{"HighErrorRate@checkout": "similar name 1.00"},
		},
		{
			name: "unconnected services stay apart",
			run: func(h *harness) {
				h.fire(alertOf("HighLatency", "checkout", "p1", "warning"), 0)
				h.fire(alertOf("HighLatency", "checkout", "p2", "warning"), 1)
				h.fire(alertOf("HighLatency", "cart", "p1", "warning"), 2)
				h.fire(alertOf("HighLatency", "cart", "p2", "warning"), 3)
			},
			want: [][]string{{"cart"}, {"checkout"}},
		},
		{
			name: "too late for the window starts a new group",
			run: func(h *harness) {
				h.fire(alertOf("A", "checkout", "p1", "warning"), 0)
				h.fire(alertOf("B", "checkout", "p2", "warning"), 1)
				h.resolve(alertOf("A", "checkout", "p1", "warning"), 2)
				h.resolve(alertOf("B", "checkout", "p2", "warning"), 2)
				h.fire(alertOf("C", "payments", "p1", "warning"), 20) // checkout quiet for 19m
				h.fire(alertOf("D", "payments", "p2", "warning"), 21)
			},
			want: [][]string{{"payments"}, {"checkout"}},
		},
		{
			name: "a critical signal opens at once",
			run:  func(h *harness) { h.fire(alertOf("NodeDown", "checkout", "p1", "critical"), 0) },
			want: [][]string{{"checkout"}},
		},
		{
			name: "an SLO burn alert is critical",
			run:  func(h *harness) { h.fire(alertOf("CheckoutSLOBurnRate", "checkout", "p1", "warning"), 0) },
			want: [][]string{{"checkout"}},
		},
		{
			name: "a lone alert that persists opens",
			run: func(h *harness) {
				a := alertOf("QueueBacklog", "checkout", "p1", "warning")
				for m := 0.0; m <= 11; m += 1.5 {
					h.fire(a, m)
				}
			},
			want:    [][]string{{"checkout"}},
			reasons: map[string]string{"QueueBacklog@checkout": "first signal"},
		},
		{
			name: "info signals join their own service but do not open or bridge",
			run: func(h *harness) {
				h.fire(alertOf("Chatty", "payments", "p1", "info"), 0)
				h.fire(alertOf("Chatty2", "payments", "p2", "info"), 1)
				h.fire(alertOf("Chatty3", "checkout", "p2", "info"), 2)
			},
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			tt.run(h)
			incs := h.incidents()
			var got [][]string
			for _, inc := range incs {
				got = append(got, inc.Services)
			}
			if len(got) != len(tt.want) || !slices.EqualFunc(got, tt.want, slices.Equal) {
				t.Fatalf("incidents by services = %v, want %v", got, tt.want)
			}
			for key, want := range tt.reasons {
				name, svc, _ := strings.Cut(key, "@")
				if r := reasonOf(t, incs[0], name, svc); !strings.Contains(r, want) {
					t.Errorf("%s reason %q, want it to contain %q", key, r, want)
				}
			}
		})
	}
}

func TestFoldCountsAndFlaps(t *testing.T) {
	h := newHarness(t, nil)
	a := alertOf("HighLatency", "checkout", "p1", "warning")
	h.fire(a, 0)
	h.fire(alertOf("HighErrorRate", "checkout", "p2", "warning"), 0.5)
	h.fire(a, 1.5)
	h.resolve(a, 2)
	h.fire(a, 3) // flaps back
	inc := h.only()
	if inc.SignalCount != 5 || len(inc.Members) != 2 {
		t.Fatalf("signal count %d with %d members, want 5 and 2", inc.SignalCount, len(inc.Members))
	}
	tl, err := h.c.Timeline(context.Background(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, e := range tl {
		texts = append(texts, e.Text)
	}
	joined := strings.Join(texts, "\n")
	for _, want := range []string{"opened: 2 signals", "resolved: HighLatency on checkout", "firing again: HighLatency on checkout (same fingerprint as"} {
		if !strings.Contains(joined, want) {
			t.Errorf("timeline lacks %q:\n%s", want, joined)
		}
	}
}

func TestDeployMakesLowScoreAnomalyExpected(t *testing.T) {
	tests := []struct {
		name         string
		deployAt     float64
		score        float64
		wantExpected bool
	}{
		{"small anomaly 3m after deploy", 0, 0.5, true},
		{"large anomaly after deploy", 0, 0.9, false},
		{"small anomaly long after deploy", -30, 0.5, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(o *Options) { o.MinSignals = 1; o.MinSeverity = incident.SeverityInfo })
			h.deploy("checkout", tt.deployAt)
			h.anomaly("checkout", tt.score, 3)
			if n := len(h.incidents()); (n == 0) != tt.wantExpected {
				t.Fatalf("%d incidents; an expected signal alone must open none, an unexpected one must open one", n)
			}
			// A real alert beside it opens the incident, which shows why
			// the anomaly was expected.
			h.fire(alertOf("HighErrorRate", "checkout", "p1", "warning"), 4)
			inc := h.only()
			m := inc.Members[0]
			if m.Kind != incident.SignalAnomaly || m.Expected != tt.wantExpected {
				t.Fatalf("member %+v: expected = %v, want %v", m, m.Expected, tt.wantExpected)
			}
			if tt.wantExpected {
				if !strings.Contains(m.Reason, "expected: deploy of checkout 3m before (checkout v2)") {
					t.Errorf("reason %q does not name the deploy", m.Reason)
				}
				if m.Severity != incident.SeverityInfo || inc.Severity != incident.SeverityWarning {
					t.Errorf("anomaly severity %s, incident %s; want info and warning (from the alert only)", m.Severity, inc.Severity)
				}
			}
		})
	}
	t.Run("with default options an expected anomaly alone opens nothing", func(t *testing.T) {
		h := newHarness(t, nil)
		h.deploy("checkout", 0)
		h.anomaly("checkout", 0.5, 2)
		h.anomaly("checkout", 0.5, 3)
		if n := len(h.incidents()); n != 0 {
			t.Errorf("got %d incidents, want 0", n)
		}
	})
}

func TestMaintenanceWindow(t *testing.T) {
	m, err := labels.NewMatcher(labels.MatchRegexp, "service", "checkout|payments")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *Options) {
		o.Maintenance = []Maintenance{{Name: "db upgrade", Matchers: []*labels.Matcher{m}, Start: at(0), End: at(30)}}
	})
	h.fire(alertOf("NodeDown", "checkout", "p1", "critical"), 1)
	h.fire(alertOf("HighLatency", "payments", "p1", "warning"), 2)
	if n := len(h.incidents()); n != 0 {
		t.Fatalf("signals in maintenance opened %d incidents", n)
	}
	h.fire(alertOf("NodeDown", "cart", "p1", "critical"), 3) // not covered
	inc := h.only()
	if inc.Services[0] != "cart" {
		t.Errorf("incident on %v, want cart", inc.Services)
	}
	// After the window the same kind of signal counts again.
	h.fire(alertOf("NodeDown", "payments", "p9", "critical"), 45)
	if n := len(h.incidents()); n != 2 {
		t.Errorf("after the window: %d incidents, want 2", n)
	}
}

func TestDeployEntersTimeline(t *testing.T) {
	h := newHarness(t, nil)
	h.fire(alertOf("NodeDown", "checkout", "p1", "critical"), 0)
	h.deploy("payments", 1) // connected
	h.deploy("cart", 1)     // unrelated
	inc := h.only()
	tl, _ := h.c.Timeline(context.Background(), inc.ID)
	var changes []string
	for _, e := range tl {
		if e.Kind == incident.EntryChange {
			changes = append(changes, e.Text)
		}
	}
	if len(changes) != 1 || !strings.Contains(changes[0], "deploy on payments: payments v2 (connected service checkout→payments") {
		t.Errorf("change entries %q", changes)
	}
}

func TestSimTopologyAdapts(t *testing.T) {
	s, err := sim.New(sim.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	st := s.Topology()
	var edges [][2]string
	for _, e := range st.Edges {
		edges = append(edges, [2]string{e.From, e.To})
	}
	g := NewGraph(edges)
	if arrow, ok := g.Connected("redis", "catalog"); !ok || arrow != "catalog→redis" {
		t.Errorf("catalog calls redis: got %q %v", arrow, ok)
	}
	if _, ok := g.Connected("redis", "payments"); ok {
		t.Error("redis and payments are not directly connected")
	}
	// The func adapter works over the simulator's own methods too.
	f := TopologyFunc(func(a, b string) (string, bool) {
		if slices.Contains(st.Callees(a), b) {
			return a + "→" + b, true
		}
		if slices.Contains(st.Callees(b), a) {
			return b + "→" + a, true
		}
		return "", false
	})
	if arrow, ok := f.Connected("checkout", "payments"); !ok || arrow != "checkout→payments" {
		t.Errorf("func adapter: %q %v", arrow, ok)
	}
}

func TestInvalidInput(t *testing.T) {
	o := DefaultOptions()
	o.MinSignals, o.GroupWindow = 0, 0
	o.Maintenance = []Maintenance{{Name: "backwards", Start: at(10), End: at(0)}}
	_, err := New(o)
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("New: %v", err)
	}
	for _, want := range []string{"min signals", "group window", "backwards"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	h := newHarness(t, nil)
	for _, s := range []Signal{{}, {Time: at(0)}, {Time: at(0), Key: "x", Kind: "bogus"}} {
		if err := h.c.Observe(context.Background(), s); !errors.Is(err, ErrInvalidSignal) {
			t.Errorf("observe %+v: %v, want ErrInvalidSignal", s, err)
		}
	}
	if _, err := h.c.Feedback(context.Background(), "x", "maybe", "", incident.Action{At: at(0)}); !errors.Is(err, incident.ErrInvalid) {
		t.Errorf("bad verdict: %v", err)
	}
}

func TestMetrics(t *testing.T) {
	h := newHarness(t, nil)
	a := alertOf("HighLatency", "checkout", "p1", "warning")
	h.fire(a, 0)
	h.fire(a, 1.5)
	h.fire(alertOf("HighErrorRate", "checkout", "p2", "warning"), 2)
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "/" + l.GetValue()
			}
			if c := m.GetCounter(); c != nil {
				got[name] = c.GetValue()
			}
		}
	}
	want := map[string]float64{
		"vigil_correlate_signals_total/new_group": 1, "vigil_correlate_signals_total/folded": 1,
		"vigil_correlate_signals_total/joined": 1, "vigil_correlate_changes_total/opened": 1,
		"vigil_incident_signals_total/alert": 3, "vigil_incident_opened_total": 1,
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %v, want %v (all: %v)", name, got[name], v, got)
		}
	}
}
