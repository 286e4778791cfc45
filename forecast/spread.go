package forecast

import (
	"math"
	"slices"
	"time"
)

// spread is the error scale measured by the backtest: the root mean square
// of the chosen model's errors one step, h and h2 steps ahead, and (for
// empirical quantiles) the quantiles of its standardised h-step errors.
type spread struct {
	s1, sh, sh2 float64
	h, h2       int
	z           []float64 // zLevels quantiles of error/sh, increasing
}

// zLevels are the probabilities the empirical table holds: 0.01 .. 0.99.
const zLevels = 99

// spread measures the record of the last pass with correction rho.
func (bt *backtest) spread(rho float64, method string) spread {
	rh := math.Pow(rho, float64(bt.h))
	rh2 := math.Pow(rho, float64(bt.h2))
	n := bt.hi - bt.lo
	var s1, sh, sh2 float64
	errs := make([]float64, 0, n)
	for t := bt.lo; t < bt.hi; t++ {
		i := t - bt.lo
		e1 := bt.e[i+1] - rho*bt.e[i]
		eh := bt.v[t+bt.h] - bt.fh[i] - rh*bt.e[i]
		eh2 := bt.v[t+bt.h2] - bt.fh2[i] - rh2*bt.e[i]
		s1 += e1 * e1
		sh += eh * eh
		sh2 += eh2 * eh2
		errs = append(errs, eh)
	}
	sp := spread{h: bt.h, h2: bt.h2}
	sp.s1 = math.Sqrt(s1 / float64(n))
	// Errors further ahead are never taken as smaller: the band widens.
	sp.sh = max(math.Sqrt(sh/float64(n)), sp.s1)
	sp.sh2 = max(math.Sqrt(sh2/float64(n)), sp.sh)
	if method == QuantileEmpirical && sp.sh > 0 && n >= 20 {
		slices.Sort(errs)
		sp.z = make([]float64, zLevels)
		for k := range sp.z {
			q := float64(k+1) / (zLevels + 1)
			sp.z[k] = quantileSorted(errs, q) / sp.sh
		}
	}
	return sp
}

// quantileSorted interpolates the q quantile of sorted xs.
func quantileSorted(xs []float64, q float64) float64 {
	pos := q * float64(len(xs)-1)
	i := int(pos)
	if i >= len(xs)-1 {
		return xs[len(xs)-1]
	}
	f := pos - float64(i)
	return xs[i]*(1-f) + xs[i+1]*f
}

// scales returns the error scale for horizons 1..steps: the variance is
// interpolated linearly between the measured horizons and extrapolated
// beyond h2 at the rate it grew from h to h2 (at least the one-step
// variance per h2 steps, so that a far horizon never looks as sure as a
// near one).
func (sp spread) scales(steps int) []float64 {
	out := make([]float64, steps)
	v1, vh, vh2 := sp.s1*sp.s1, sp.sh*sp.sh, sp.sh2*sp.sh2
	slope := max((vh2-vh)/float64(sp.h2-sp.h), v1/float64(sp.h2))
	for h := 1; h <= steps; h++ {
		var v float64
		switch {
		case h <= sp.h && sp.h > 1:
			v = v1 + (vh-v1)*float64(h-1)/float64(sp.h-1)
		case h <= sp.h:
			v = vh
		case h <= sp.h2:
			v = vh + (vh2-vh)*float64(h-sp.h)/float64(sp.h2-sp.h)
		default:
			v = vh2 + slope*float64(h-sp.h2)
		}
		out[h-1] = math.Sqrt(v)
		if h > 1 && out[h-1] < out[h-2] {
			out[h-1] = out[h-2]
		}
	}
	return out
}

// Forecast is a model's prediction for the steps after its last point.
type Forecast struct {
	// Start is the time of Mean[0]; Mean[i] is at Start + i*Step.
	Start time.Time
	Step  time.Duration
	// Mean is the point forecast per step.
	Mean []float64
	// Spread is the error scale per step (the root mean square error the
	// backtest measured at that lead time, interpolated); it never
	// shrinks with the horizon.
	Spread []float64

	z      []float64 // standardised error quantiles, nil: Gaussian
	normal bool
}

// Times returns the time of every step of the forecast.
func (f *Forecast) Times() []time.Time {
	ts := make([]time.Time, len(f.Mean))
	for i := range ts {
		ts[i] = f.Start.Add(time.Duration(i) * f.Step)
	}
	return ts
}

// Quantile returns the q quantile of the forecast at every step, q in
// (0,1); q is clamped into (0.0001, 0.9999). Quantiles are monotone in q
// at every step, and the distance of a quantile from the mean never
// shrinks with the horizon.
func (f *Forecast) Quantile(q float64) []float64 {
	if math.IsNaN(q) {
		q = 0.5
	}
	q = min(max(q, 0.0001), 0.9999)
	z := f.zscore(q)
	out := make([]float64, len(f.Mean))
	for i, m := range f.Mean {
		out[i] = m + z*f.Spread[i]
	}
	return out
}

// zscore maps q to a standardised error quantile.
func (f *Forecast) zscore(q float64) float64 {
	nz := math.Sqrt2 * math.Erfinv(2*q-1)
	if f.normal || len(f.z) != zLevels {
		return nz
	}
	// The table covers 0.01..0.99; beyond it the Gaussian tail carries on
	// from the table's end, so that the result stays monotone in q.
	lo, hi := 1.0/(zLevels+1), float64(zLevels)/(zLevels+1)
	switch {
	case q <= lo:
		return f.z[0] + nz - math.Sqrt2*math.Erfinv(2*lo-1)
	case q >= hi:
		return f.z[zLevels-1] + nz - math.Sqrt2*math.Erfinv(2*hi-1)
	}
	pos := q*(zLevels+1) - 1
	i := int(pos)
	if i >= zLevels-1 {
		return f.z[zLevels-1]
	}
	fr := pos - float64(i)
	return f.z[i]*(1-fr) + f.z[i+1]*fr
}
