package sim

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestTopology(t *testing.T) {
	topo := newSim(t, DefaultOptions()).Topology()
	if len(topo.Services) < 8 {
		t.Fatalf("%d services, want at least 8", len(topo.Services))
	}
	nodes := map[string]bool{}
	for _, n := range topo.Nodes {
		nodes[n.Name] = true
	}
	for _, s := range topo.Services {
		switch {
		case s.External && s.Node != "":
			t.Errorf("external %s runs on node %s", s.Name, s.Node)
		case !s.External && !nodes[s.Node]:
			t.Errorf("%s runs on unknown node %q", s.Name, s.Node)
		case !s.External && s.Instance == "":
			t.Errorf("%s has no scrape instance", s.Name)
		}
	}
	for _, e := range topo.Edges {
		if _, ok := topo.Service(e.From); !ok {
			t.Errorf("edge from unknown %q", e.From)
		}
		if _, ok := topo.Service(e.To); !ok {
			t.Errorf("edge to unknown %q", e.To)
		}
	}
	order, err := topo.Order()
	if err != nil {
		t.Fatalf("call graph: %v", err)
	}
	pos := map[string]int{}
	for i, n := range order {
		pos[n] = i
	}
	for _, e := range topo.Edges {
		if pos[e.From] >= pos[e.To] {
			t.Errorf("order puts %s after its callee %s", e.From, e.To)
		}
	}

	want := map[string][]string{
		"frontend":    {"api-gateway"},
		"api-gateway": {"catalog", "cart", "checkout"},
		"checkout":    {"payments", "cart", "postgres"},
		"payments":    {"payment-provider"},
		"catalog":     {"redis", "postgres"},
		"cart":        {"redis"},
	}
	for from, tos := range want {
		got := topo.Callees(from)
		for _, to := range tos {
			if !slices.Contains(got, to) {
				t.Errorf("%s does not call %s (calls %v)", from, to, got)
			}
		}
	}
	if pp, _ := topo.Service("payment-provider"); !pp.External {
		t.Error("payment-provider is not external")
	}
	co, _ := topo.Service("checkout")
	cron, ok := topo.Service("reports-cron")
	if !ok || cron.Node != co.Node {
		t.Errorf("reports-cron on %q, checkout on %q: want them co-located", cron.Node, co.Node)
	}
	if len(topo.OnNode(co.Node)) < 2 {
		t.Error("checkout's node hosts nothing else")
	}

	b, err := json.Marshal(topo)
	if err != nil {
		t.Fatal(err)
	}
	var back Topology
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Services) != len(topo.Services) || len(back.Edges) != len(topo.Edges) || back.Edges[0] != topo.Edges[0] {
		t.Error("topology does not survive a JSON round trip")
	}
}

func TestTopologyOrderDetectsCycles(t *testing.T) {
	topo := Topology{
		Services: []Service{{Name: "a"}, {Name: "b"}},
		Edges:    []Edge{{From: "a", To: "b"}, {From: "b", To: "a"}},
	}
	if _, err := topo.Order(); err == nil {
		t.Fatal("cycle not detected")
	}
	topo.Edges = []Edge{{From: "a", To: "zz"}}
	if _, err := topo.Order(); err == nil {
		t.Fatal("unknown service not detected")
	}
}
