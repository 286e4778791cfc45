package otlp

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestLatencySketch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dists := []struct {
		name string
		draw func() time.Duration
	}{
		{"uniform 1-100ms", func() time.Duration { return time.Millisecond + time.Duration(rng.Int64N(int64(99*time.Millisecond))) }},
		{"lognormal around 20ms", func() time.Duration { return time.Duration(20e6 * math.Exp(rng.NormFloat64())) }},
		{"bimodal cache hit/miss", func() time.Duration {
			if rng.IntN(10) < 8 {
				return 200*time.Microsecond + time.Duration(rng.Int64N(100e3))
			}
			return 50*time.Millisecond + time.Duration(rng.Int64N(50e6))
		}},
		{"sub-bucket 2µs", func() time.Duration { return 2 * time.Microsecond }},
		{"beyond the top bucket", func() time.Duration { return 200*time.Second + time.Duration(rng.Int64N(int64(100*time.Second))) }},
	}
	for _, d := range dists {
		t.Run(d.name, func(t *testing.T) {
			var s latencySketch
			xs := make([]time.Duration, 5000)
			for i := range xs {
				xs[i] = d.draw()
				s.add(xs[i])
			}
			slices.Sort(xs)
			for _, q := range []float64{0.5, 0.95, 0.99} {
				exact := xs[int(math.Ceil(q*float64(len(xs))))-1]
				got := s.quantile(q)
				if rel := math.Abs(float64(got-exact)) / float64(exact); rel > 0.1 {
					t.Errorf("q%v: got %v, exact %v (%.1f%% off)", q, got, exact, 100*rel)
				}
			}
			if s.max != xs[len(xs)-1] || s.min != xs[0] {
				t.Errorf("min/max %v/%v", s.min, s.max)
			}
		})
	}
	var empty latencySketch
	if empty.quantile(0.5) != 0 {
		t.Fatal("empty sketch")
	}
	var one latencySketch
	one.add(37 * time.Millisecond)
	if one.quantile(0.5) != 37*time.Millisecond || one.quantile(0.99) != 37*time.Millisecond {
		t.Fatalf("single value: %v", one.quantile(0.5))
	}
	one.add(-time.Second) // clock skew: counted as 0
	if one.min != 0 || one.n != 2 {
		t.Fatalf("negative duration: %+v", one)
	}
}
