package kedascaler

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// GuardRamp names the ramp extrapolation in Decision.Guards and in
// vigil_kedascaler_guard_actions_total: it raised the served value above
// the forecast because the load was rising faster than the model follows.
const GuardRamp = "ramp"

// rampSignificance is how many typical one-step changes (robust scale of
// the last hour's changes) the rise over the fit window must exceed before
// it counts as a ramp rather than noise.
const rampSignificance = 3

// noiseSpan is how much history the typical one-step change is taken from.
const noiseSpan = time.Hour

// fresh reads the last few minutes of the query again at Spec.RecentStep.
// The history on the model's grid (Spec.Step, 1m by default) is on average
// half a step older than what the metrics pipeline already shows; an
// unannounced rise is caught that much later. Failures are not errors:
// the decision then rests on the grid alone.
func (s *Scaler) fresh(ctx context.Context, st *objState, now time.Time) []telemetry.Point {
	sp := st.spec
	if sp.RecentStep <= 0 || sp.RecentStep >= sp.Step {
		return nil
	}
	span := max(2*sp.Step, sp.LeadTime+sp.Step)
	pts, err := s.opts.History.Range(ctx, sp.Query, now.Add(-span), now, sp.RecentStep)
	if err != nil {
		if ctx.Err() == nil {
			s.opts.Logger.Debug("kedascaler recent history", "object", st.key, "err", err)
		}
		return nil
	}
	return appendIncreasing(nil, pts, now.UnixMilli())
}

// changeScale is a robust scale (1.4826 x the median absolute change) of
// the one-step changes of hist over its last span; NaN with fewer than
// three changes.
func changeScale(hist []telemetry.Point, span time.Duration) float64 {
	if len(hist) < 4 {
		return math.NaN()
	}
	cut := hist[len(hist)-1].T - span.Milliseconds()
	d := make([]float64, 0, 64)
	for i := len(hist) - 1; i > 0 && hist[i-1].T >= cut; i-- {
		d = append(d, math.Abs(hist[i].V-hist[i-1].V))
	}
	if len(d) < 3 {
		return math.NaN()
	}
	slices.Sort(d)
	return 1.4826 * d[len(d)/2]
}

// rampValue extrapolates a significant rise: the least-squares slope of
// the freshest half of the last window (at least three points; the window
// itself needs four) is carried from the newest point to now + lead, the
// time new capacity needs to serve.
// It returns NaN unless both the window's slope and the half's, over the
// whole window, exceed rampSignificance typical one-step changes of hist
// (noise, a fall, a rise that has stopped, or too little data). A rise is
// extrapolated and a fall is not: over-provisioning for a lead time costs
// little, a ramp met with yesterday's capacity is the failure the scaler
// exists to prevent.
func rampValue(pts, hist []telemetry.Point, now time.Time, window, lead time.Duration) float64 {
	if len(pts) < 4 || window <= 0 {
		return math.NaN()
	}
	last := pts[len(pts)-1]
	cut := last.T - window.Milliseconds()
	slope := lsSlope(pts, cut, last.T, 4) // per minute
	if math.IsNaN(slope) {
		return math.NaN()
	}
	// Both the window and its freshest half must rise by more than the
	// noise, and the pace carried is the freshest half's. A ramp that is
	// levelling off shows it first in its freshest points, and carrying
	// the window's slope past its end provisions for load that never
	// comes, held for the HPA's whole scale-down window. A rise that is
	// speeding up (the first minutes of a surge, when the window still
	// holds flat points from before it) is underestimated by the window's
	// slope by as much as the flat part weighs in it, and capacity ordered
	// at that pace arrives short. The freshest half alone is too few
	// points to be trusted as a ramp, which is why the window must confirm
	// the rise before the half's pace is used.
	half := lsSlope(pts, last.T-window.Milliseconds()/2, last.T, 3)
	scale := changeScale(hist, noiseSpan)
	if math.IsNaN(scale) || math.IsNaN(half) || !(min(slope, half)*window.Minutes() > rampSignificance*scale) {
		return math.NaN()
	}
	slope = half
	ahead := now.Sub(time.UnixMilli(last.T)) + lead
	v := last.V + slope*ahead.Minutes()
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return math.NaN()
	}
	return v
}

// lsSlope is the least-squares slope per minute of the points in
// [from, to]; NaN with fewer than minN of them.
func lsSlope(pts []telemetry.Point, from, to int64, minN int) float64 {
	var n, sx, sy, sxx, sxy float64
	for _, p := range pts {
		if p.T < from || p.T > to {
			continue
		}
		x := float64(p.T-to) / float64(time.Minute.Milliseconds())
		n++
		sx += x
		sy += p.V
		sxx += x * x
		sxy += x * p.V
	}
	den := n*sxx - sx*sx
	if n < float64(minN) || !(den > 0) {
		return math.NaN()
	}
	return (n*sxy - sx*sy) / den
}
