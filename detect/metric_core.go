package detect

import (
	"math"
	"time"
)

// metricCore is the univariate scoring engine behind SeriesDetector: O(1)
// streaming statistics plus one ring of a day's and one of a week's
// values, so a series costs a few KiB to 46 KiB and a point a few hundred
// nanoseconds.
//
// Surprise has three views, each a z-like statistic:
//   - residual: the value against the best of three forecasts (a fast
//     EWMA, the value a day earlier, the value a week earlier), each
//     scaled by the usual size of its own errors, so a daily or weekly
//     pattern is not news but a spike is;
//   - level: a short (Huber) mean against the long one, from whichever
//     model explains most of the variance (plain, day-on-day or
//     week-on-week differences), for level shifts a fast forecast absorbs;
//   - spread: the short error size against the long one, for a rise in
//     variance.
//
// The largest is turned into a surprise in nats (-ln of the normal tail),
// and the score compares it with the largest surprise the series has
// shown lately (a slowly decaying maximum, floored at mcMinRef): a series
// that is always spiky needs a bigger spike to score, which is what makes
// scores comparable across series. After a high score the detector holds
// off for a while, because one incident is one finding, not a hundred.
type metricCore struct {
	n int

	fast   float64 // EWMA forecast
	errAbs float64 // EW mean |forecast error|, outliers clipped
	errLT  float64 // long EW mean |forecast error|
	errS   float64 // short EW mean |forecast error|, for the spread view
	short  float64 // short Huber mean of value
	long   float64 // long EWMA of value
	lvar   float64 // long EW variance of value

	lrMean, lrVar float64 // running mean and variance of errS/errLT

	// prev is the last value; quantum the smallest nonzero step between
	// two values seen so far (0 until one is seen): the series'
	// resolution, 1 for a count of connections.
	prev, quantum float64

	// season holds the daily and weekly models; a model with no ring
	// (sampling step unknown, or the period too long to keep) is off.
	season [2]mcSeason

	maxSur  mcMax // decaying maximum of surprise
	maxPage mcMax // the same without yesterday's neighbourhood, for paging
	// jitterK is how many steps either side of this time yesterday the
	// score searches for a like value (see jitter); 0 turns it off.
	jitterK int
	cool    int // points left in the post-detection hold-off

	last coreParts
}

// coreParts are the pieces of the latest judgement, kept for explanations.
type coreParts struct {
	zResid, zLevel, zSpread float64
	surprise                float64
	// zOps is the z behind raw, opsView the view it came from.
	zOps    float64
	opsView uint8
	// raw is the likelihood against the fixed surprise mcOpsRef, before
	// the hold-off and the recent-maximum reference: it stays high for as
	// long as a deviation lasts, which persistence needs.
	raw float64
	// score is the score before the hold-off's damping, and without
	// yesterday's neighbourhood (see jitter): whether the point is news
	// against the series' recent surprises, which paging asks even while
	// the score holds off after an earlier detection.
	score float64
}

// mcJitter is how far from this time yesterday a daily routine may come
// and still not be news to the score, mcJitterMaxK the most steps that
// span may cover (an hour of one-minute points), which bounds the search,
// and mcJitterRel the smallest yardstick of that comparison as a share of
// the value (see jitter).
const (
	mcJitter     = time.Hour
	mcJitterMaxK = 60
	mcJitterRel  = 0.02
)

// The views of surprise, for coreParts.opsView.
const (
	viewResid uint8 = iota
	viewLevel
	viewSpread
)

// Tuning constants, one set for every series, expressed in points. They
// were chosen on NAB's 41 public series by small grids over round values
// (eval/nab/TUNING.md logs each step); none is per file.
const (
	mcFastAlpha   = 0.5   // forecast memory of about two points
	mcErrAlpha    = 0.02  // error scale over about 50 points
	mcErrLTAlpha  = 0.002 // long error scale, about 500 points
	mcSpreadAlpha = 0.05  // short error size for the spread view
	mcShortAlpha  = 0.2   // short mean, about 5 points
	mcLongAlpha   = 0.002 // long mean and spread, about 500 points
	mcLTShare     = 0.5   // floor of the error scale, as a share of the long-run one
	mcSurDecay    = 0.003 // the surprise maximum halves in about 230 points
	mcMinRef      = 15.0  // floor of the reference surprise (about 5.2 sigma)
	mcOpsRef      = 5.0   // surprise that makes the ops likelihood 0.39 (about 3.3 sigma)
	mcZCap        = 37.0  // z beyond which float64 tails end (p = 1e-300)
	mcJitterZ     = 3.0   // residual z from which yesterday's neighbourhood is searched
	mcWarmup      = 30    // points before any score
	mcHold        = 200   // points held off after a detection
	mcHoldAt      = 0.5   // score that starts a hold-off
	// mcShortSE is the standard error of a short EWMA in units of the
	// series' standard deviation: sqrt(a/(2-a)) for a = mcShortAlpha.
	mcShortSE = 0.3333333333333333
)

func (c *metricCore) observe(x float64) float64 {
	c.n++
	if c.n == 1 {
		c.fast, c.short, c.long, c.prev = x, x, x, x
		return 0
	}
	if d := mcAbs(x - c.prev); d > 0 && (c.quantum == 0 || d < c.quantum) {
		c.quantum = d
	}
	c.prev = x
	// tiny keeps scales positive; relative 1e-6 sits above float32
	// rounding of the seasonal rings, so a noiseless series stays calm.
	tiny := 1e-6 * (1 + mcAbs(c.long))
	e := x - c.fast
	ae := mcAbs(e)
	// The error scale is the recent one, but never below a share of the
	// long-run one: after a quiet spell a bursty series would otherwise
	// find its next routine burst astonishing.
	scale := c.errAbs
	if f := mcLTShare * c.errLT; f > scale {
		scale = f
	}
	scale = scale*1.2533 + tiny // mean absolute deviation to sigma
	zr := ae / scale
	lsd := math.Sqrt(c.lvar) + tiny
	// The short means take values clipped at 3 long deviations (a Huber
	// mean), so that a one-point spike cannot pass for a level shift.
	// The clip is never narrower than the series' resolution, or a
	// series that never moved (up stuck at 1) could not shift at all.
	c.short += mcShortAlpha * (mcClip(x, c.long, max(3*lsd, c.quantum)) - c.short)
	zl := mcAbs(c.short-c.long) / lsd
	// zlOps is the level view against a yardstick that also counts how
	// far the level statistic wanders on ordinary days (see mcSeason.sVar);
	// it feeds only the fixed-bar likelihood that pages, since the score
	// is already judged against the series' own recent surprises.
	zlOps := zl
	zrOps := zr
	bestVar := c.lvar
	for i := range c.season {
		sz, sl, szOps, slOps, v, ok := c.season[i].step(x, c.n, tiny, c.quantum)
		if !ok {
			continue
		}
		if sz < zr {
			zr = sz
		}
		if szOps < zrOps {
			zrOps = szOps
		}
		if v < bestVar {
			bestVar, zl, zlOps = v, sl, slOps
		}
	}
	// A surprising point may still be the day's routine come a little
	// early or late (a nightly job that starts between 03:00 and 04:00):
	// the score also asks yesterday's values within mcJitter of this time.
	// Only surprising points pay for the search. Paging does not take it
	// (zPage): an outage that recurs at about yesterday's time is still an
	// outage.
	zPage := zr
	if zr > mcJitterZ {
		if zj, ok := c.jitter(x, tiny); ok && zj < zr {
			zr = zj
		}
	}
	// Spread view: clipped so that one spike is not a variance change;
	// only a rise counts.
	clipped := ae
	if lim := 3 * scale; clipped > lim {
		clipped = lim
	}
	c.errS += mcSpreadAlpha * (clipped - c.errS)
	// The ratio, not its log: a Log per point costs more than the rest of
	// this view, and only rises are scored.
	zs := 0.0
	if c.n > 2*mcWarmup && c.lrVar > 0 {
		lr := (c.errS + tiny) / (c.errLT + tiny)
		dl := lr - c.lrMean
		if dl > 0 {
			zs = dl / (math.Sqrt(c.lrVar) + 1e-3)
		}
		c.lrMean += mcLongAlpha * dl
		c.lrVar = (1 - mcLongAlpha) * (c.lrVar + mcLongAlpha*dl*dl)
	} else if c.n > mcWarmup {
		c.lrMean = (c.errS + tiny) / (c.errLT + tiny)
		c.lrVar = 0.01
	}

	// Learn after judging, so that a point is never compared with itself;
	// the short error scale takes outliers clipped so one spike does not
	// blind it.
	c.fast += mcFastAlpha * e
	if lim := 6 * scale; ae > lim {
		ae = lim
	}
	c.errAbs += mcErrAlpha * (ae - c.errAbs)
	c.errLT += mcErrLTAlpha * (mcAbs(e) - c.errLT)
	d := x - c.long
	c.long += mcLongAlpha * d
	c.lvar = (1 - mcLongAlpha) * (c.lvar + mcLongAlpha*d*d)

	z := zr
	if zl > z {
		z = zl
	}
	if zs > z {
		z = zs
	}
	sur := mcSurprise(z)
	c.last = coreParts{zResid: zr, zLevel: zl, zSpread: zs, surprise: sur}
	zOps := zrOps
	c.last.opsView = viewResid
	if zlOps > zOps {
		zOps, c.last.opsView = zlOps, viewLevel
	}
	// The spread view pages only once the long-run error size it is
	// judged against has seen its own span of points: before that, the
	// first run of a job with noisier values than idle ones (a nightly
	// batch in a series' first hours) reads as a rise in variance
	// against a yardstick that has not yet met the job.
	if zs > zOps && c.n >= int(1/mcLongAlpha) {
		zOps, c.last.opsView = zs, viewSpread
	}
	surOps := sur
	if zOps != z {
		surOps = mcSurprise(zOps)
	}
	c.last.zOps = zOps
	// Paging's score (see coreParts.score) leaves yesterday's
	// neighbourhood out, in its surprise and in the maximum it is judged
	// against.
	surPage := sur
	if zPage != zr && zPage > z {
		surPage = mcSurprise(zPage)
	}
	if c.n < mcWarmup {
		c.maxSur.learn(sur)
		c.maxPage.learn(surPage)
		return 0
	}
	r := c.maxSur.judge(sur)
	rp := c.maxPage.judge(surPage)
	score := mcOneMinusExp(0.5 * r * r)
	r0 := surOps * (1 / mcOpsRef)
	c.last.raw = mcOneMinusExp(0.5 * r0 * r0)
	c.last.score = score
	if rp != r {
		c.last.score = mcOneMinusExp(0.5 * rp * rp)
	}
	if c.cool > 0 {
		c.cool--
		return score * 0.1
	}
	if score >= mcHoldAt {
		c.cool = mcHold
	}
	return score
}

// kind names the view that dominated the judgement, for the anomaly's
// "kind" label: spike, level_shift or variance_change.
func (p coreParts) kind() string {
	switch {
	case p.zSpread > p.zResid && p.zSpread > p.zLevel:
		return "variance_change"
	case p.zLevel > p.zResid:
		return "level_shift"
	}
	return "spike"
}

// mcMax is a decaying maximum of surprise, the reference a surprise is
// judged against.
type mcMax float64

// learn raises the maximum to s (warm-up: no judgement, no decay).
func (m *mcMax) learn(s float64) { *m = max(*m, mcMax(s)) }

// judge returns s against the maximum so far (floored at mcMinRef), then
// lets the maximum decay and learns s.
func (m *mcMax) judge(s float64) float64 {
	r := s / max(float64(*m), mcMinRef)
	*m *= 1 - mcSurDecay
	m.learn(s)
	return r
}

// mcAbs is math.Abs: a sign-bit mask, where a branch on the sign (as this
// was once written) mispredicts on every other point of a noisy series
// and cost 15% of a point's time.
func mcAbs(x float64) float64 {
	return math.Abs(x)
}

// mcSurprise is -ln of the two-sided normal tail of z, computed without
// Erfc: for z above 5 the asymptotic form is exact to 1%, below it the
// tail is taken from Erfc.
func mcSurprise(z float64) float64 {
	if z < mcTabMax {
		// table lookup with linear interpolation: the exact form costs an
		// Erfc and a Log, a third of a point's budget
		f := z * mcTabStep
		i := int(f)
		w := f - float64(i)
		return mcTab[i] + w*(mcTab[i+1]-mcTab[i])
	}
	return mcSurpriseExact(z)
}

const (
	mcTabMax  = 5.0
	mcTabStep = 200.0 // entries per unit of z
)

// mcTab holds mcSurpriseExact on [0, mcTabMax] every 1/mcTabStep; the
// interpolation error is below 1e-4 nats.
var mcTab = func() []float64 {
	t := make([]float64, int(mcTabMax*mcTabStep)+2)
	for i := range t {
		t[i] = mcSurpriseExact(float64(i) / mcTabStep)
	}
	return t
}()

func mcSurpriseExact(z float64) float64 {
	if z > 5 {
		// -ln(2φ(z)/z); capped where float64 tails end (p = 1e-300), so
		// that a flat series' first wiggle (z = 1e9) cannot dwarf
		// everything after it.
		if z > mcZCap {
			z = mcZCap
		}
		return 0.5*z*z + math.Log(z) + 0.2257913526447274 // ln(sqrt(pi/2))
	}
	return -math.Log(math.Erfc(z / math.Sqrt2))
}

// mcOneMinusExp is 1-exp(-x) for x >= 0, by series where x is small (the
// common case: ordinary points) to spare an Exp.
func mcOneMinusExp(x float64) float64 {
	if x < 0.1 {
		// error below x^6/720 < 1.4e-9
		return x * (1 - x*(0.5-x*(1.0/6-x*(1.0/24-x/120))))
	}
	return 1 - math.Exp(-x)
}

// mcSeason is a seasonal-naive model of one period: the forecast is the
// value one period ago (give or take one step, as daily patterns drift by
// a sample now and then), and its level view is the short mean of
// period-on-period differences.
type mcSeason struct {
	// ring holds the last period of values; float32 because the forecast
	// needs no more precision than the noise, and it halves the memory.
	ring         []float32
	pos          int
	err          float64 // EW mean |forecast error|
	dShort, dVar float64 // short Huber mean and EW variance of the difference
	// sVar is the long EW mean square of dShort itself: how far the short
	// mean of the differences usually wanders. Real days differ by more
	// than point noise (a busier Tuesday moves the difference for hours),
	// so the iid standard error alone would call every such day a level
	// shift; the level view takes the larger of the two yardsticks.
	sVar float64
}

// step judges x against the model and then learns it. ok is false until
// the model has seen two full periods.
func (m *mcSeason) step(x float64, n int, tiny, quantum float64) (zr, zl, zrOps, zlOps, dvar float64, ok bool) {
	P := len(m.ring)
	if P == 0 {
		return 0, 0, 0, 0, 0, false
	}
	if n > P+1 {
		ds := x - float64(m.ring[m.pos])
		prev, next := m.pos-1, m.pos+1
		if prev < 0 {
			prev = P - 1
		}
		if next == P {
			next = 0
		}
		// The ring holds the last P values, so ring[pos] is one period ago
		// and ring[pos+1] one period less a step, but ring[pos-1] is the
		// previous point: a naive forecast. The score keeps it (NAB's
		// tuning rests on it); the paging view esOps leaves it out, since
		// it explains away a sustained change after its first point.
		es := mcAbs(ds)
		if a := mcAbs(x - float64(m.ring[next])); a < es {
			es = a
		}
		esOps := es
		if a := mcAbs(x - float64(m.ring[prev])); a < es {
			es = a
		}
		ss := m.err*1.2533 + tiny
		dsd0 := math.Sqrt(m.dVar)
		m.dShort += mcShortAlpha * (mcClip(ds, 0, max(3*dsd0+tiny, quantum)) - m.dShort)
		if n > 2*P {
			se := dsd0 * mcShortSE
			zr, zl, dvar, ok = es/ss, mcAbs(m.dShort)/(se+tiny), m.dVar, true
			zrOps, zlOps = esOps/ss, zl
			if w := math.Sqrt(m.sVar); w > se {
				zlOps = mcAbs(m.dShort) / (w + tiny)
			}
		}
		m.sVar = (1-mcLongAlpha)*m.sVar + mcLongAlpha*m.dShort*m.dShort
		if lim := 6 * ss; es > lim {
			es = lim
		}
		m.err += mcErrAlpha * (es - m.err)
		m.dVar = (1 - mcLongAlpha) * (m.dVar + mcLongAlpha*ds*ds)
	}
	m.ring[m.pos] = float32(x)
	if m.pos++; m.pos == P {
		m.pos = 0
	}
	return zr, zl, zrOps, zlOps, dvar, ok
}

func mcClip(x, center, width float64) float64 {
	if x < center-width {
		return center - width
	}
	if x > center+width {
		return center + width
	}
	return x
}

// drift reports that the forecast no longer fits: the recent error scale
// has stayed far above the long-run one.
func (c *metricCore) drift() bool {
	return c.n > 10*mcWarmup && c.errLT > 0 && c.errAbs > 3*c.errLT
}

// stateBytes is the memory a core holds.
func (c *metricCore) stateBytes() int {
	return int(unsafeSizeofCore) + 4*cap(c.season[0].ring) + 4*cap(c.season[1].ring)
}

// jitter is the residual z of x against the nearest of yesterday's values
// within jitterK steps of this time, read from the weekly ring (the daily
// one holds only what follows this time yesterday) after the seasonal
// models have learned x; ok is false without a weekly ring or two days of
// history. The yardstick is the daily model's error scale, but never
// below mcJitterRel of the value: a nightly job's peak differs from night
// to night by more than the quiet hours' noise, which would otherwise make
// every night's peak news again.
func (c *metricCore) jitter(x, tiny float64) (float64, bool) {
	d, w := &c.season[0], &c.season[1]
	P, W, K := len(d.ring), len(w.ring), c.jitterK
	if P == 0 || W != 7*P || K <= 0 || c.n <= 2*P+K {
		return 0, false
	}
	best := math.Inf(1)
	// The weekly model has just written x where a week ago was, at
	// w.pos-1: this time yesterday is P steps after that slot.
	i := w.pos - 1 - P - K
	for i < 0 {
		i += W
	}
	for k := -K; k <= K; k++ {
		if a := mcAbs(x - float64(w.ring[i])); a < best {
			best = a
		}
		if i++; i == W {
			i = 0
		}
	}
	return best / (max(d.err*1.2533, mcJitterRel*mcAbs(x)) + tiny), true
}
