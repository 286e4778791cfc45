package diagnose

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Link kinds: how an anomaly moved from one service to the next.
const (
	ViaSelf = "self" // within the service, one signal after another
	ViaCall = "call" // callee to caller: latency and errors travel up
	ViaLoad = "load" // caller to callee: traffic and queries travel down
	ViaHost = "host" // a shared node: CPU and memory contention
)

// compatible reports whether a series of this kind can show an anomaly that
// arrived over a link of the given kind.
func compatible(via string, k Kind) bool {
	switch via {
	case ViaCall:
		return k == KindLatency || k == KindErrors || k == KindAvailability
	case ViaLoad:
		return k == KindTraffic || k == KindSaturation || k == KindCPU || k == KindMemory || k == KindOther
	case ViaHost:
		return k == KindLatency || k == KindCPU || k == KindSaturation || k == KindMemory
	}
	return true
}

// chain builds the causal chain from root. It starts with the root's own
// signals in onset order (a change event first), then grows greedily: of
// every anomalous neighbour of a service already in the chain whose
// signals fit the way they would have arrived and start no earlier than
// the service's own, it takes the earliest. A service may be entered more
// than once over different links (a cache's misses load the database,
// whose slowness comes back to the caller).
func (d *Diagnoser) chain(g *Graph, root string, states map[string]*svcState) []Link {
	rs := states[root]
	var out []Link
	for _, ev := range rs.events {
		out = append(out, Link{From: root, To: root, Via: ViaSelf, Signal: string(ev.Kind), Onset: ev.Time,
			Evidence: []Evidence{{Kind: EvidenceEvent, Service: root, Series: string(ev.Kind), Onset: ev.Time, Change: "appears", Summary: ev.Summary}}})
	}
	own := slices.Clone(rs.series)
	slices.SortStableFunc(own, func(a, b seriesScore) int { return cmpInt64(a.onset, b.onset) })
	seenSig := map[string]bool{}
	for i := range own {
		sig := baseName(own[i].name)
		if seenSig[sig] || len(out) >= 5 {
			continue
		}
		seenSig[sig] = true
		out = append(out, Link{From: root, To: root, Via: ViaSelf, Signal: sig, Onset: time.UnixMilli(own[i].onset).UTC(), Evidence: []Evidence{own[i].evidence()}})
	}
	if len(out) == 0 && len(rs.logs) > 0 {
		a := rs.logs[0]
		out = append(out, Link{From: root, To: root, Via: ViaSelf, Signal: "log", Onset: a.Start,
			Evidence: []Evidence{{Kind: EvidenceLog, Service: a.Service, Series: string(a.Type), Score: a.Score, Onset: a.Start, Summary: a.Explanation, Examples: a.Examples}}})
	}
	if g == nil {
		return out
	}
	entry := map[string]int64{root: rs.onset}
	if rs.onset == math.MaxInt64 {
		entry[root] = math.MinInt64
	}
	used := map[[2]string]bool{}
	// Nothing the root caused can start before the root's own anomaly;
	// a service's effects may show before its own symptoms do (a cache's
	// misses load the database before the cache's client slows down).
	floor := entry[root]
	for len(out) < d.opts.MaxChain {
		var best *Link
		bestOn := int64(math.MaxInt64)
		for _, u := range slices.Sorted(mapsKeys(entry)) {
			if g.Host(u) == u {
				// A node is where its services' load adds up; what it
				// passes on is theirs, linked directly.
				continue
			}
			for _, nb := range neighbours(g, u) {
				v, via := nb[0], nb[1]
				if !canSend(via, states[u]) {
					continue
				}
				st := states[v]
				if st == nil || st.e <= 0 || used[[2]string{u, v}] || v == root && via != ViaCall {
					continue
				}
				var ev []Evidence
				on := int64(math.MaxInt64)
				sig := ""
				for i := range st.series {
					s := &st.series[i]
					if !compatible(via, s.kind) || s.onset < floor || via == ViaHost && !contends(states[u], s.kind) {
						continue
					}
					if s.onset < on {
						on, sig = s.onset, baseName(s.name)
					}
					if len(ev) < 3 {
						ev = append(ev, s.evidence())
					}
				}
				for i := range st.weak {
					s := &st.weak[i]
					if compatible(via, s.kind) && s.onset >= floor && len(ev) < 4 && (via != ViaHost || contends(states[u], s.kind)) {
						ev = append(ev, s.evidence())
					}
				}
				if via == ViaCall || g.External(v) {
					for _, a := range st.logs {
						if a.Start.UnixMilli() >= floor && a.Start.UnixMilli() < on {
							on, sig = a.Start.UnixMilli(), "log"
						}
						if len(ev) < 4 {
							ev = append(ev, Evidence{Kind: EvidenceLog, Service: a.Service, Series: string(a.Type), Score: a.Score, Onset: a.Start, Summary: a.Explanation, Examples: a.Examples})
						}
					}
				}
				// The strongest anomaly reached first: the chain follows
				// the main line of damage before side effects. Ties go to
				// the earlier signal, then to the link from the service
				// that entered the chain last (the nearest cause).
				if sig == "" {
					continue
				}
				if best != nil {
					be := states[best.To].e
					switch {
					case st.e < be:
						continue
					case st.e == be && (on > bestOn || on == bestOn && entry[u] <= entry[best.From]):
						continue
					}
				}
				bestOn = on
				l := Link{From: u, To: v, Via: via, Signal: sig, Onset: time.UnixMilli(on).UTC()}
				l.Evidence = append(fromSide(states[u], on), ev...)
				best = &l
			}
		}
		if best == nil {
			break
		}
		used[[2]string{best.From, best.To}] = true
		if best.Via == ViaHost {
			// Sharing a node is symmetric: one link says it.
			used[[2]string{best.To, best.From}] = true
		}
		if _, ok := entry[best.To]; !ok {
			// A service passes on what it shows from its own first
			// strong signal on, which may precede the link that
			// brought it into the chain.
			entry[best.To] = min(bestOn, states[best.To].onset)
		}
		out = append(out, *best)
	}
	return out
}

// fromSide is the sending service's latest signals up to the link's onset:
// what it passed on.
func fromSide(st *svcState, on int64) []Evidence {
	var cand []seriesScore
	for _, s := range st.series {
		if s.onset <= on {
			cand = append(cand, s)
		}
	}
	slices.SortStableFunc(cand, func(a, b seriesScore) int { return cmpInt64(b.onset, a.onset) })
	var out []Evidence
	for i := range cand {
		if i == 4 {
			break
		}
		out = append(out, cand[i].evidence())
	}
	return out
}

// neighbours lists (service, via) pairs reachable from u in one step.
func neighbours(g *Graph, u string) [][2]string {
	var out [][2]string
	for _, p := range g.Callers(u) {
		out = append(out, [2]string{p, ViaCall})
	}
	for _, c := range g.Callees(u) {
		out = append(out, [2]string{c, ViaLoad})
	}
	if h := g.Host(u); h != "" {
		// Services that call each other are explained by the call; the
		// shared node only links the others.
		for _, s := range g.names {
			if s != u && g.Host(s) == h && !slices.ContainsFunc(out, func(p [2]string) bool { return p[0] == s }) {
				out = append(out, [2]string{s, ViaHost})
			}
		}
	}
	return out
}

func mapsKeys(m map[string]int64) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// baseName strips a label selector: `x{a="b"}` → `x`.
func baseName(s string) string {
	if i := strings.IndexByte(s, '{'); i > 0 {
		return s[:i]
	}
	return s
}

// nextStep recommends what to look at first, from the top candidate's
// strongest evidence.
func nextStep(st *svcState, g *Graph) string {
	switch {
	case len(st.events) > 0:
		ev := st.events[0]
		return fmt.Sprintf("A %s of %s at %s preceded the trouble: compare it with the previous version and roll it back if the errors started with it.", ev.Kind, st.name, ev.Time.Format(time.RFC3339))
	case g != nil && g.External(st.name):
		return fmt.Sprintf("%s is an external dependency: check its status page and the error bodies its callers log, and consider failing over or backing off.", st.name)
	case len(st.series) > 0:
		s := st.series[0]
		switch s.kind {
		case KindCPU:
			return fmt.Sprintf("Check what consumes CPU in %s (top processes, recent jobs, noisy neighbours on its node) and add capacity or stop the runaway work.", st.name)
		case KindMemory:
			return fmt.Sprintf("Check %s's memory: what grew (keys, caches, leaks), its limit, evictions or OOM kills; raise the limit or shed the data.", st.name)
		case KindSaturation:
			return fmt.Sprintf("%s is saturated (%s): check its pools, queues and connections and who fills them.", st.name, s.name)
		case KindAvailability:
			return fmt.Sprintf("%s stopped answering (%s): check that it is running, its last log lines and its restarts.", st.name, s.name)
		case KindErrors:
			return fmt.Sprintf("Read %s's error logs from %s on and the calls that fail.", st.name, time.UnixMilli(s.onset).UTC().Format(time.RFC3339))
		case KindLatency:
			return fmt.Sprintf("Trace slow requests in %s from %s on: its own work, its network and its dependencies.", st.name, time.UnixMilli(s.onset).UTC().Format(time.RFC3339))
		case KindTraffic:
			return fmt.Sprintf("Traffic to %s changed (%s): check where it comes from and whether to rate-limit or scale.", st.name, s.name)
		}
		return fmt.Sprintf("Look at %s in %s around %s.", s.name, st.name, time.UnixMilli(s.onset).UTC().Format(time.RFC3339))
	case len(st.logs) > 0:
		a := st.logs[0]
		if a.Type == "silence" {
			return fmt.Sprintf("%s stopped logging while still serving: check its log writer, disk and logging agent.", st.name)
		}
		return fmt.Sprintf("Read %s's logs from %s on: %s", st.name, a.Start.UTC().Format(time.RFC3339), a.Explanation)
	}
	return "Collect more evidence: no signal stands out."
}

// canSend reports whether what u shows can travel over a link of kind via:
// load reaches callees only from a service that sends more (its traffic or
// its pools rose), contention reaches co-located services only from one
// that uses more CPU or memory. Latency and errors reach callers from any
// anomaly.
func canSend(via string, st *svcState) bool {
	if st == nil {
		return false
	}
	switch via {
	case ViaLoad:
		if st.load > 0 {
			return true
		}
		return slices.ContainsFunc(st.series, func(s seriesScore) bool { return s.kind == KindSaturation })
	case ViaHost:
		return slices.ContainsFunc(st.series, func(s seriesScore) bool { return s.kind == KindCPU || s.kind == KindMemory })
	}
	return true
}

// contends reports whether u's resource anomalies can show as an anomaly of
// kind k in a co-located service: CPU starvation as CPU or latency, memory
// pressure as memory.
func contends(u *svcState, k Kind) bool {
	for _, s := range u.series {
		switch {
		case s.kind == KindCPU && (k == KindCPU || k == KindLatency || k == KindSaturation):
			return true
		case s.kind == KindMemory && k == KindMemory:
			return true
		}
	}
	return false
}
