package forecast

import "math"

// guard compares, online, the chosen model's h-step forecasts with the
// last value's at the horizon the model was chosen at. Both errors are
// exponentially weighted means, started from the backtest's figures.
type guard struct {
	h      int
	lambda float64
	fm, fn []float64 // rings: the forecasts made h steps before the next value
	pos    int
	em, en float64 // mean absolute errors: model, last value
}

func newGuard(sc Score, lambda float64, st *state, v []float64) *guard {
	h := max(sc.Horizon, 1)
	g := &guard{h: h, lambda: min(lambda, 1), fm: make([]float64, h), fn: make([]float64, h),
		em: sc.MAE, en: sc.NaiveMAE}
	// The forecasts made from the last h points are not known without a
	// replay; the current ones stand in, which only blurs h values.
	f := st.forecast(h)
	for i := range g.fm {
		g.fm[i], g.fn[i] = f, v[len(v)-1]
	}
	return g
}

// check scores the forecasts that were made for y.
func (g *guard) check(y float64) {
	em := math.Abs(y - g.fm[g.pos])
	en := math.Abs(y - g.fn[g.pos])
	g.em += g.lambda * (em - g.em)
	g.en += g.lambda * (en - g.en)
}

// record keeps the forecasts made after y for the value h steps on.
func (g *guard) record(f, y float64) {
	g.fm[g.pos], g.fn[g.pos] = f, y
	if g.pos++; g.pos == g.h {
		g.pos = 0
	}
}

func (g *guard) tripped() bool { return g.em > g.en }
