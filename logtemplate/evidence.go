package logtemplate

import (
	"math/bits"
	"slices"
)

// Evidence that a position varies. Constants that differ keep lines apart
// (see soft) until the position has shown Options.Variants distinct values
// across templates that are otherwise alike; each template records the
// first distinct values of its varying positions for this.

// values returns the distinct raw tokens seen at position i.
func (c *cluster) values(i int) []string {
	if c.slots[i].kind == slotConst {
		return []string{c.slots[i].text}
	}
	if i >= len(c.seen) {
		return nil
	}
	return c.seen[i]
}

// addValue records v as seen at position i, up to limit values. It
// reports whether v was new.
func (c *cluster) addValue(i int, v string, limit int) bool {
	if c.seen == nil {
		c.seen = make([][]string, len(c.slots))
	}
	vs := c.seen[i]
	if len(vs) >= limit {
		return false
	}
	if len(v) > maxValueBytes {
		v = v[:maxValueBytes]
	}
	for _, x := range vs {
		if x == v {
			return false
		}
	}
	c.seen[i] = append(vs, clip(v, maxValueBytes))
	return true
}

// observe records the line's tokens at the positions that vary. When a
// position shows a new value (at most Options.Variants times in the life of
// a template), templates that differ from c only by a constant there may
// now have enough evidence to merge with it; the survivor is returned.
func (m *Miner) observe(c *cluster, s *scratch) *cluster {
	grown := false
	for i := range c.slots {
		if c.slots[i].kind != slotConst && c.addValue(i, s.raw(i), m.opts.Variants) {
			grown = true
		}
	}
	if grown {
		return m.mergeCompatible(c)
	}
	return c
}

// variants handles a line that differs from its best template in
// constants, at the positions P. The templates that match the line
// everywhere but at P (and are as similar to it as a template must be) are
// its siblings; once they and the line show Options.Variants distinct
// values at every position of P, they merge into one template with
// parameters there.
func (m *Miner) variants(s *scratch, cd candidate) (*cluster, bool) {
	if cd.hard > bits.OnesCount64(cd.pos) {
		return nil, false // beyond the 64 positions tracked
	}
	var ps []int
	for p := range s.tokens {
		if p < 64 && cd.pos&(1<<p) != 0 {
			if structural(s.raw(p)) {
				return nil, false
			}
			ps = append(ps, p)
		}
	}
	var sibs []*cluster
	vals := make([][]string, len(ps))
	for k, p := range ps {
		vals[k] = []string{s.raw(p)}
	}
	for _, c := range m.byLen[len(s.tokens)] {
		if !c.sibling(s, cd.pos) {
			continue
		}
		if c.compare(s).sim < m.opts.Similarity {
			continue
		}
		sibs = append(sibs, c)
		for k, p := range ps {
			for _, v := range c.values(p) {
				if !slices.Contains(vals[k], v) {
					vals[k] = append(vals[k], v)
				}
			}
		}
	}
	for k := range ps {
		if len(vals[k]) < m.opts.Variants {
			return nil, false
		}
	}
	c := sibs[0]
	for _, d := range sibs[1:] {
		c = m.merge(c, d)
	}
	m.refine(c, s)
	return m.mergeCompatible(c), true
}

// sibling reports whether the line fits c everywhere but at the positions
// in skip (as bits), where c holds no punctuation constant.
func (c *cluster) sibling(s *scratch, skip uint64) bool {
	for i := range c.slots {
		sl := &c.slots[i]
		if i < 64 && skip&(1<<i) != 0 {
			if sl.kind == slotConst && structural(sl.text) {
				return false
			}
			continue
		}
		if !sl.fits(s, i) && !soft(sl, s, i) {
			return false
		}
	}
	return true
}

// compatible reports whether a and b may merge: at every position they
// agree, or one subsumes the other, or both hold parameters; where a
// constant meets a parameter, the position must have shown Options.Variants
// distinct values between them (the rule for lines, see soft). And they
// must be as similar as a line must be to its template.
func (m *Miner) compatible(a, b *cluster) bool {
	same, d := 0, 0
	for i := range a.slots {
		x, y := &a.slots[i], &b.slots[i]
		eq := x.same(y)
		if !eq && !m.slotsMerge(a, b, i) {
			return false
		}
		if isWildcard(x.kind) || isWildcard(y.kind) || !x.info && !y.info {
			continue
		}
		d++
		if eq {
			same++
		}
	}
	return d == 0 || float64(same) >= m.opts.Similarity*float64(d)
}

// slotsMerge reports whether two different slots at position i of a and b
// may merge.
func (m *Miner) slotsMerge(a, b *cluster, i int) bool {
	x, y := &a.slots[i], &b.slots[i]
	constX, constY := x.kind == slotConst && !emptyValue(x.text), y.kind == slotConst && !emptyValue(y.text)
	if !constX && !constY {
		// Two parameters, unless both carry different words.
		return !x.info || !y.info || x.subsumes(y) || y.subsumes(x)
	}
	if constX && structural(x.text) || constY && structural(y.text) {
		return false
	}
	vals := slices.Clone(a.values(i))
	for _, v := range b.values(i) {
		if !slices.Contains(vals, v) {
			vals = append(vals, v)
		}
	}
	return len(vals) >= m.opts.Variants
}

// structural reports whether a constant is punctuation such as "****" or
// "-" (but not an empty value such as "()"): structure, never a value.
func structural(s string) bool {
	for i := 0; i < len(s); i++ {
		if isAlnum(s[i]) {
			return false
		}
	}
	return !emptyValue(s)
}
