package eval

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vigilops/vigil/detect"
)

// boundSessions builds sessions from (sequence, anomalous, train) rows.
func boundSessions(rows ...any) []Session {
	var ss []Session
	for i := 0; i+2 < len(rows); i += 3 {
		ss = append(ss, Session{Events: []string{rows[i].(string)}, Anomalous: rows[i+1].(bool), Train: rows[i+2].(bool)})
	}
	return ss
}

func TestSequenceF1Bound(t *testing.T) {
	const A, N, Tr, Te = true, false, true, false
	tests := []struct {
		name            string
		sessions        []Session
		best, trained   Confusion
		mixed, seenNorm int
	}{
		{"separable", boundSessions("x", A, Te, "y", N, Te, "y", N, Tr),
			Confusion{TP: 1, TN: 1}, Confusion{TP: 1, TN: 1}, 0, 0},
		{"anomaly hidden in a normal training sequence", boundSessions("x", A, Te, "y", A, Te, "y", N, Tr, "z", N, Te),
			Confusion{TP: 2, TN: 1}, Confusion{TP: 1, FN: 1, TN: 1}, 0, 1},
		// Group a: 3 anomalous, 2 normal; group b: 1 anomalous alone.
		// b alone: TP 1 FN 3, F1 2/5 = 0.4; a and b: TP 4 FP 2, F1 8/10
		// = 0.8. Both is best.
		{"majority group worth flagging", boundSessions("a", A, Te, "a", A, Te, "a", A, Te, "a", N, Te, "a", N, Te, "b", A, Te),
			Confusion{TP: 4, FP: 2}, Confusion{TP: 4, FP: 2}, 1, 0},
		// Group a: 1 anomalous, 1 normal (no majority), b: 4 anomalous
		// alone. b: TP 4 FN 1 → 8/9 = 0.889; a and b: TP 5 FP 1 → 10/11
		// = 0.909: flagging a tie group pays here.
		{"tie group worth flagging", boundSessions("a", A, Te, "a", N, Te, "b", A, Te, "b", A, Te, "b", A, Te, "b", A, Te),
			Confusion{TP: 5, FP: 1}, Confusion{TP: 5, FP: 1}, 1, 0},
		{"nothing to find", boundSessions("a", N, Te, "a", N, Tr),
			Confusion{TN: 1}, Confusion{TN: 1}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := SequenceF1Bound(tt.sessions)
			if b.Best != tt.best || b.Trained != tt.trained || b.Mixed != tt.mixed || b.SeenNormal != tt.seenNorm {
				t.Fatalf("got best %+v trained %+v mixed %d seen %d; want %+v %+v %d %d",
					b.Best, b.Trained, b.Mixed, b.SeenNormal, tt.best, tt.trained, tt.mixed, tt.seenNorm)
			}
			if b.F1 != b.Best.F1() || b.TrainedF1 != b.Trained.F1() || b.TrainedF1 > b.F1 {
				t.Fatalf("F1 %v trained %v", b.F1, b.TrainedF1)
			}
		})
	}
}

// TestSequenceF1BoundExhaustive compares the sorted-prefix optimum with
// every subset of groups on small random cases.
func TestSequenceF1BoundExhaustive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		n := 1 + r.IntN(8)
		gs := make([]seqGroup, n)
		pos, neg := 0, 0
		for i := range gs {
			gs[i] = seqGroup{anomalous: r.IntN(5), normal: r.IntN(5)}
			pos += gs[i].anomalous
			neg += gs[i].normal
		}
		extraPos := r.IntN(3) // anomalous sessions outside the groups
		pos += extraPos
		best := 0.0
		for mask := 0; mask < 1<<n; mask++ {
			var c Confusion
			for i, g := range gs {
				if mask&(1<<i) != 0 {
					c.TP += g.anomalous
					c.FP += g.normal
				}
			}
			c.FN = pos - c.TP
			best = math.Max(best, c.F1())
		}
		got := bestFlagging(gs, pos, neg)
		if math.Abs(got.F1()-best) > 1e-12 {
			t.Fatalf("trial %d %v (+%d): prefix optimum %v (%+v), exhaustive %v", trial, gs, extraPos, got.F1(), got, best)
		}
		if got.TP+got.FN != pos || got.FP+got.TN != neg {
			t.Fatalf("trial %d: confusion %+v does not add up to %d/%d", trial, got, pos, neg)
		}
	}
}

// TestHDFS100kBound computes, from the data, the best F1 any verdict on
// the event sequence can reach on HDFS_100k's test split, and the best for
// a detector trained on the normal training sessions (run with -v).
func TestHDFS100kBound(t *testing.T) {
	dir := hdfsDir(t)
	sessions, _, err := LoadHDFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := SequenceF1Bound(sessions)
	t.Logf("%d distinct test sequences, %d shared by normal and anomalous sessions; %d anomalous test sessions repeat a normal training sequence",
		b.Distinct, b.Mixed, b.SeenNormal)
	t.Logf("ceiling, any function of the sequence: F1 %.4f (P %.4f R %.4f; tp %d fp %d fn %d tn %d)",
		b.F1, b.Best.Precision(), b.Best.Recall(), b.Best.TP, b.Best.FP, b.Best.FN, b.Best.TN)
	t.Logf("ceiling, trained on normal sessions: F1 %.4f (P %.4f R %.4f; tp %d fp %d fn %d tn %d)",
		b.TrainedF1, b.Trained.Precision(), b.Trained.Recall(), b.Trained.TP, b.Trained.FP, b.Trained.FN, b.Trained.TN)
	rep, err := ScoreSessions(context.Background(), sessions, dir, detect.DefaultSequenceOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the default model: F1 %.4f, %.1f%% of the trained ceiling", rep.F1, 100*rep.F1/b.TrainedF1)
	if rep.Bound != b {
		t.Errorf("report's bound %+v, want %+v", rep.Bound, b)
	}
	// No detector can beat the ceiling; the model is one such detector.
	if rep.F1 > b.TrainedF1+1e-12 || b.TrainedF1 > b.F1 {
		t.Errorf("model F1 %.4f above trained ceiling %.4f, or that above %.4f", rep.F1, b.TrainedF1, b.F1)
	}
	if b.F1 < 0.97 {
		t.Logf("the target F1 0.97 is above the ceiling %.4f of any sequence-only detector", b.F1)
	}
}
