package slo

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/vigilops/vigil/metricstore"
	"github.com/vigilops/vigil/telemetry"
)

// Source returns an SLO's event counts over several windows that all end at
// now; out[i] is for windows[i]. Asking for all windows at once lets a
// source read each series once per evaluation.
type Source interface {
	Counts(ctx context.Context, d *Definition, now time.Time, windows []time.Duration) ([]Counts, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context, d *Definition, now time.Time, windows []time.Duration) ([]Counts, error)

// Counts calls f.
func (f SourceFunc) Counts(ctx context.Context, d *Definition, now time.Time, windows []time.Duration) ([]Counts, error) {
	return f(ctx, d, now, windows)
}

// SeriesStore is what StoreSource reads: Vigil's metric store satisfies it.
type SeriesStore interface {
	Series(matchers ...*labels.Matcher) []metricstore.Ref
	Range(ref metricstore.Ref, from, to time.Time, step time.Duration) []telemetry.Point
}

var _ SeriesStore = (*metricstore.Store)(nil)

// StoreSource computes counts from counter series in Vigil's metric store:
// the increase of every matching series over each window, summed.
type StoreSource struct {
	// Store holds the series.
	Store SeriesStore
	// Lookback is how far before a window's start the sample that anchors
	// its increase may be; without one, the increase counts from the first
	// sample inside the window. Zero means 5m, a few scrape intervals.
	Lookback time.Duration
}

// NewStoreSource returns a StoreSource over st with the default lookback.
func NewStoreSource(st SeriesStore) *StoreSource { return &StoreSource{Store: st} }

// Counts implements Source.
func (s *StoreSource) Counts(ctx context.Context, d *Definition, now time.Time, windows []time.Duration) ([]Counts, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	longest := slices.Max(windows)
	lookback := s.Lookback
	if lookback <= 0 {
		lookback = 5 * time.Minute
	}
	from := now.Add(-longest - lookback)
	total := s.increases(d.Total, from, now, windows, lookback)
	out := make([]Counts, len(windows))
	for i := range out {
		out[i].Total = total[i]
	}
	if !d.Good.IsZero() {
		good := s.increases(d.Good, from, now, windows, lookback)
		for i := range out {
			out[i].Good = good[i]
		}
		return out, nil
	}
	bad := s.increases(d.Bad, from, now, windows, lookback)
	for i := range out {
		out[i].Good = out[i].Total - bad[i]
	}
	return out, nil
}

// increases sums, over the series sel selects, each window's increase.
func (s *StoreSource) increases(sel Selector, from, now time.Time, windows []time.Duration, lookback time.Duration) []float64 {
	sums := make([]float64, len(windows))
	for _, ref := range s.Store.Series(sel.AllMatchers()...) {
		pts := s.Store.Range(ref, from, now, 0)
		for i, w := range windows {
			sums[i] += counterIncrease(pts, now.Add(-w).UnixMilli(), now.Add(-w-lookback).UnixMilli())
		}
	}
	return sums
}

// counterIncrease returns how much a counter grew after start, anchored on
// the newest point at or before start (no older than earliest) or else on
// the first point after it. A drop is a restart from zero, as in PromQL's
// increase(); NaN points (staleness markers) are skipped.
func counterIncrease(pts []telemetry.Point, start, earliest int64) float64 {
	// First point after start.
	i, _ := slices.BinarySearchFunc(pts, start+1, func(p telemetry.Point, t int64) int {
		switch {
		case p.T < t:
			return -1
		case p.T > t:
			return 1
		}
		return 0
	})
	prev, have := 0.0, false
	for j := i - 1; j >= 0 && pts[j].T >= earliest; j-- {
		if pts[j].V == pts[j].V { // not NaN
			prev, have = pts[j].V, true
			break
		}
	}
	inc := 0.0
	for _, p := range pts[i:] {
		if p.V != p.V {
			continue
		}
		if !have {
			prev, have = p.V, true
			continue
		}
		if p.V >= prev {
			inc += p.V - prev
		} else {
			inc += p.V
		}
		prev = p.V
	}
	return inc
}
