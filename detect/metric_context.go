package detect

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"unsafe"
)

// ContextDetector is a second, different kind of streaming metric detector:
// a contextual one in the manner of CAD OSE (Smirnov, 2016; "contextOSE" on
// the NAB scoreboard). Where the metric core asks "how far is this value
// from its forecasts", this one asks "has this sequence of coarse states
// been seen before":
//
//   - each value is quantised into a few levels of a range learned from
//     the series so far, and a level is written as one fact per bit;
//   - a context joins a left half (the facts of the previous point, plus
//     the contexts that were active then, so that order reaches further
//     back than one step) to a right half (the facts of the current point);
//   - the detector remembers contexts, and the crossings of partly matching
//     ones, as it goes;
//   - the score is high when few of the contexts whose left half matched
//     came true, and when the point forms many contexts never seen before.
//
// The range is learned causally: the first WarmUp points fix it (they are
// then replayed through the memory so that nothing is lost), and a value
// outside it widens it; the memory is then rebuilt from the last Replay
// points at the new quantisation. Memory is bounded by MaxContexts.
//
// A ContextDetector is not safe for concurrent use: one goroutine owns a
// series, as with SeriesDetector.
type ContextDetector struct {
	opts ContextOptions

	// Range learning: ring holds the last Replay points (at least the
	// warm-up), oldest at ringAt once full; lo and hi bound the values.
	ring     []float64
	ringAt   int
	lo, hi   float64
	rangeSet bool
	// rebuilds counts memory rebuilds; full is set when a context could
	// not be stored because memory is at MaxContexts.
	rebuilds  int
	rebuiltAt int // step of the last rebuild
	full      bool

	// Memory. Side 0 holds left halves, side 1 right halves.
	semis [2][]ctxSemi
	// semiKey finds a half by its sorted facts (4 little-endian bytes each).
	semiKey [2]map[string]int32
	// index lists, per fact, the halves that contain it.
	index [2]map[uint32][]int32
	// touched lists the halves that share a fact with the last crossing's
	// group, and hits counts, per half, its facts in that group (valid for
	// touched halves; 0 elsewhere). Counts sit apart from the halves so
	// that the crossing, the hot loop, walks a dense array.
	touched [2][]int32
	hits    [2][]int32
	ctxs    []ctxContext
	// pair finds a context by left<<32 | right half id.
	pair map[uint64]int32

	left []uint32 // left group for the next point: facts + active contexts

	// Rest: a raw score at or above RestThreshold silences the next
	// RestPoints outputs, as in CAD OSE. lastHigh is the step of the last
	// such score (-1 stands for the implicit high score before the start).
	step     int
	lastHigh int
	raw      float64 // the last point's raw score, before the rest gate

	// Scratch buffers reused by every point.
	keyBuf []byte
	top    []int32
	pots   []ctxPair
	potArr []uint32
	uniq   map[string]struct{}
	cur    []uint32
	next   []uint32
}

// ContextOptions configures a ContextDetector. The zero value is not
// usable; start from DefaultContextOptions.
type ContextOptions struct {
	// Bits is the number of bits a value is quantised to (default 3: eight
	// levels of the learned range).
	Bits int
	// MaxLeftFacts bounds the size of the left half of a context learned
	// from a crossing (default 7): larger halves are too specific to
	// recur.
	MaxLeftFacts int
	// MaxActive is the number of active contexts, most used first, that
	// become facts of the next left half (default 15).
	MaxActive int
	// RestPoints and RestThreshold: a raw score at or above RestThreshold
	// silences the next RestPoints outputs (defaults 100 and 0.75), so one
	// change is reported once, not at every point the memory relearns it.
	RestPoints    int
	RestThreshold float64
	// WarmUp is the number of points that fix the value range before any
	// score is given (default 150); they are replayed through the memory
	// once the range is known.
	WarmUp int
	// Margin widens the range beyond a new extreme by this fraction of the
	// range (default 0.5), so that a slow drift does not re-quantise the
	// series at every point.
	Margin float64
	// Replay is the number of recent points kept (default 1000, 8 KB):
	// when a value widens the range, the memory is rebuilt from them with
	// the new quantisation, since contexts learned at the old one no longer
	// describe the series. 0 keeps the stale memory instead.
	Replay int
	// MaxContexts bounds memory (default 10,000 contexts, about 1.8 MB;
	// the most any NAB series needed was 5,929). At the bound the memory is
	// rebuilt from the last Replay points, as after a widening.
	MaxContexts int
	// Min and Max, when Max > Min, are the series' known bounds (0 and 100
	// for a percentage): the range starts there and there is no warm-up.
	// Values outside still widen it.
	Min, Max float64
}

// ErrContextOptions is returned by NewContextDetector for unusable options.
var ErrContextOptions = errors.New("detect: invalid context detector options")

// DefaultContextOptions returns the configuration used everywhere, NAB
// included.
func DefaultContextOptions() ContextOptions {
	return ContextOptions{
		Bits:          3,
		MaxLeftFacts:  7,
		MaxActive:     15,
		RestPoints:    100,
		RestThreshold: 0.75,
		WarmUp:        150,
		Margin:        0.5,
		Replay:        1000,
		MaxContexts:   10_000,
	}
}

func (o *ContextOptions) validate() error {
	switch {
	case o.Bits < 1 || o.Bits > 8:
		return fmt.Errorf("%w: bits %d is outside [1,8]", ErrContextOptions, o.Bits)
	case o.MaxLeftFacts < 1:
		return fmt.Errorf("%w: max left facts %d is below 1", ErrContextOptions, o.MaxLeftFacts)
	case o.MaxActive < 0:
		return fmt.Errorf("%w: max active %d is negative", ErrContextOptions, o.MaxActive)
	case o.RestPoints < 0:
		return fmt.Errorf("%w: rest points %d is negative", ErrContextOptions, o.RestPoints)
	case math.IsNaN(o.RestThreshold) || o.RestThreshold < 0 || o.RestThreshold > 1:
		return fmt.Errorf("%w: rest threshold %v is outside [0,1]", ErrContextOptions, o.RestThreshold)
	case o.WarmUp < 1 || o.WarmUp > 100_000:
		return fmt.Errorf("%w: warm-up %d is outside [1,100000]", ErrContextOptions, o.WarmUp)
	case math.IsNaN(o.Margin) || o.Margin < 0 || o.Margin > 10:
		return fmt.Errorf("%w: margin %v is outside [0,10]", ErrContextOptions, o.Margin)
	case math.IsNaN(o.Min) || math.IsNaN(o.Max) || math.IsInf(o.Min, 0) || math.IsInf(o.Max, 0):
		return fmt.Errorf("%w: bounds [%v, %v] are not finite", ErrContextOptions, o.Min, o.Max)
	case o.Replay < 0 || o.Replay > 1_000_000:
		return fmt.Errorf("%w: replay %d is outside [0,1000000]", ErrContextOptions, o.Replay)
	case o.MaxContexts < 1 || o.MaxContexts > 1<<24:
		return fmt.Errorf("%w: max contexts %d is outside [1,16777216]", ErrContextOptions, o.MaxContexts)
	}
	return nil
}

// NewContextDetector returns a detector for one series.
func NewContextDetector(o ContextOptions) (*ContextDetector, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	d := &ContextDetector{opts: o, lastHigh: -1, pair: make(map[uint64]int32), uniq: make(map[string]struct{})}
	if o.Max > o.Min {
		d.lo, d.hi, d.rangeSet = o.Min, o.Max, true
	}
	for s := range 2 {
		d.semiKey[s] = make(map[string]int32)
		d.index[s] = make(map[uint32][]int32)
	}
	return d, nil
}

// Observe scores the next value of the series in [0,1]. NaN and infinite
// values are skipped (scored 0); during the warm-up every score is 0.
func (d *ContextDetector) Observe(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	if !d.rangeSet {
		d.ring = append(d.ring, v)
		if len(d.ring) < d.opts.WarmUp {
			return 0
		}
		d.lo, d.hi = slices.Min(d.ring), slices.Max(d.ring)
		d.rangeSet = true
		for _, w := range d.ring {
			d.gate(d.learn(d.facts(w)))
		}
		d.trimRing()
		return 0
	}
	if d.widen(v) && d.opts.Replay > 0 {
		d.rebuild()
	}
	out := d.gate(d.learn(d.facts(v)))
	d.push(v)
	// A memory that fills again within Replay points of a rebuild is
	// left full (novelty is still judged), so that a MaxContexts too small
	// for the series cannot turn every point into a replay.
	if d.full && d.step-d.rebuiltAt > d.opts.Replay {
		d.rebuild()
	}
	return out
}

// gate applies the rest period to a raw score.
func (d *ContextDetector) gate(raw float64) float64 {
	d.raw = raw
	k := d.step
	d.step++
	out := raw
	if d.lastHigh >= k-d.opts.RestPoints {
		out = 0
	}
	if raw >= d.opts.RestThreshold {
		d.lastHigh = k
	}
	return out
}

// trimRing keeps the last Replay warm-up points, in order.
func (d *ContextDetector) trimRing() {
	if len(d.ring) > d.opts.Replay {
		d.ring = slices.Clone(d.ring[len(d.ring)-d.opts.Replay:])
	}
	d.ringAt = 0
}

// push records v in the ring of recent points.
func (d *ContextDetector) push(v float64) {
	if d.opts.Replay == 0 {
		return
	}
	if len(d.ring) < d.opts.Replay {
		d.ring = append(d.ring, v)
		return
	}
	d.ring[d.ringAt] = v
	d.ringAt = (d.ringAt + 1) % len(d.ring)
}

// rebuild forgets every context and relearns the recent points at the
// current quantisation. The rest gate is left alone: the replayed points
// were scored when they came.
func (d *ContextDetector) rebuild() {
	d.rebuilds++
	d.rebuiltAt = d.step
	for s := range 2 {
		d.semis[s] = d.semis[s][:0]
		d.hits[s] = d.hits[s][:0]
		clear(d.semiKey[s])
		clear(d.index[s])
		d.touched[s] = d.touched[s][:0]
	}
	d.ctxs = d.ctxs[:0]
	clear(d.pair)
	d.left = d.left[:0]
	n := len(d.ring)
	for i := range n {
		d.learn(d.facts(d.ring[(d.ringAt+i)%n]))
	}
	d.full = false
}

// widen extends the range to hold v, with Margin to spare, and reports
// whether it changed.
func (d *ContextDetector) widen(v float64) bool {
	switch {
	case v > d.hi:
		d.hi = v + d.opts.Margin*(v-d.lo)
	case v < d.lo:
		d.lo = v - d.opts.Margin*(d.hi-v)
	default:
		return false
	}
	// Near ±MaxFloat64 the margin overflows; the range stays finite.
	d.hi = min(d.hi, math.MaxFloat64)
	d.lo = max(d.lo, -math.MaxFloat64)
	return true
}

// facts quantises v into the range and writes the level as one fact per
// bit: 2*bit + value.
func (d *ContextDetector) facts(v float64) []uint32 {
	top := float64(int(1)<<d.opts.Bits - 1)
	step := (d.hi - d.lo) / top
	if math.IsInf(step, 0) {
		step = d.hi/top - d.lo/top
	}
	if !(step > 0) {
		step = 1 // a flat range: every value so far is lo
	}
	x := (v - d.lo) / step
	if math.IsInf(x, 0) || math.IsNaN(x) {
		x = (v/2 - d.lo/2) / (step / 2)
	}
	lvl := int(top)
	if x < top {
		lvl = max(0, int(x))
	}
	d.cur = d.cur[:0]
	for b := range d.opts.Bits {
		d.cur = append(d.cur, uint32(2*b+(lvl>>b)&1))
	}
	return d.cur
}

// Raw returns the last scored point's raw score, before the rest gate: how
// little of its context the memory predicted (0 until the warm-up ends).
func (d *ContextDetector) Raw() float64 { return d.raw }

// Contexts returns the number of contexts learned so far.
func (d *ContextDetector) Contexts() int { return len(d.ctxs) }

// Rebuilds returns how many times the memory was rebuilt (after the range
// widened or memory filled).
func (d *ContextDetector) Rebuilds() int { return d.rebuilds }

// StateBytes estimates the memory the detector holds, for capacity
// planning. Slices and maps keep their high-water size after a rebuild,
// so capacities are counted, and map slots at twice their payload (Go's
// tables run at most 7/8 full and grow by doubling). It walks the fact
// index, so call it for reports, not per point.
func (d *ContextDetector) StateBytes() int {
	const mapFactor = 2
	n := int(unsafe.Sizeof(*d)) + 8*cap(d.ring)
	n += cap(d.ctxs) * int(unsafe.Sizeof(ctxContext{}))
	n += cap(d.ctxs) * mapFactor * 16 // pair: uint64 key, int32 value
	for s := range 2 {
		n += cap(d.semis[s]) * int(unsafe.Sizeof(ctxSemi{}))
		n += cap(d.semis[s]) * mapFactor * 24 // semiKey: string header, int32
		for i := range d.semis[s] {
			h := &d.semis[s][i]
			n += 4*(cap(h.facts)+cap(h.ctxs)) + 4*len(h.facts) // + key bytes
		}
		for _, l := range d.index[s] {
			n += mapFactor*32 + 4*cap(l)
		}
		n += 4 * (cap(d.touched[s]) + cap(d.hits[s]))
	}
	n += cap(d.keyBuf) + 4*(cap(d.top)+cap(d.potArr)+cap(d.cur)+cap(d.next)+cap(d.left))
	n += 12*cap(d.pots) + len(d.uniq)*mapFactor*16
	return n
}

// ContextWeight scales the context detector's score before the ensemble
// takes the larger of the two: its scores sit higher than the core's for
// the same degree of alarm (its rest threshold is 0.75 where the core's
// hold-off starts at 0.5), so unscaled it would win every tie with
// ordinary noise (TUNING.md: 0.5, 0.75, 1, 1.5 and 2 were tried).
const ContextWeight = 0.75

// CombineScores is the ensemble of the metric core's score and the context
// detector's score for the same point: the larger of the core's and the
// scaled context score. The two detectors fail differently (the core
// misses changes of shape within the usual range, the context detector
// misses slow drifts that stay within one level), so the larger of the two
// keeps what each finds; the mean would need both to agree and loses the
// events only one sees.
func CombineScores(core, context float64) float64 {
	return max(core, min(1, ContextWeight*context))
}
