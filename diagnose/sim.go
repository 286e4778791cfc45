package diagnose

import (
	"strings"

	"github.com/vigilops/vigil/sim"
)

// FromSim builds the call graph of the simulated shop: its call edges,
// external services, the nodes services share and the hosts (db-prod-1)
// that log lines use for a service.
func FromSim(t sim.Topology) *Graph {
	spec := GraphSpec{Source: "sim", Hosts: map[string]string{}, Aliases: map[string]string{}}
	for _, e := range t.Edges {
		spec.Edges = append(spec.Edges, Edge{e.From, e.To})
	}
	for _, s := range t.Services {
		if s.External {
			spec.External = append(spec.External, s.Name)
		}
		if s.Node != "" {
			spec.Hosts[s.Name] = s.Node
		}
		if h, _, ok := strings.Cut(s.Instance, ":"); ok && h != s.Name {
			spec.Aliases[h] = s.Name
		}
	}
	return NewGraph(spec)
}
