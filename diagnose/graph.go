package diagnose

import (
	"fmt"
	"slices"
	"sort"
)

// Edge is a directed call from a caller to a callee.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// GraphSpec describes a call graph to build with NewGraph.
type GraphSpec struct {
	// Source says where the graph came from: config, sim, spans, co-anomaly.
	Source string
	Edges  []Edge
	// External services are not ours: they have no telemetry of their own,
	// so evidence in their callers' logs that names them is theirs.
	External []string
	// Hosts maps a service to the node it runs on; services that share a
	// node can starve each other without any call edge.
	Hosts map[string]string
	// Aliases maps other names of a service (a host:port, an IP) to it,
	// so that log lines naming a dependency can be attributed.
	Aliases map[string]string
}

// Graph is an immutable call graph. It is safe for concurrent use.
type Graph struct {
	source   string
	names    []string
	idx      map[string]int
	callees  [][]int
	callers  [][]int
	external []bool
	host     []string
	aliases  map[string]string
}

// NewGraph builds a graph from spec; self-loops and duplicate edges are
// dropped.
func NewGraph(spec GraphSpec) *Graph {
	g := &Graph{source: spec.Source, idx: map[string]int{}, aliases: map[string]string{}}
	for _, e := range spec.Edges {
		if e.From == "" || e.To == "" || e.From == e.To {
			continue
		}
		f, t := g.add(e.From), g.add(e.To)
		if !slices.Contains(g.callees[f], t) {
			g.callees[f] = append(g.callees[f], t)
			g.callers[t] = append(g.callers[t], f)
		}
	}
	for _, s := range spec.External {
		g.external[g.add(s)] = true
	}
	for s, h := range spec.Hosts {
		if h != "" {
			g.host[g.add(s)] = h
		}
	}
	for a, s := range spec.Aliases {
		g.aliases[a] = s
	}
	return g
}

func (g *Graph) add(name string) int {
	if i, ok := g.idx[name]; ok {
		return i
	}
	i := len(g.names)
	g.idx[name] = i
	g.names = append(g.names, name)
	g.callees = append(g.callees, nil)
	g.callers = append(g.callers, nil)
	g.external = append(g.external, false)
	g.host = append(g.host, "")
	return i
}

// Source says where the graph came from.
func (g *Graph) Source() string { return g.source }

// Services returns the graph's services in insertion order.
func (g *Graph) Services() []string { return slices.Clone(g.names) }

// Edges returns every call edge, sorted.
func (g *Graph) Edges() []Edge {
	var out []Edge
	for f, cs := range g.callees {
		for _, t := range cs {
			out = append(out, Edge{g.names[f], g.names[t]})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].To < out[j].To
	})
	return out
}

// Callees returns the services name calls.
func (g *Graph) Callees(name string) []string { return g.namesOf(g.callees, name) }

// Callers returns the services that call name.
func (g *Graph) Callers(name string) []string { return g.namesOf(g.callers, name) }

func (g *Graph) namesOf(adj [][]int, name string) []string {
	i, ok := g.idx[name]
	if !ok {
		return nil
	}
	out := make([]string, 0, len(adj[i]))
	for _, j := range adj[i] {
		out = append(out, g.names[j])
	}
	return out
}

// External reports whether name is an external service.
func (g *Graph) External(name string) bool {
	i, ok := g.idx[name]
	return ok && g.external[i]
}

// Host returns the node name runs on, or "".
func (g *Graph) Host(name string) string {
	if i, ok := g.idx[name]; ok {
		return g.host[i]
	}
	return ""
}

// Span is the part of a trace span needed to learn call edges.
type Span struct {
	TraceID  string
	SpanID   string
	ParentID string
	Service  string
}

// FromSpans learns call edges from trace spans: a span whose parent belongs
// to another service is a call from the parent's service to the span's.
// Spans may come in any order; parents outside the set are ignored.
func FromSpans(spans []Span) *Graph {
	type key struct{ trace, span string }
	owner := make(map[key]string, len(spans))
	for _, s := range spans {
		owner[key{s.TraceID, s.SpanID}] = s.Service
	}
	var edges []Edge
	seen := map[Edge]bool{}
	for _, s := range spans {
		if s.ParentID == "" {
			continue
		}
		p, ok := owner[key{s.TraceID, s.ParentID}]
		if !ok || p == s.Service || p == "" || s.Service == "" {
			continue
		}
		e := Edge{p, s.Service}
		if !seen[e] {
			seen[e] = true
			edges = append(edges, e)
		}
	}
	return NewGraph(GraphSpec{Source: "spans", Edges: edges})
}

// FromCoAnomaly learns an undirected association graph from past incidents:
// each element of history is the set of services that were anomalous
// together. Two services are linked when they were anomalous together in at
// least minSupport incidents and in at least half of the incidents of the
// rarer of the two (so that a service anomalous everywhere links to
// nothing by itself). Both directions are added: the graph says who moves
// together, not who calls whom.
func FromCoAnomaly(history [][]string, minSupport int) (*Graph, error) {
	if minSupport < 1 {
		return nil, fmt.Errorf("%w: co-anomaly support %d must be at least 1", ErrInvalidInput, minSupport)
	}
	count := map[string]int{}
	pair := map[Edge]int{}
	for _, inc := range history {
		set := slices.Clone(inc)
		slices.Sort(set)
		set = slices.Compact(set)
		for i, a := range set {
			count[a]++
			for _, b := range set[i+1:] {
				pair[Edge{a, b}]++
			}
		}
	}
	var edges []Edge
	for e, n := range pair {
		rare := min(count[e.From], count[e.To])
		if n >= minSupport && 2*n >= rare {
			edges = append(edges, e, Edge{e.To, e.From})
		}
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].From != edges[j].From {
			return edges[i].From < edges[j].From
		}
		return edges[i].To < edges[j].To
	})
	return NewGraph(GraphSpec{Source: "co-anomaly", Edges: edges}), nil
}

// aliasesOf returns the other names of name (host names, addresses).
func (g *Graph) aliasesOf(name string) []string {
	var out []string
	for a, s := range g.aliases {
		if s == name {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}
