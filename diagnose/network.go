package diagnose

import (
	"math"
	"slices"

	"github.com/vigilops/vigil/telemetry"
)

// networkFloor is the least spread of a network series, in typical calls:
// the latency quantiles the two ends of the same calls report differ by a
// tenth of a call without anything between them changing (each end
// interpolates its own histogram). A service whose calls always took the
// same time at both ends must not turn a millisecond into a cause.
const networkFloor = 0.1

// scaleFloor is the least robust spread of a series of kind k, as a share
// of its magnitude (see robustScale).
func (k Kind) scaleFloor() float64 {
	if k == KindNetwork {
		return networkFloor
	}
	return 0.01
}

// unitMagnitude raises the magnitude of a network series to one typical
// call, the unit it counts in, so that its spread floor is a tenth of a
// call however flat the series was.
func (k Kind) unitMagnitude(magnitude float64) float64 {
	if k == KindNetwork {
		return max(magnitude, 1)
	}
	return magnitude
}

// CallNetwork derives the network series of one call edge from the
// latency of the same calls measured at both ends: callerSide as the
// caller (or its proxy) saw each call, calleeSide as the callee (or its
// proxy) served it. Their difference is the time a call spends outside
// the callee: the network between the two, the callee's network stack and
// proxies. A network fault at the callee (delay, loss) shows there while
// the callee's own serving time does not move, whereas a slow callee (CPU,
// a slow dependency of its own) raises both ends alike. Unlike the
// callee's latency, this time cannot be explained by the callee's own
// dependencies: it is the callee's local evidence.
//
// The difference counts in typical calls (the median caller-side latency
// of the normal window), so edges of any speed compare. Points are paired
// with the nearest callee-side point within half the caller-side sample
// step. ok is false when the edge has no usable typical call (fewer than
// three positive caller-side points in normal) or no pair.
func CallNetwork(callee, name string, callerSide, calleeSide []telemetry.Point, normal Window) (Series, bool) {
	var typ []float64
	for _, p := range callerSide {
		if normal.contains(p.T) && finite(p.V) {
			typ = append(typ, p.V)
		}
	}
	if len(typ) < 3 {
		return Series{}, false
	}
	slices.Sort(typ)
	typical := quantileSorted(typ, 0.5)
	if !(typical > 0) {
		return Series{}, false
	}
	half := medianStep(callerSide) / 2
	out := Series{Service: callee, Name: name, Kind: KindNetwork}
	k := 0
	for _, p := range callerSide {
		if !finite(p.V) {
			continue
		}
		for k < len(calleeSide) && calleeSide[k].T < p.T-half {
			k++
		}
		// The nearest callee-side point within half a step, if any.
		best := -1
		for j := k; j < len(calleeSide) && calleeSide[j].T <= p.T+half; j++ {
			if finite(calleeSide[j].V) && (best < 0 || absDiff(calleeSide[j].T, p.T) < absDiff(calleeSide[best].T, p.T)) {
				best = j
			}
		}
		if best >= 0 {
			out.Points = append(out.Points, telemetry.Point{T: p.T, V: (p.V - calleeSide[best].V) / typical})
		}
	}
	if len(out.Points) == 0 {
		return Series{}, false
	}
	return out, true
}

// medianStep is the median spacing of pts (sorted by time), in ms; 0 with
// fewer than two points.
func medianStep(pts []telemetry.Point) int64 {
	var steps []int64
	for i := 1; i < len(pts); i++ {
		if d := pts[i].T - pts[i-1].T; d > 0 {
			steps = append(steps, d)
		}
	}
	if len(steps) == 0 {
		return 0
	}
	slices.Sort(steps)
	return steps[len(steps)/2]
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func absDiff(a, b int64) int64 {
	if a > b {
		return a - b
	}
	return b - a
}
