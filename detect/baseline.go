package detect

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// BaselineLevel says which history an Estimate was drawn from.
type BaselineLevel uint8

// Baseline levels, from the most specific to the fallback.
const (
	BaselineNone       BaselineLevel = iota // not enough history anywhere
	BaselineHourOfWeek                      // the same hour on the same weekday
	BaselineHourOfDay                       // the same hour on any day
	BaselineAllHours                        // the most recent values at any hour
)

// String names the level in words used by explanations.
func (l BaselineLevel) String() string {
	switch l {
	case BaselineHourOfWeek:
		return "at this hour on this weekday"
	case BaselineHourOfDay:
		return "at this hour"
	case BaselineAllHours:
		return "recently"
	}
	return "without history"
}

// BaselineOptions sizes a Baseline. Every bucket keeps a bounded ring of its
// most recent values, so memory per series is fixed whatever the stream.
type BaselineOptions struct {
	// WeekBucket, DayBucket and AllBucket are the ring sizes of the
	// hour-of-week (168), hour-of-day (24) and all-hours (1) buckets.
	WeekBucket, DayBucket, AllBucket int
	// MinSamples is the history a bucket needs before it is trusted;
	// below it the next, coarser level answers.
	MinSamples int
	// Location sets the hours and weekdays; nil means UTC.
	Location *time.Location
}

// DefaultBaselineOptions suits per-minute values: a day bucket holds about
// one hour's minutes, the all-hours ring the last two hours.
func DefaultBaselineOptions() BaselineOptions {
	return BaselineOptions{WeekBucket: 32, DayBucket: 64, AllBucket: 128, MinSamples: 30}
}

func (o *BaselineOptions) validate() {
	d := DefaultBaselineOptions()
	if o.WeekBucket <= 0 {
		o.WeekBucket = d.WeekBucket
	}
	if o.DayBucket <= 0 {
		o.DayBucket = d.DayBucket
	}
	if o.AllBucket <= 0 {
		o.AllBucket = d.AllBucket
	}
	if o.MinSamples <= 0 {
		o.MinSamples = d.MinSamples
	}
	if o.MinSamples > o.AllBucket {
		o.MinSamples = o.AllBucket
	}
}

// Baseline is a robust seasonal baseline learned online: values are kept in
// hour-of-week × hour-of-day × all-hours buckets of bounded rings, and an
// Estimate is the median and MAD of the most specific bucket with enough
// history. Median and MAD ignore up to half of a bucket being anomalous,
// which is why no separate outlier rejection is needed for learning.
//
// A Baseline is not safe for concurrent use.
type Baseline struct {
	opts *BaselineOptions // shared between the baselines of one detector
	week [168]*blRing
	day  [24]*blRing
	all  blRing
	// sorted holds the values of one ring, sortedOf, in ascending order as
	// they were after its first sortedAdds adds. A detector estimates the
	// same bucket interval after interval (the hour changes only every
	// sixty) and adds one value in between, so Estimate usually brings
	// sorted up to date with one step (the value the ring dropped goes,
	// the new one comes) instead of sorting the whole ring again: sorting
	// was most of the cost of closing an interval. One mirror per
	// Baseline, not one per ring, keeps the memory this costs to one
	// bucket's worth.
	sorted     []float64
	sortedOf   *blRing
	sortedAdds uint64
}

// NewBaseline returns an empty baseline.
func NewBaseline(o BaselineOptions) *Baseline {
	o.validate()
	return newBaselineShared(&o)
}

func newBaselineShared(o *BaselineOptions) *Baseline {
	return &Baseline{opts: o, all: blRing{v: make([]float64, 0, o.AllBucket)}}
}

// blSlot is where a time falls in the baselines of one BaselineOptions:
// its hour-of-week and hour-of-day buckets and its day. A detector that
// judges many series at one time works it out once for all of them.
type blSlot struct {
	week, hour int
	day        int64
}

func (o *BaselineOptions) slot(t time.Time) blSlot {
	day := t.Unix() / 86400
	if o.Location != nil {
		t = t.In(o.Location)
	} else {
		t = t.UTC()
	}
	h := t.Hour()
	return blSlot{week: int(t.Weekday())*24 + h, hour: h, day: day}
}

// Add records value v observed at t.
func (b *Baseline) Add(t time.Time, v float64) { b.addAt(b.opts.slot(t), v) }

// addAt is Add at the slot of t.
func (b *Baseline) addAt(at blSlot, v float64) {
	w, d := at.week, at.hour
	if b.week[w] == nil {
		b.week[w] = &blRing{v: make([]float64, 0, b.opts.WeekBucket)}
	}
	if b.day[d] == nil {
		b.day[d] = &blRing{v: make([]float64, 0, b.opts.DayBucket)}
	}
	b.week[w].addOn(v, at.day/7)
	b.day[d].addOn(v, at.day)
	b.all.add(v)
}

// N is the number of values in the all-hours ring.
func (b *Baseline) N() int { return len(b.all.v) }

// Estimate is the usual value at some time.
type Estimate struct {
	Median, MAD, Mean, Min, Max float64
	N                           int
	Level                       BaselineLevel
}

// Sigma is the MAD scaled to a normal standard deviation.
func (e Estimate) Sigma() float64 { return 1.4826 * e.MAD }

// Estimate returns the usual value at t and false while no bucket has
// MinSamples values. A seasonal bucket answers only once it holds values
// from at least two days (weeks), otherwise the all-hours ring does.
func (b *Baseline) Estimate(t time.Time) (Estimate, bool) {
	s, l, ok := b.sortedAt(t)
	if !ok {
		return Estimate{}, false
	}
	return blEstimateSorted(s, l), true
}

// sortedAt returns the values Estimate(t) draws on, sorted ascending, and
// their level. The slice is the Baseline's own and good until the next
// Add. A caller can read the median, minimum and maximum off it for
// nothing and so often settle a question without the mean and MAD, which
// take a pass over the values each.
func (b *Baseline) sortedAt(t time.Time) ([]float64, BaselineLevel, bool) {
	return b.sortedIn(b.opts.slot(t))
}

// sortedIn is sortedAt at the slot of t.
func (b *Baseline) sortedIn(at blSlot) ([]float64, BaselineLevel, bool) {
	w, d := at.week, at.hour
	min := b.opts.MinSamples
	switch {
	case b.week[w] != nil && len(b.week[w].v) >= min && b.week[w].days >= 2:
		return b.sync(b.week[w]), BaselineHourOfWeek, true
	case b.day[d] != nil && len(b.day[d].v) >= min && b.day[d].days >= 2:
		return b.sync(b.day[d]), BaselineHourOfDay, true
	case len(b.all.v) >= min:
		return b.sync(&b.all), BaselineAllHours, true
	}
	return nil, BaselineNone, false
}

// sync brings the sorted mirror up to date with r and returns it.
func (b *Baseline) sync(r *blRing) []float64 {
	switch {
	case b.sortedOf == r && b.sortedAdds == r.adds:
	case b.sortedOf == r && b.sortedAdds+1 == r.adds && b.sortedStep(r):
	default:
		b.sorted = append(b.sorted[:0], r.v...)
		slices.Sort(b.sorted)
		b.sortedOf = r
	}
	b.sortedAdds = r.adds
	return b.sorted
}

// sortedStep applies the last add of r to the mirror: out goes if the add
// pushed it out of the ring, in comes. It reports false, having changed
// nothing, when a NaN is involved (NaNs have no place in a binary search;
// a full sort orders them as before) or out is not found. (Of equal values
// it may drop another than the ring did: the same number, unless a -0
// and a +0, which compare equal and so judge alike.)
func (b *Baseline) sortedStep(r *blRing) bool {
	s := b.sorted
	if math.IsNaN(r.in) || len(s) > 0 && math.IsNaN(s[0]) { // slices.Sort puts NaNs first
		return false
	}
	if !r.evicted {
		i, _ := slices.BinarySearch(s, r.in)
		b.sorted = slices.Insert(s, i, r.in)
		return true
	}
	if math.IsNaN(r.out) {
		return false
	}
	i, found := slices.BinarySearch(s, r.out)
	if !found {
		return false
	}
	// Replace out by in with one shift of the values between them,
	// usually few, as a count is mostly near the one it replaces.
	if r.in >= r.out {
		j, _ := slices.BinarySearch(s[i+1:], r.in)
		j += i + 1 // s[i+1:j] < in <= s[j:]
		copy(s[i:j-1], s[i+1:j])
		s[j-1] = r.in
	} else {
		j, _ := slices.BinarySearch(s[:i], r.in) // s[:j] < in <= s[j:i]
		copy(s[j+1:i+1], s[j:i])
		s[j] = r.in
	}
	return true
}

// blRing is a fixed-capacity ring of the most recent values.
type blRing struct {
	v    []float64
	next int
	// days counts the distinct days (or weeks) the ring has seen values on:
	// a seasonal bucket speaks for "this hour" only once it holds more
	// than the current hour.
	days    int
	lastDay int64
	// adds counts the values added; in is the last of them and out the
	// value it replaced when evicted is set. Baseline.estimate replays
	// this one step on its sorted mirror.
	adds    uint64
	in, out float64
	evicted bool
}

func (r *blRing) addOn(x float64, day int64) {
	if r.days == 0 || day != r.lastDay {
		r.days++
		r.lastDay = day
	}
	r.add(x)
}

func (r *blRing) add(x float64) {
	r.adds++
	r.in = x
	if len(r.v) < cap(r.v) {
		r.v = append(r.v, x)
		r.evicted = false
		return
	}
	r.out, r.evicted = r.v[r.next], true
	r.v[r.next] = x
	if r.next++; r.next == len(r.v) { // no division: this runs three times per judgement
		r.next = 0
	}
}

func (r *blRing) estimate(l BaselineLevel) Estimate {
	var buf [128]float64
	s := append(buf[:0], r.v...)
	slices.Sort(s)
	return blEstimateSorted(s, l)
}

// blEstimateSorted is the estimate of the values s, sorted ascending and
// not empty. It does not change s.
func blEstimateSorted(s []float64, l BaselineLevel) Estimate {
	e := Estimate{N: len(s), Level: l, Min: s[0], Max: s[len(s)-1]}
	var sum float64
	for _, x := range s {
		sum += x
	}
	e.Mean = sum / float64(len(s))
	e.Median = blMedianSorted(s)
	e.MAD = blMADSorted(s, e.Median)
	return e
}

// blMADSorted is the median of |x-m| over the sorted s. The deviations
// fall towards m and rise past it, so merging the two runs from m outwards
// yields them in order, and the merge can stop at the middle: no copy and
// half the steps of sorting them. A NaN or an infinite median spoils that
// order; then the deviations are sorted in a copy.
func blMADSorted(s []float64, m float64) float64 {
	n := len(s)
	if n == 0 {
		return 0
	}
	if math.IsNaN(s[0]) || math.IsNaN(m) || math.IsInf(m, 0) {
		var spare [128]float64
		return blMedianSorted(blAbsDevSorted(append(spare[:0], s...), nil, m))
	}
	p, _ := slices.BinarySearch(s, m) // s[:p] < m <= s[p:]
	i, j := p-1, p
	var prev, cur float64
	for k := 0; k <= n/2; k++ {
		prev = cur
		if j >= n || i >= 0 && math.Abs(s[i]-m) <= math.Abs(s[j]-m) {
			cur = math.Abs(s[i] - m)
			i--
		} else {
			cur = math.Abs(s[j] - m)
			j++
		}
	}
	if n%2 == 1 {
		return cur
	}
	return (prev + cur) / 2
}

// blAbsDevSorted returns the sorted |x-m| of the sorted s. The deviations
// fall towards m and rise past it, so one merge of the two runs into spare
// sorts them; when spare is too short, or a NaN or an infinite median
// spoils the order, they are sorted in place in s instead.
func blAbsDevSorted(s, spare []float64, m float64) []float64 {
	if len(s) == 0 || math.IsNaN(s[0]) || math.IsNaN(m) || math.IsInf(m, 0) || len(spare) < len(s) {
		for i, x := range s {
			s[i] = math.Abs(x - m)
		}
		slices.Sort(s)
		return s
	}
	p, _ := slices.BinarySearch(s, m) // s[:p] < m <= s[p:]
	out := spare[:len(s)]
	i, j := p-1, p
	for k := range out {
		if j >= len(s) || i >= 0 && math.Abs(s[i]-m) <= math.Abs(s[j]-m) {
			out[k] = math.Abs(s[i] - m)
			i--
		} else {
			out[k] = math.Abs(s[j] - m)
			j++
		}
	}
	return out
}

func blMedianSorted(s []float64) float64 {
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// blScore maps how far past its threshold a statistic is to a score in
// [0.5,1): exactly at the threshold it is 0.5, twice the threshold 2/3.
func blScore(stat, threshold float64) float64 {
	if stat <= 0 || threshold <= 0 || math.IsNaN(stat) {
		return 0
	}
	if math.IsInf(stat, 1) {
		return 1
	}
	s := stat / (stat + threshold)
	return math.Min(1, math.Max(0, s))
}

// blConfidence grows with history: n values out of full.
func blConfidence(n, full int) float64 {
	if full <= 0 {
		return 1
	}
	return math.Min(1, float64(n)/float64(full))
}

// blNum formats a number for explanations: thousands separators, at most
// two significant decimals for small values.
func blNum(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	neg := v < 0
	if neg {
		v = -v
	}
	var s string
	switch {
	case v >= 100 || v == math.Trunc(v):
		s = strconv.FormatFloat(math.Round(v), 'f', 0, 64)
		if len(s) > 3 {
			var b strings.Builder
			pre := len(s) % 3
			if pre > 0 {
				b.WriteString(s[:pre])
			}
			for i := pre; i < len(s); i += 3 {
				if b.Len() > 0 {
					b.WriteByte(',')
				}
				b.WriteString(s[i : i+3])
			}
			s = b.String()
		}
	case v >= 1:
		s = strconv.FormatFloat(v, 'f', 1, 64)
	default:
		s = strconv.FormatFloat(v, 'g', 2, 64)
	}
	if neg {
		return "-" + s
	}
	return s
}

// blPoissonUpper returns P(X ≥ k) for X ~ Poisson(lam), computed in log
// space so tiny tails stay finite.
func blPoissonUpper(k, lam float64) float64 {
	if k <= 0 {
		return 1
	}
	if lam <= 0 {
		return 0
	}
	// Sum the upper tail directly from k; terms fall off fast past lam.
	logp := k*math.Log(lam) - lam - blLogFactorial(k)
	term, sum := 1.0, 1.0
	for i := k + 1; i < k+1000; i++ {
		term *= lam / i
		sum += term
		if term < 1e-12*sum {
			break
		}
	}
	return math.Min(1, math.Exp(logp)*sum)
}

func blLogFactorial(k float64) float64 {
	v, _ := math.Lgamma(k + 1)
	return v
}
