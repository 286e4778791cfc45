package sim

import (
	"math"
	"math/rand/v2"
)

// Latency is modelled per service as a mixture of lognormal components (one
// per route for proxies) plus point masses: requests that end when some
// timeout expires. Quantiles of the mixture are what the exporters report,
// and flows sample individual request durations from the same mixture, so
// logs and metrics agree.

const (
	z95 = 1.6448536269514722
	z99 = 2.3263478740408408
)

// lnorm is a lognormal distribution.
type lnorm struct{ mu, sigma float64 }

// lnFromQ fits a lognormal to a median and a 99th percentile.
func lnFromQ(p50, p99 float64) lnorm {
	p50 = max(p50, 1e-6)
	p99 = max(p99, p50*1.05)
	return lnorm{math.Log(p50), math.Log(p99/p50) / z99}
}

func (d lnorm) quantileZ(z float64) float64 { return math.Exp(d.mu + d.sigma*z) }

// sf is P(X > x).
func (d lnorm) sf(lx float64) float64 {
	return 0.5 * math.Erfc((lx-d.mu)/(d.sigma*math.Sqrt2))
}

func (d lnorm) sample(r *rand.Rand) float64 { return math.Exp(d.mu + d.sigma*r.NormFloat64()) }

// shifted returns the distribution of X+c, approximated by shifting its
// median and 99th percentile.
func (d lnorm) shifted(c50, c99 float64) lnorm {
	return lnFromQ(d.quantileZ(0)+c50, d.quantileZ(z99)+c99)
}

type mixComp struct {
	w float64
	d lnorm
}

type point struct {
	w, at float64
	lat   float64 // ln(at), so the bisection compares logs without exp
}

const maxComps, maxPoints = 6, 4

// latDist is a mixture of lognormals plus timeout point masses. The
// component weights sum to one minus the point weights.
type latDist struct {
	comps  [maxComps]mixComp
	nc     int
	pts    [maxPoints]point
	np     int
	ptMass float64
}

func (l *latDist) reset() { l.nc, l.np, l.ptMass = 0, 0, 0 }

func (l *latDist) addComp(w float64, d lnorm) {
	if w <= 0 || l.nc == maxComps {
		return
	}
	l.comps[l.nc] = mixComp{w, d}
	l.nc++
}

// addPoint adds a timeout mass, merging with the nearest existing point when
// the table is full.
func (l *latDist) addPoint(w, at float64) {
	if w <= 1e-9 {
		return
	}
	if l.ptMass+w > 0.999 {
		w = 0.999 - l.ptMass
		if w <= 0 {
			return
		}
	}
	l.ptMass += w
	for i := 0; i < l.np; i++ {
		if math.Abs(l.pts[i].at-at) < 0.05*at {
			p := &l.pts[i]
			p.at = (p.at*p.w + at*w) / (p.w + w)
			p.w += w
			p.lat = math.Log(p.at)
			return
		}
	}
	if l.np < maxPoints {
		l.pts[l.np] = point{w, at, math.Log(at)}
		l.np++
		return
	}
	best := 0
	for i := 1; i < l.np; i++ {
		if math.Abs(l.pts[i].at-at) < math.Abs(l.pts[best].at-at) {
			best = i
		}
	}
	p := &l.pts[best]
	p.at = (p.at*p.w + at*w) / (p.w + w)
	p.w += w
	p.lat = math.Log(p.at)
}

// normalise scales the components to 1-ptMass.
func (l *latDist) normalise() {
	var s float64
	for i := 0; i < l.nc; i++ {
		s += l.comps[i].w
	}
	if s <= 0 {
		return
	}
	k := (1 - l.ptMass) / s
	for i := 0; i < l.nc; i++ {
		l.comps[i].w *= k
	}
}

// sf is P(X > x) of the whole mixture, with lx = ln x.
func (l *latDist) sf(lx float64, withPoints bool) float64 {
	var p float64
	for i := 0; i < l.nc; i++ {
		p += l.comps[i].w * l.comps[i].d.sf(lx)
	}
	if withPoints {
		for i := 0; i < l.np; i++ {
			if l.pts[i].lat > lx {
				p += l.pts[i].w
			}
		}
	}
	return p
}

// quantile solves P(X > x) = 1-q by bisection on ln x. Without points the
// components are renormalised, giving the distribution of requests that did
// not time out (what callers compose with).
//
// A mixture's q-quantile lies between the smallest and the largest of its
// components' q-quantiles (a point mass being its own quantile), which
// brackets the search tightly enough for 16 halvings to reach 1e-4.
func (l *latDist) quantile(q float64, withPoints bool) float64 {
	z := zOf(q)
	if l.nc == 1 && (!withPoints || l.np == 0) {
		return l.comps[0].d.quantileZ(z)
	}
	target := 1 - q
	if !withPoints {
		target *= 1 - l.ptMass
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := 0; i < l.nc; i++ {
		v := l.comps[i].d.mu + l.comps[i].d.sigma*z
		lo, hi = min(lo, v), max(hi, v)
	}
	if withPoints {
		for i := 0; i < l.np; i++ {
			lo, hi = min(lo, l.pts[i].lat), max(hi, l.pts[i].lat)
		}
	}
	lo, hi = lo-1e-6, hi+1e-6
	for it := 0; it < 16; it++ {
		mid := (lo + hi) / 2
		if l.sf(mid, withPoints) > target {
			lo = mid
		} else {
			hi = mid
		}
	}
	return math.Exp(hi)
}

// sample draws one request duration.
func (l *latDist) sample(r *rand.Rand) float64 {
	u := r.Float64()
	for i := 0; i < l.np; i++ {
		if u < l.pts[i].w {
			return l.pts[i].at * (1 + 0.002*r.Float64())
		}
		u -= l.pts[i].w
	}
	for i := 0; i < l.nc; i++ {
		if u < l.comps[i].w || i == l.nc-1 {
			return l.comps[i].d.sample(r)
		}
		u -= l.comps[i].w
	}
	return 0
}

// fit returns a single lognormal matching the non-timeout median and p99.
func (l *latDist) fit() lnorm {
	if l.nc == 1 {
		return l.comps[0].d
	}
	return lnFromQ(l.quantile(0.5, false), l.quantile(0.99, false))
}

func zOf(q float64) float64 {
	switch q {
	case 0.5:
		return 0
	case 0.95:
		return z95
	case 0.99:
		return z99
	}
	return normInv(q)
}

// normInv is the standard normal quantile (Acklam's rational approximation,
// relative error below 1.2e-9).
func normInv(p float64) float64 {
	a := [6]float64{-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00}
	b := [5]float64{-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01}
	c := [6]float64{-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00}
	d := [4]float64{7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00}
	const plow = 0.02425
	switch {
	case p <= 0:
		return math.Inf(-1)
	case p >= 1:
		return math.Inf(1)
	case p < plow:
		q := math.Sqrt(-2 * math.Log(p))
		return (((((c[0]*q+c[1])*q+c[2])*q+c[3])*q+c[4])*q + c[5]) / ((((d[0]*q+d[1])*q+d[2])*q+d[3])*q + 1)
	case p > 1-plow:
		q := math.Sqrt(-2 * math.Log(1-p))
		return -(((((c[0]*q+c[1])*q+c[2])*q+c[3])*q+c[4])*q + c[5]) / ((((d[0]*q+d[1])*q+d[2])*q+d[3])*q + 1)
	}
	q := p - 0.5
	r := q * q
	return (((((a[0]*r+a[1])*r+a[2])*r+a[3])*r+a[4])*r + a[5]) * q / (((((b[0]*r+b[1])*r+b[2])*r+b[3])*r+b[4])*r + 1)
}

// queueFactor is the mean response time relative to service time at
// utilisation rho: an M/M/c-like curve (Sakasegawa's approximation with a
// small effective c) that is flat at low load and climbs steeply towards 1.
func queueFactor(rho float64) float64 {
	rho = min(max(rho, 0), 0.985)
	const c = 4.0
	return 1 + math.Pow(rho, math.Sqrt(2*(c+1)))/(c*(1-rho))
}

// sampleOK draws the duration of a request that neither timed out nor
// failed slowly: the lognormal components only.
func (l *latDist) sampleOK(r *rand.Rand) float64 {
	var total float64
	for i := 0; i < l.nc; i++ {
		total += l.comps[i].w
	}
	u := r.Float64() * total
	for i := 0; i < l.nc; i++ {
		if u < l.comps[i].w || i == l.nc-1 {
			return l.comps[i].d.sample(r)
		}
		u -= l.comps[i].w
	}
	return 0
}
