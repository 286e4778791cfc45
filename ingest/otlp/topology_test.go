package otlp

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/vigilops/vigil/ingest"
)

// spansOf reduces td as the receiver does.
func spansOf(t testing.TB, td ptrace.Traces) []Span {
	t.Helper()
	var rej rejections
	c := testConverter()
	out := c.spans(td, &rej)
	if rej.count() != 0 {
		t.Fatalf("rejected spans: %+v", rej.res.Rejected)
	}
	return out
}

func newTopo(t testing.TB, edit func(*TopologyOptions)) (*Topology, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	o := DefaultTopologyOptions()
	o.Registerer = reg
	if edit != nil {
		edit(&o)
	}
	topo, err := NewTopology(o)
	if err != nil {
		t.Fatal(err)
	}
	return topo, reg
}

// edgeNames renders edges as caller>callee(kind)xcalls/errors.
func edgeNames(es []Edge) string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(e.Caller + ">" + e.Callee + "(" + e.CalleeKind + ")")
	}
	return b.String()
}

func TestTopologyResolution(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name    string
		batches [][]call
		before  string // edges right after the batches
		after   string // edges once the pairing window has passed
		outcome string
	}{
		{"pair in one request",
			[][]call{{{trace: 1, client: 1, server: 2, caller: "web", callee: "api", start: t0, dur: ms}}},
			"web>api(service)", "web>api(service)", "paired"},
		{"server first, client in a later request",
			[][]call{{{trace: 1, client: 1, server: 2, side: "server", caller: "web", callee: "api", start: t0, dur: ms}},
				{{trace: 1, client: 1, server: 2, side: "client", caller: "web", callee: "api", start: t0, dur: ms}}},
			"web>api(service)", "web>api(service)", "paired"},
		{"pairing beats peer.service",
			[][]call{{{trace: 1, client: 1, side: "client", caller: "web", callee: "api", start: t0, dur: ms, peerKey: "peer.service", peerVal: "api-gw"}},
				{{trace: 1, client: 1, server: 2, side: "server", caller: "web", callee: "api", start: t0, dur: ms}}},
			"web>api(service)", "web>api(service)", "paired"},
		{"peer.service when the server never comes",
			[][]call{{{trace: 1, client: 1, side: "client", caller: "web", callee: "x", start: t0, dur: ms, peerKey: "peer.service", peerVal: "billing"}}},
			"", "web>billing(service)", "peer_attribute"},
		{"database by name, at once",
			[][]call{{{trace: 1, client: 1, side: "client", caller: "api", callee: "x", start: t0, dur: ms, peerKey: "db.system", peerVal: "postgresql"}}},
			"api>postgresql(database)", "api>postgresql(database)", "peer_attribute"},
		{"server.address",
			[][]call{{{trace: 1, client: 1, side: "client", caller: "api", callee: "x", start: t0, dur: ms, peerKey: "server.address", peerVal: "api.stripe.com"}}},
			"", "api>api.stripe.com(external)", "peer_attribute"},
		{"net.peer.name",
			[][]call{{{trace: 1, client: 1, side: "client", caller: "api", callee: "x", start: t0, dur: ms, peerKey: "net.peer.name", peerVal: "legacy"}}},
			"", "api>legacy(external)", "peer_attribute"},
		{"no peer, no edge",
			[][]call{{{trace: 1, client: 1, side: "client", caller: "api", callee: "x", start: t0, dur: ms}}},
			"", "", "no_peer"},
		{"orphan server",
			[][]call{{{trace: 1, client: 1, server: 2, side: "server", caller: "web", callee: "api", start: t0, dur: ms}}},
			"", "", "orphan_server"},
		{"same service",
			[][]call{{{trace: 1, client: 1, server: 2, caller: "api", callee: "api", start: t0, dur: ms}}},
			"", "", "same_service"},
		{"duplicate export counted once",
			[][]call{{{trace: 1, client: 1, side: "client", caller: "web", callee: "api", start: t0, dur: ms}},
				{{trace: 1, client: 1, side: "client", caller: "web", callee: "api", start: t0, dur: ms}},
				{{trace: 1, client: 1, server: 2, side: "server", caller: "web", callee: "api", start: t0, dur: ms}}},
			"web>api(service)", "web>api(service)", "duplicate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			topo, reg := newTopo(t, nil)
			now := t0
			for _, b := range tc.batches {
				topo.Add(now, spansOf(t, traces(b...)))
				now = now.Add(time.Second)
			}
			if got := edgeNames(topo.Snapshot()); got != tc.before {
				t.Fatalf("before expiry: %q, want %q", got, tc.before)
			}
			topo.Expire(now.Add(DefaultPendingTTL))
			if got := edgeNames(topo.Snapshot()); got != tc.after {
				t.Fatalf("after expiry: %q, want %q", got, tc.after)
			}
			if topo.Pending() != 0 {
				t.Fatalf("%d pending after expiry", topo.Pending())
			}
			if n := gather(t, reg)[`vigil_ingest_otlp_topology_spans_total{outcome="`+tc.outcome+`"}`]; n == 0 {
				t.Fatalf("outcome %s not counted: %v", tc.outcome, gather(t, reg))
			}
		})
	}
}

func TestPeerOf(t *testing.T) {
	tests := []struct {
		attrs      map[string]any
		name, kind string
	}{
		{map[string]any{"peer.service": "a", "db.system": "redis"}, "a", CalleeService},
		{map[string]any{"db.system": "postgresql", "db.name": "orders"}, "orders", CalleeDatabase},
		{map[string]any{"db.system.name": "postgresql", "db.namespace": "orders", "server.address": "pg"}, "orders", CalleeDatabase},
		{map[string]any{"db.system": "redis"}, "redis", CalleeDatabase},
		{map[string]any{"messaging.system": "kafka", "messaging.destination.name": "orders"}, "orders", CalleeMessaging},
		{map[string]any{"messaging.system": "kafka"}, "kafka", CalleeMessaging},
		{map[string]any{"server.address": "h", "net.peer.name": "old"}, "h", CalleeExternal},
		{map[string]any{"http.method": "GET"}, "", ""},
	}
	for _, tc := range tests {
		sp := ptrace.NewSpan()
		_ = sp.Attributes().FromRaw(tc.attrs)
		if n, k := peerOf(sp.Attributes()); n != tc.name || k != tc.kind {
			t.Errorf("%v: got %q %q, want %q %q", tc.attrs, n, k, tc.name, tc.kind)
		}
	}
}

func TestTopologyAggregation(t *testing.T) {
	topo, _ := newTopo(t, nil)
	var calls []call
	for i := 1; i <= 200; i++ {
		calls = append(calls, call{
			trace: uint16(i), client: 1, server: 2, caller: "web", callee: "api",
			start: t0.Add(time.Duration(i) * time.Second), dur: time.Duration(i) * time.Millisecond,
			clientErr: i%20 == 0, sErr: i%20 == 1,
		})
	}
	topo.Add(t0, spansOf(t, traces(calls...)))
	es := topo.Snapshot()
	if len(es) != 1 {
		t.Fatalf("edges %+v", es)
	}
	e := es[0]
	if e.Calls != 200 || e.Errors != 20 {
		t.Fatalf("calls %d errors %d, want 200 and 20", e.Calls, e.Errors)
	}
	for _, q := range []struct{ got, want float64 }{{e.P50Seconds, 0.100}, {e.P95Seconds, 0.190}, {e.P99Seconds, 0.198}} {
		if math.Abs(q.got-q.want)/q.want > 0.1 {
			t.Errorf("quantile %v, want %v within 10%%", q.got, q.want)
		}
	}
	if e.MaxSeconds != 0.2 || !e.FirstSeen.Equal(t0.Add(time.Second)) || !e.LastSeen.Equal(t0.Add(200*time.Second)) {
		t.Fatalf("edge %+v", e)
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"caller":"web"`, `"callee":"api"`, `"callee_kind":"service"`, `"calls":200`, `"errors":20`, `"p99_seconds":`, `"first_seen":`, `"last_seen":`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON %s lacks %s", b, k)
		}
	}
}

func TestTopologyBounds(t *testing.T) {
	t.Run("max pending resolves the oldest early", func(t *testing.T) {
		topo, reg := newTopo(t, func(o *TopologyOptions) { o.MaxPending = 2 })
		for i := uint16(1); i <= 3; i++ {
			topo.Add(t0, spansOf(t, traces(call{trace: i, client: 1, side: "client", caller: "web", callee: "x", start: t0, dur: time.Millisecond, peerKey: "peer.service", peerVal: "api"})))
		}
		if topo.Pending() != 2 || edgeNames(topo.Snapshot()) != "web>api(service)" {
			t.Fatalf("pending %d, edges %q", topo.Pending(), edgeNames(topo.Snapshot()))
		}
		if gather(t, reg)["vigil_ingest_otlp_topology_pending_evicted_total"] != 1 {
			t.Fatal("eviction not counted")
		}
	})
	t.Run("max edges", func(t *testing.T) {
		topo, reg := newTopo(t, func(o *TopologyOptions) { o.MaxEdges = 1 })
		topo.Add(t0, spansOf(t, traces(
			call{trace: 1, client: 1, server: 2, caller: "web", callee: "api", start: t0, dur: time.Millisecond},
			call{trace: 2, client: 1, server: 2, caller: "web", callee: "cart", start: t0, dur: time.Millisecond},
			call{trace: 3, client: 1, server: 2, caller: "web", callee: "api", start: t0, dur: time.Millisecond},
		)))
		es := topo.Snapshot()
		if len(es) != 1 || es[0].Calls != 2 || gather(t, reg)["vigil_ingest_otlp_topology_edges_dropped_total"] != 1 {
			t.Fatalf("edges %+v", es)
		}
	})
	t.Run("edge ttl", func(t *testing.T) {
		topo, reg := newTopo(t, func(o *TopologyOptions) { o.EdgeTTL = time.Hour })
		topo.Add(t0, spansOf(t, traces(call{trace: 1, client: 1, server: 2, caller: "web", callee: "api", start: t0, dur: time.Millisecond})))
		topo.Add(t0.Add(30*time.Minute), spansOf(t, traces(call{trace: 2, client: 1, server: 2, caller: "web", callee: "cart", start: t0, dur: time.Millisecond})))
		topo.Expire(t0.Add(80 * time.Minute))
		if got := edgeNames(topo.Snapshot()); got != "web>cart(service)" {
			t.Fatalf("edges %q after ttl", got)
		}
		if g := gather(t, reg); g["vigil_ingest_otlp_topology_edges_expired_total"] != 1 || g["vigil_ingest_otlp_topology_edges"] != 1 {
			t.Fatalf("metrics %v", g)
		}
	})
}

func TestTopologyConcurrent(t *testing.T) {
	topo, _ := newTopo(t, nil)
	var batches [4][50][]Span
	for g := range batches {
		for i := range batches[g] {
			batches[g][i] = spansOf(t, traces(call{trace: uint16(i + 1), client: byte(g + 1), server: 9, caller: "web", callee: "api", start: t0, dur: time.Millisecond}))
		}
	}
	var wg sync.WaitGroup
	for g := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, b := range batches[g] {
				topo.Add(t0.Add(time.Duration(i)*time.Second), b)
				_ = topo.Snapshot()
			}
		}()
	}
	wg.Wait()
	topo.Flush(t0.Add(time.Hour))
	if es := topo.Snapshot(); len(es) != 1 || es[0].Calls != 200 {
		t.Fatalf("edges %+v", es)
	}
}

// TestReceiverJanitor checks that a started receiver resolves unpaired
// client spans once the window passes, without further traffic, and that
// Stop flushes what still waits.
func TestReceiverJanitor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := DefaultOptions()
		o.Sink = ingest.SinkFuncs{}
		o.Topology.PendingTTL = 10 * time.Second
		rc, err := New(o) // Now is time.Now: the bubble's clock
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		peer := func(trace uint16, svc string) []byte {
			return tracesBody(t, encProto, traces(call{trace: trace, client: 1, side: "client", caller: "web", callee: "x",
				start: time.Now(), dur: time.Millisecond, peerKey: "peer.service", peerVal: svc}))
		}
		post(t, mux(rc), "/v1/traces", peer(1, "billing"), reqOpts{contentType: typeProto})
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if n := len(rc.Topology().Snapshot()); n != 0 {
			t.Fatalf("%d edges inside the window", n)
		}
		time.Sleep(11 * time.Second)
		synctest.Wait()
		if got := edgeNames(rc.Topology().Snapshot()); got != "web>billing(service)" {
			t.Fatalf("edges %q after the window", got)
		}
		post(t, mux(rc), "/v1/traces", peer(2, "search"), reqOpts{contentType: typeProto})
		if err := rc.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := edgeNames(rc.Topology().Snapshot()); got != "web>billing(service) web>search(service)" {
			t.Fatalf("edges %q after Stop", got)
		}
	})
}
