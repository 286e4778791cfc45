package metricstore

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/vigilops/vigil/telemetry"
)

// Ref names one stored series.
type Ref struct {
	// Labels identify the series; Ref{Labels: ls} names the series with
	// labels ls (which must be sorted).
	Labels telemetry.Labels
	// Fingerprint is Labels.Fingerprint(), as Series reports it: a stable
	// identifier for callers. Lookups go by Labels.
	Fingerprint telemetry.Fingerprint
}

// RefOf returns the Ref of the series with labels ls (which must be
// sorted).
func RefOf(ls telemetry.Labels) Ref { return Ref{Labels: ls, Fingerprint: ls.Fingerprint()} }

// lookup runs f on the series named by ref under its shard's read lock,
// and reports whether it exists.
func (st *Store) lookup(ref Ref, f func(s *memSeries)) bool {
	h := st.hashOf(ref.Labels)
	sh := &st.shards[h&st.mask]
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if s := sh.find(h, ref.Labels); s != nil {
		f(s)
		return true
	}
	return false
}

// Series returns the series matching all matchers (a matcher on an absent
// label sees the empty value, as in Prometheus), sorted by labels. With
// no matchers it returns every series.
func (st *Store) Series(matchers ...*labels.Matcher) []Ref {
	var out []Ref
	for i := range st.shards {
		sh := &st.shards[i]
		sh.mu.RLock()
		for _, s := range sh.series {
			for ; s != nil; s = s.next {
				if matches(s.labels, matchers) {
					out = append(out, Ref{Labels: s.labels, Fingerprint: s.fp})
				}
			}
		}
		sh.mu.RUnlock()
	}
	slices.SortFunc(out, func(a, b Ref) int { return compareLabels(a.Labels, b.Labels) })
	return out
}

func matches(ls telemetry.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

func compareLabels(a, b telemetry.Labels) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := strings.Compare(a[i].Name, b[i].Name); c != 0 {
			return c
		}
		if c := strings.Compare(a[i].Value, b[i].Value); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

// Range returns the points of the series named by ref with timestamps in
// [from, to], oldest first: raw points where the raw ring still holds
// them, and before that one point per downsampling bucket (its mean,
// stamped with the bucket's start). With step > 0 the points are
// aggregated into step-wide windows aligned to the Unix epoch, each the
// mean of the raw points and buckets (weighted by their counts) starting
// in it, stamped with the window's start; NaN values are left out of
// those means. It returns nil if the series is unknown.
func (st *Store) Range(ref Ref, from, to time.Time, step time.Duration) []telemetry.Point {
	lo, hi := from.UnixMilli(), to.UnixMilli()
	stepMs := step.Milliseconds()
	var out []telemetry.Point
	st.lookup(ref, func(s *memSeries) {
		if stepMs <= 0 {
			out = s.points(st.lim.step, lo, hi, nil)
			return
		}
		out = s.resample(st.lim.step, lo, hi, stepMs)
	})
	return out
}

// points appends the series' points in [lo, hi] to out.
func (s *memSeries) points(bstep, lo, hi int64, out []telemetry.Point) []telemetry.Point {
	s.eachBucket(bstep, lo, hi, func(b Bucket) {
		out = append(out, telemetry.Point{T: b.T, V: b.Mean()})
	})
	for i := s.search(lo); i < s.rawLen; i++ {
		p := s.at(i)
		if p.T > hi {
			break
		}
		out = append(out, p)
	}
	return out
}

// resample averages the series' data in [lo, hi] over step-wide windows.
func (s *memSeries) resample(bstep, lo, hi, step int64) []telemetry.Point {
	var out []telemetry.Point
	w, sum, n := int64(math.MinInt64), 0.0, 0.0
	add := func(t int64, v, count float64) {
		if math.IsNaN(v) {
			return
		}
		if tw := floorDiv(t, step) * step; tw != w {
			if n > 0 {
				out = append(out, telemetry.Point{T: w, V: sum / n})
			}
			w, sum, n = tw, 0, 0
		}
		sum += v
		n += count
	}
	s.eachBucket(bstep, lo, hi, func(b Bucket) { add(b.T, b.Sum, float64(b.Count)) })
	for i := s.search(lo); i < s.rawLen; i++ {
		p := s.at(i)
		if p.T > hi {
			break
		}
		add(p.T, p.V, 1)
	}
	if n > 0 {
		out = append(out, telemetry.Point{T: w, V: sum / n})
	}
	return out
}

// eachBucket calls f on the non-empty buckets starting in [lo, hi].
func (s *memSeries) eachBucket(bstep, lo, hi int64, f func(Bucket)) {
	b := &s.buckets
	if b.n == 0 {
		return
	}
	start := max(0, floorDiv(lo+bstep-1, bstep)-b.first) // first slot starting at or after lo
	for i := int(start); i < b.n; i++ {
		bk := b.get(i, bstep)
		if bk.T > hi {
			break
		}
		if bk.Count > 0 {
			f(bk)
		}
	}
}

// Buckets returns the downsampled buckets of the series named by ref that
// start in [from, to], with their min, max, sum and count: what a baseline
// needs beyond Range's means. Only data that has left the raw ring is in
// buckets.
func (st *Store) Buckets(ref Ref, from, to time.Time) []Bucket {
	var out []Bucket
	st.lookup(ref, func(s *memSeries) {
		s.eachBucket(st.lim.step, from.UnixMilli(), to.UnixMilli(), func(b Bucket) { out = append(out, b) })
	})
	return out
}

// Latest returns the newest point of the series named by ref: its newest
// raw point, or the mean of its newest bucket if the raw ring is empty.
func (st *Store) Latest(ref Ref) (telemetry.Point, bool) {
	var p telemetry.Point
	found := false
	st.lookup(ref, func(s *memSeries) {
		if s.rawLen > 0 {
			p, found = s.at(s.rawLen-1), true
			return
		}
		for i := s.buckets.n - 1; i >= 0; i-- {
			if b := s.buckets.get(i, st.lim.step); b.Count > 0 {
				p, found = telemetry.Point{T: b.T, V: b.Mean()}, true
				return
			}
		}
	})
	return p, found
}
