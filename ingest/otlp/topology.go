package otlp

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TopologyOptions bound a Topology. Zero fields take their
// DefaultTopologyOptions value.
type TopologyOptions struct {
	// MaxEdges bounds the (caller, callee) pairs kept; calls on new pairs
	// beyond it are counted in vigil_ingest_otlp_topology_edges_dropped_total
	// and not recorded. Default 10000.
	MaxEdges int
	// MaxPending bounds the spans waiting for their other side. When full,
	// the oldest is resolved early (by its peer attributes, if any).
	// Default 50000 (about 12 MiB).
	MaxPending int
	// PendingTTL is how long a client span waits for its server span and
	// the reverse. The two sides of one call come from different processes
	// and usually in different requests (SDK batch exporters flush every
	// few seconds), hence seconds rather than milliseconds. Default 15s.
	PendingTTL time.Duration
	// EdgeTTL forgets edges without calls for this long (by receive time),
	// so that renamed or retired services leave the map. Negative keeps
	// edges forever. Default 24h.
	EdgeTTL time.Duration
	// Registerer receives the topology's metrics; nil leaves them
	// unregistered. A Receiver sets it to its own.
	Registerer prometheus.Registerer
}

// Defaults, exported so that configuration docs can name them.
const (
	DefaultMaxEdges   = 10000
	DefaultMaxPending = 50000
	DefaultPendingTTL = 15 * time.Second
	DefaultEdgeTTL    = 24 * time.Hour
)

// DefaultTopologyOptions returns the defaults.
func DefaultTopologyOptions() TopologyOptions {
	return TopologyOptions{MaxEdges: DefaultMaxEdges, MaxPending: DefaultMaxPending, PendingTTL: DefaultPendingTTL, EdgeTTL: DefaultEdgeTTL}
}

func (o *TopologyOptions) validate() error {
	if o.MaxEdges < 0 || o.MaxPending < 0 || o.PendingTTL < 0 {
		return fmt.Errorf("%w: topology MaxEdges, MaxPending and PendingTTL may not be negative", ErrInvalidOptions)
	}
	d := DefaultTopologyOptions()
	if o.MaxEdges == 0 {
		o.MaxEdges = d.MaxEdges
	}
	if o.MaxPending == 0 {
		o.MaxPending = d.MaxPending
	}
	if o.PendingTTL == 0 {
		o.PendingTTL = d.PendingTTL
	}
	if o.EdgeTTL == 0 {
		o.EdgeTTL = d.EdgeTTL
	}
	return nil
}

// Edge is the calls from one service to one callee, as the API serves it.
// Latencies are the caller's view (client span durations, network
// included) over the edge's lifetime; FirstSeen and LastSeen are span start
// times, so replayed traces keep their own time.
type Edge struct {
	Caller     string    `json:"caller"`
	Callee     string    `json:"callee"`
	CalleeKind string    `json:"callee_kind"` // service, database, messaging, external
	Calls      uint64    `json:"calls"`
	Errors     uint64    `json:"errors"`
	P50Seconds float64   `json:"p50_seconds"`
	P95Seconds float64   `json:"p95_seconds"`
	P99Seconds float64   `json:"p99_seconds"`
	MaxSeconds float64   `json:"max_seconds"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
}

// Topology reduces spans to service-to-service call edges. A client (or
// producer) span and its child server (or consumer) span in another
// service make one call caller→callee; they may arrive in different
// requests, so each side waits up to PendingTTL for the other. A client
// span whose server side never comes is resolved by its peer attributes
// (peerOf); database calls are resolved at once, as databases send no
// spans. It is safe for concurrent use.
type Topology struct {
	opts TopologyOptions
	m    topoMetrics

	// mu protects edges, pending, the pending FIFO (head, tail) and
	// lastPrune.
	mu      sync.Mutex
	edges   map[edgeKey]*edgeStats
	pending map[pendingKey]*pendingSpan
	// head is the oldest pending span, tail the newest: arrival order is
	// expiry order, so expiring is popping from the head.
	head, tail *pendingSpan
	lastPrune  time.Time
}

type edgeKey struct{ caller, callee, kind string }

type edgeStats struct {
	calls, errors uint64
	lat           latencySketch
	first, last   time.Time
	touched       time.Time // receive time of the last call, for EdgeTTL
}

// pendingKey is the id of the calling span: a client span waits under its
// own id, a server span under its parent's.
type pendingKey struct {
	trace [16]byte
	span  [8]byte
}

type pendingSpan struct {
	key        pendingKey
	span       Span
	arrived    time.Time
	prev, next *pendingSpan
}

// NewTopology returns an empty Topology.
func NewTopology(opts TopologyOptions) (*Topology, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	t := &Topology{
		opts:    opts,
		edges:   make(map[edgeKey]*edgeStats),
		pending: make(map[pendingKey]*pendingSpan),
	}
	if err := t.m.init(opts.Registerer, t); err != nil {
		return nil, fmt.Errorf("register topology metrics: %w", err)
	}
	return t, nil
}

// Add folds spans into the topology. now is the receive time: it drives
// the pairing window and edge expiry, never the edges' own timestamps.
func (t *Topology) Add(now time.Time, spans []Span) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked(now)
	for i := range spans {
		s := &spans[i]
		switch {
		case s.Kind.caller():
			if s.PeerKind == CalleeDatabase {
				t.resolveLocked(s, now)
				continue
			}
			t.matchLocked(pendingKey{s.TraceID, s.SpanID}, s, now)
		case s.Kind.callee():
			if s.ParentID == ([8]byte{}) {
				t.m.root.Inc()
				continue
			}
			t.matchLocked(pendingKey{s.TraceID, s.ParentID}, s, now)
		default:
			t.m.internal.Inc()
		}
	}
}

// matchLocked pairs s with the waiting span of the other side of its call,
// or makes s wait.
func (t *Topology) matchLocked(key pendingKey, s *Span, now time.Time) {
	p := t.pending[key]
	if p == nil {
		t.enqueueLocked(key, s, now)
		return
	}
	if p.span.Kind.caller() == s.Kind.caller() {
		// A retried export, or a second consumer of one message: the
		// first is kept, the call is counted once.
		t.m.duplicate.Inc()
		return
	}
	t.unlinkLocked(p)
	client, server := &p.span, s
	if s.Kind.caller() {
		client, server = s, &p.span
	}
	if client.Service == server.Service {
		t.m.sameService.Add(2)
		return
	}
	t.m.paired.Add(2)
	t.recordLocked(edgeKey{client.Service, server.Service, CalleeService}, client, client.Error || server.Error, now)
}

// resolveLocked settles a span whose other side did not come: a client
// span becomes an edge to the peer its attributes name, if any.
func (t *Topology) resolveLocked(s *Span, now time.Time) {
	switch {
	case s.Kind.callee():
		t.m.orphanServer.Inc()
	case s.Peer == "":
		t.m.noPeer.Inc()
	case s.Peer == s.Service:
		t.m.sameService.Inc()
	default:
		t.m.peerAttribute.Inc()
		t.recordLocked(edgeKey{s.Service, s.Peer, s.PeerKind}, s, s.Error, now)
	}
}

func (t *Topology) recordLocked(k edgeKey, client *Span, failed bool, now time.Time) {
	e := t.edges[k]
	if e == nil {
		if len(t.edges) >= t.opts.MaxEdges {
			t.m.edgesDropped.Inc()
			return
		}
		e = &edgeStats{}
		t.edges[k] = e
	}
	at := client.Start
	if at.IsZero() {
		at = now
	}
	if e.calls == 0 || at.Before(e.first) {
		e.first = at
	}
	if at.After(e.last) {
		e.last = at
	}
	e.calls++
	if failed {
		e.errors++
	}
	e.lat.add(client.Duration())
	e.touched = now
}

func (t *Topology) enqueueLocked(key pendingKey, s *Span, now time.Time) {
	if len(t.pending) >= t.opts.MaxPending {
		t.m.evicted.Inc()
		t.popLocked()
	}
	p := &pendingSpan{key: key, span: *s, arrived: now, prev: t.tail}
	if t.tail != nil {
		t.tail.next = p
	} else {
		t.head = p
	}
	t.tail = p
	t.pending[key] = p
}

func (t *Topology) unlinkLocked(p *pendingSpan) {
	if p.prev != nil {
		p.prev.next = p.next
	} else {
		t.head = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	} else {
		t.tail = p.prev
	}
	p.prev, p.next = nil, nil
	delete(t.pending, p.key)
}

// popLocked resolves and removes the oldest pending span.
func (t *Topology) popLocked() {
	p := t.head
	t.unlinkLocked(p)
	t.resolveLocked(&p.span, p.arrived)
}

// Expire resolves the spans that have waited longer than PendingTTL at now.
// Add does this too; a Receiver also calls it on a timer, so that edges
// appear when trace traffic stops.
func (t *Topology) Expire(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked(now)
}

// Flush resolves every pending span at once, as at shutdown.
func (t *Topology) Flush(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for t.head != nil {
		t.popLocked()
	}
	t.pruneLocked(now)
}

func (t *Topology) expireLocked(now time.Time) {
	for t.head != nil && now.Sub(t.head.arrived) >= t.opts.PendingTTL {
		t.popLocked()
	}
	t.pruneLocked(now)
}

// pruneInterval spaces edge expiry scans, which walk every edge.
const pruneInterval = time.Minute

func (t *Topology) pruneLocked(now time.Time) {
	if t.opts.EdgeTTL < 0 || now.Sub(t.lastPrune) < pruneInterval {
		return
	}
	t.lastPrune = now
	for k, e := range t.edges {
		if now.Sub(e.touched) > t.opts.EdgeTTL {
			delete(t.edges, k)
			t.m.edgesExpired.Inc()
		}
	}
}

// Snapshot returns every edge, sorted by caller, callee and callee kind.
func (t *Topology) Snapshot() []Edge {
	t.mu.Lock()
	out := make([]Edge, 0, len(t.edges))
	for k, e := range t.edges {
		out = append(out, Edge{
			Caller: k.caller, Callee: k.callee, CalleeKind: k.kind,
			Calls: e.calls, Errors: e.errors,
			P50Seconds: e.lat.quantile(0.50).Seconds(),
			P95Seconds: e.lat.quantile(0.95).Seconds(),
			P99Seconds: e.lat.quantile(0.99).Seconds(),
			MaxSeconds: e.lat.max.Seconds(),
			FirstSeen:  e.first, LastSeen: e.last,
		})
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b Edge) int {
		return cmp.Or(cmp.Compare(a.Caller, b.Caller), cmp.Compare(a.Callee, b.Callee), cmp.Compare(a.CalleeKind, b.CalleeKind))
	})
	return out
}

// Pending returns the number of spans waiting for their other side.
func (t *Topology) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pending)
}

// topoMetrics are the Topology's counters, resolved once so that the span
// loop does no label lookups.
type topoMetrics struct {
	paired, peerAttribute, noPeer, orphanServer, sameService, duplicate, root, internal prometheus.Counter

	evicted, edgesDropped, edgesExpired prometheus.Counter
}

func (m *topoMetrics) init(reg prometheus.Registerer, t *Topology) error {
	spans := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_ingest_otlp_topology_spans_total",
		Help: "Spans reduced to call edges, by outcome: paired (client with server), peer_attribute (client resolved by its attributes), " +
			"no_peer, orphan_server, same_service, duplicate, root (server span without parent), internal (other kinds).",
	}, []string{"outcome"})
	m.paired = spans.WithLabelValues("paired")
	m.peerAttribute = spans.WithLabelValues("peer_attribute")
	m.noPeer = spans.WithLabelValues("no_peer")
	m.orphanServer = spans.WithLabelValues("orphan_server")
	m.sameService = spans.WithLabelValues("same_service")
	m.duplicate = spans.WithLabelValues("duplicate")
	m.root = spans.WithLabelValues("root")
	m.internal = spans.WithLabelValues("internal")
	m.evicted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vigil_ingest_otlp_topology_pending_evicted_total",
		Help: "Spans resolved before their pairing window ended because MaxPending was reached.",
	})
	m.edgesDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vigil_ingest_otlp_topology_edges_dropped_total",
		Help: "Calls not recorded because they were on a new edge while MaxEdges edges were kept.",
	})
	m.edgesExpired = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vigil_ingest_otlp_topology_edges_expired_total",
		Help: "Edges forgotten after EdgeTTL without calls.",
	})
	if reg == nil {
		return nil
	}
	gauge := func(name, help string, f func() int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			t.mu.Lock()
			defer t.mu.Unlock()
			return float64(f())
		})
	}
	for _, c := range []prometheus.Collector{
		spans, m.evicted, m.edgesDropped, m.edgesExpired,
		gauge("vigil_ingest_otlp_topology_edges", "Call edges kept.", func() int { return len(t.edges) }),
		gauge("vigil_ingest_otlp_topology_pending_spans", "Spans waiting for the other side of their call.", func() int { return len(t.pending) }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
