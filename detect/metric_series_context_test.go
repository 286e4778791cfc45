package detect

import (
	"math"
	"testing"
	"time"
)

// TestSeriesDetectorContext: with Context on, Score is never below the
// streaming detector's own and rises where the rhythm of a series changes
// while its values stay in their usual range; paging is unchanged.
func TestSeriesDetectorContext(t *testing.T) {
	plain := DefaultSeriesOptions()
	withCtx := plain
	withCtx.Context = true
	a, b := NewSeriesDetector(plain), NewSeriesDetector(withCtx)
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	var maxA, maxB float64
	for i := 0; i < 4000; i++ {
		period := 40
		if i >= 3000 {
			period = 6 // same levels, a different rhythm
		}
		v := 10.0
		if (i/(period/2))%2 == 1 {
			v = 20
		}
		v += 0.01 * math.Sin(float64(i))
		ts := t0.Add(time.Duration(i) * time.Minute)
		sa, sb := a.Observe(ts, v), b.Observe(ts, v)
		if sb.Score < sa.Score-1e-12 {
			t.Fatalf("point %d: score %.4f with context below %.4f without", i, sb.Score, sa.Score)
		}
		if sa.Likelihood != sb.Likelihood {
			t.Fatalf("point %d: likelihood %.4f with context, %.4f without: paging must not change", i, sb.Likelihood, sa.Likelihood)
		}
		if i >= 3000 && i < 3100 {
			maxA, maxB = max(maxA, sa.Score), max(maxB, sb.Score)
		}
	}
	t.Logf("after the rhythm change: max score %.3f without context, %.3f with", maxA, maxB)
	if !(maxB > maxA+0.1) {
		t.Fatalf("rhythm change scored %.3f with context, %.3f without: want clearly higher", maxB, maxA)
	}
}
