package logtemplate

import "slices"

// Templates that end in a run of parameters. A list of values at the end of
// a line ("delete blk_1", "delete blk_1 blk_2 blk_3") makes lines of one
// event differ in length, which a miner that compares lines position by
// position would split. When a line would start a new template and another
// template agrees with it on everything before a trailing run of
// parameters, of a different length, the two become one template whose
// last slot (slotRun) takes the whole run as one parameter. Runs are never
// guessed from a single line: "REPORT : 1 2 3 4" stays four parameters
// until a line with another count shows up.

// runBucket is the byLen key of the templates that end in a run.
const runBucket = -1

func (c *cluster) hasRun() bool {
	n := len(c.slots)
	return n > 0 && c.slots[n-1].kind == slotRun
}

// bucket is c's key in Miner.byLen.
func (c *cluster) bucket() int {
	if c.hasRun() {
		return runBucket
	}
	return len(c.slots)
}

// runToken reports whether token i can belong to a run: a parameter with
// no word around it ("blk_1", "<*>,", "@<*>").
func runToken(s *scratch, i int) bool {
	t := &s.tokens[i]
	return t.hasVar && !t.informativ
}

// runSlot reports whether a slot can belong to a run.
func runSlot(sl *slot) bool {
	return isWildcard(sl.kind) || sl.kind == slotShape && !sl.info
}

// fitsRun reports whether the line fits a run template exactly.
func (c *cluster) fitsRun(s *scratch) bool {
	p := len(c.slots) - 1
	if len(s.tokens) <= p {
		return false
	}
	for i := 0; i < p; i++ {
		if !c.slots[i].fits(s, i) {
			return false
		}
	}
	for i := p; i < len(s.tokens); i++ {
		if !runToken(s, i) {
			return false
		}
	}
	return true
}

// matchRun returns the oldest run template the line fits.
func (m *Miner) matchRun(s *scratch) *cluster {
	var best *cluster
	for _, c := range m.byLen[runBucket] {
		if (best == nil || c.seq < best.seq) && c.fitsRun(s) {
			best = c
		}
	}
	return best
}

// makeRun looks for templates that agree with the line before its trailing
// run of parameters and end in a run of another length. If there are, the
// oldest becomes a run template, absorbs the others and is returned; the
// line fits it. Otherwise it returns nil.
func (m *Miner) makeRun(s *scratch) (*cluster, bool) {
	n := len(s.tokens)
	r := n
	for r > 0 && runToken(s, r-1) {
		r--
	}
	if r == n || r == 0 || !slices.ContainsFunc(s.tokens[:r], func(t token) bool { return t.informativ }) {
		return nil, false
	}
	var group []*cluster
	for l, b := range m.byLen {
		if l == runBucket || l == n || l <= r {
			continue
		}
		for _, c := range b {
			if c.runFrom(r) && c.prefixFits(s, r) {
				group = append(group, c)
			}
		}
	}
	if len(group) == 0 {
		return nil, false
	}
	slices.SortFunc(group, func(a, b *cluster) int { return int(a.seq - b.seq) })
	c := group[0]
	m.unbucket(c)
	c.slots = append(c.slots[:r], slot{kind: slotRun, vars: 1})
	if c.seen != nil {
		c.seen = c.seen[:r+1]
	}
	for _, d := range group[1:] {
		m.absorb(c, d)
	}
	c.rebuild()
	m.byLen[runBucket] = append(m.byLen[runBucket], c)
	m.counters.Merged += int64(len(group) - 1)
	return c, true
}

// runFrom reports whether every slot from r on can belong to a run.
func (c *cluster) runFrom(r int) bool {
	if c.hasRun() || r >= len(c.slots) {
		return false
	}
	for i := r; i < len(c.slots); i++ {
		if !runSlot(&c.slots[i]) {
			return false
		}
	}
	return true
}

// prefixFits reports whether the first r tokens of the line fit c.
func (c *cluster) prefixFits(s *scratch, r int) bool {
	for i := 0; i < r; i++ {
		if !c.slots[i].fits(s, i) {
			return false
		}
	}
	return true
}

// absorb folds d into c without generalising c's slots (d's lines fit c).
func (m *Miner) absorb(c, d *cluster) {
	c.count += d.count
	for _, e := range d.examples {
		if len(c.examples) >= m.opts.MaxExamples {
			break
		}
		c.examples = append(c.examples, e)
	}
	m.unlink(d)
	d.mergedInto = c
	for _, id := range append(d.aliases, d.id) {
		m.addAlias(id, c)
	}
	d.aliases = nil
}
