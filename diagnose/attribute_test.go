package diagnose

import (
	"context"
	"slices"
	"testing"
	"time"
)

// spikeAt returns series values: base with a jump to peak at minutes
// [from, to) of the normal period (minutes before t0, negative), and f
// after the onset.
func spikeAt(svc, name string, kind Kind, base, peak float64, from, to int, f func(int) float64) Series {
	s := series(svc, name, kind, base, f)
	for i := range s.Points {
		m := int(time.UnixMilli(s.Points[i].T).Sub(t0) / time.Minute)
		if m >= from && m < to {
			s.Points[i].V = peak
		}
	}
	return s
}

func TestFindDisturbance(t *testing.T) {
	normal, _ := window()
	step := time.Minute.Milliseconds()
	at := func(m int) int64 { return t0.Add(time.Duration(m) * time.Minute).UnixMilli() }
	many := func(n, spiking, from, to int) []Series {
		var ss []Series
		for i := range n {
			name := string(rune('a' + i))
			if i < spiking {
				ss = append(ss, spikeAt(name, "lat", KindLatency, 1, 20, from, to, nil))
			} else {
				ss = append(ss, series(name, "lat", KindLatency, 1, nil))
			}
		}
		return ss
	}
	tests := []struct {
		name     string
		ss       []Series
		step     int64
		disturbd []int // minutes expected disturbed
		quiet    []int // minutes expected kept
	}{
		{"most services straying together", many(6, 4, -30, -27), step, []int{-30, -29, -28}, []int{-31, -27, -10}},
		{"one service straying alone", many(6, 1, -30, -27), step, nil, []int{-30, -29, -28}},
		{"two of three is not enough services", many(3, 2, -30, -27), step, nil, []int{-30}},
		{"a straying that fills the period is normal", many(6, 6, -60, -30), step, nil, []int{-45}},
		{"unknown step", many(6, 4, -30, -27), 0, nil, []int{-30}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := findDisturbance(tt.ss, normal, tt.step, 1<<20)
			for _, m := range tt.disturbd {
				if !d.skip(at(m)) {
					t.Errorf("minute %d not disturbed", m)
				}
			}
			for _, m := range tt.quiet {
				if d.skip(at(m)) {
					t.Errorf("minute %d disturbed", m)
				}
			}
		})
	}
}

// rankOf returns the 1-based place of svc in the diagnosis, 0 if absent.
func rankOf(diag *Diagnosis, svc string) int {
	return slices.IndexFunc(diag.Candidates, func(c Candidate) bool { return c.Service == svc }) + 1
}

func TestDiagnoseRules(t *testing.T) {
	normal, anom := window()
	up := func(x float64) func(int) float64 { return func(int) float64 { return x } }
	tests := []struct {
		name  string
		in    Input
		want  string
		below []string // services that must rank below want
	}{{
		// An unrecorded incident half an hour ago moved every service as
		// far as today's fault moves the database: it must not set the
		// database's normal extreme.
		name: "an earlier unrecorded incident does not hide the fault",
		in: Input{Graph: chainGraph(), Series: []Series{
			spikeAt("front", "latency", KindLatency, 0.2, 2, -30, -27, up(2)),
			spikeAt("mid", "latency", KindLatency, 0.1, 1.9, -30, -27, up(1.9)),
			spikeAt("db", "cpu", KindCPU, 0.2, 0.9, -30, -27, up(0.9)),
			spikeAt("db", "latency", KindLatency, 0.05, 1.8, -30, -27, up(1.8)),
		}},
		want: "db", below: []string{"front", "mid"},
	}, {
		// S3's latency is what the app measured waiting on it: with one
		// caller, the caller carries it.
		name: "an external service with one caller is seen through it",
		in: Input{
			Graph: NewGraph(GraphSpec{Source: "test", Edges: []Edge{{"web", "app"}, {"app", "s3"}}, External: []string{"s3"}}),
			Series: []Series{
				series("web", "latency", KindLatency, 0.2, up(0.6)),
				series("app", "latency", KindLatency, 0.1, up(0.5)),
				series("s3", "latency", KindLatency, 0.05, up(0.45)),
			},
		},
		want: "app", below: []string{"web", "s3"},
	}, {
		name: "an external service that all its callers see slow is the cause",
		in: Input{
			Graph: NewGraph(GraphSpec{Source: "test", Edges: []Edge{{"app", "s3"}, {"batch", "s3"}}, External: []string{"s3"}}),
			Series: []Series{
				series("app", "latency", KindLatency, 0.1, up(0.5)),
				series("batch", "latency", KindLatency, 0.1, up(0.5)),
				series("s3", "latency", KindLatency, 0.05, up(0.45)),
			},
		},
		want: "s3", below: []string{"app", "batch"},
	}, {
		// pay's latency doubled from a flat 5 ms (a huge deviation in its
		// own terms, larger than cart's) but adds 5 ms; cart's adds half
		// the second front lost.
		name: "a callee's latency explains its caller's only as far as it rose",
		in: Input{
			Graph: NewGraph(GraphSpec{Source: "test", Edges: []Edge{{"front", "cart"}, {"front", "pay"}}}),
			Series: []Series{
				series("front", "latency", KindLatency, 0.2, up(1.2)),
				spikeAt("cart", "latency", KindLatency, 0.1, 0.2, -40, -37, up(0.6)),
				spikeAt("pay", "latency", KindLatency, 0.005, 0.005, -60, 0, up(0.01)),
			},
		},
		want: "cart", below: []string{"pay", "front"},
	}, {
		// checkout fails before calling payment and email: they receive
		// nothing, checkout shows nothing itself, front receives as much
		// as ever and answers errors.
		name: "callees that receive less point at the caller that sends less",
		in: Input{
			Graph: NewGraph(GraphSpec{Source: "test", Edges: []Edge{{"front", "checkout"}, {"checkout", "payment"}, {"checkout", "email"}}}),
			Series: []Series{
				series("front", "requests", KindTraffic, 10, nil),
				series("front", "success", KindAvailability, 100, up(94)),
				series("checkout", "requests", KindTraffic, 2, nil),
				series("payment", "requests", KindTraffic, 2, up(0)),
				series("email", "requests", KindTraffic, 2, up(0)),
			},
		},
		want: "checkout", below: []string{"payment", "email"},
	}}
	d := newTestDiagnoser(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Normal, tt.in.Anomalous = normal, anom
			diag, err := d.Diagnose(context.Background(), tt.in)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range diag.Candidates {
				got = append(got, c.Service)
			}
			w := rankOf(diag, tt.want)
			if w == 0 {
				t.Fatalf("%s not a candidate: %v", tt.want, got)
			}
			for _, b := range tt.below {
				if r := rankOf(diag, b); r != 0 && r < w {
					t.Errorf("%s ranked %d above %s at %d: %v", b, r, tt.want, w, got)
				}
			}
		})
	}
}
