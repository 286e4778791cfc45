package logtemplate

import (
	"slices"
	"strings"
)

// Template is a snapshot of one template.
type Template struct {
	ID       string `json:"id"`
	Template string `json:"template"`
	Count    int64  `json:"count"`
	// Examples are the first lines seen, at most Options.MaxExamples.
	Examples []string `json:"examples,omitempty"`
	// Slots describes each parameter, in the order of Match.Params.
	Slots []SlotSummary `json:"slots,omitempty"`
	// Aliases are the IDs of templates merged into this one.
	Aliases []string `json:"aliases,omitempty"`
}

// SlotSummary describes one parameter of a template.
type SlotSummary struct {
	// Index is the parameter's index in Match.Params.
	Index int `json:"index"`
	// Token is the position, among the template's space-separated tokens,
	// of the token that holds the parameter.
	Token int `json:"token"`
	// Samples are the first distinct values seen since the template last
	// changed, at most Options.MaxSamples.
	Samples []string `json:"samples,omitempty"`
}

func (c *cluster) snapshot() Template {
	t := Template{
		ID:       c.id,
		Template: c.template,
		Count:    c.count,
		Examples: slices.Clone(c.examples),
		Aliases:  slices.Clone(c.aliases),
	}
	k := 0
	for i := range c.slots {
		n := c.slots[i].vars
		if c.slots[i].join {
			n--
		}
		for range n {
			s := SlotSummary{Index: k, Token: i}
			if k < len(c.samples) {
				s.Samples = slices.Clone(c.samples[k])
			}
			t.Slots = append(t.Slots, s)
			k++
		}
	}
	return t
}

// Templates returns every live template, most frequent first (then by ID
// age).
func (m *Miner) Templates() []Template {
	m.mtx.RLock()
	out := make([]Template, 0, m.lru.len)
	for c := m.lru.head; c != nil; c = c.next {
		out = append(out, c.snapshot())
	}
	seq := make(map[string]uint64, len(out))
	for c := m.lru.head; c != nil; c = c.next {
		seq[c.id] = c.seq
	}
	m.mtx.RUnlock()
	slices.SortFunc(out, func(a, b Template) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		if seq[a.ID] < seq[b.ID] {
			return -1
		}
		if seq[a.ID] > seq[b.ID] {
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Lookup returns the template an ID names, following aliases left by merges.
// It reports false for unknown and evicted IDs.
func (m *Miner) Lookup(id string) (Template, bool) {
	m.mtx.RLock()
	defer m.mtx.RUnlock()
	c := m.resolve(id)
	if c == nil {
		return Template{}, false
	}
	return c.snapshot(), true
}

// Len returns the number of live templates.
func (m *Miner) Len() int {
	m.mtx.RLock()
	defer m.mtx.RUnlock()
	return m.lru.len
}

// Stats are the Miner's counters since it was created (or restored: the
// counters are not saved).
type Stats struct {
	Lines       int64 // lines added
	Templates   int   // live templates
	Created     int64 // templates started
	Merged      int64 // templates merged into older ones
	Evicted     int64 // templates evicted by MaxClusters
	CacheHits   int64 // lines whose masked shape was cached
	CacheMisses int64 // lines compared with the templates of their length
}

// Stats returns a snapshot of the counters. The package has no Prometheus
// dependency: the caller exports these.
func (m *Miner) Stats() Stats {
	m.mtx.RLock()
	defer m.mtx.RUnlock()
	s := m.counters
	s.Templates = m.lru.len
	s.CacheMisses = s.Lines - s.CacheHits
	return s
}
