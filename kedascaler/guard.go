package kedascaler

import (
	"math"
	"time"
)

// Guard names, as counted in vigil_kedascaler_guard_actions_total.
const (
	GuardStabilization = "stabilization"
	GuardHysteresis    = "hysteresis"
	GuardRateCap       = "rate_cap"
)

// maxRecommendations bounds the stabilisation window's memory per object.
const maxRecommendations = 4096

// recommendation is one raw value offered to the guards.
type recommendation struct {
	t time.Time
	v float64
}

// guard turns a stream of raw recommendations into the served value. It is
// owned by one object's state and used under that state's lock.
type guard struct {
	served  float64
	started bool
	// recs holds the recommendations of the stabilisation window, oldest
	// first.
	recs []recommendation
}

// apply offers raw at now and returns the value to serve and the guards
// that changed it, in the order they acted.
//
// The order matters: stabilisation first (like the HPA, a fall is only
// taken once every recommendation of the window agrees), then hysteresis on
// what is left (so a small fall that survived the window is still ignored),
// then the cap per step on the final move.
//
// Hysteresis holds small falls only. A rise is what keeps capacity ahead of
// load; the HPA already ignores changes within its own tolerance (10% by
// default), so a second dead band on rises would only stack on it and leave
// the workload short for longer (the replay showed exactly that). Flapping
// needs a fall after a rise, and falls must be both large and lasting.

func (g *guard) apply(now time.Time, raw float64, s Spec) (float64, []string) {
	if math.IsNaN(raw) || math.IsInf(raw, 0) {
		raw = g.served
	}
	raw = max(raw, 0)
	cut := now.Add(-s.Stabilization)
	i := 0
	for i < len(g.recs) && !g.recs[i].t.After(cut) {
		i++
	}
	g.recs = append(g.recs[:copy(g.recs, g.recs[i:])], recommendation{now, raw})
	if len(g.recs) > maxRecommendations {
		// Only reachable with a tiny evaluation interval and a long window:
		// dropping the oldest keeps memory bounded at the cost of a window
		// slightly shorter than asked.
		g.recs = g.recs[:copy(g.recs, g.recs[len(g.recs)-maxRecommendations:])]
	}
	if !g.started {
		g.started = true
		g.served = raw
		return raw, nil
	}

	var acted []string
	v := raw
	if v < g.served && s.Stabilization > 0 {
		hi := v
		for _, r := range g.recs {
			hi = max(hi, r.v)
		}
		if stab := min(g.served, hi); stab > v {
			v = stab
			acted = append(acted, GuardStabilization)
		}
	}
	if v < g.served && s.Tolerance > 0 && g.served-v < s.Tolerance*g.served {
		v = g.served
		acted = append(acted, GuardHysteresis)
	}
	if s.MaxChange > 0 && g.served > 0 {
		lo, hi := g.served*(1-s.MaxChange), g.served*(1+s.MaxChange)
		if c := min(max(v, lo), hi); c != v {
			v = c
			acted = append(acted, GuardRateCap)
		}
	}
	g.served = v
	return v, acted
}
