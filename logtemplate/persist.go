package logtemplate

import (
	"encoding/json"
	"fmt"
	"strings"
)

// stateVersion is the version of the saved state. Bump it when the format
// changes incompatibly, and keep reading the old versions.
const stateVersion = 1

// stateFormat tells our saved state from other JSON documents.
const stateFormat = "vigil-logtemplate"

// The saved state is JSON: readable, diffable, and small next to the logs it
// summarises. Clusters are listed most recently used first, so that the
// LRU order survives a restart.
type savedState struct {
	Format   string            `json:"format"`
	Version  int               `json:"version"`
	NextSeq  uint64            `json:"next_seq"`
	Clusters []savedCluster    `json:"clusters"`
	Aliases  map[string]string `json:"aliases,omitempty"`
	AliasQ   []string          `json:"alias_order,omitempty"`
}

type savedCluster struct {
	ID       string      `json:"id"`
	Seq      uint64      `json:"seq"`
	Slots    []savedSlot `json:"slots"`
	Count    int64       `json:"count"`
	Examples []string    `json:"examples,omitempty"`
	Samples  [][]string  `json:"samples,omitempty"`
	Seen     [][]string  `json:"seen,omitempty"`
	Aliases  []string    `json:"aliases,omitempty"`
}

type savedSlot struct {
	Kind   string `json:"k"` // c(onstant), s(hape), p(attern), v(ariable), w(ildcard), r(un)
	Text   string `json:"t,omitempty"`
	Suffix string `json:"s,omitempty"`
}

var kindNames = [...]string{slotConst: "c", slotShape: "s", slotPattern: "p", slotVar: "v", slotWild: "w", slotRun: "r"}

// MarshalBinary saves the templates, their IDs, aliases and statistics
// (not the Stats counters, nor the options). It implements
// encoding.BinaryMarshaler.
func (m *Miner) MarshalBinary() ([]byte, error) {
	m.mtx.RLock()
	defer m.mtx.RUnlock()
	st := savedState{
		Format:  stateFormat,
		Version: stateVersion,
		NextSeq: m.nextSeq,
		Aliases: m.aliases,
		AliasQ:  m.aliasQ,
	}
	for c := m.lru.head; c != nil; c = c.next {
		sc := savedCluster{
			ID: c.id, Seq: c.seq, Count: c.count,
			Examples: c.examples, Samples: c.samples, Seen: c.seen, Aliases: c.aliases,
		}
		for _, sl := range c.slots {
			sc.Slots = append(sc.Slots, savedSlot{Kind: kindNames[sl.kind], Text: sl.text, Suffix: sl.suffix})
		}
		st.Clusters = append(st.Clusters, sc)
	}
	return json.Marshal(st)
}

// UnmarshalBinary replaces the Miner's templates with saved ones. Template
// IDs and aliases are kept; the Miner's own options apply from now on (if
// the state holds more than MaxClusters templates, the least recently used
// are evicted). On error the Miner is left unchanged. It implements
// encoding.BinaryUnmarshaler.
func (m *Miner) UnmarshalBinary(data []byte) error {
	var st savedState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("%w: %v", ErrBadState, err)
	}
	if st.Format != stateFormat {
		return fmt.Errorf("%w: format %q, want %q", ErrBadState, st.Format, stateFormat)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("%w: version %d, this build reads %d", ErrBadState, st.Version, stateVersion)
	}
	fresh, err := New(m.opts)
	if err != nil {
		return err
	}
	fresh.nextSeq = max(st.NextSeq, 1)
	// Clusters come most recently used first: insert in reverse so that
	// the list ends in the same order.
	for k := len(st.Clusters) - 1; k >= 0; k-- {
		c, err := restoreCluster(&st.Clusters[k])
		if err != nil {
			return fmt.Errorf("%w: cluster %d: %v", ErrBadState, k, err)
		}
		if _, dup := fresh.byID[c.id]; dup {
			return fmt.Errorf("%w: duplicate template ID %q", ErrBadState, c.id)
		}
		if c.seq >= fresh.nextSeq {
			fresh.nextSeq = c.seq + 1
		}
		fresh.insert(c)
	}
	for from, to := range st.Aliases {
		if from == "" || to == "" || from == to {
			return fmt.Errorf("%w: bad alias %q -> %q", ErrBadState, from, to)
		}
		fresh.aliases[from] = to
	}
	fresh.aliasQ = append(fresh.aliasQ, st.AliasQ...)
	for fresh.lru.len > fresh.opts.MaxClusters {
		fresh.evict(fresh.lru.tail)
	}

	m.mtx.Lock()
	defer m.mtx.Unlock()
	m.byLen, m.byID, m.aliases, m.aliasQ = fresh.byLen, fresh.byID, fresh.aliases, fresh.aliasQ
	m.cache, m.lru, m.nextSeq = fresh.cache, fresh.lru, fresh.nextSeq
	m.counters = Stats{}
	return nil
}

// restoreCluster rebuilds one cluster, checking what the rest of the
// package takes for granted (chiefly: a template shows exactly as many
// "<*>" as its slots have parameters).
func restoreCluster(sc *savedCluster) (*cluster, error) {
	if sc.ID == "" {
		return nil, fmt.Errorf("empty ID")
	}
	if sc.Count < 0 {
		return nil, fmt.Errorf("negative count")
	}
	c := &cluster{
		id: sc.ID, seq: sc.Seq, count: sc.Count,
		examples: sc.Examples, aliases: sc.Aliases,
		slots: make([]slot, len(sc.Slots)),
	}
	for i, ss := range sc.Slots {
		if ss.Kind == "r" {
			if i == 0 || i != len(sc.Slots)-1 || ss.Text != "" || ss.Suffix != "" {
				return nil, fmt.Errorf("slot %d: a run must be the last slot, after at least one other", i)
			}
			c.slots[i] = slot{kind: slotRun, vars: 1}
			continue
		}
		sl, err := restoreSlot(ss)
		if err != nil {
			return nil, fmt.Errorf("slot %d: %v", i, err)
		}
		c.slots[i] = sl
	}
	if sc.Seen != nil {
		if len(sc.Seen) != len(c.slots) {
			return nil, fmt.Errorf("%d seen lists for %d slots", len(sc.Seen), len(c.slots))
		}
		c.seen = sc.Seen
	}
	c.rebuild()
	if sc.Samples != nil && len(sc.Samples) == c.vars {
		c.samples = sc.Samples
	}
	if n := strings.Count(c.template, wildcard); n != c.vars {
		return nil, fmt.Errorf("template %q shows %d parameters, slots hold %d", c.template, n, c.vars)
	}
	return c, nil
}

func restoreSlot(ss savedSlot) (slot, error) {
	bad := func(why string) (slot, error) { return slot{}, fmt.Errorf("%s slot %q: %s", ss.Kind, ss.Text, why) }
	if strings.ContainsAny(ss.Text+ss.Suffix, " \t\n\r\v\f") {
		return bad("white space")
	}
	switch ss.Kind {
	case "c":
		if ss.Text == "" || strings.Contains(ss.Text, wildcard) || ss.Suffix != "" {
			return bad("must be non-empty text without <*>")
		}
		return slot{kind: slotConst, text: ss.Text, info: true}, nil
	case "s":
		n := strings.Count(ss.Text, wildcard)
		if n == 0 || ss.Suffix != "" {
			return bad("must hold <*>")
		}
		return slot{kind: slotShape, text: ss.Text, vars: n, info: hasLetter(ss.Text)}, nil
	case "p":
		if strings.Contains(ss.Text, wildcard) || strings.Contains(ss.Suffix, wildcard) {
			return bad("prefix and suffix must not hold <*>")
		}
		if ss.Text == "" && ss.Suffix == "" {
			return bad("empty pattern")
		}
		return slot{kind: slotPattern, text: ss.Text, suffix: ss.Suffix, vars: 1,
			info: hasLetter(ss.Text) || hasLetter(ss.Suffix)}, nil
	case "v", "w":
		if ss.Text != "" || ss.Suffix != "" {
			return bad("wildcard with text")
		}
		if ss.Kind == "v" {
			return varSlot(), nil
		}
		return wildSlot(), nil
	}
	return bad("unknown kind")
}
