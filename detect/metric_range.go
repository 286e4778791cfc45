package detect

// rangeView is the second view of SeriesDetector's score: where a value
// lies in the series' own range of values, and how the series moves
// between levels of that range.
//
// The range is learned from the stream: the span of the first
// rvWarmup points, widened by rvMargin of itself on each side. A value
// beyond it is a new extreme and scores 1; the range then widens to take
// it in, again with a margin, so that the next value of the same size is
// not news. Inside the range, values fall into rvBins equal levels, and a
// first-order transition count between levels gives the chance of the
// step just taken: a step the series has rarely or never taken from a
// level it visits often (a jump from idle straight to the top level, a
// drop that skips the usual ramp down) scores close to 1.
//
// It is what NAB's best detectors call the spatial and the temporal
// anomaly, at the cost of 72 counters: a few nanoseconds and under
// 400 bytes per series. Combined with the core (combinedScore), it lifts
// NAB's standard score from 52.4 to 66.0, and to 72.6 with the later steps of
// eval/nab/TUNING.md.
type rangeView struct {
	n      int
	lo, hi float64
	scale  float64 // rvBins/(hi-lo), 0 for an empty range
	prev   uint8
	cool   int
	cnt    [rvBins * rvBins]uint32 // transitions from level i to level j
	row    [rvBins]uint32          // transitions from level i
}

// The range view's constants, one set for every series; picked on NAB's
// 41 public series by small grids over round values (eval/nab/TUNING.md).
const (
	rvBins   = 8   // levels of the range
	rvWarmup = 150 // points whose span is the first range
	rvMargin = 0.1 // widening beyond the span, as a share of the range
	rvPrior  = 0.5 // pseudo-count of every transition
	rvMinRow = 5   // visits of a level before its transitions count fully
	rvRest   = 200 // points without a transition score after an unusual step
	// rvRestAt is the transition score that starts the rest: any step
	// the series takes less than once in four from its level. A rare
	// step is news only after a spell of ordinary ones; in a turbulent
	// stretch every step is unusual and the first says all there is.
	// This is what lets the prior be weak (see rvWeight).
	rvRestAt = 0.75
	// rvWeight scales the view into the core's score: a transition
	// whose chance was 1 in 1,000 (0.999) meets the core's alarm level
	// (mcHoldAt, 0.5), and a new extreme passes it. With the prior of
	// rvPrior counts per step, a step never taken gets there from a
	// level the series has left about 500 times, which a series of a
	// week's five-minute points can reach; the rest keeps the weak
	// prior from raising an alarm at every step of a turbulent stretch.
	rvWeight = 0.5
	// rvHalve is the level count at which all counts halve, so that they
	// never overflow and old habits fade on very long streams.
	rvHalve = 1 << 30
)

// combinedScore is how SeriesDetector joins the core's score and the range
// view's: the larger of the core's and the range view's scaled by
// rvWeight, so that either view alone can raise the score.
func combinedScore(core, rng float64) float64 {
	return max(core, rvWeight*rng)
}

// observe scores x from the points before it and then learns it.
func (r *rangeView) observe(x float64) float64 {
	r.n++
	if r.n <= rvWarmup {
		if r.n == 1 || x < r.lo {
			r.lo = x
		}
		if r.n == 1 || x > r.hi {
			r.hi = x
		}
		if r.n == rvWarmup {
			span := r.hi - r.lo
			if span == 0 {
				// A series that never moved: a tenth of its level, so
				// that a change of that much reads as a new extreme.
				span = 0.1 * mcAbs(r.hi)
			}
			r.lo -= rvMargin * span
			r.hi += rvMargin * span
			r.setScale()
			r.prev = r.bin(x)
		}
		return 0
	}
	if x < r.lo || x > r.hi {
		olo, ohi := r.lo, r.hi
		span := ohi - olo
		if x < r.lo {
			r.lo = x - rvMargin*span
		} else {
			r.hi = x + rvMargin*span
		}
		r.setScale()
		r.remap(olo, ohi)
		r.prev = r.bin(x)
		return 1
	}
	b := r.bin(x)
	i := int(r.prev)*rvBins + int(b)
	c, n := r.cnt[i], r.row[r.prev]
	r.cnt[i]++
	r.row[r.prev]++
	if r.row[r.prev] >= rvHalve {
		r.halve()
	}
	r.prev = b
	if r.cool > 0 {
		r.cool--
		return 0
	}
	sur := 1 - (float64(c)+rvPrior)/(float64(n)+rvPrior*rvBins)
	if n < rvMinRow {
		sur *= float64(n) / rvMinRow
	}
	if sur >= rvRestAt {
		r.cool = rvRest
	}
	return sur
}

// bin returns the level of x in the current range (clamped: the range
// always holds x when this is called, up to rounding).
func (r *rangeView) bin(x float64) uint8 {
	b := int((x - r.lo) * r.scale)
	if b < 0 {
		b = 0
	}
	if b >= rvBins {
		b = rvBins - 1
	}
	return uint8(b)
}

func (r *rangeView) setScale() {
	r.scale = 0
	if w := r.hi - r.lo; w > 0 {
		r.scale = rvBins / w
	}
}

// remap carries the transition counts over to the widened range: each old
// level's counts go to the new level that holds its centre.
func (r *rangeView) remap(olo, ohi float64) {
	var to [rvBins]uint8
	w := (ohi - olo) / rvBins
	for i := range to {
		to[i] = r.bin(olo + (float64(i)+0.5)*w)
	}
	var cnt [rvBins * rvBins]uint32
	var row [rvBins]uint32
	for i := 0; i < rvBins; i++ {
		row[to[i]] += r.row[i]
		for j := 0; j < rvBins; j++ {
			cnt[int(to[i])*rvBins+int(to[j])] += r.cnt[i*rvBins+j]
		}
	}
	r.cnt, r.row = cnt, row
}

func (r *rangeView) halve() {
	for i := range r.cnt {
		r.cnt[i] /= 2
	}
	for i := range r.row {
		r.row[i] /= 2
	}
}
