package diagnose

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

func pointsAt(start time.Time, step time.Duration, vs ...float64) []telemetry.Point {
	out := make([]telemetry.Point, len(vs))
	for i, v := range vs {
		out[i] = telemetry.Point{T: start.Add(time.Duration(i) * step).UnixMilli(), V: v}
	}
	return out
}

func TestCallNetwork(t *testing.T) {
	normal := Window{Start: t0, End: t0.Add(4 * time.Minute)}
	nan := math.NaN()
	tests := []struct {
		name       string
		client     []telemetry.Point
		server     []telemetry.Point
		want       []float64 // nil: ok is false
		wantPoints int
	}{
		{
			name:   "gap in typical calls, paired by minute",
			client: pointsAt(t0, time.Minute, 0.2, 0.2, 0.2, 0.2, 0.6),
			server: pointsAt(t0.Add(5*time.Second), time.Minute, 0.2, 0.1, 0.2, 0.2, 0.2),
			want:   []float64{0, 0.5, 0, 0, 2},
		},
		{
			name:   "a point without a callee-side point within half a step is dropped",
			client: pointsAt(t0, time.Minute, 0.2, 0.2, 0.2, 0.2),
			server: pointsAt(t0.Add(40*time.Second), 2*time.Minute, 0.2, 0.2),
			want:   []float64{0, 0},
		},
		{
			name:   "missing values on either side are skipped",
			client: pointsAt(t0, time.Minute, 0.2, nan, 0.2, 0.2),
			server: pointsAt(t0, time.Minute, 0.2, 0.2, nan, 0.1),
			want:   []float64{0, 0.5},
		},
		{
			name:   "no typical call: too few normal points",
			client: pointsAt(t0, 3*time.Minute, 0.2, 0.2, 0.2),
			server: pointsAt(t0, 3*time.Minute, 0.2, 0.2, 0.2),
		},
		{
			name:   "no typical call: the caller saw zero latency",
			client: pointsAt(t0, time.Minute, 0, 0, 0, 0),
			server: pointsAt(t0, time.Minute, 0, 0, 0, 0),
		},
		{
			name:   "no callee side",
			client: pointsAt(t0, time.Minute, 0.2, 0.2, 0.2, 0.2),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := CallNetwork("callee", "net", tt.client, tt.server, normal)
			if tt.want == nil {
				if ok {
					t.Fatalf("ok with %d points, want no series", len(got.Points))
				}
				return
			}
			if !ok {
				t.Fatal("no series")
			}
			if got.Service != "callee" || got.Kind != KindNetwork {
				t.Errorf("service %q kind %q, want callee network", got.Service, got.Kind)
			}
			if len(got.Points) != len(tt.want) {
				t.Fatalf("%d points %v, want %v", len(got.Points), got.Points, tt.want)
			}
			for i, w := range tt.want {
				if math.Abs(got.Points[i].V-w) > 1e-9 {
					t.Errorf("point %d = %g, want %g", i, got.Points[i].V, w)
				}
			}
		})
	}
}

// TestNetworkEvidence checks that time spent outside a callee is that
// callee's own evidence: its dependencies cannot explain it.
func TestNetworkEvidence(t *testing.T) {
	normal, anom := window()
	up := func(x float64) func(int) float64 { return func(int) float64 { return x } }
	// front calls checkout and mail; checkout calls catalog.
	g := NewGraph(GraphSpec{Source: "test", Edges: []Edge{{"front", "checkout"}, {"front", "mail"}, {"checkout", "catalog"}}})
	base := []Series{
		series("front", "latency", KindLatency, 0.2, up(0.5)),
		// checkout as front saw it: slower, while checkout's own serving
		// time (not given) held; its dependency's CPU rose somewhat.
		series("checkout", "latency_client", KindLatency, 0.2, up(0.5)),
		series("catalog", "cpu", KindCPU, 10, up(12)),
	}
	tests := []struct {
		name  string
		extra []Series
		want  string
	}{
		{
			name:  "without the network series the callee's CPU takes the blame",
			extra: nil,
			want:  "catalog",
		},
		{
			name:  "time outside checkout makes checkout the cause",
			extra: []Series{flatThen("checkout", 1.5)},
			want:  "checkout",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Input{Normal: normal, Anomalous: anom, Graph: g, Series: append(append([]Series{}, base...), tt.extra...)}
			diag, err := newTestDiagnoser(t).Diagnose(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if top := diag.Candidates[0].Service; top != tt.want {
				t.Errorf("top %s, want %s (%v)", top, tt.want, diag.Candidates)
			}
		})
	}
}

// flatThen is a network series of svc at zero in normal time, at v after.
func flatThen(svc string, v float64) Series {
	s := series(svc, "call_network", KindNetwork, 0, nil)
	for i := range s.Points {
		s.Points[i].V = 0
		if s.Points[i].T >= t0.UnixMilli() {
			s.Points[i].V = v
		}
	}
	return s
}

// TestNetworkScale checks the spread floor of network series: an edge
// whose calls always took the same time at both ends must not turn a
// twentieth of a call (a millisecond on a fast edge) into an anomaly,
// while a whole extra call is one.
func TestNetworkScale(t *testing.T) {
	normal, anom := window()
	tests := []struct {
		name string
		v    float64
		want bool
	}{
		{"a twentieth of a call", 0.05, false},
		{"a fifth of a call", 0.2, false},
		{"a whole call", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := flatThen("mail", tt.v)
			sc, ok := scoreSeries(&s, normal, anom, DefaultOptions().Threshold, DefaultOptions().MaxPoints, disturbance{})
			if !ok {
				t.Fatal("not scored")
			}
			if got := sc.score > 1; got != tt.want {
				t.Errorf("score %.2f (z %.1f), anomalous %v, want %v", sc.score, sc.z, got, tt.want)
			}
		})
	}
}
