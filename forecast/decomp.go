package forecast

import (
	"math"
)

// The decomposition model, in the spirit of Prophet: the series is a
// piecewise-linear trend plus Fourier series for the daily and weekly
// seasons, fitted by (ridge) least squares over the recent weeks, and its
// remainder is followed by the AR(1) correction. Unlike Prophet's MAP fit,
// the changepoints sit at fixed places and are shrunk by a ridge penalty,
// which keeps the fit one small linear solve.
//
// To stay cheap on fine steps the regression is fitted on block means of
// at most decompRows rows, and the fitted seasonal part is tabulated once
// over the longest season, so that forecasting and updating are O(1).

const (
	decompRows        = 2000 // most regression rows
	decompDailyTerms  = 6    // Fourier pairs for the daily season
	decompWeeklyTerms = 3    // and for the weekly one
	decompHinges      = 5    // trend changepoints, over the first 80%
	decompHingeRidge  = 0.05 // ridge on the changepoint slopes, per row
)

// decomp is the fitted trend and seasonal table of a decomposition state.
type decomp struct {
	span    float64   // fit length in steps: trend time x = t/span
	a, b    float64   // intercept and slope
	cps, ws []float64 // changepoints (in x) and their slope changes
	table   []float64 // seasonal part for t mod len(table)
	t       int       // steps since the fit range began, of the next value
}

// trend is the trend at step t.
func (d *decomp) trend(t int) float64 {
	x := float64(t) / d.span
	v := d.a + d.b*x
	for j, c := range d.cps {
		if x > c {
			v += d.ws[j] * (x - c)
		}
	}
	return v
}

// fitDecomp fits the decomposition to v with seasons m1 (and m2 if > 0);
// false when the solve fails or v is shorter than two long seasons.
func fitDecomp(v []float64, m1, m2 int) (*decomp, bool) {
	long := max(m1, m2)
	if m1 < 2 || len(v) < 2*long {
		return nil, false
	}
	k1 := min(decompDailyTerms, (m1-1)/2)
	k2 := 0
	if m2 > 0 {
		k2 = min(decompWeeklyTerms, (m2-1)/2)
	}
	p := 2 + decompHinges + 2*(k1+k2)
	f := (len(v) + decompRows - 1) / decompRows // block length
	rows := len(v) / f
	span := float64(len(v))
	d := &decomp{span: span, cps: make([]float64, decompHinges), ws: make([]float64, decompHinges)}
	for j := range d.cps {
		d.cps[j] = 0.8 * float64(j+1) / float64(decompHinges+1)
	}
	xtx := make([]float64, p*p)
	xty := make([]float64, p)
	x := make([]float64, p)
	for r := 0; r < rows; r++ {
		lo := len(v) - (rows-r)*f // blocks end at the last point
		y := mean(v[lo : lo+f])
		tc := float64(lo) + float64(f-1)/2
		d.features(x, tc, m1, m2, k1, k2)
		for i := 0; i < p; i++ {
			if x[i] == 0 {
				continue
			}
			xty[i] += x[i] * y
			row := xtx[i*p:]
			for j := i; j < p; j++ {
				row[j] += x[i] * x[j]
			}
		}
	}
	for i := 0; i < p; i++ {
		for j := 0; j < i; j++ {
			xtx[i*p+j] = xtx[j*p+i]
		}
		ridge := 1e-9 * (xtx[i*p+i] + 1)
		if i >= 2 && i < 2+decompHinges {
			ridge += decompHingeRidge * float64(rows)
		}
		xtx[i*p+i] += ridge
	}
	beta, ok := cholSolve(xtx, xty, p)
	if !ok {
		return nil, false
	}
	d.a, d.b = beta[0], beta[1]
	copy(d.ws, beta[2:2+decompHinges])
	// Tabulate the seasonal part over the longest season by rotating
	// unit vectors: no trigonometry per entry.
	d.table = make([]float64, long)
	addSeason := func(m, k int, coef []float64) {
		for h := 1; h <= k; h++ {
			ca, sa := math.Cos(2*math.Pi*float64(h)/float64(m)), math.Sin(2*math.Pi*float64(h)/float64(m))
			c, s := 1.0, 0.0
			bc, bs := coef[2*(h-1)], coef[2*(h-1)+1]
			for j := range d.table {
				d.table[j] += bc*c + bs*s
				c, s = c*ca-s*sa, s*ca+c*sa
			}
		}
	}
	addSeason(m1, k1, beta[2+decompHinges:])
	if k2 > 0 {
		addSeason(m2, k2, beta[2+decompHinges+2*k1:])
	}
	d.t = len(v)
	for _, b := range beta {
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return nil, false
		}
	}
	return d, true
}

// features fills x with the regression row at (fractional) step t.
func (d *decomp) features(x []float64, t float64, m1, m2, k1, k2 int) {
	xt := t / d.span
	x[0], x[1] = 1, xt
	for j, c := range d.cps {
		x[2+j] = max(0, xt-c)
	}
	i := 2 + len(d.cps)
	for h := 1; h <= k1; h++ {
		s, c := math.Sincos(2 * math.Pi * float64(h) * t / float64(m1))
		x[i], x[i+1] = c, s
		i += 2
	}
	for h := 1; h <= k2; h++ {
		s, c := math.Sincos(2 * math.Pi * float64(h) * t / float64(m2))
		x[i], x[i+1] = c, s
		i += 2
	}
}

// cholSolve solves A x = b for symmetric positive definite A (p x p, row
// major; overwritten).
func cholSolve(a, b []float64, p int) ([]float64, bool) {
	for j := 0; j < p; j++ {
		s := a[j*p+j]
		for k := 0; k < j; k++ {
			s -= a[j*p+k] * a[j*p+k]
		}
		if !(s > 0) {
			return nil, false
		}
		a[j*p+j] = math.Sqrt(s)
		for i := j + 1; i < p; i++ {
			s := a[i*p+j]
			for k := 0; k < j; k++ {
				s -= a[i*p+k] * a[j*p+k]
			}
			a[i*p+j] = s / a[j*p+j]
		}
	}
	y := make([]float64, p)
	for i := 0; i < p; i++ {
		s := b[i]
		for k := 0; k < i; k++ {
			s -= a[i*p+k] * y[k]
		}
		y[i] = s / a[i*p+i]
	}
	x := make([]float64, p)
	for i := p - 1; i >= 0; i-- {
		s := y[i]
		for k := i + 1; k < p; k++ {
			s -= a[k*p+i] * x[k]
		}
		x[i] = s / a[i*p+i]
	}
	return x, true
}
