package kedascaler

import (
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// maxPredictions bounds the forecasts an object remembers for the
// surprise test; with the default 10 s evaluation interval it covers
// lead times up to about ten minutes, and a longer lead only finds no
// forecast old enough (the ramp then works as without the test).
const maxPredictions = 64

// maxPredictionSteps bounds the steps kept of one forecast: only those up
// to a lead time and a step ahead are ever looked up, and a lead time of
// more than this many steps only finds no forecast for the time asked.
const maxPredictionSteps = 64

// prediction is one evaluation's forecast: its q-quantile path, on the
// forecast's own time steps.
type prediction struct {
	made time.Time
	pts  []telemetry.Point
}

// remember keeps the forecast made at now, dropping the ones no lookup
// can reach any more. The caller holds st.mtx.
func (st *objState) remember(now time.Time, pts []telemetry.Point, lead time.Duration) {
	// The newest forecast at least lead old is the only one looked up, so
	// everything older than that one is dead weight.
	keep := 0
	for i := len(st.preds) - 1; i >= 0; i-- {
		if now.Sub(st.preds[i].made) >= lead {
			keep = i
			break
		}
	}
	st.preds = append(st.preds[:copy(st.preds, st.preds[keep:])], prediction{made: now, pts: pts})
	if len(st.preds) > maxPredictions {
		st.preds = st.preds[:copy(st.preds, st.preds[len(st.preds)-maxPredictions:])]
	}
}

// predicted returns what the newest forecast made at least lead before
// now expected at t (linear between its steps), and false when no
// remembered forecast is that old or its steps do not span t.
//
// That forecast is the one the capacity serving now was ordered on: new
// replicas take the lead time to serve. An observation above it is a
// surprise (the rise was not in the forecast, as with an unannounced
// surge); an observation within it is a rise the model expected, and
// extrapolating its slope on top of the model's own path would provision
// for the same rise twice.
func (st *objState) predicted(now time.Time, lead time.Duration, t int64) (float64, bool) {
	for i := len(st.preds) - 1; i >= 0; i-- {
		p := st.preds[i]
		if now.Sub(p.made) < lead {
			continue
		}
		pts := p.pts
		if len(pts) == 0 || t > pts[len(pts)-1].T {
			return 0, false
		}
		if t <= pts[0].T {
			// Before the forecast's first step: that step is the nearest
			// thing it said about t (the model's grid is coarser than the
			// recent reads).
			return pts[0].V, true
		}
		for j := 1; j < len(pts); j++ {
			if t <= pts[j].T {
				a, b := pts[j-1], pts[j]
				f := float64(t-a.T) / float64(b.T-a.T)
				return a.V + f*(b.V-a.V), true
			}
		}
		return 0, false
	}
	return 0, false
}
