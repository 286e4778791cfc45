package sim

import (
	"math"
	"math/rand/v2"
)

// Random streams. Every step reseeds each stream from (seed, stream, step),
// so a record's randomness depends only on where it is in simulated time and
// never on how much randomness something else consumed before it. That is
// what makes the output independent of Advance's chunking, and it keeps the
// services a fault does not touch byte-identical to a clean run.
const (
	streamModel uint64 = 1 + iota
	streamFlows
	streamDay
	streamHPA
	streamAlerts
	streamStartup
	streamBackground // + service index
)

// splitmix is SplitMix64's finaliser, used to spread seeds.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// stream is a reseedable PCG generator; it is reused to avoid allocating a
// generator per step.
type stream struct {
	pcg rand.PCG
	*rand.Rand
}

func newStream() *stream {
	s := &stream{}
	s.Rand = rand.New(&s.pcg)
	return s
}

func (s *stream) reseed(seed int64, id uint64, idx int64) {
	s.pcg.Seed(splitmix(uint64(seed)^splitmix(id)), splitmix(uint64(idx)^(id<<48)))
}

// poisson draws a Poisson variate; above λ=30 the normal approximation is
// indistinguishable for our purposes and much cheaper.
func poisson(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda < 30 {
		l := math.Exp(-lambda)
		k, p := 0, 1.0
		for {
			p *= r.Float64()
			if p <= l {
				return k
			}
			k++
		}
	}
	n := lambda + math.Sqrt(lambda)*r.NormFloat64() + 0.5
	if n < 0 {
		return 0
	}
	return int(n)
}

// stochRound rounds x up with probability equal to its fractional part, so
// integer counters track a fractional rate without bias.
func stochRound(r *rand.Rand, x float64) uint64 {
	if x <= 0 {
		return 0
	}
	f := math.Floor(x)
	n := uint64(f)
	if r.Float64() < x-f {
		n++
	}
	return n
}

// pickWeighted returns an index drawn in proportion to w.
func pickWeighted(r *rand.Rand, w []float64) int {
	var sum float64
	for _, x := range w {
		sum += x
	}
	if sum <= 0 {
		return 0
	}
	u := r.Float64() * sum
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return len(w) - 1
}

// zipfish returns an integer in [0, n) skewed towards small values, a cheap
// stand-in for the popularity of products and users.
func zipfish(r *rand.Rand, n int) int {
	u := r.Float64()
	return int(float64(n) * u * u * u)
}

// jitter returns x scaled by a lognormal factor with the given sigma.
func jitter(r *rand.Rand, x, sigma float64) float64 {
	return x * math.Exp(sigma*r.NormFloat64())
}
