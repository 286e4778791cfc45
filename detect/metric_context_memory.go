package detect

import "slices"

// The context memory of ContextDetector: contexts, their two halves, the
// fact index that finds the halves a group of facts meets, and one step of
// learning. Ids are dense int32s and every list is kept in creation order,
// so that the same series always gives the same scores.

// ctxSemi is one half of one or more contexts.
type ctxSemi struct {
	facts []uint32 // sorted
	// ctxs lists, for a left half, its contexts in creation order (a
	// slice, not a map, so that runs are deterministic).
	ctxs []int32
}

// ctxContext is one learned context.
type ctxContext struct {
	left, right int32
	count       uint32 // times it came true
	zero        bool   // it was seen whole, not only formed by a crossing
}

// ctxPair is a potential new context: offsets into potArr.
type ctxPair struct{ l0, l1, r1 int32 }

// neuronBit marks facts that stand for active contexts rather than levels.
const neuronBit = 1 << 31

// learn runs one step of the memory on the current facts and returns the
// raw score: (1 - share of selected contexts that came true + share of the
// potential new contexts that were new) / 2.
func (d *ContextDetector) learn(cur []uint32) float64 {
	zeroID, newFlag := int32(-1), false
	clear(d.uniq)
	if len(d.left) > 0 {
		d.uniq[d.pairKey(d.left, cur)] = struct{}{}
		id, isNew := d.addContext(d.left, cur, true)
		newFlag = isNew
		if isNew {
			zeroID = id
		}
	}
	d.cross(1, cur)

	// Walk the contexts whose left half met the previous left group (still
	// d.left). A half met only in part matters only when the point formed
	// a new context: then crossings of it are potential new contexts.
	d.top, d.pots, d.potArr = d.top[:0], d.pots[:0], d.potArr[:0]
	selected, active := 0, 0
	for _, li := range d.touched[0] {
		l := &d.semis[0][li]
		ln := d.hits[0][li]
		full := int(ln) == len(l.facts)
		if !full && !newFlag {
			continue
		}
		for _, ci := range l.ctxs {
			if ci == zeroID {
				continue
			}
			c := &d.ctxs[ci]
			r := &d.semis[1][c.right]
			if full {
				selected++
			}
			rn := d.hits[1][c.right]
			if rn == 0 {
				continue
			}
			if full && int(rn) == len(r.facts) {
				c.count++
				active++
				d.rank(ci)
				continue
			}
			// A partial match of a context seen whole: its common part
			// may be a more general context worth remembering.
			if c.zero && newFlag && int(ln) <= d.opts.MaxLeftFacts {
				d.addPot(l.facts, d.left, r.facts, cur)
			}
		}
	}
	a1 := 0.0
	if selected > 0 {
		a1 = float64(active) / float64(selected)
	}

	// The next left group: this point's facts and its strongest contexts.
	d.next = append(d.next[:0], cur...)
	for _, ci := range d.top {
		d.next = append(d.next, neuronBit|uint32(ci))
	}
	slices.Sort(d.next[len(cur):])
	d.left, d.next = d.next, d.left

	numNew := 0
	for _, p := range d.pots {
		if _, isNew := d.addContext(d.potArr[p.l0:p.l1], d.potArr[p.l1:p.r1], false); isNew {
			numNew++
		}
	}
	d.cross(0, d.left)
	a2 := 0.0
	if newFlag {
		numNew++
		if len(d.uniq) > 0 {
			a2 = float64(numNew) / float64(len(d.uniq))
		}
	}
	return (1 - a1 + a2) / 2
}

// rank keeps in d.top the MaxActive active contexts used most (newer
// first among equals), best first.
func (d *ContextDetector) rank(ci int32) {
	better := func(a, b int32) bool {
		ca, cb := d.ctxs[a].count, d.ctxs[b].count
		return ca > cb || ca == cb && a > b
	}
	k := d.opts.MaxActive
	if k == 0 || len(d.top) == k && !better(ci, d.top[k-1]) {
		return
	}
	if len(d.top) < k {
		d.top = append(d.top, ci)
	}
	i := len(d.top) - 1
	for ; i > 0 && better(ci, d.top[i-1]); i-- {
		d.top[i] = d.top[i-1]
	}
	d.top[i] = ci
}

// addPot records a potential new context: the facts of the left half in
// group and of the right half in cur.
func (d *ContextDetector) addPot(lf, group, rf, cur []uint32) {
	l0 := int32(len(d.potArr))
	d.potArr = appendCommon(d.potArr, lf, group)
	l1 := int32(len(d.potArr))
	d.potArr = appendCommon(d.potArr, rf, cur)
	r1 := int32(len(d.potArr))
	d.pots = append(d.pots, ctxPair{l0, l1, r1})
	d.uniq[d.pairKey(d.potArr[l0:l1], d.potArr[l1:r1])] = struct{}{}
}

// appendCommon appends the elements common to the sorted a and b.
func appendCommon(dst, a, b []uint32) []uint32 {
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			dst = append(dst, a[i])
			i++
			j++
		}
	}
	return dst
}

// pairKey is a map key for a (left, right) pair of fact lists.
func (d *ContextDetector) pairKey(l, r []uint32) string {
	b := d.keyBuf[:0]
	b = appendFacts(b, l)
	b = append(b, 0xff, 0xff, 0xff, 0xff, 0xfe) // no fact list ends like this
	b = appendFacts(b, r)
	d.keyBuf = b
	return string(b)
}

func appendFacts(b []byte, fs []uint32) []byte {
	for _, f := range fs {
		b = append(b, byte(f), byte(f>>8), byte(f>>16), byte(f>>24))
	}
	return b
}

// addContext finds or stores the context (l, r). It reports whether the
// context was new; id is -1 when it was new but memory is full.
func (d *ContextDetector) addContext(l, r []uint32, zero bool) (id int32, isNew bool) {
	full := len(d.ctxs) >= d.opts.MaxContexts
	li, lok := d.findSemi(0, l)
	ri, rok := d.findSemi(1, r)
	if lok && rok {
		if ci, ok := d.pair[uint64(li)<<32|uint64(ri)]; ok {
			if zero {
				d.ctxs[ci].zero = true
			}
			return ci, false
		}
	}
	if full {
		d.full = true
		return -1, true
	}
	if !lok {
		li = d.newSemi(0, l)
	}
	if !rok {
		ri = d.newSemi(1, r)
	}
	id = int32(len(d.ctxs))
	d.ctxs = append(d.ctxs, ctxContext{left: li, right: ri, zero: zero})
	d.pair[uint64(li)<<32|uint64(ri)] = id
	d.semis[0][li].ctxs = append(d.semis[0][li].ctxs, id)
	return id, true
}

func (d *ContextDetector) findSemi(side int, fs []uint32) (int32, bool) {
	d.keyBuf = appendFacts(d.keyBuf[:0], fs)
	id, ok := d.semiKey[side][string(d.keyBuf)]
	return id, ok
}

func (d *ContextDetector) newSemi(side int, fs []uint32) int32 {
	id := int32(len(d.semis[side]))
	d.semis[side] = append(d.semis[side], ctxSemi{facts: slices.Clone(fs)})
	d.hits[side] = append(d.hits[side], 0)
	d.semiKey[side][string(appendFacts(d.keyBuf[:0], fs))] = id
	for _, f := range fs {
		d.index[side][f] = append(d.index[side][f], id)
	}
	return id
}

// cross counts, for every half of the side that shares a fact with
// group, how many of its facts are present.
func (d *ContextDetector) cross(side int, group []uint32) {
	hits := d.hits[side]
	for _, si := range d.touched[side] {
		hits[si] = 0
	}
	t := d.touched[side][:0]
	for _, f := range group {
		for _, si := range d.index[side][f] {
			if hits[si] == 0 {
				t = append(t, si)
			}
			hits[si]++
		}
	}
	d.touched[side] = t
}
