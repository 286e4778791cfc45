package metricstore

import (
	"math"
	"unsafe"

	"github.com/vigilops/vigil/telemetry"
)

// memSeries is one series: a ring of raw points for the recent window and
// a ring of downsampled buckets before it. Its owning shard's lock
// protects every field.
//
// Invariant: every point folded into a bucket is older than every point
// still in the raw ring, so a range read is the buckets up to the ring's
// oldest point, then the ring. Points leave the ring oldest first (when
// they age out of the raw window or the ring is full), and a late point
// older than the ring's oldest goes straight to its bucket.
type memSeries struct {
	labels telemetry.Labels
	// hash keys the series in its shard (Store.hashOf); fp is its
	// Fingerprint, reported in Refs.
	hash uint64
	fp   telemetry.Fingerprint
	// next chains series whose hashes collide.
	next *memSeries

	// lastWrite is the store's write clock at the last append; eviction
	// removes the smallest first.
	lastWrite uint64
	// maxT is the newest timestamp ever appended (ms); out-of-order
	// tolerance and the raw window are measured back from it.
	maxT int64
	// foldT is the newest timestamp folded into a bucket: a late point
	// may enter the raw ring only after it, which keeps the invariant
	// below.
	foldT int64
	// bytes is this series' share of Store.memBytes.
	bytes int64

	// raw is the ring storage; rawHead indexes the oldest point.
	raw     []telemetry.Point
	rawHead int
	rawLen  int

	buckets buckets
}

// seriesOverhead estimates the memory of a series beyond its rings and
// label strings: the struct, its map slot and the labels slice header.
const seriesOverhead = int64(unsafe.Sizeof(memSeries{})) + 48

func labelBytes(ls telemetry.Labels) int64 {
	n := int64(len(ls)) * int64(unsafe.Sizeof(telemetry.Label{}))
	for _, l := range ls {
		n += int64(len(l.Name) + len(l.Value))
	}
	return n
}

// appendOutcome says what became of one appended point.
type appendOutcome uint8

const (
	appendedInOrder appendOutcome = iota
	mergedOutOfOrder
	duplicateReplaced
	droppedTooOld
	droppedBucketFull
)

// limits are the per-series bounds, derived once from Options.
type limits struct {
	rawWindow int64 // ms
	maxRaw    int
	oooWindow int64 // ms
	step      int64 // ms
	maxBucket int
	// minRawCap is the first ring allocation: small, since most series
	// of a big store are short-lived or sparse.
	minRawCap int
}

// append adds one point and returns what became of it and how many bytes
// the series grew by.
func (s *memSeries) append(l *limits, t int64, v float64) (appendOutcome, int64) {
	if s.rawLen == 0 && s.buckets.n == 0 || t > s.maxT {
		return appendedInOrder, s.pushNewest(l, t, v)
	}
	if s.maxT-t > l.oooWindow {
		return droppedTooOld, 0
	}
	if s.rawLen > 0 && t >= s.at(0).T {
		i := s.search(t)
		if i < s.rawLen && s.at(i).T == t {
			s.set(i, telemetry.Point{T: t, V: v})
			return duplicateReplaced, 0
		}
		return mergedOutOfOrder, s.insert(l, i, t, v)
	}
	// Older than the ring: into the ring's front if it may still grow and
	// the point is within the raw window, else into its bucket.
	if t >= s.maxT-l.rawWindow && s.rawLen < l.maxRaw && (s.buckets.n == 0 || t > s.foldT) {
		return mergedOutOfOrder, s.insert(l, 0, t, v)
	}
	grew, ok := s.fold(l, t, v)
	if !ok {
		return droppedBucketFull, grew
	}
	return mergedOutOfOrder, grew
}

// pushNewest appends a point newer than all others, first folding into
// buckets what leaves the raw window or does not fit.
func (s *memSeries) pushNewest(l *limits, t int64, v float64) int64 {
	var grew int64
	for s.rawLen > 0 && s.at(0).T < t-l.rawWindow {
		grew += s.foldOldest(l)
	}
	if s.rawLen == len(s.raw) {
		if len(s.raw) < l.maxRaw {
			grew += s.growRaw(l)
		} else {
			grew += s.foldOldest(l)
		}
	}
	i := s.rawHead + s.rawLen
	if i >= len(s.raw) {
		i -= len(s.raw)
	}
	s.raw[i] = telemetry.Point{T: t, V: v}
	s.rawLen++
	s.maxT = t
	return grew
}

// insert puts a point at logical position i of the ring, shifting the
// newer ones (late points are usually close to the newest end).
func (s *memSeries) insert(l *limits, i int, t int64, v float64) int64 {
	var grew int64
	if s.rawLen == len(s.raw) {
		if len(s.raw) < l.maxRaw {
			grew = s.growRaw(l)
		} else {
			// Full at its cap: the oldest point makes room. If the new
			// point would itself be the oldest, it is the one to fold.
			if i == 0 {
				g, _ := s.fold(l, t, v)
				return g
			}
			grew = s.foldOldest(l)
			i--
		}
	}
	for j := s.rawLen; j > i; j-- {
		s.set(j, s.at(j-1))
	}
	s.set(i, telemetry.Point{T: t, V: v})
	s.rawLen++
	if t > s.maxT {
		s.maxT = t
	}
	return grew
}

// foldOldest moves the oldest raw point into its bucket.
func (s *memSeries) foldOldest(l *limits) int64 {
	p := s.raw[s.rawHead]
	s.rawHead++
	if s.rawHead == len(s.raw) {
		s.rawHead = 0
	}
	s.rawLen--
	grew, _ := s.fold(l, p.T, p.V)
	return grew
}

// fold adds a point to its bucket.
func (s *memSeries) fold(l *limits, t int64, v float64) (int64, bool) {
	grew, ok := s.buckets.add(l, floorDiv(t, l.step), v)
	if ok && t > s.foldT {
		s.foldT = t
	}
	return grew, ok
}

func (s *memSeries) growRaw(l *limits) int64 {
	n := min(max(2*len(s.raw), l.minRawCap), l.maxRaw)
	raw := make([]telemetry.Point, n)
	for i := 0; i < s.rawLen; i++ {
		raw[i] = s.at(i)
	}
	grew := int64(n-len(s.raw)) * pointBytes
	s.raw, s.rawHead = raw, 0
	return grew
}

const pointBytes = int64(unsafe.Sizeof(telemetry.Point{}))

// at returns the i-th oldest raw point.
func (s *memSeries) at(i int) telemetry.Point {
	j := s.rawHead + i
	if j >= len(s.raw) {
		j -= len(s.raw)
	}
	return s.raw[j]
}

func (s *memSeries) set(i int, p telemetry.Point) {
	j := s.rawHead + i
	if j >= len(s.raw) {
		j -= len(s.raw)
	}
	s.raw[j] = p
}

// search returns the logical index of the first raw point at or after t.
func (s *memSeries) search(t int64) int {
	lo, hi := 0, s.rawLen
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.at(m).T < t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// expire folds raw points older than the raw window before now and drops
// buckets older than the retention before now. It returns the bytes the
// series grew by (folding may extend the bucket ring) and whether it holds
// nothing any more. Rings are not shrunk: a series that stays reuses
// their memory for its next points.
func (s *memSeries) expire(l *limits, now, retention int64) (int64, bool) {
	var grew int64
	for s.rawLen > 0 && s.at(0).T < now-l.rawWindow {
		grew += s.foldOldest(l)
	}
	s.buckets.dropBefore(floorDiv(now-retention, l.step))
	return grew, s.rawLen == 0 && s.buckets.n == 0
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// meanOf is sum/count, NaN for an empty bucket (never returned).
func meanOf(sum float64, n uint16) float64 {
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}
