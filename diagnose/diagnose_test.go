package diagnose

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/telemetry"
)

var t0 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

// series builds a series with one point a minute from t0-60m to t0+15m:
// noise around base in normal time, then f(minute since onset) after.
func series(svc, name string, kind Kind, base float64, f func(m int) float64) Series {
	s := Series{Service: svc, Name: name, Kind: kind}
	for m := -60; m < 15; m++ {
		v := base * (1 + 0.02*math.Sin(float64(m)*1.7))
		if m >= 0 && f != nil {
			v = f(m)
		}
		s.Points = append(s.Points, telemetry.Point{T: t0.Add(time.Duration(m) * time.Minute).UnixMilli(), V: v})
	}
	return s
}

func window() (Window, Window) {
	return Window{Start: t0.Add(-time.Hour), End: t0}, Window{Start: t0, End: t0.Add(15 * time.Minute)}
}

func newTestDiagnoser(t testing.TB) *Diagnoser {
	t.Helper()
	d, err := New(DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// chainGraph is front -> mid -> db.
func chainGraph() *Graph {
	return NewGraph(GraphSpec{Source: "test", Edges: []Edge{{"front", "mid"}, {"mid", "db"}}})
}

func TestDiagnoseRanking(t *testing.T) {
	normal, anom := window()
	up := func(x float64) func(int) float64 { return func(int) float64 { return x } }
	later := func(from int, x, base float64) func(int) float64 {
		return func(m int) float64 {
			if m >= from {
				return x
			}
			return base
		}
	}
	tests := []struct {
		name     string
		series   []Series
		graph    *Graph
		logs     []detect.Anomaly
		events   []telemetry.Event
		symptoms []string
		want     string
	}{
		{
			name: "slow database shows in every caller: the deepest anomaly wins",
			series: []Series{
				series("front", "latency", KindLatency, 0.1, up(0.9)),
				series("mid", "latency", KindLatency, 0.05, up(0.8)),
				series("db", "latency", KindLatency, 0.01, up(0.3)),
			},
			graph: chainGraph(),
			want:  "db",
		},
		{
			name: "without a graph the strongest evidence wins",
			series: []Series{
				series("front", "latency", KindLatency, 0.1, up(0.12)),
				series("mid", "cpu", KindCPU, 0.2, up(0.95)),
			},
			want: "mid",
		},
		{
			name: "cpu of a caller is not explained by a slow callee",
			series: []Series{
				series("mid", "cpu", KindCPU, 0.2, up(0.95)),
				series("db", "latency", KindLatency, 0.01, up(0.0125)),
			},
			graph: chainGraph(),
			want:  "mid",
		},
		{
			name: "earlier onset wins between equal anomalies",
			series: []Series{
				series("a", "cpu", KindCPU, 0.2, later(8, 0.9, 0.2)),
				series("b", "cpu", KindCPU, 0.2, later(1, 0.9, 0.2)),
			},
			want: "b",
		},
		{
			name: "a deploy right before breaks the tie",
			series: []Series{
				series("front", "errors", KindErrors, 1, up(20)),
				series("mid", "errors", KindErrors, 1, up(20)),
			},
			events: []telemetry.Event{{Kind: telemetry.EventDeploy, Service: "mid", Time: t0.Add(-time.Minute), Summary: "mid v2"}},
			want:   "mid",
		},
		{
			name:  "log evidence naming an external dependency is the dependency's",
			graph: NewGraph(GraphSpec{Edges: []Edge{{"pay", "card-provider"}}, External: []string{"card-provider"}}),
			logs: []detect.Anomaly{{Type: detect.TypeContent, Service: "pay", Score: 0.9, Confidence: 1, Start: t0.Add(time.Minute), End: t0.Add(2 * time.Minute),
				Examples: []string{`msg="provider response" body="rate_limited"`}}},
			want: "card-provider",
		},
		{
			name:  "a cause the symptom does not depend on ranks below one it does",
			graph: NewGraph(GraphSpec{Edges: []Edge{{"front", "mid"}, {"other", "batch"}}}),
			series: []Series{
				series("batch", "cpu", KindCPU, 0.2, up(0.99)),
				series("mid", "cpu", KindCPU, 0.2, up(0.6)),
			},
			symptoms: []string{"front"},
			want:     "mid",
		},
		{
			name:   "traffic that rises at the edge comes from outside",
			graph:  chainGraph(),
			series: []Series{series("front", "requests", KindTraffic, 100, up(400)), series("mid", "requests", KindTraffic, 100, up(400)), series("mid", "cpu", KindCPU, 0.2, up(0.7))},
			want:   "front",
		},
	}
	d := newTestDiagnoser(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diag, err := d.Diagnose(context.Background(), Input{Normal: normal, Anomalous: anom, Series: tt.series, Graph: tt.graph, Logs: tt.logs, Events: tt.events, Symptoms: tt.symptoms})
			if err != nil {
				t.Fatal(err)
			}
			if diag.Top() != tt.want {
				t.Fatalf("top %q, want %q: %+v", diag.Top(), tt.want, diag.Candidates)
			}
			sum := 0.0
			for _, c := range diag.Candidates {
				if c.Confidence < 0 || c.Confidence > 1 {
					t.Errorf("confidence %v outside [0,1]", c.Confidence)
				}
				sum += c.Confidence
			}
			if sum > 1+1e-9 {
				t.Errorf("confidences sum to %v", sum)
			}
			if diag.NextStep == "" || len(diag.Chain) == 0 {
				t.Errorf("no next step or chain: %+v", diag)
			}
		})
	}
}

func TestDiagnoseChain(t *testing.T) {
	normal, anom := window()
	at := func(from int, x, base float64) func(int) float64 {
		return func(m int) float64 {
			if m >= from {
				return x
			}
			return base
		}
	}
	in := Input{Normal: normal, Anomalous: anom, Graph: chainGraph(), Series: []Series{
		series("db", "db_connections", KindSaturation, 10, at(0, 100, 10)),
		series("db", "db_latency", KindLatency, 0.01, at(2, 0.5, 0.01)),
		series("mid", "mid_latency", KindLatency, 0.05, at(4, 1, 0.05)),
		series("front", "front_latency", KindLatency, 0.1, at(6, 1.2, 0.1)),
	}}
	diag, err := newTestDiagnoser(t).Diagnose(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range diag.Chain {
		got = append(got, fmt.Sprintf("%s>%s:%s", l.From, l.To, l.Signal))
		if len(l.Evidence) == 0 {
			t.Errorf("link %s -> %s without evidence", l.From, l.To)
		}
	}
	want := []string{"db>db:db_connections", "db>db:db_latency", "db>mid:mid_latency", "mid>front:front_latency"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("chain %v, want %v", got, want)
	}
	for i := 1; i < len(diag.Chain); i++ {
		if diag.Chain[i].Onset.Before(diag.Chain[i-1].Onset) {
			t.Errorf("chain out of onset order at %d: %v", i, got)
		}
	}
}

func TestDiagnoseErrors(t *testing.T) {
	normal, anom := window()
	d := newTestDiagnoser(t)
	tests := []struct {
		name string
		in   Input
		want error
	}{
		{"no windows", Input{}, ErrInvalidInput},
		{"window reversed", Input{Anomalous: Window{Start: t0, End: t0.Add(-time.Minute)}}, ErrInvalidInput},
		{"series without service", Input{Normal: normal, Anomalous: anom, Series: []Series{{Name: "x"}}}, ErrInvalidInput},
		{"nothing to judge", Input{Normal: normal, Anomalous: anom}, ErrNoData},
		{"too little normal data", Input{Normal: normal, Anomalous: anom, Series: []Series{{Service: "a", Points: []telemetry.Point{{T: t0.UnixMilli(), V: 1}}}}}, ErrNoData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.Diagnose(context.Background(), tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := d.Diagnose(ctx, Input{Normal: normal, Anomalous: anom, Series: []Series{series("a", "x", KindCPU, 1, nil)}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Options)
	}{
		{"damping 1", func(o *Options) { o.Damping = 1 }},
		{"negative backward", func(o *Options) { o.Backward = -1 }},
		{"zero threshold", func(o *Options) { o.Threshold = 0 }},
		{"no candidates", func(o *Options) { o.MaxCandidates = 0 }},
		{"negative change window", func(o *Options) { o.ChangeWindow = -time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			tt.mod(&o)
			if _, err := New(o); !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("err %v, want ErrInvalidOptions", err)
			}
		})
	}
}

func TestScoreSeries(t *testing.T) {
	normal, anom := window()
	tests := []struct {
		name       string
		s          Series
		wantAbove1 bool
		change     string
	}{
		{"flat stays normal", series("a", "x", KindCPU, 1, func(int) float64 { return 1 }), false, ""},
		{"rise of a higher-is-worse kind", series("a", "x", KindLatency, 1, func(int) float64 { return 3 }), true, "up"},
		{"fall of a higher-is-worse kind is not bad", series("a", "x", KindLatency, 1, func(int) float64 { return 0.1 }), false, ""},
		{"fall of availability is bad", series("a", "x", KindAvailability, 1, func(int) float64 { return 0.5 }), true, "down"},
		{"traffic counts both ways", series("a", "x", KindTraffic, 100, func(int) float64 { return 10 }), true, "down"},
		{"a single outlying sample is not enough", series("a", "x", KindLatency, 1, func(m int) float64 {
			if m == 3 {
				return 50
			}
			return 1
		}), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, ok := scoreSeries(&tt.s, normal, anom, 3, 1<<20, disturbance{})
			if !ok {
				t.Fatal("not scored")
			}
			if (sc.score > 1) != tt.wantAbove1 {
				t.Fatalf("score %v (z %v, tail %v), want above 1: %v", sc.score, sc.z, sc.tail, tt.wantAbove1)
			}
			if tt.wantAbove1 && sc.change != tt.change {
				t.Errorf("change %q, want %q", sc.change, tt.change)
			}
		})
	}
	t.Run("absent after normal", func(t *testing.T) {
		s := series("a", "up", KindAvailability, 1, nil)
		s.Points = s.Points[:60]
		sc, ok := scoreSeries(&s, normal, anom, 3, 1<<20, disturbance{})
		if !ok || sc.change != "absent" || sc.score <= 1 {
			t.Fatalf("got %+v ok=%v", sc, ok)
		}
	})
}

func TestRobustScale(t *testing.T) {
	med, sc := robustScale([]float64{0, 0, 0, 0, 0}, 0, 0.01)
	if med != 0 || sc <= 0 {
		t.Errorf("flat zero: median %v scale %v, want 0 and a positive floor", med, sc)
	}
	med, sc = robustScale([]float64{10, 11, 9, 10, 1000}, 1000, 0.01)
	if med != 10 || sc > 20 {
		t.Errorf("outlier: median %v scale %v, want 10 and a scale the outlier does not blow up", med, sc)
	}
}

func TestFromSpans(t *testing.T) {
	g := FromSpans([]Span{
		{TraceID: "t1", SpanID: "b", ParentID: "a", Service: "cart"},
		{TraceID: "t1", SpanID: "a", Service: "gateway"},
		{TraceID: "t1", SpanID: "c", ParentID: "b", Service: "redis"},
		{TraceID: "t1", SpanID: "d", ParentID: "b", Service: "cart"}, // same service: no edge
		{TraceID: "t2", SpanID: "x", ParentID: "a", Service: "db"},   // parent in another trace
	})
	got := fmt.Sprint(g.Edges())
	if want := "[{cart redis} {gateway cart}]"; got != want {
		t.Fatalf("edges %s, want %s", got, want)
	}
	if g.Source() != "spans" {
		t.Errorf("source %q", g.Source())
	}
}

func TestFromCoAnomaly(t *testing.T) {
	g, err := FromCoAnomaly([][]string{{"a", "b"}, {"a", "b", "c"}, {"c"}, {"c", "d"}, {"c"}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(g.Edges()), "[{a b} {b a}]"; got != want {
		t.Fatalf("edges %s, want %s", got, want)
	}
	if _, err := FromCoAnomaly(nil, 0); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("support 0: err %v", err)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	o := DefaultOptions()
	o.Registerer = reg
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	normal, anom := window()
	_, _ = d.Diagnose(context.Background(), Input{Normal: normal, Anomalous: anom, Series: []Series{series("a", "x", KindCPU, 1, func(int) float64 { return 5 })}})
	_, _ = d.Diagnose(context.Background(), Input{Normal: normal, Anomalous: anom})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "vigil_diagnose_runs_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	if got["ok"] != 1 || got["no_data"] != 1 {
		t.Fatalf("runs %v, want ok 1 and no_data 1", got)
	}
}

// BenchmarkDiagnose200Services diagnoses a 200-service topology (a tree
// of calls plus cross edges) with 2,000 series of 75 points each, one
// service faulty.
func BenchmarkDiagnose200Services(b *testing.B) {
	const services, perService = 200, 10
	var edges []Edge
	for i := 1; i < services; i++ {
		edges = append(edges, Edge{fmt.Sprintf("svc-%d", (i-1)/3), fmt.Sprintf("svc-%d", i)})
		if i%7 == 0 {
			edges = append(edges, Edge{fmt.Sprintf("svc-%d", i/2), fmt.Sprintf("svc-%d", i)})
		}
	}
	g := NewGraph(GraphSpec{Source: "bench", Edges: edges})
	kinds := []Kind{KindLatency, KindErrors, KindTraffic, KindCPU, KindMemory}
	var ss []Series
	for i := 0; i < services; i++ {
		for k := 0; k < perService; k++ {
			base := 1 + float64(k)
			f := func(int) float64 { return base * 1.01 }
			if i == 137 || (i == 45 && kinds[k%len(kinds)] == KindLatency) {
				f = func(int) float64 { return base * 10 }
			}
			ss = append(ss, series(fmt.Sprintf("svc-%d", i), fmt.Sprintf("m%d", k), kinds[k%len(kinds)], base, f))
		}
	}
	normal, anom := window()
	in := Input{Normal: normal, Anomalous: anom, Series: ss, Graph: g}
	d := newTestDiagnoser(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		diag, err := d.Diagnose(context.Background(), in)
		if err != nil {
			b.Fatal(err)
		}
		if diag.Top() != "svc-137" {
			b.Fatalf("top %s", diag.Top())
		}
	}
}

func TestWritePostmortem(t *testing.T) {
	normal, anom := window()
	d := newTestDiagnoser(t)
	diag, err := d.Diagnose(context.Background(), Input{Normal: normal, Anomalous: anom, Graph: chainGraph(),
		Series: []Series{series("db", "latency", KindLatency, 0.01, func(int) float64 { return 0.4 }), series("mid", "latency", KindLatency, 0.05, func(int) float64 { return 0.9 })},
		Logs: []detect.Anomaly{{Type: detect.TypeNewPattern, Service: "db", Score: 0.8, Confidence: 1, Start: t0.Add(time.Minute), End: t0.Add(2 * time.Minute),
			Explanation: "new template", Examples: []string{"ERROR lock timeout `x`"}}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		inc  IncidentInfo
		diag *Diagnosis
		want []string
		not  []string
	}{
		{
			name: "resolved incident with a diagnosis",
			inc: IncidentInfo{ID: "inc-7", Title: "Checkout | slow *now*", Start: t0.Add(time.Minute), Ack: t0.Add(20 * time.Minute), Resolve: t0.Add(50 * time.Minute),
				Timeline: []TimelineEntry{{Time: t0.Add(30 * time.Minute), Kind: "action", Text: "restarted db"}}},
			diag: diag,
			want: []string{"# Postmortem: Checkout \\| slow \\*now\\*", "## Summary", "## Impact", "## Timeline", "## Root cause", "## Contributing factors", "## Follow-up actions",
				"**db**", "Time to acknowledge: 19m0s", "Time to resolve: 49m0s", "| restarted db |", "ERROR lock timeout 'x'", "Acknowledgement took 19m0s"},
		},
		{
			name: "open incident without a diagnosis",
			inc:  IncidentInfo{Title: "Something", Start: t0},
			want: []string{"is not resolved yet", "No root cause was diagnosed", "None identified"},
			not:  []string{"Time to resolve"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := WritePostmortem(&b, tt.inc, tt.diag); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(out, w) {
					t.Errorf("has %q:\n%s", w, out)
				}
			}
		})
	}
}
