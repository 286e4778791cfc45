package detect

import (
	"fmt"
	"sort"
)

// This file is the session-level half of the sequence model: invariants
// mining (Lou et al., "Mining Invariants from Console Logs", USENIX ATC
// 2010) restricted to its most common and most readable kind, a fixed ratio
// between the counts of two events, c(a):c(b) = m:n. A workflow that opens
// and closes a resource logs both events equally often; a session in which
// it opened twice and closed once broke off halfway, whatever the order of
// its lines. Ratios are learned from normal sessions only.

// ratios are the candidate m:n, coprime with small terms: workflows repeat
// an event for each of a few replicas or retries, rarely more.
var ratios = [...]struct{ m, n int }{{1, 1}, {1, 2}, {2, 1}, {1, 3}, {3, 1}, {2, 3}, {3, 2}}

type pairKey struct{ a, b int32 } // a < b

// pairCounts counts the sessions holding both keys of a pair, and among
// them those that satisfy each ratio.
type pairCounts struct {
	both int
	sat  [len(ratios)]int
}

// invariant is one learned ratio m·c(a) = n·c(b), that is c(a):c(b) = n:m.
type invariant struct {
	a, b   int32
	m, n   int
	active int     // normal sessions holding a or b
	held   float64 // share of them in which the ratio held
}

// invariantStats accumulates what the invariants are mined from. It is
// guarded by its SequenceModel's mtx.
type invariantStats struct {
	with  map[int32]int // sessions holding a key
	pairs map[pairKey]*pairCounts
	dirty bool        // list is stale
	list  []invariant // the invariants, sorted by pair
}

func newInvariantStats() invariantStats {
	return invariantStats{with: make(map[int32]int), pairs: make(map[pairKey]*pairCounts)}
}

// sessionCounts counts the known tokens of one session, sorted by token.
func sessionCounts(toks []int32) (keys []int32, counts map[int32]int) {
	counts = make(map[int32]int, 8)
	for _, t := range toks {
		if t >= firstKey {
			if counts[t] == 0 {
				keys = append(keys, t)
			}
			counts[t]++
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys, counts
}

// add learns one normal session's counts.
func (s *invariantStats) add(toks []int32) {
	keys, counts := sessionCounts(toks)
	for i, a := range keys {
		s.with[a]++
		for _, b := range keys[i+1:] {
			pc := s.pairs[pairKey{a, b}]
			if pc == nil {
				pc = &pairCounts{}
				s.pairs[pairKey{a, b}] = pc
			}
			pc.both++
			for r, q := range ratios {
				if q.m*counts[a] == q.n*counts[b] {
					pc.sat[r]++
				}
			}
		}
	}
	s.dirty = true
}

// refresh rebuilds the invariant list. A ratio can only hold where both
// keys occur, so its share is taken over the sessions holding either: a
// key that often occurs without its partner has no invariant with it.
func (s *invariantStats) refresh(o SequenceOptions) {
	s.list = s.list[:0]
	for pk, pc := range s.pairs {
		active := s.with[pk.a] + s.with[pk.b] - pc.both
		if active < o.MinSupport {
			continue
		}
		best := 0
		for r := range ratios {
			if pc.sat[r] > pc.sat[best] {
				best = r
			}
		}
		held := float64(pc.sat[best]) / float64(active)
		if held >= o.InvariantSupport {
			s.list = append(s.list, invariant{a: pk.a, b: pk.b, m: ratios[best].m, n: ratios[best].n, active: active, held: held})
		}
	}
	sort.Slice(s.list, func(i, j int) bool {
		if s.list[i].a != s.list[j].a {
			return s.list[i].a < s.list[j].a
		}
		return s.list[i].b < s.list[j].b
	})
	s.dirty = false
}

// check reports the first invariant a session's counts break.
func (s *invariantStats) check(toks []int32, names []string) (ok bool, reason string) {
	if len(s.list) == 0 {
		return true, ""
	}
	_, counts := sessionCounts(toks)
	for _, iv := range s.list {
		ca, cb := counts[iv.a], counts[iv.b]
		if ca == 0 && cb == 0 {
			continue
		}
		if iv.m*ca != iv.n*cb {
			return false, fmt.Sprintf("counts of %s (%d) and %s (%d) break the ratio %d:%d that held in %.2f%% of %d normal sessions with either",
				names[iv.a], ca, names[iv.b], cb, iv.n, iv.m, 100*iv.held, iv.active)
		}
	}
	return true, ""
}

// refreshInvariants rebuilds the invariants if training has changed them
// since. Score calls it before taking the read lock, so that the common
// case (nothing new) never takes the write lock.
func (m *SequenceModel) refreshInvariants() {
	if !m.opts.Invariants {
		return
	}
	m.mtx.RLock()
	dirty := m.inv.dirty
	m.mtx.RUnlock()
	if !dirty {
		return
	}
	m.mtx.Lock()
	if m.inv.dirty {
		m.inv.refresh(m.opts)
	}
	m.mtx.Unlock()
}

// Invariants describes the learned count invariants, one sentence each,
// e.g. "c(E3):c(E5) = 1:1 in 100.00% of 6096 sessions".
func (m *SequenceModel) Invariants() []string {
	m.refreshInvariants()
	m.mtx.RLock()
	defer m.mtx.RUnlock()
	out := make([]string, 0, len(m.inv.list))
	for _, iv := range m.inv.list {
		out = append(out, fmt.Sprintf("c(%s):c(%s) = %d:%d in %.2f%% of %d sessions",
			m.names[iv.a], m.names[iv.b], iv.n, iv.m, 100*iv.held, iv.active))
	}
	return out
}
