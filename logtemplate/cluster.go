package logtemplate

import (
	"slices"
	"strings"
)

// cluster is one template and what is known of its lines.
type cluster struct {
	id       string
	seq      uint64 // creation order: smaller is older
	slots    []slot
	vars     int
	template string
	count    int64
	examples []string
	samples  [][]string // per parameter, first distinct values
	// seen holds, for each position that is not a constant, the first
	// distinct raw tokens seen there (at most Options.Variants): evidence
	// of how much the position varies. A constant's only value is itself.
	seen    [][]string
	aliases []string // IDs merged into this one, most recent last
	// mergedInto is set when the cluster was merged away; dead when it was
	// merged or evicted.
	mergedInto *cluster
	dead       bool
	prev, next *cluster // LRU list
}

// maxAliasesPerCluster bounds the alias list a template reports.
const maxAliasesPerCluster = 32

func (c *cluster) rebuild() {
	c.markJoins()
	var b []byte
	c.vars = 0
	for i := range c.slots {
		sl := &c.slots[i]
		if sl.join {
			// The previous slot rendered "<*>"; this one continues it.
			b = append(b, sl.render(nil)[len(wildcard):]...)
			c.vars += sl.vars - 1
			continue
		}
		if i > 0 {
			b = append(b, ' ')
		}
		b = sl.render(b)
		c.vars += sl.vars
	}
	c.template = string(b)
	c.samples = nil
}

// markJoins finds runs of parameters that read as one: a number and a unit
// that varies ("5.2 KB", "384 B": "<*>"), and the parameters that end a
// quoted string ("GET /v2/servers HTTP/1.1": "GET <*>"). A joined slot's
// first parameter extends the previous slot's, so the template shows one
// "<*>" for the run and Params one value, spaces included.
func (c *cluster) markJoins() {
	for i := range c.slots {
		c.slots[i].join = false
	}
	for i := 1; i < len(c.slots); i++ {
		if isWildcard(c.slots[i-1].kind) && c.leadingVar(i) &&
			c.slots[i].kind != slotShape && i < len(c.seen) && len(c.seen[i]) > 1 && allUnits(c.seen[i]) {
			c.slots[i].join = true
		}
	}
	for j := 0; j+2 < len(c.slots); j++ {
		open := &c.slots[j]
		if open.kind != slotConst || !strings.HasPrefix(open.text, `"`) || strings.Count(open.text, `"`) != 1 {
			continue
		}
		k := j + 1
		for k < len(c.slots) && isWildcard(c.slots[k].kind) {
			k++
		}
		if k == j+1 || k == len(c.slots) || !c.leadingVar(k) {
			continue
		}
		if _, post, _ := c.slots[k].literalEnds(); !strings.Contains(post, `"`) {
			continue
		}
		for m := j + 2; m <= k; m++ {
			c.slots[m].join = true
		}
	}
}

// leadingVar reports whether slot i starts with a parameter.
func (c *cluster) leadingVar(i int) bool {
	sl := &c.slots[i]
	if sl.kind == slotConst {
		return false
	}
	pre, _, _ := sl.literalEnds()
	return pre == ""
}

func allUnits(vs []string) bool {
	for _, v := range vs {
		if !isUnit(v) {
			return false
		}
	}
	return true
}

func (c *cluster) fitsAll(s *scratch) bool {
	if c.hasRun() {
		return c.fitsRun(s)
	}
	if len(c.slots) != len(s.tokens) {
		return false
	}
	for i := range c.slots {
		if !c.slots[i].fits(s, i) {
			return false
		}
	}
	return true
}

// candidate is a template compared with a line.
type candidate struct {
	c    *cluster
	sim  float64
	hard int    // positions where a constant meets something else
	pos  uint64 // the first 64 such positions, as bits
}

// better orders candidates: fewer conflicting constants first (none is what
// matters), then similarity, then age.
func (a candidate) better(b candidate) bool {
	if b.c == nil {
		return true
	}
	if (a.hard == 0) != (b.hard == 0) {
		return a.hard == 0
	}
	if a.sim != b.sim {
		return a.sim > b.sim
	}
	return a.c.seq < b.c.seq
}

// compare scores a template against a line: similarity (the fraction of
// informative positions where the line fits; wildcards, and positions where
// neither side has constant text, are ignored) and the positions where a
// constant would have to give way.
func (c *cluster) compare(s *scratch) candidate {
	cd := candidate{c: c}
	m, d := 0, 0
	for i := range c.slots {
		sl := &c.slots[i]
		fit := sl.fits(s, i)
		if fit && isWildcard(sl.kind) {
			continue
		}
		t := &s.tokens[i]
		if !fit && !soft(sl, s, i) {
			cd.hard++
			if i < 64 {
				cd.pos |= 1 << i
			}
		}
		if !sl.info && !t.informativ {
			continue
		}
		d++
		if fit {
			m++
		}
	}
	cd.sim = 1
	if d > 0 {
		cd.sim = float64(m) / float64(d)
	}
	return cd
}

// soft reports whether a mismatch between a slot and a token is between two
// parameters (say "<*>" and "<*>:<*>"): such a position is already known to
// vary, so the template may generalise at once. A mismatch that involves a
// constant is hard: in logs, words that differ usually mean different
// events ("VM Paused" and "VM Resumed"), so a constant only becomes a
// parameter once Options.Variants distinct values have shown up there.
func soft(sl *slot, s *scratch, i int) bool {
	t := &s.tokens[i]
	if t.hasVar {
		if sl.kind == slotConst {
			return !sl.info || emptyValue(sl.text)
		}
		// Two masked tokens with different words around their
		// parameters ("(uid=<*>)" and "LOGIN(uid=<*>)") differ like words.
		return !sl.info || !t.informativ
	}
	if sl.kind != slotConst {
		return emptyValue(s.raw(i))
	}
	return t.unit && isUnit(sl.text)
}

// emptyValue reports whether s is made of brackets, quotes and separators
// only, like "()" or "[]," : an empty value rather than a word. Other
// punctuation ("****", "-") is constant text.
func emptyValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte("()[]{}<>\"',;:", s[i]) < 0 {
			return false
		}
	}
	return s != ""
}

// best returns the best candidate of the line's length.
func (m *Miner) best(s *scratch) candidate {
	var best candidate
	for _, c := range m.byLen[len(s.tokens)] {
		if cd := c.compare(s); cd.better(best) {
			best = cd
		}
	}
	return best
}

// assign finds the template a line that fits none exactly belongs to,
// refining or merging templates as needed; nil means a new one.
func (m *Miner) assign(s *scratch) (*cluster, bool) {
	cd := m.best(s)
	if cd.c != nil && cd.c.fitsAll(s) {
		return cd.c, false
	}
	if c := m.matchRun(s); c != nil {
		return c, false
	}
	if cd.c == nil || cd.sim < m.opts.Similarity {
		return m.makeRun(s)
	}
	switch cd.hard {
	case 0:
		c := cd.c
		if !m.refine(c, s) {
			return c, false
		}
		return m.mergeCompatible(c), true
	default:
		if c, changed := m.variants(s, cd); c != nil {
			return c, changed
		}
	}
	return m.makeRun(s)
}

// refine generalises the template so that the line fits it. It reports
// whether the template changed.
func (m *Miner) refine(c *cluster, s *scratch) bool {
	changed := false
	for i := range c.slots {
		if c.slots[i].fits(s, i) {
			continue
		}
		if c.slots[i].kind == slotConst {
			c.addValue(i, c.slots[i].text, m.opts.Variants)
		}
		c.slots[i] = generalize(c.slots[i], tokenSlot(s, i))
		c.addValue(i, s.raw(i), m.opts.Variants)
		changed = true
	}
	if changed {
		c.rebuild()
	}
	return changed
}

// mergeCompatible merges c with every template of its length that now
// differs from it only where one of them has a parameter, and returns the
// survivor.
func (m *Miner) mergeCompatible(c *cluster) *cluster {
	if c.hasRun() {
		return c
	}
	for again := true; again; {
		again = false
		for _, d := range m.byLen[len(c.slots)] {
			if d != c && m.compatible(c, d) {
				c = m.merge(c, d)
				again = true
				break
			}
		}
	}
	return c
}

// merge folds the younger of a and b into the older, which keeps its ID and
// records the other as an alias.
func (m *Miner) merge(a, b *cluster) *cluster {
	if b.seq < a.seq {
		a, b = b, a
	}
	for i := range a.slots {
		vals := append(slices.Clone(a.values(i)), b.values(i)...)
		a.slots[i] = generalize(a.slots[i], b.slots[i])
		if a.slots[i].kind != slotConst {
			if a.seen != nil {
				a.seen[i] = nil
			}
			for _, v := range vals {
				a.addValue(i, v, m.opts.Variants)
			}
		}
	}
	a.count += b.count
	for _, e := range b.examples {
		if len(a.examples) >= m.opts.MaxExamples {
			break
		}
		a.examples = append(a.examples, e)
	}
	m.unlink(b)
	b.mergedInto = a
	for _, id := range append(b.aliases, b.id) {
		m.addAlias(id, a)
	}
	b.aliases = nil
	a.rebuild()
	m.counters.Merged++
	m.opts.Logger.Debug("templates merged", "id", a.id, "alias", b.id, "template", a.template)
	return a
}
