package correlate

// Topology says whether two services are connected: one calls the other, or
// they share a node. The correlator asks it with the incident's service
// first, so an implementation that knows direction can answer either way.
type Topology interface {
	// Connected reports whether a and b are directly connected, and the
	// arrow to show ("payments→checkout") when they are.
	Connected(a, b string) (arrow string, ok bool)
}

// TopologyFunc adapts a function to Topology.
type TopologyFunc func(a, b string) (string, bool)

// Connected calls f.
func (f TopologyFunc) Connected(a, b string) (string, bool) { return f(a, b) }

// Graph is a Topology built from call edges, for callers that have a list
// of edges (the simulator's topology, a service catalog). It is read-only
// after construction and safe for concurrent use.
type Graph struct {
	// calls[a][b] is set when a calls b.
	calls map[string]map[string]bool
}

// NewGraph builds a Graph from (caller, callee) pairs.
func NewGraph(edges [][2]string) *Graph {
	g := &Graph{calls: make(map[string]map[string]bool)}
	for _, e := range edges {
		if e[0] == "" || e[1] == "" || e[0] == e[1] {
			continue
		}
		m := g.calls[e[0]]
		if m == nil {
			m = make(map[string]bool)
			g.calls[e[0]] = m
		}
		m[e[1]] = true
	}
	return g
}

// Connected reports whether one of a and b calls the other; the arrow
// points from caller to callee, which is how faults travel backwards.
func (g *Graph) Connected(a, b string) (string, bool) {
	if g.calls[a][b] {
		return a + "→" + b, true
	}
	if g.calls[b][a] {
		return b + "→" + a, true
	}
	return "", false
}

// Neighbors returns the services a calls or is called by, unordered.
func (g *Graph) Neighbors(a string) []string {
	var out []string
	for b := range g.calls[a] {
		out = append(out, b)
	}
	for c, m := range g.calls {
		if m[a] {
			out = append(out, c)
		}
	}
	return out
}
