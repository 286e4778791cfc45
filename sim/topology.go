package sim

import (
	"fmt"
	"slices"
)

// ServiceKind classifies a service in the topology.
type ServiceKind string

// Service kinds used by the simulated shop.
const (
	KindProxy    ServiceKind = "proxy"
	KindGateway  ServiceKind = "gateway"
	KindApp      ServiceKind = "app"
	KindDatabase ServiceKind = "database"
	KindCache    ServiceKind = "cache"
	KindBatch    ServiceKind = "batch"
	KindExternal ServiceKind = "external"
)

// Service is one component of the simulated system.
type Service struct {
	Name string      `json:"name"`
	Kind ServiceKind `json:"kind"`
	// Node is where the service runs; empty for external services.
	Node string `json:"node,omitempty"`
	// External services are not ours: no metrics and no logs of their own,
	// they are only visible through their callers.
	External bool `json:"external,omitempty"`
	// Instance is the scrape target (host:port) of the service's metrics.
	Instance string `json:"instance,omitempty"`
	// LogFormat names the native format of the service's log lines.
	LogFormat string `json:"log_format,omitempty"`
}

// Edge is a directed call from one service to another.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Ratio is the nominal number of calls per request the caller serves
	// (catalog's database calls vary with the cache hit ratio; the batch
	// job's calls are not request driven and have ratio 0).
	Ratio    float64 `json:"ratio"`
	Protocol string  `json:"protocol"`
}

// Node is a machine that hosts services; a node-level fault affects every
// service on it.
type Node struct {
	Name        string `json:"name"`
	CPUs        int    `json:"cpus"`
	MemoryBytes int64  `json:"memory_bytes"`
}

// Topology is the simulated system's services, call edges and nodes. It is a
// plain value, safe to marshal and to copy.
type Topology struct {
	Services []Service `json:"services"`
	Edges    []Edge    `json:"edges"`
	Nodes    []Node    `json:"nodes"`
}

// Service returns the named service.
func (t Topology) Service(name string) (Service, bool) {
	for _, s := range t.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// Callees returns the services name calls, in edge order.
func (t Topology) Callees(name string) []string {
	var out []string
	for _, e := range t.Edges {
		if e.From == name {
			out = append(out, e.To)
		}
	}
	return out
}

// Callers returns the services that call name, in edge order.
func (t Topology) Callers(name string) []string {
	var out []string
	for _, e := range t.Edges {
		if e.To == name {
			out = append(out, e.From)
		}
	}
	return out
}

// OnNode returns the services running on the named node.
func (t Topology) OnNode(node string) []string {
	var out []string
	for _, s := range t.Services {
		if s.Node == node {
			out = append(out, s.Name)
		}
	}
	return out
}

// Order returns the services callers first (a topological order), or an
// error when the call graph has a cycle or an edge names an unknown service.
func (t Topology) Order() ([]string, error) {
	indeg := make([]int, len(t.Services))
	idx := func(name string) int {
		return slices.IndexFunc(t.Services, func(s Service) bool { return s.Name == name })
	}
	for _, e := range t.Edges {
		from, to := idx(e.From), idx(e.To)
		if from < 0 || to < 0 {
			return nil, fmt.Errorf("edge %s -> %s: unknown service", e.From, e.To)
		}
		indeg[to]++
	}
	var out []string
	done := make([]bool, len(t.Services))
	for len(out) < len(t.Services) {
		progressed := false
		for i, s := range t.Services {
			if done[i] || indeg[i] > 0 {
				continue
			}
			done[i] = true
			progressed = true
			out = append(out, s.Name)
			for _, e := range t.Edges {
				if e.From == s.Name {
					indeg[idx(e.To)]--
				}
			}
		}
		if !progressed {
			return nil, fmt.Errorf("call graph has a cycle")
		}
	}
	return out, nil
}

// Service indices. The shop is fixed, so the model addresses services by
// index rather than by name in its hot loops.
const (
	svcFrontend = iota
	svcGateway
	svcCheckout
	svcCatalog
	svcCart
	svcPayments
	svcPostgres
	svcRedis
	svcCron
	svcProvider
	numSvc
)

// numOwn is the number of services we operate (all but the provider).
const numOwn = svcProvider

var svcNames = [numSvc]string{
	"frontend", "api-gateway", "checkout", "catalog", "cart", "payments",
	"postgres", "redis", "reports-cron", "payment-provider",
}

const (
	node1 = iota
	node2
	node3
	numNodes
)

var nodeNames = [numNodes]string{"node-1", "node-2", "node-3"}

// svcNode places services on nodes: reports-cron shares node-2 with checkout
// and payments, so a runaway job there has a blast radius.
var svcNode = [numSvc]int{
	svcFrontend: node1, svcGateway: node1, svcRedis: node1,
	svcCheckout: node2, svcPayments: node2, svcCron: node2,
	svcCatalog: node3, svcCart: node3, svcPostgres: node3,
	svcProvider: -1,
}

var svcKinds = [numSvc]ServiceKind{
	KindProxy, KindGateway, KindApp, KindApp, KindApp, KindApp,
	KindDatabase, KindCache, KindBatch, KindExternal,
}

var svcInstances = [numSvc]string{
	"frontend:9113", "api-gateway:8080", "checkout:8080", "catalog:8080", "cart:8080",
	"payments:8080", "db-prod-1:9187", "redis:9121", "reports-cron:9256", "",
}

var svcLogFormats = [numSvc]string{
	"nginx", "json", "spring-boot", "json", "logback", "logfmt", "postgres", "redis", "syslog", "",
}

const (
	nodeCPUs        = 4
	nodeMemoryBytes = 16 << 30
)

// edgeDef is a call edge with the parameters the model needs.
type edgeDef struct {
	from, to int
	ratio    float64
	proto    string
	// pass is the share of callee failures that fail the caller's request
	// (the rest are absorbed by retries or fallbacks).
	pass float64
	// slow is the share of callee failures the caller only notices after
	// its timeout, as opposed to fast refusals.
	slow float64
}

// Indices into edges, for edges whose ratio or failures the model adjusts.
const (
	edgeFrontGateway = iota
	edgeGatewayCatalog
	edgeGatewayCart
	edgeGatewayCheckout
	edgeCheckoutPayments
	edgeCheckoutCart
	edgeCheckoutPostgres
	edgePaymentsProvider
	edgeCatalogRedis
	edgeCatalogPostgres
	edgeCartRedis
	edgeCronPostgres
	numEdges
)

var edges = [numEdges]edgeDef{
	edgeFrontGateway:     {svcFrontend, svcGateway, 0.85, "http", 1, 0.5},
	edgeGatewayCatalog:   {svcGateway, svcCatalog, 0.60, "http", 1, 0.5},
	edgeGatewayCart:      {svcGateway, svcCart, 0.25, "http", 1, 0.5},
	edgeGatewayCheckout:  {svcGateway, svcCheckout, 0.05, "http", 1, 0.5},
	edgeCheckoutPayments: {svcCheckout, svcPayments, 0.90, "http", 0.9, 0.5},
	edgeCheckoutCart:     {svcCheckout, svcCart, 1.0, "http", 0.9, 0.5},
	edgeCheckoutPostgres: {svcCheckout, svcPostgres, 3.0, "postgres", 1, 1},
	edgePaymentsProvider: {svcPayments, svcProvider, 1.0, "https", 0.3, 0.3},
	edgeCatalogRedis:     {svcCatalog, svcRedis, 2.0, "redis", 0.1, 0.5},
	edgeCatalogPostgres:  {svcCatalog, svcPostgres, 0.44, "postgres", 1, 0},
	edgeCartRedis:        {svcCart, svcRedis, 2.0, "redis", 0.95, 0.6},
	edgeCronPostgres:     {svcCron, svcPostgres, 0, "postgres", 1, 1},
}

// shopTopology builds the exported description of the fixed shop.
func shopTopology() Topology {
	var t Topology
	for i := 0; i < numSvc; i++ {
		s := Service{Name: svcNames[i], Kind: svcKinds[i], Instance: svcInstances[i], LogFormat: svcLogFormats[i]}
		if n := svcNode[i]; n >= 0 {
			s.Node = nodeNames[n]
		} else {
			s.External = true
		}
		t.Services = append(t.Services, s)
	}
	for _, e := range edges {
		t.Edges = append(t.Edges, Edge{From: svcNames[e.from], To: svcNames[e.to], Ratio: e.ratio, Protocol: e.proto})
	}
	for i := 0; i < numNodes; i++ {
		t.Nodes = append(t.Nodes, Node{Name: nodeNames[i], CPUs: nodeCPUs, MemoryBytes: nodeMemoryBytes})
	}
	return t
}

func svcIndex(name string) int {
	for i, n := range svcNames {
		if n == name {
			return i
		}
	}
	return -1
}
