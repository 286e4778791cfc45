package kedascaler

import (
	"context"
	"math"
)

// GuardDeadBand names the tolerance-aware shaping in Decision.Guards and in
// vigil_kedascaler_guard_actions_total: the served value was moved to the
// edge of the HPA's dead band so that the replica count the scaler asks
// for is the one the HPA takes.
const GuardDeadBand = "dead_band"

// Replicas reads how many replicas the HPA behind a scaled object has now
// (the scale target's spec replicas, which is what the HPA divides by).
// The app wires it to the scale subresource of the ScaledObject's target
// (its status names the target); the replay wires it to its simulated
// Deployment. namespace and name are the ScaledObject's, as KEDA passes
// them.
type Replicas interface {
	Replicas(ctx context.Context, namespace, name string) (int, error)
}

// ReplicasFunc adapts a function to Replicas.
type ReplicasFunc func(ctx context.Context, namespace, name string) (int, error)

// Replicas calls f.
func (f ReplicasFunc) Replicas(ctx context.Context, namespace, name string) (int, error) {
	return f(ctx, namespace, name)
}

// bandMargin is how far inside a replica bucket the shaped value sits, as
// a fraction of the target: far enough that rounding on the way to the HPA
// (KEDA hands the value over as a milli-quantity, the HPA multiplies and
// divides floats) cannot move it into the next bucket or back into the
// dead band, close enough to the edge that the bucket is still the one
// asked for.
const bandMargin = 0.01

// shapeForBand returns the value to serve so that an HPA with the given
// tolerance, now at cur replicas, acts on the replica count want asks for.
// expected is the load expected without any quantile margin (the mean
// forecast, the freshest value or the ramp, whichever is highest) and q
// the quantile want was taken at; they price the step described below.
//
// An HPA with an AverageValue target computes desired = ceil(v/target),
// but only when |v/(target*cur) - 1| > tolerance; inside that dead band it
// keeps cur. Every v in ((w-1)*target, w*target] asks for the same w
// replicas, so where in that bucket the value sits changes nothing once
// the HPA acts, and decides whether it acts at all:
//
//   - w > cur: serve the top of the bucket, the value most likely to clear
//     the band. When even that stays inside (w is within tolerance of cur),
//     the HPA cannot add fewer than about floor(tolerance*cur)+1 replicas:
//     the choice is between staying short and that coarser step, and
//     stayIsCheaper weighs the two (staying still serves the bucket's top,
//     which the HPA ignores).
//   - w < cur and want itself below the band: serve the bottom of the
//     bucket, so that capacity the forecast no longer needs is released as
//     soon as the HPA's own rules (its scale-down window) allow, never
//     below w.
//   - w < cur but want inside the band: serve cur*target, as for w == cur.
//     The HPA reading want itself would keep cur. Moving the value to the
//     bottom of w's bucket only to push it out of the band releases a
//     replica the forecast still puts within the tolerance, and getting it
//     back when the load rises again costs more than that replica: a rise
//     out of the band is a step of about tolerance*cur+1 replicas, and the
//     HPA's scale-down window then holds it for minutes. This holds for
//     any workload behind an HPA with a tolerance, whatever its size.
//   - w == cur: serve cur*target, the middle of the band, so that noise in
//     the forecast does not move the HPA.
//
// It returns want unchanged when cur is unknown (< 1) or want is not a
// positive finite number.
func shapeForBand(want, expected, q, target, tolerance float64, cur int) float64 {
	if cur < 1 || !(want > 0) || math.IsInf(want, 0) || !(target > 0) {
		return want
	}
	c := float64(cur)
	w := math.Ceil(want/target - 1e-9) // a value on a bucket edge asks for that bucket
	switch {
	case w > c:
		v := (w - bandMargin) * target
		if v > (1+tolerance)*c*target {
			return v
		}
		// The smallest whole step whose top clears the band.
		step := math.Floor((1+tolerance)*c+bandMargin) + 1
		if stayIsCheaper(c, step, want/target, expected/target, q) {
			return v
		}
		return (step - bandMargin) * target
	case w < c && want < (1-tolerance)*c*target:
		return (max(w, 1) - 1 + bandMargin) * target
	}
	return c * target
}

// stayIsCheaper decides between staying at c replicas and stepping to
// step > c when the HPA offers nothing in between, in replica units. It
// is the newsvendor's trade, the one the quantile already encodes: a
// replica costs 1 and a replica's worth of load left unserved costs
// 1/(1-q), the price at which ordering the q quantile minimises the
// expected cost when any count can be ordered. Pricing the coarse step
// the same way keeps one meaning for the quantile. The load is taken as normal with mean expected and the
// spread that puts its q quantile at want (no spread when want is not
// above expected). Staying is chosen on a tie: the step's replicas are
// certain, its benefit is a forecast.
func stayIsCheaper(c, step, want, expected, q float64) bool {
	if math.IsNaN(expected) || math.IsInf(expected, 0) {
		expected = want
	}
	q = min(max(q, 0.5), 0.999)
	price := 1 / (1 - q)
	z := math.Sqrt2 * math.Erfinv(2*q-1)
	sd := 0.0
	if want > expected && z > 0 {
		sd = (want - expected) / z
	}
	cost := func(n float64) float64 { return n + price*expectedShortfall(expected, sd, n) }
	return cost(c) <= cost(step)
}

// expectedShortfall is E[max(X-a, 0)] for X normal with mean mu and
// standard deviation sd (a point mass at mu when sd is 0).
func expectedShortfall(mu, sd, a float64) float64 {
	if !(sd > 0) {
		return max(mu-a, 0)
	}
	z := (a - mu) / sd
	pdf := math.Exp(-z*z/2) / math.Sqrt(2*math.Pi)
	tail := 0.5 * math.Erfc(z/math.Sqrt2)
	return sd*pdf + (mu-a)*tail
}
