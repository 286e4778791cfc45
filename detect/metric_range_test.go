package detect

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestRangeView checks the range view's two judgements on a noisy series
// that alternates between two levels: a value beyond everything seen
// scores 1 and widens the range, so that its repeat does not; a step
// between the two usual levels scores low, and a jump to a level never
// stepped to from there scores high.
func TestRangeView(t *testing.T) {
	var r rangeView
	rng := rand.New(rand.NewPCG(1, 2))
	level := func(i int) float64 { // 10 for 50 points, 20 for 50 points
		if (i/50)%2 == 0 {
			return 10
		}
		return 20
	}
	var i int
	for ; i < 6000; i++ {
		r.observe(level(i) + 0.3*rng.NormFloat64())
	}
	if r.lo > 9 || r.hi < 21 {
		t.Fatalf("range %.2f..%.2f after 6,000 points of 10 and 20, want it to hold both", r.lo, r.hi)
	}
	// An ordinary step down from 20 to 10, after the rest has passed.
	for level(i) != 20 || level(i+1) != 10 {
		r.observe(level(i) + 0.3*rng.NormFloat64())
		i++
	}
	r.observe(20)
	// The step is taken once in a hundred points from 20: rare, but not
	// rare enough (1 in 1,000) to reach the core's alarm level.
	if got := r.observe(10); rvWeight*got >= mcHoldAt {
		t.Errorf("usual step 20 -> 10 scored %.4f, past the alarm level", got)
	}
	// A calm spell at 10 (noise well inside the level), long enough for
	// the rest that the step down started to pass.
	for k := 0; k < rvRest+5; k++ {
		r.observe(10 + 0.05*rng.NormFloat64())
	}
	// From 10 the series has only ever stayed or stepped to 20; a value
	// half-way (15) lies in a level it never stepped to. With the prior of
	// rvPrior counts per step, that reaches the alarm once the level has
	// been left several hundred times.
	if got := r.observe(15); rvWeight*got < 0.999*mcHoldAt {
		t.Errorf("never-taken step 10 -> 15 scored %.4f, want it at the alarm level", got)
	}
	for k := 0; k < rvRest+5; k++ {
		r.observe(10 + 0.3*rng.NormFloat64())
	}
	hi := r.hi
	if got := r.observe(hi + 5); got != 1 {
		t.Errorf("new extreme %.2f beyond %.2f scored %.3f, want 1", hi+5, hi, got)
	}
	if r.hi <= hi+5 {
		t.Errorf("range not widened past the new extreme: hi %.2f", r.hi)
	}
	if got := r.observe(hi + 5); got == 1 {
		t.Error("the same extreme again scored 1: the range did not take it in")
	}
	var total uint32
	for _, c := range r.row {
		total += c
	}
	if want := uint32(i + 2*(rvRest+5) + 4 - rvWarmup); total < want-3 || total > want {
		t.Errorf("transition counts hold %d steps after widening, want about %d: counts lost in the remap", total, want)
	}
}

// TestRangeViewRest: a step the series takes about once in ten from its
// level is not alarming, but it starts the rest, so that a never-taken
// step right after it goes unscored; after a calm spell of rvRest points
// the same never-taken step reaches the alarm.
func TestRangeViewRest(t *testing.T) {
	var r rangeView
	rng := rand.New(rand.NewPCG(3, 4))
	// Mostly at 10, one point in ten at 20, and the range spans 0..30 so
	// that 10, 20 and 28 sit in different levels.
	r.observe(0)
	r.observe(30)
	for i := 0; i < 5000; i++ {
		v := 10.0
		if rng.IntN(10) == 0 {
			v = 20
		}
		r.observe(v)
	}
	for r.cool > 0 || r.prev != r.bin(10) {
		r.observe(10)
	}
	got := r.observe(20)
	if rvWeight*got >= mcHoldAt {
		t.Errorf("a one-in-ten step scored %.4f, past the alarm level", got)
	}
	if got < rvRestAt {
		t.Fatalf("a one-in-ten step scored %.4f, below rvRestAt %.2f: the test no longer exercises the rest", got, rvRestAt)
	}
	r.observe(10)
	if got := r.observe(28); got != 0 {
		t.Errorf("never-taken step 10 -> 28 during the rest scored %.4f, want 0", got)
	}
	for k := 0; k < rvRest+5; k++ {
		r.observe(10)
	}
	if got := r.observe(28); rvWeight*got < 0.999*mcHoldAt {
		t.Errorf("never-taken step 10 -> 28 after a calm spell scored %.4f, want it at the alarm level", got)
	}
	// The price (eval/nab/TUNING.md, step 19): noise that keeps crossing
	// a level boundary keeps taking unusual steps, so the view rests for
	// as long and scores no step at all; only a new extreme still counts.
	for k := 0; k < 3*rvRest; k++ {
		r.observe(r.lo + (r.hi-r.lo)*float64(r.bin(10)+1)/rvBins + 0.3*rng.NormFloat64())
	}
	if got := r.observe(28); got != 0 || r.cool == 0 {
		t.Errorf("never-taken step after a spell of noise across a level boundary scored %.4f (rest %d), want 0 while resting", got, r.cool)
	}
	if got := r.observe(r.hi + 0.5*(r.hi-r.lo)); got != 1 {
		t.Errorf("a new extreme during the rest scored %.4f, want 1", got)
	}
}

// TestRangeViewFlat: a series that never moved stays below the alarm
// level, reads a change of a tenth of its level as a new extreme (a series
// stuck at 0 any change at all), and never produces NaN.
func TestRangeViewFlat(t *testing.T) {
	for _, base := range []float64{0, 1, 1e9, -3} {
		var r rangeView
		for i := 0; i < rvWarmup+10; i++ {
			if got := r.observe(base); rvWeight*got >= mcHoldAt {
				t.Fatalf("base %g: flat point %d scored %g, past the alarm level", base, i, got)
			}
		}
		step := 0.2*math.Abs(base) + 1e-9
		if got := r.observe(base + step); got != 1 {
			t.Errorf("base %g: first move to %g scored %g, want 1 (new extreme)", base, base+step, got)
		}
		if math.IsNaN(r.lo) || math.IsNaN(r.hi) || r.scale < 0 {
			t.Errorf("base %g: range %g..%g scale %g", base, r.lo, r.hi, r.scale)
		}
	}
}

// FuzzSeriesScore feeds a detector values from the edges of float64 (huge,
// tiny, zero, alternating signs) and checks that every score stays a
// number in [0, 1]: the range view's widening and the seasonal rings must
// not overflow into NaN.
func FuzzSeriesScore(f *testing.F) {
	f.Add(1.0, 2.0, uint16(500))
	f.Add(1e150, -1e150, uint16(400))
	f.Add(1e308, -1e308, uint16(400)) // skipped: beyond MaxValue
	f.Add(5e-324, 0.0, uint16(300))
	f.Add(-3.0, 1e300, uint16(1000))
	f.Fuzz(func(t *testing.T, a, b float64, n uint16) {
		d := NewSeriesDetector(DefaultSeriesOptions())
		t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
		for i := 0; i < int(n)%2000+200; i++ {
			v := a
			switch i % 7 {
			case 3:
				v = b
			case 5:
				v = (a + b) / 2
			}
			s := d.Observe(t0.Add(time.Duration(i)*time.Minute), v)
			if math.IsNaN(s.Score) || s.Score < 0 || s.Score > 1 || math.IsNaN(s.Likelihood) {
				t.Fatalf("point %d value %g: score %g likelihood %g", i, v, s.Score, s.Likelihood)
			}
		}
	})
}
