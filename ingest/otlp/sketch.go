package otlp

import (
	"math"
	"time"
)

// The latency sketch is a fixed log-scale histogram: bucket 0 holds
// durations up to sketchMin, bucket i (1 ≤ i < sketchBuckets-1) those in
// (sketchMin·2^((i-1)/sketchPerDoubling), sketchMin·2^(i/sketchPerDoubling)],
// and the last bucket everything longer (≈ 168 s and up). Four buckets per
// doubling bound a quantile's relative error by about 9% before
// interpolation, at 800 bytes per edge; quantiles are also clamped to the
// exact min and max, so a single call reports its own latency.
const (
	sketchMin         = 10 * time.Microsecond
	sketchPerDoubling = 4
	sketchBuckets     = 98
)

type latencySketch struct {
	counts   [sketchBuckets]uint64
	n        uint64
	min, max time.Duration
}

func sketchIndex(d time.Duration) int {
	if d <= sketchMin {
		return 0
	}
	i := int(math.Ceil(sketchPerDoubling * math.Log2(float64(d)/float64(sketchMin))))
	return min(max(i, 1), sketchBuckets-1)
}

// sketchUpper is the upper bound of bucket i (i < sketchBuckets-1).
func sketchUpper(i int) float64 {
	return float64(sketchMin) * math.Exp2(float64(i)/sketchPerDoubling)
}

func (s *latencySketch) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	s.counts[sketchIndex(d)]++
	if s.n == 0 || d < s.min {
		s.min = d
	}
	if d > s.max {
		s.max = d
	}
	s.n++
}

// quantile estimates the q-quantile (0 < q ≤ 1) by log-linear
// interpolation inside the bucket that holds it.
func (s *latencySketch) quantile(q float64) time.Duration {
	if s.n == 0 {
		return 0
	}
	rank := math.Max(1, math.Ceil(q*float64(s.n)))
	var cum float64
	for i, c := range s.counts {
		if c == 0 {
			continue
		}
		if cum+float64(c) < rank {
			cum += float64(c)
			continue
		}
		frac := (rank - cum) / float64(c)
		var lo, hi float64
		switch {
		case i == 0:
			lo, hi = float64(s.min), float64(sketchMin)
		case i == sketchBuckets-1:
			lo, hi = sketchUpper(i-1), float64(s.max)
		default:
			lo, hi = sketchUpper(i-1), sketchUpper(i)
		}
		var v float64
		// Log-linear inside the geometric buckets; linear in the
		// overflow bucket, whose width is unknown until max.
		if lo > 0 && hi > lo && i < sketchBuckets-1 {
			v = lo * math.Pow(hi/lo, frac)
		} else {
			v = lo + (hi-lo)*frac
		}
		return min(max(time.Duration(v), s.min), s.max)
	}
	return s.max
}
