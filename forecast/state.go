package forecast

import (
	"fmt"
	"math"
)

// kind is a model family's recursion.
type kind uint8

const (
	kNaive kind = iota
	kSNaive
	kAdd // Holt-Winters additive; with m2 > 0 the multi-seasonal model
	kMul // Holt-Winters multiplicative
	kDecomp
)

// params are one candidate's fixed smoothing parameters, in the
// error-correction form of exponential smoothing: each component moves by
// its gain times the one-step error.
type params struct {
	alpha  float64 // level
	beta   float64 // trend (0: no trend)
	phi    float64 // trend damping, in (0,1]
	gamma1 float64 // first season
	gamma2 float64 // second season
}

// state is one model's recursive state. Every family is a special case:
// naive is a level with alpha 1, seasonal naive keeps the last season as
// is, and the multi-seasonal model is additive Holt-Winters with a second
// (weekly) season on top of the first (daily) one.
type state struct {
	kind   kind
	m1, m2 int
	p      params

	l, b   float64
	s1, s2 []float64 // season rings; s1[i1] is the factor of the next step
	i1, i2 int

	last float64 // the last observation
	e    float64 // the last one-step error of the base model
	rho  float64 // AR(1) coefficient of the one-step errors; 0: no correction
	d    *decomp // kDecomp's trend and seasonal table; i1 indexes the table

	// A two-entry cache of trendSum; h 0 is never asked for.
	tsH    [2]int
	tsV    [2]float64
	tsNext int
}

func (s *state) name() string {
	var n string
	switch s.kind {
	case kNaive:
		n = FamilyNaive
	case kSNaive:
		n = fmt.Sprintf("%s(%d)", FamilySeasonalNaive, s.m1)
	case kAdd:
		if s.m2 > 0 {
			n = fmt.Sprintf("%s(%d,%d)", FamilyMultiSeasonal, s.m1, s.m2)
		} else {
			n = fmt.Sprintf("%s(%d)", FamilyHWAdditive, s.m1)
		}
	case kMul:
		n = fmt.Sprintf("%s(%d)", FamilyHWMultiplicate, s.m1)
	case kDecomp:
		if s.m2 > 0 {
			n = fmt.Sprintf("%s(%d,%d)", FamilyDecomposition, s.m1, s.m2)
		} else {
			n = fmt.Sprintf("%s(%d)", FamilyDecomposition, s.m1)
		}
	}
	if s.p.beta > 0 {
		n += "+damped-trend"
	}
	if s.rho != 0 {
		n += "+ar1"
	}
	return n
}

// trendSum is phi + phi^2 + ... + phi^h, the damped trend's reach.
func (s *state) trendSum(h int) float64 {
	if s.p.beta == 0 {
		return 0
	}
	phi := s.p.phi
	if phi >= 1 {
		return float64(h)
	}
	// The backtest asks for the same two lead times at every step.
	for i := range s.tsH {
		if s.tsH[i] == h {
			return s.tsV[i]
		}
	}
	v := phi * (1 - math.Pow(phi, float64(h))) / (1 - phi)
	s.tsH[s.tsNext], s.tsV[s.tsNext] = h, v
	s.tsNext ^= 1
	return v
}

// ring returns the index of the season slot h steps ahead (h >= 1) of
// position i in a ring of m; one division, not two.
func ring(i, h, m int) int {
	j := i + (h-1)%m
	if j >= m {
		j -= m
	}
	return j
}

// base is the h-step forecast (h >= 1) without the error correction.
func (s *state) base(h int) float64 {
	switch s.kind {
	case kNaive:
		return s.last
	case kSNaive:
		return s.s1[ring(s.i1, h, s.m1)]
	case kMul:
		return (s.l + s.trendSum(h)*s.b) * s.s1[ring(s.i1, h, s.m1)]
	case kDecomp:
		return s.d.trend(s.d.t+h-1) + s.d.table[ring(s.i1, h, len(s.d.table))]
	}
	f := s.l
	if s.p.beta != 0 {
		f += s.trendSum(h) * s.b
	}
	if s.m1 > 0 {
		f += s.s1[ring(s.i1, h, s.m1)]
	}
	if s.m2 > 0 {
		f += s.s2[ring(s.i2, h, s.m2)]
	}
	return f
}

// forecast is the h-step forecast with the AR(1) error correction.
func (s *state) forecast(h int) float64 {
	f := s.base(h)
	if s.rho != 0 {
		f += math.Pow(s.rho, float64(h)) * s.e
	}
	return f
}

// update consumes the next observation and returns the base model's
// one-step error.
func (s *state) update(y float64) float64 {
	var e float64
	switch s.kind {
	case kNaive:
		e = y - s.last
	case kSNaive:
		e = y - s.s1[s.i1]
		s.s1[s.i1] = y
		if s.i1++; s.i1 == s.m1 {
			s.i1 = 0
		}
	case kAdd:
		p := &s.p
		lb := s.l + p.phi*s.b
		f := lb
		if s.m1 > 0 {
			f += s.s1[s.i1]
		}
		if s.m2 > 0 {
			f += s.s2[s.i2]
		}
		e = y - f
		s.l = lb + p.alpha*e
		s.b = p.phi*s.b + p.beta*e
		if s.m1 > 0 {
			s.s1[s.i1] += p.gamma1 * e
			if s.i1++; s.i1 == s.m1 {
				s.i1 = 0
			}
		}
		if s.m2 > 0 {
			s.s2[s.i2] += p.gamma2 * e
			if s.i2++; s.i2 == s.m2 {
				s.i2 = 0
			}
		}
	case kDecomp:
		e = y - s.d.trend(s.d.t) - s.d.table[s.i1]
		s.d.t++
		if s.i1++; s.i1 == len(s.d.table) {
			s.i1 = 0
		}
	case kMul:
		p := &s.p
		lb := s.l + p.phi*s.b
		sf := s.s1[s.i1]
		e = y - lb*sf
		s.l = lb + p.alpha*e/sf
		s.b = p.phi*s.b + p.beta*e/sf
		if s.l < 1e-9 {
			// The level of a positive series must stay positive, or the
			// seasonal factors divide by nothing.
			s.l, s.b = 1e-9, 0
		}
		ns := sf + p.gamma1*e/max(lb, 1e-9)
		s.s1[s.i1] = min(max(ns, 1e-3), 1e3)
		if s.i1++; s.i1 == s.m1 {
			s.i1 = 0
		}
	}
	s.last = y
	s.e = e
	return e
}

// newState initialises a candidate from the start of v; the caller then
// runs update over v from index 0 (or from the returned start).
func newState(k kind, m1, m2 int, p params, v []float64) (*state, int) {
	s := &state{kind: k, m1: m1, m2: m2, p: p}
	if s.p.phi == 0 {
		s.p.phi = 1
	}
	switch k {
	case kNaive:
		s.last = v[0]
		return s, 1
	case kSNaive:
		s.s1 = append([]float64(nil), v[:m1]...)
		s.last = v[m1-1]
		return s, m1
	case kMul:
		s.s1 = make([]float64, m1)
		c := min(len(v)/m1, 4)
		for k := 0; k < c; k++ {
			mu := mean(v[k*m1 : (k+1)*m1])
			if k == 0 {
				s.l = mu
			}
			for i := 0; i < m1; i++ {
				s.s1[i] += v[k*m1+i] / mu / float64(c)
			}
		}
	case kAdd:
		s.l = mean(v[:max(m1, m2, 1)])
		if m1 > 0 {
			s.s1 = make([]float64, m1)
			c := min(len(v)/m1, 4)
			for k := 0; k < c; k++ {
				mu := mean(v[k*m1 : (k+1)*m1])
				for i := 0; i < m1; i++ {
					s.s1[i] += (v[k*m1+i] - mu) / float64(c)
				}
			}
		}
		if m2 > 0 {
			// The second season holds what the first does not explain.
			s.s2 = make([]float64, m2)
			c := min(len(v)/m2, 2)
			for k := 0; k < c; k++ {
				mu := mean(v[k*m2 : (k+1)*m2])
				for j := 0; j < m2; j++ {
					d := 0.0
					if m1 > 0 {
						d = s.s1[j%m1]
					}
					s.s2[j] += (v[k*m2+j] - mu - d) / float64(c)
				}
			}
		}
	}
	s.last = v[0]
	return s, 0
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var t float64
	for _, x := range v {
		t += x
	}
	return t / float64(len(v))
}
