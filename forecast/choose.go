package forecast

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"
)

// candidate is one model to try: a family, its seasons and parameters.
type candidate struct {
	kind   kind
	m1, m2 int
	p      params
}

// Smoothing grids. They are fixed, not optimised per series, so that the
// cost of a fit is a known number of passes; the backtest picks among them.
var (
	hwGrid = []params{
		{alpha: 0.05, gamma1: 0.05}, {alpha: 0.05, gamma1: 0.2},
		{alpha: 0.2, gamma1: 0.05}, {alpha: 0.2, gamma1: 0.2},
		{alpha: 0.5, gamma1: 0.1}, {alpha: 0.5, gamma1: 0.3},
		{alpha: 0.9, gamma1: 0.1}, {alpha: 0.9, gamma1: 0.3},
		{alpha: 0.2, beta: 0.01, phi: 0.98, gamma1: 0.1},
		{alpha: 0.5, beta: 0.02, phi: 0.98, gamma1: 0.1},
	}
	// The long (weekly) season of single-season Holt-Winters sees few
	// cycles, so fewer settings are worth trying.
	hwLongGrid = []params{
		{alpha: 0.1, gamma1: 0.1}, {alpha: 0.3, gamma1: 0.2},
		{alpha: 0.6, gamma1: 0.2}, {alpha: 0.9, gamma1: 0.3},
	}
	mulGrid = []params{
		{alpha: 0.05, gamma1: 0.1}, {alpha: 0.2, gamma1: 0.1},
		{alpha: 0.5, gamma1: 0.2}, {alpha: 0.9, gamma1: 0.2},
	}
	multiGrid = []params{
		{alpha: 0.05, gamma1: 0.05, gamma2: 0.05}, {alpha: 0.05, gamma1: 0.1, gamma2: 0.2},
		{alpha: 0.2, gamma1: 0.05, gamma2: 0.1}, {alpha: 0.2, gamma1: 0.1, gamma2: 0.3},
		{alpha: 0.5, gamma1: 0.1, gamma2: 0.2},
		{alpha: 0.1, beta: 0.005, phi: 0.98, gamma1: 0.05, gamma2: 0.1},
	}
)

// fineGrid is Options.FineGrid's Holt-Winters grid.
var fineGrid = func() []params {
	var g []params
	for _, a := range []float64{0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1} {
		for _, gm := range []float64{0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5} {
			g = append(g, params{alpha: a, gamma1: gm * (1 - a)},
				params{alpha: a, gamma1: gm * (1 - a), beta: 0.01 * a, phi: 1})
		}
	}
	return g
}()

// choice is the outcome of the backtest.
type choice struct {
	st       *state
	spread   spread
	score    Score
	warnings []string
}

// seasonName names a season for warnings.
func seasonName(d time.Duration) string {
	switch d {
	case 24 * time.Hour:
		return "daily"
	case 7 * 24 * time.Hour:
		return "weekly"
	}
	return d.String()
}

// fmtSpan renders a history length for warnings: "9d", "36h".
func fmtSpan(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
	return d.Round(time.Minute).String()
}

// seasons returns the usable season lengths in steps, shortest first, and
// warnings for those the history is too short for.
func seasons(g *grid, opts Options) ([]int, []string) {
	n := len(g.v)
	span := time.Duration(n) * g.step
	var ms []int
	var short []time.Duration
	for _, d := range opts.Seasonalities {
		m := int(math.Round(float64(d) / float64(g.step)))
		if m < 2 {
			continue
		}
		if n < opts.MinSeasonCycles*m {
			short = append(short, d)
			continue
		}
		if acf(g.v, m) < opts.MinSeasonACF {
			continue
		}
		ms = append(ms, m)
	}
	slices.Sort(ms)
	ms = slices.Compact(ms)
	var warns []string
	for _, d := range short {
		using := "no seasonality"
		if len(ms) > 0 {
			using = fmt.Sprintf("seasons of %d steps only", ms[0])
			for _, d2 := range opts.Seasonalities {
				if int(math.Round(float64(d2)/float64(g.step))) == ms[0] {
					using = seasonName(d2) + " only"
				}
			}
		}
		need := time.Duration(opts.MinSeasonCycles) * d
		needS := need.String()
		if need%(24*time.Hour) == 0 {
			needS = fmt.Sprintf("%d days", need/(24*time.Hour))
		}
		warns = append(warns, fmt.Sprintf("%s seasonality needs %s of history, have %s: using %s",
			seasonName(d), needS, fmtSpan(span), using))
	}
	return ms, warns
}

// acf is the sample autocorrelation of v at lag k.
func acf(v []float64, k int) float64 {
	if k >= len(v) {
		return 0
	}
	mu := mean(v)
	var num, den float64
	for i, x := range v {
		d := x - mu
		den += d * d
		if i+k < len(v) {
			num += d * (v[i+k] - mu)
		}
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// candidates lists the models to try for seasons ms.
func candidates(v []float64, ms []int, opts Options) []candidate {
	positive := true
	for _, x := range v {
		if x <= 0 {
			positive = false
			break
		}
	}
	var cs []candidate
	for _, fam := range opts.Models {
		switch fam {
		case FamilyNaive:
			cs = append(cs, candidate{kind: kNaive})
		case FamilySeasonalNaive:
			for _, m := range ms {
				cs = append(cs, candidate{kind: kSNaive, m1: m})
			}
		case FamilyHWAdditive:
			for i, m := range ms {
				grid := hwGrid
				if opts.FineGrid {
					grid = fineGrid
				} else if i > 0 {
					grid = hwLongGrid
				}
				for _, p := range grid {
					cs = append(cs, candidate{kind: kAdd, m1: m, p: p})
				}
			}
		case FamilyHWMultiplicate:
			if positive && len(ms) > 0 {
				for _, p := range mulGrid {
					cs = append(cs, candidate{kind: kMul, m1: ms[0], p: p})
				}
			}
		case FamilyDecomposition:
			switch {
			case len(ms) >= 2 && ms[1]%ms[0] == 0:
				cs = append(cs, candidate{kind: kDecomp, m1: ms[0], m2: ms[1]})
			case len(ms) >= 1:
				cs = append(cs, candidate{kind: kDecomp, m1: ms[0]})
			}
		case FamilyMultiSeasonal:
			if len(ms) >= 2 && ms[1]%ms[0] == 0 {
				for _, p := range multiGrid {
					cs = append(cs, candidate{kind: kAdd, m1: ms[0], m2: ms[1], p: p})
				}
			}
		}
	}
	return cs
}

// choose runs every candidate once over the history, scoring its forecasts
// at the horizon over the backtest window (rolling origin: one forecast
// from every point of the window), and keeps the best.
func choose(ctx context.Context, g *grid, opts Options) (*choice, error) {
	v := g.v
	n := len(v)
	ms, warns := seasons(g, opts)
	cs := candidates(v, ms, opts)
	if len(cs) == 0 {
		return nil, fmt.Errorf("%w: no candidate model fits %d points", ErrShortHistory, n)
	}
	h := max(1, int(math.Round(float64(opts.Horizon)/float64(g.step))))
	w := min(max(1, int(opts.Backtest/g.step)), n/2)
	h = min(h, max(1, w/4))
	h2 := max(2*h, 4) // a second lead time, to see how errors grow
	lo := n - w - h2  // first origin scored
	if lo < 1 {
		return nil, fmt.Errorf("%w: %d points leave nothing to backtest at %d steps ahead", ErrShortHistory, n, h)
	}
	bt := &backtest{v: v, h: h, h2: h2, lo: lo, hi: n - h2, fullPass: opts.fullPass,
		fh: make([]float64, n-lo), fh2: make([]float64, n-lo), e: make([]float64, n-lo)}

	best := &choice{score: Score{Horizon: h, Points: bt.hi - bt.lo, Candidates: len(cs), MAE: math.Inf(1), NaiveMAE: math.NaN()}}
	// The best pass's record and the last value's are kept aside (by
	// swapping buffers, not copying) to measure the spread once at the end.
	bestRec, naiveRec := bt.newRecord(), bt.newRecord()
	var bestSegs, naiveSegs [3]float64
	var naive *state
	naiveMAE := math.Inf(1)
	for i, c := range cs {
		if i%8 == 7 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		st, ok := bt.run(c)
		if !ok {
			continue
		}
		rho, mae := 0.0, bt.mae(0)
		if c.kind == kNaive {
			naive, naiveMAE, naiveSegs = st, mae, bt.segments(0)
			naiveRec.copyFrom(bt)
		}
		// The AR(1) correction of the one-step errors models deviations
		// from the seasonal shape that persist. Not on the last value:
		// there it would model momentum, which did not carry over from
		// one day to the next on any series we tried.
		if opts.ARCorrection && c.kind != kSNaive && c.kind != kNaive && bt.rho != 0 {
			if m := bt.mae(bt.rho); m < mae {
				rho, mae = bt.rho, m
			}
		}
		if mae < best.score.MAE {
			st.rho = rho
			best.st = st
			best.score.MAE = mae
			bestSegs = bt.segments(rho)
			bestRec.swap(bt)
		}
	}
	if best.st == nil && naive != nil {
		// Every score overflowed (values near the float64 limit): the last
		// value is still a forecast.
		best.st, best.score.MAE, bestRec = naive, naiveMAE, naiveRec
	}
	if best.st == nil {
		return nil, fmt.Errorf("%w: no candidate model fits %d points", ErrShortHistory, n)
	}
	if naive != nil {
		best.score.NaiveMAE = naiveMAE
		// A model must beat the last value by a margin, and in each third
		// of the window, not thanks to one lucky stretch.
		consistent := true
		for k := range bestSegs {
			consistent = consistent && bestSegs[k] < naiveSegs[k]
		}
		if best.st != naive && (best.score.MAE > naiveMAE*(1-opts.SimplerMargin) || !consistent) {
			best.st = naive
			best.score.MAE = naiveMAE
			bestRec = naiveRec
		}
	}
	bestRec.swap(bt)
	best.spread = bt.spread(best.st.rho, opts.QuantileMethod)
	best.warnings = warns
	return best, nil
}

// backtest holds one candidate pass's record over the scored window:
// fh[t-lo] is the base h-step forecast made at t (fh2 the h2-step one),
// e[t-lo] the base one-step error of y[t].
type backtest struct {
	v        []float64
	h, h2    int
	lo, hi   int // origins lo..hi-1 are scored
	fh, fh2  []float64
	e        []float64
	rho      float64 // AR(1) coefficient of the last pass's one-step errors
	fullPass bool    // see Options.fullPass
}

// run fits c over v, recording the window; false if c cannot start.
func (bt *backtest) run(c candidate) (*state, bool) {
	if c.kind == kDecomp {
		return bt.runDecomp(c)
	}
	// A season's state forgets its start within a few cycles, so a pass
	// begins only warmCycles seasons (of the longest) before the window:
	// the cost of a fit grows with the window and the seasons, not with
	// the history.
	const warmCycles = 4
	long := max(c.m1, c.m2)
	begin := 0
	if c.kind != kNaive && !bt.fullPass {
		begin = max(0, bt.lo-warmCycles*long)
	} else {
		begin = 0
	}
	v := bt.v[begin:]
	lo, hi := bt.lo-begin, bt.hi-begin
	n := len(v)
	if c.m1 > 0 && n < c.m1+1 || c.m2 > 0 && n < c.m2+1 {
		return nil, false
	}
	st, start := newState(c.kind, c.m1, c.m2, c.p, v)
	if start > lo {
		return nil, false
	}
	// Error autocorrelation is measured after the first season has been
	// seen once, when the initial profile no longer dominates.
	warm := max(start+1, min(long, n/4))
	var sxy, sxx, prev float64
	for t := start; t < lo; t++ {
		e := st.update(v[t])
		if t > warm {
			sxy += e * prev
			sxx += prev * prev
		}
		prev = e
	}
	e, fh, fh2 := bt.e, bt.fh, bt.fh2
	for t := lo; t < n; t++ {
		e1 := st.update(v[t])
		if t > warm {
			sxy += e1 * prev
			sxx += prev * prev
		}
		prev = e1
		e[t-lo] = e1
		if t < hi {
			fh[t-lo] = st.base(bt.h)
			fh2[t-lo] = st.base(bt.h2)
		}
	}
	if math.IsNaN(st.l) || math.IsInf(st.l, 0) || math.IsNaN(st.b) || math.IsInf(st.b, 0) {
		return nil, false
	}
	bt.rho = 0
	if r := sxy / sxx; sxx > 0 && !math.IsNaN(r) && !math.IsInf(r, 0) {
		bt.rho = min(max(r, -0.5), 0.98)
	}
	return st, true
}

// record is a backtest pass's record, kept aside.
type record struct{ fh, fh2, e []float64 }

func (bt *backtest) newRecord() *record {
	n := len(bt.e)
	return &record{fh: make([]float64, n), fh2: make([]float64, n), e: make([]float64, n)}
}

// swap exchanges the record with the backtest's current one.
func (r *record) swap(bt *backtest) {
	r.fh, bt.fh = bt.fh, r.fh
	r.fh2, bt.fh2 = bt.fh2, r.fh2
	r.e, bt.e = bt.e, r.e
}

func (r *record) copyFrom(bt *backtest) {
	copy(r.fh, bt.fh)
	copy(r.fh2, bt.fh2)
	copy(r.e, bt.e)
}

// mae is the window's mean absolute h-step error with correction rho.
func (bt *backtest) mae(rho float64) float64 {
	rh := math.Pow(rho, float64(bt.h))
	var s float64
	for t := bt.lo; t < bt.hi; t++ {
		s += math.Abs(bt.v[t+bt.h] - bt.fh[t-bt.lo] - rh*bt.e[t-bt.lo])
	}
	return s / float64(bt.hi-bt.lo)
}

// segments is the mae over each of len(out) equal parts of the window.
func (bt *backtest) segments(rho float64) [3]float64 {
	rh := math.Pow(rho, float64(bt.h))
	var out [3]float64
	var cnt [3]int
	span := bt.hi - bt.lo
	for t := bt.lo; t < bt.hi; t++ {
		k := (t - bt.lo) * len(out) / span
		out[k] += math.Abs(bt.v[t+bt.h] - bt.fh[t-bt.lo] - rh*bt.e[t-bt.lo])
		cnt[k]++
	}
	for k := range out {
		out[k] /= float64(max(cnt[k], 1))
	}
	return out
}

// runDecomp fits the decomposition on the weeks before the window (so the
// window is out of sample) and runs it over the window.
func (bt *backtest) runDecomp(c candidate) (*state, bool) {
	if st, ok := bt.runDecompOnce(c); ok || c.m2 == 0 {
		return st, ok
	}
	// Too short for the weekly season before the window: daily only.
	c.m2 = 0
	return bt.runDecompOnce(c)
}

func (bt *backtest) runDecompOnce(c candidate) (*state, bool) {
	long := max(c.m1, c.m2)
	span := 14 * c.m1 // two weeks of a daily season
	if c.m2 > 0 {
		span = 4 * c.m2 // four weeks of a weekly one
	}
	fb := max(0, bt.lo-span)
	d, ok := fitDecomp(bt.v[fb:bt.lo], c.m1, c.m2)
	if !ok {
		return nil, false
	}
	st := &state{kind: kDecomp, m1: c.m1, m2: c.m2, d: d, i1: d.t % long, last: bt.v[bt.lo-1]}
	st.p.phi = 1
	// In-sample remainders give the AR(1) coefficient.
	var sxy, sxx, prev float64
	for t := fb; t < bt.lo; t++ {
		e := bt.v[t] - d.trend(t-fb) - d.table[(t-fb)%long]
		if t > fb {
			sxy += e * prev
			sxx += prev * prev
		}
		prev = e
	}
	st.e = prev
	for t := bt.lo; t < len(bt.v); t++ {
		e := st.update(bt.v[t])
		bt.e[t-bt.lo] = e
		if t < bt.hi {
			bt.fh[t-bt.lo] = st.base(bt.h)
			bt.fh2[t-bt.lo] = st.base(bt.h2)
		}
	}
	bt.rho = 0
	if r := sxy / sxx; sxx > 0 && !math.IsNaN(r) && !math.IsInf(r, 0) {
		bt.rho = min(max(r, -0.5), 0.98)
	}
	return st, true
}
