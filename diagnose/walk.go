package diagnose

import (
	"math"
	"slices"
)

// fanOut is how many calls to one dependency a request may make: a callee
// whose latency rose by d can add up to fanOut·d to its caller's.
const fanOut = 10

// localPrior is the extra restart weight of resource evidence (CPU,
// memory, saturation) over latency, errors and traffic: a resource anomaly
// is where trouble starts, the others are where it shows.
const localPrior = 1.0

// walk runs a personalised random walk over the anomaly-weighted graph and
// returns each named service's stationary mass. From a service the walk
// moves to anomalous callees (and co-located services) in proportion to
// their evidence, back to anomalous callers with weight Backward, and stays
// with the part of its own evidence its callees do not explain; it restarts
// at services in proportion to their evidence. Mass thus gathers at the
// most downstream anomaly on each path. Without a graph the ranking is the
// evidence alone.
func (d *Diagnoser) walk(g *Graph, names []string, states map[string]*svcState, anom Window, step int64) []float64 {
	n := len(names)
	e := make([]float64, n)
	first := int64(math.MaxInt64)
	for _, nm := range names {
		first = min(first, states[nm].onset)
	}
	// Restarts favour early services: a service whose anomaly began a
	// quarter of the anomalous window after the first one's restarts e
	// times less often. Causes precede their effects.
	pos := make(map[string]int, n)
	for i, nm := range names {
		pos[nm] = i
	}
	// Onsets closer than two samples apart are not told apart.
	tau := max(float64(anom.End.Sub(anom.Start).Milliseconds())/4, 2*float64(step))
	v := make([]float64, n)
	sum := 0.0
	for i, nm := range names {
		st := states[nm]
		e[i] = st.e
		cause := st.local
		if len(g.callersIn(nm, pos)) == 0 {
			// Traffic that changed at a service nothing in view calls
			// came from outside: at the edge it is a cause.
			cause = max(cause, st.down)
		}
		v[i] = e[i] + localPrior*cause
		if st.onset != math.MaxInt64 && first != math.MaxInt64 && tau > 0 {
			v[i] *= math.Exp(-float64(st.onset-first) / tau)
		}
		sum += v[i]
	}
	for i := range v {
		v[i] /= sum
	}
	if g == nil {
		return v
	}
	type arc struct {
		to int
		w  float64
	}
	out := make([][]arc, n)
	hosts := map[string][]int{}
	for i, nm := range names {
		if h := g.Host(nm); h != "" {
			hosts[h] = append(hosts[h], i)
		}
	}
	// own is each service's resource evidence net of load: resource use
	// (and latency, below) that rose with the traffic a service receives
	// is the traffic's doing, so a service k times past its normal traffic
	// keeps 1/k of it as its own.
	own := make([]float64, n)
	for i, nm := range names {
		own[i] = states[nm].local * math.Exp(-states[nm].load)
	}
	// A node's load is its services' load: their resource anomalies
	// explain it as callees explain latency.
	for i, nm := range names {
		if h := g.Host(nm); h == nm {
			hosted := 0.0
			for _, j := range hosts[h] {
				if j != i {
					hosted = max(hosted, states[names[j]].local)
				}
			}
			own[i] *= math.Exp(-hosted)
		}
	}
	for i, nm := range names {
		si := states[nm]
		explained := 0.0
		seen := map[int]bool{i: true}
		add := func(j int, w float64) {
			if w > 0 {
				out[i] = append(out[i], arc{j, w})
			}
		}
		// A callee's anomaly, of any kind but traffic, can explain this
		// service's latency and errors.
		for _, c := range g.Callees(nm) {
			if j, ok := pos[c]; ok && !seen[j] {
				seen[j] = true
				sj := states[c]
				up := sj.up
				if si.latRise > 0 && sj.upLat > 0 {
					// A callee adds to its caller's latency no more
					// than its own latency rose, times the calls a
					// request may make to it: a few milliseconds
					// cannot explain a rise of a second.
					up = max(sj.upErr, sj.upLat*min(1, fanOut*sj.latRise/si.latRise))
				}
				w := max(up, own[j]+max(sj.logNew, sj.logVolume*math.Exp(-sj.load))+sj.change)
				// Latency that the service's own extra load explains
				// needs no callee to explain it.
				add(j, w*math.Exp(-si.load))
				explained = max(explained, w)
			}
		}
		// Traffic comes from callers: a change in it points upstream.
		callers := 0
		for _, p := range g.Callers(nm) {
			if _, ok := pos[p]; ok {
				callers++
			}
		}
		for _, p := range g.Callers(nm) {
			if j, ok := pos[p]; ok && !seen[j] {
				seen[j] = true
				add(j, d.opts.Backward*e[j]+si.down/float64(callers))
			}
		}
		// A co-located service's resource use can starve this one.
		if h := g.Host(nm); h != "" {
			for _, j := range hosts[h] {
				if !seen[j] {
					seen[j] = true
					w := own[j]
					add(j, w)
					explained = max(explained, w)
				}
			}
		}
		// The part of the service's latency and errors that stays its own
		// shrinks with how far beyond normal its dependencies went: a
		// callee k times past its normal extreme leaves 1/k unexplained.
		self := own[i] + max(si.logNew, si.logVolume*math.Exp(-si.load)) + si.change + si.up*math.Exp(-explained-si.load)
		// Callees that receive less while this service receives as
		// much as ever: the service changed what it sends (it fails
		// before calling them, or skips them), so the change is its own.
		sent := 0.0
		for _, c := range g.Callees(nm) {
			if _, ok := pos[c]; ok {
				sent = max(sent, states[c].drop)
			}
		}
		self += max(0, sent-si.drop-si.down)
		if callers == 0 {
			self += si.down
		}
		add(i, self)
		tw := 0.0
		for _, a := range out[i] {
			tw += a.w
		}
		if tw > 0 {
			for k := range out[i] {
				out[i][k].w /= tw
			}
		} else {
			out[i] = nil
		}
	}
	pi := slices.Clone(v)
	next := make([]float64, n)
	damp := d.opts.Damping
	for iter := 0; iter < 100; iter++ {
		dangling := 0.0
		for i := range next {
			next[i] = 0
		}
		for i, arcs := range out {
			if arcs == nil {
				dangling += pi[i]
				continue
			}
			for _, a := range arcs {
				next[a.to] += pi[i] * a.w
			}
		}
		diff := 0.0
		for i := range next {
			x := (1-damp)*v[i] + damp*(next[i]+dangling*v[i])
			diff += math.Abs(x - pi[i])
			pi[i] = x
		}
		if diff < 1e-10 {
			break
		}
	}
	return pi
}

// callersIn returns the callers of name that are among pos; a nil graph has
// none.
func (g *Graph) callersIn(name string, pos map[string]int) []string {
	if g == nil {
		return nil
	}
	var out []string
	for _, p := range g.Callers(name) {
		if _, ok := pos[p]; ok {
			out = append(out, p)
		}
	}
	return out
}

// sampleStep is the median spacing of points in the anomalous window over
// the series that have two or more there, in ms; 0 when unknown.
func sampleStep(ss []Series, anom Window) int64 {
	var steps []int64
	for i := range ss {
		var prev int64 = -1
		for _, p := range ss[i].Points {
			if !anom.contains(p.T) {
				continue
			}
			if prev >= 0 && p.T > prev {
				steps = append(steps, p.T-prev)
				break
			}
			prev = p.T
		}
		if len(steps) >= 64 {
			break
		}
	}
	if len(steps) == 0 {
		return 0
	}
	slices.Sort(steps)
	return steps[len(steps)/2]
}

// unrelatedWeight scales the score of a candidate that none of the
// incident's symptoms depends on.
const unrelatedWeight = 0.1

// dependencies returns the symptoms and everything they depend on: their
// callees, transitively, and services sharing a node with any of those. It
// returns nil when no symptom is in the graph (nothing to restrict by).
func dependencies(g *Graph, symptoms []string) map[string]bool {
	seen := map[string]bool{}
	var queue []string
	for _, s := range symptoms {
		if _, ok := g.idx[s]; ok && !seen[s] {
			seen[s] = true
			queue = append(queue, s)
		}
	}
	if len(queue) == 0 {
		return nil
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		next := g.Callees(s)
		if h := g.Host(s); h != "" {
			for _, o := range g.names {
				if g.Host(o) == h {
					next = append(next, o)
				}
			}
		}
		for _, n := range next {
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	return seen
}
