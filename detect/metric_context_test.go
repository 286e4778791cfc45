package detect

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestContextOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*ContextOptions)
		ok   bool
	}{
		{"defaults", func(*ContextOptions) {}, true},
		{"known bounds", func(o *ContextOptions) { o.Min, o.Max = 0, 100 }, true},
		{"no replay", func(o *ContextOptions) { o.Replay = 0 }, true},
		{"zero bits", func(o *ContextOptions) { o.Bits = 0 }, false},
		{"nine bits", func(o *ContextOptions) { o.Bits = 9 }, false},
		{"zero left facts", func(o *ContextOptions) { o.MaxLeftFacts = 0 }, false},
		{"negative active", func(o *ContextOptions) { o.MaxActive = -1 }, false},
		{"negative rest", func(o *ContextOptions) { o.RestPoints = -1 }, false},
		{"NaN rest threshold", func(o *ContextOptions) { o.RestThreshold = math.NaN() }, false},
		{"rest threshold above 1", func(o *ContextOptions) { o.RestThreshold = 1.5 }, false},
		{"zero warm-up", func(o *ContextOptions) { o.WarmUp = 0 }, false},
		{"negative margin", func(o *ContextOptions) { o.Margin = -0.1 }, false},
		{"negative replay", func(o *ContextOptions) { o.Replay = -1 }, false},
		{"zero contexts", func(o *ContextOptions) { o.MaxContexts = 0 }, false},
		{"infinite bound", func(o *ContextOptions) { o.Max = math.Inf(1) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultContextOptions()
			tt.mod(&o)
			_, err := NewContextDetector(o)
			if tt.ok && err != nil {
				t.Fatalf("NewContextDetector: %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrContextOptions) {
				t.Fatalf("NewContextDetector = %v, want ErrContextOptions", err)
			}
		})
	}
}

// pattern repeats a short sawtooth: a series whose every context recurs.
func pattern(i int) float64 { return float64(i%8) * 10 }

func TestContextDetectorScores(t *testing.T) {
	tests := []struct {
		name string
		// value of point i; the fault, if any, starts at point 2000
		series func(i int) float64
		// wantHigh: the score reaches 0.5 within 20 points of 2000;
		// otherwise no score after the warm-up and rest reaches 0.5
		wantHigh bool
	}{
		{"recurring pattern", pattern, false},
		{"flat line", func(int) float64 { return 3 }, false},
		{"pattern breaks within the range", func(i int) float64 {
			if i >= 2000 && i < 2040 {
				return 35 // a level the pattern only passes through
			}
			return pattern(i)
		}, true},
		{"spike beyond the range", func(i int) float64 {
			if i == 2000 {
				return 500
			}
			return pattern(i)
		}, true},
		{"flat line steps", func(i int) float64 {
			if i >= 2000 {
				return 4
			}
			return 3
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewContextDetector(DefaultContextOptions())
			if err != nil {
				t.Fatal(err)
			}
			quiet, peak := 0.0, 0.0
			for i := range 2400 {
				s := d.Observe(tt.series(i))
				if s < 0 || s > 1 || math.IsNaN(s) {
					t.Fatalf("point %d: score %v outside [0,1]", i, s)
				}
				switch {
				case i >= 1000 && i < 2000:
					quiet = max(quiet, s)
				case i >= 2000 && i < 2020:
					peak = max(peak, s)
				}
			}
			t.Logf("max score before the fault %.3f, after it %.3f", quiet, peak)
			if quiet >= 0.5 {
				t.Errorf("score reached %.3f on the learned series before the fault", quiet)
			}
			if tt.wantHigh && peak < 0.5 {
				t.Errorf("score peaked at %.3f after the fault, want >= 0.5", peak)
			}
			if !tt.wantHigh && peak >= 0.5 {
				t.Errorf("score reached %.3f with no fault", peak)
			}
		})
	}
}

func TestContextDetectorWarmUpAndSkips(t *testing.T) {
	o := DefaultContextOptions()
	o.WarmUp = 10
	d, err := NewContextDetector(o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range o.WarmUp {
		if s := d.Observe(float64(i % 3)); s != 0 {
			t.Fatalf("warm-up point %d scored %v, want 0", i, s)
		}
	}
	before := d.Contexts()
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if s := d.Observe(v); s != 0 {
			t.Errorf("Observe(%v) = %v, want 0", v, s)
		}
	}
	if d.Contexts() != before || d.Rebuilds() != 0 {
		t.Errorf("skipped values changed the memory: %d contexts (had %d), %d rebuilds", d.Contexts(), before, d.Rebuilds())
	}
}

func TestContextDetectorKnownBounds(t *testing.T) {
	o := DefaultContextOptions()
	o.Min, o.Max = 0, 70
	d, err := NewContextDetector(o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		d.Observe(pattern(i))
	}
	if d.Contexts() == 0 {
		t.Fatal("with known bounds the memory learned nothing in 10 points: a warm-up ran")
	}
	if d.Rebuilds() != 0 {
		t.Errorf("%d rebuilds for values within the known bounds, want 0", d.Rebuilds())
	}
}

func TestContextDetectorExtremeValues(t *testing.T) {
	o := DefaultContextOptions()
	o.WarmUp = 4
	d, err := NewContextDetector(o)
	if err != nil {
		t.Fatal(err)
	}
	vs := []float64{0, 1, -1, 2, math.MaxFloat64, -math.MaxFloat64, 5e307, math.SmallestNonzeroFloat64, 3}
	for i := range 200 {
		v := vs[i%len(vs)]
		if s := d.Observe(v); !(s >= 0 && s <= 1) {
			t.Fatalf("point %d: Observe(%v) = %v, outside [0,1]", i, v, s)
		}
	}
	if math.IsInf(d.lo, 0) || math.IsInf(d.hi, 0) {
		t.Errorf("range [%v, %v] is not finite", d.lo, d.hi)
	}
}

func TestContextDetectorWidensAndRebuilds(t *testing.T) {
	d, err := NewContextDetector(DefaultContextOptions())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		d.Observe(pattern(i))
	}
	if d.Rebuilds() != 0 {
		t.Fatalf("%d rebuilds within the warm-up range, want 0", d.Rebuilds())
	}
	d.Observe(1000)
	if d.Rebuilds() != 1 {
		t.Fatalf("%d rebuilds after a new extreme, want 1", d.Rebuilds())
	}
	// With the margin, a value a little above the old extreme fits.
	d.Observe(1050)
	if d.Rebuilds() != 1 {
		t.Errorf("%d rebuilds after a value within the margin, want 1", d.Rebuilds())
	}
}

func TestContextDetectorBoundedMemory(t *testing.T) {
	o := DefaultContextOptions()
	o.MaxContexts = 500
	o.Replay = 200
	d, err := NewContextDetector(o)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	peak := 0
	for range 20_000 {
		d.Observe(r.Float64())
		if d.Contexts() > o.MaxContexts {
			t.Fatalf("%d contexts, above the bound %d", d.Contexts(), o.MaxContexts)
		}
		peak = max(peak, d.StateBytes())
	}
	if d.Rebuilds() == 0 {
		t.Error("noise never filled 500 contexts; the bound was not exercised")
	}
	if peak > 400<<10 {
		t.Errorf("state peaked at %d bytes for 500 contexts", peak)
	}
}

func TestContextDetectorDeterministic(t *testing.T) {
	run := func() []float64 {
		d, err := NewContextDetector(DefaultContextOptions())
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(3, 4))
		out := make([]float64, 3000)
		for i := range out {
			out[i] = d.Observe(math.Sin(float64(i)/20) + 0.3*r.NormFloat64())
		}
		return out
	}
	a, b := run(), run()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("point %d: %v then %v", i, a[i], b[i])
		}
	}
}

func TestCombineScores(t *testing.T) {
	tests := []struct {
		name          string
		core, context float64
		want          float64
	}{
		{"both quiet", 0, 0, 0},
		{"core alone", 0.8, 0, 0.8},
		{"context alone is scaled", 0, 0.8, 0.8 * ContextWeight},
		{"the larger wins", 0.5, 0.9, 0.9 * ContextWeight},
		{"core above scaled context", 0.7, 0.9, 0.7},
		{"capped at one", 0, 1, ContextWeight},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CombineScores(tt.core, tt.context); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("CombineScores(%v, %v) = %v, want %v", tt.core, tt.context, got, tt.want)
			}
		})
	}
}

// FuzzContextDetector feeds arbitrary values (8 bytes each): scores stay
// in [0,1] and memory within its bound.
func FuzzContextDetector(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 240, 63, 0, 0, 0, 0, 0, 0, 0, 64})
	f.Add(make([]byte, 80))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 8*4096 {
			b = b[:8*4096] // bounded work per input
		}
		o := DefaultContextOptions()
		o.WarmUp, o.Replay, o.MaxContexts = 4, 16, 64
		d, err := NewContextDetector(o)
		if err != nil {
			t.Fatal(err)
		}
		for ; len(b) >= 8; b = b[8:] {
			v := math.Float64frombits(binary.LittleEndian.Uint64(b))
			s := d.Observe(v)
			if !(s >= 0 && s <= 1) {
				t.Fatalf("Observe(%v) = %v, outside [0,1]", v, s)
			}
			if d.Contexts() > o.MaxContexts {
				t.Fatalf("%d contexts above the bound %d", d.Contexts(), o.MaxContexts)
			}
		}
	})
}

// benchSeries is a daily-like wave with noise: a typical metric.
func benchSeries(n int) []float64 {
	r := rand.New(rand.NewPCG(5, 6))
	out := make([]float64, n)
	for i := range out {
		out[i] = 50 + 20*math.Sin(2*math.Pi*float64(i)/288) + 3*r.NormFloat64()
	}
	return out
}

func BenchmarkContextDetector(b *testing.B) {
	for _, bc := range []struct {
		name string
		vs   []float64
	}{
		{"wave", benchSeries(20_000)},
		{"noise", func() []float64 {
			r := rand.New(rand.NewPCG(7, 8))
			out := make([]float64, 20_000)
			for i := range out {
				out[i] = r.Float64()
			}
			return out
		}()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d, err := NewContextDetector(DefaultContextOptions())
			if err != nil {
				b.Fatal(err)
			}
			// Learn first: the cost that matters is the steady state.
			for _, v := range bc.vs {
				d.Observe(v)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				d.Observe(bc.vs[i%len(bc.vs)])
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
			b.ReportMetric(float64(d.StateBytes()), "state-bytes")
		})
	}
}
