package diagnose

import (
	"maps"
	"math"
	"slices"
)

// shareExternal hands the metric evidence of an external service with a
// single caller to that caller. An external service has no telemetry of
// its own: series under its name (an AWS service or database drawn by a
// tracer from its callers' spans) are what its callers measured while
// waiting on it, client side included: connection pools, retries, a
// starved or misconfigured caller. From one caller's view the two cannot
// be told apart, and the caller is the part we own and can act on, so the
// caller carries the evidence (shown as the external service's series).
// With two or more callers seeing it, the service itself is implicated and
// keeps its evidence. Log evidence is untouched: it was already attributed
// to the external service because its callers' lines name it.
func shareExternal(g *Graph, states map[string]*svcState, get func(string) *svcState) {
	for _, name := range slices.Sorted(maps.Keys(states)) {
		st := states[name]
		if !g.External(name) || st.metric <= 0 {
			continue
		}
		callers := g.Callers(name)
		if len(callers) != 1 {
			continue
		}
		c := get(callers[0])
		c.local = max(c.local, st.metric)
		c.metric = max(c.local, c.up, c.down)
		c.e = c.metric + c.log + c.change
		c.onset = min(c.onset, st.onset)
		c.series = append(c.series, st.series...)
		st.local, st.up, st.upLat, st.upErr, st.down, st.load, st.drop, st.latRise = 0, 0, 0, 0, 0, 0, 0, 0
		st.metric = 0
		st.e = st.log + st.change
		if st.e == 0 {
			st.onset = math.MaxInt64
		}
	}
}

// markOrigins makes the callers of services whose traffic fell candidates
// even when they show nothing themselves. A service that fails before
// calling its dependencies (an exception, a wrong return value) often
// keeps its own latency and resource use; what changes is that its callees
// receive less. The walk then keeps that traffic change at the caller that
// sent less while receiving as much as ever (see walk).
func markOrigins(g *Graph, states map[string]*svcState, get func(string) *svcState) {
	for _, name := range slices.Sorted(maps.Keys(states)) {
		if states[name].drop <= 0 {
			continue
		}
		for _, p := range g.Callers(name) {
			get(p).origin = true
		}
	}
}
