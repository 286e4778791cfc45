package logtemplate

import "strings"

// slotKind says how a template position matches tokens.
type slotKind uint8

const (
	// slotConst matches one exact token without parameters.
	slotConst slotKind = iota
	// slotShape matches tokens whose masked form is exactly text
	// ("<*>:<*>", "core.<*>", "uid=<*>"); its parameters are the masker's.
	slotShape
	// slotPattern matches any token that starts with text and ends with
	// suffix; the middle is one parameter. It is what a constant becomes
	// when lines disagree on part of it: "user=root" and "user=guest" give
	// "user=<*>", "(a)" and "(b)" give "(<*>)".
	slotPattern
	// slotVar matches any token with a parameter in it (numbers, addresses,
	// ...) or an empty value such as "()", but no plain word: a word must
	// first show enough variants (see Options.Variants). The whole token is
	// one parameter.
	slotVar
	// slotWild matches any token; the whole token is one parameter.
	slotWild
	// slotRun ends a template: it matches one or more trailing tokens that
	// are all parameters ("delete blk_1 blk_2 blk_3"), one parameter for
	// the lot. See run.go.
	slotRun
)

// isWildcard reports whether a slot of kind k renders as a bare "<*>".
func isWildcard(k slotKind) bool { return k == slotVar || k == slotWild }

const wildcard = "<*>"

// slot is one position of a template.
type slot struct {
	kind   slotKind
	text   string // const token, shape, or pattern prefix
	suffix string // pattern suffix
	vars   int    // parameters (and <*> in the rendering)
	info   bool   // informative, as for tokens
	join   bool   // its first parameter continues the previous slot's
}

func wildSlot() slot { return slot{kind: slotWild, vars: 1} }
func varSlot() slot  { return slot{kind: slotVar, vars: 1} }

// tokenSlot is the slot that matches exactly token i of s.
func tokenSlot(s *scratch, i int) slot {
	t := &s.tokens[i]
	if !t.hasVar {
		return slot{kind: slotConst, text: strings.Clone(s.raw(i)), info: t.informativ}
	}
	if t.allVar {
		return varSlot()
	}
	return slot{kind: slotShape, text: string(s.masked(i)), vars: int(t.sEnd - t.sStart), info: t.informativ}
}

// render appends the slot's template text.
func (sl *slot) render(b []byte) []byte {
	switch sl.kind {
	case slotVar, slotWild, slotRun:
		return append(b, wildcard...)
	case slotPattern:
		b = append(b, sl.text...)
		b = append(b, wildcard...)
		return append(b, sl.suffix...)
	}
	return append(b, sl.text...)
}

// fits reports whether token i of s matches the slot exactly, i.e. the
// slot needs no change to describe it.
func (sl *slot) fits(s *scratch, i int) bool {
	t := &s.tokens[i]
	switch sl.kind {
	case slotConst:
		return !t.hasVar && s.raw(i) == sl.text
	case slotShape:
		return t.hasVar && string(s.masked(i)) == sl.text
	case slotPattern:
		raw := s.raw(i)
		return len(raw) >= len(sl.text)+len(sl.suffix) &&
			strings.HasPrefix(raw, sl.text) && strings.HasSuffix(raw, sl.suffix)
	case slotVar:
		return t.hasVar || emptyValue(s.raw(i))
	case slotRun:
		return runToken(s, i)
	}
	return true
}

// appendParams appends the parameters that token i of s gives this slot:
// exactly sl.vars strings, even when the token does not fit (Match on a
// line that would have refined the template).
func (sl *slot) appendParams(dst []string, s *scratch, i int) []string {
	raw := s.raw(i)
	switch sl.kind {
	case slotConst:
		return dst
	case slotRun:
		return append(dst, s.msg[s.tokens[i].off:s.tokens[len(s.tokens)-1].end])
	case slotVar, slotWild:
		return append(dst, raw)
	case slotPattern:
		if sl.fits(s, i) {
			return append(dst, raw[len(sl.text):len(raw)-len(sl.suffix)])
		}
		return append(dst, raw)
	}
	if sl.fits(s, i) {
		for _, v := range s.vars(i) {
			dst = append(dst, s.msg[v.start:v.end])
		}
		return dst
	}
	dst = append(dst, raw)
	for k := 1; k < sl.vars; k++ {
		dst = append(dst, "")
	}
	return dst
}

// firstVarEnd returns the offset in the message where the slot's first
// parameter ends in token i of s.
func (sl *slot) firstVarEnd(s *scratch, i int) int {
	end := int(s.tokens[i].end)
	if !sl.fits(s, i) {
		return end
	}
	switch sl.kind {
	case slotShape:
		return int(s.vars(i)[0].end)
	case slotPattern:
		return end - len(sl.suffix)
	}
	return end
}

// literalEnds returns the constant text before the first and after the last
// parameter of a slot. For a constant both are the whole text.
func (sl *slot) literalEnds() (pre, post string, ok bool) {
	switch sl.kind {
	case slotConst:
		return sl.text, sl.text, true
	case slotPattern:
		return sl.text, sl.suffix, true
	case slotShape:
		i := strings.Index(sl.text, wildcard)
		j := strings.LastIndex(sl.text, wildcard)
		return sl.text[:i], sl.text[j+len(wildcard):], true
	}
	return "", "", false
}

// same reports whether a and b match the same tokens.
func (a *slot) same(b *slot) bool {
	return a.kind == b.kind && a.text == b.text && a.suffix == b.suffix
}

// subsumes reports whether every token that fits b also fits a.
func (a *slot) subsumes(b *slot) bool {
	switch a.kind {
	case slotWild:
		return true
	case slotVar:
		return b.kind == slotVar || b.kind == slotShape || b.kind == slotConst && emptyValue(b.text)
	case slotRun:
		return b.kind == slotRun
	case slotPattern:
		pre, post, ok := b.literalEnds()
		if !ok {
			return false
		}
		if b.kind == slotConst {
			return len(b.text) >= len(a.text)+len(a.suffix) &&
				strings.HasPrefix(b.text, a.text) && strings.HasSuffix(b.text, a.suffix)
		}
		return strings.HasPrefix(pre, a.text) && strings.HasSuffix(post, a.suffix)
	}
	return a.same(b)
}

// generalize returns the most specific slot that covers both a and b: one of
// them if it subsumes the other, else a pattern keeping the constant text
// they share up to a delimiter on each side, else a wildcard (which accepts
// words only if a or b did).
func generalize(a, b slot) slot {
	if a.subsumes(&b) {
		return a
	}
	if b.subsumes(&a) {
		return b
	}
	any := slotVar
	for _, sl := range [...]*slot{&a, &b} {
		if sl.kind == slotWild || sl.kind == slotPattern || sl.kind == slotConst && !emptyValue(sl.text) {
			any = slotWild
		}
	}
	preA, postA, okA := a.literalEnds()
	preB, postB, okB := b.literalEnds()
	if !okA || !okB {
		return slot{kind: any, vars: 1}
	}
	prefix := commonPrefix(preA, preB)
	suffix := commonSuffix(postA, postB)
	// A constant supplies both ends from one text: they must not overlap.
	for _, sl := range [...]*slot{&a, &b} {
		if sl.kind == slotConst && len(prefix)+len(suffix) > len(sl.text) {
			suffix = ""
		}
	}
	if prefix == "" && suffix == "" {
		return slot{kind: any, vars: 1}
	}
	return slot{kind: slotPattern, text: prefix, suffix: suffix, vars: 1,
		info: hasLetter(prefix) || hasLetter(suffix)}
}

// commonPrefix is the longest common prefix of a and b that ends with a
// delimiter (so that "user=root" and "user=guest" share "user=" but
// "webmaster" and "web" share nothing).
func commonPrefix(a, b string) string {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	for i > 0 && !isBoundary(a[i-1]) {
		i--
	}
	return a[:i]
}

// commonSuffix is the longest common suffix of a and b that starts with a
// delimiter.
func commonSuffix(a, b string) string {
	i, j := len(a), len(b)
	for i > 0 && j > 0 && a[i-1] == b[j-1] {
		i--
		j--
	}
	for i < len(a) && !isBoundary(a[i]) {
		i++
	}
	return a[i:]
}

// isBoundary reports whether a pattern may end (or start) at c: a strong
// delimiter or one of - + @ # $ % &, so that "node-D3" and "node-D4" share
// "node-" and "user=root" and "user=guest" share "user=", but "webmaster"
// and "web" share nothing. A dot is not a boundary: it joins the parts of
// one name (chrome.exe, org.example.Main, host.example.com), and a value is
// the whole name.
func isBoundary(c byte) bool { return class[c]&(cStrong|cSplit) != 0 && c != '.' }

func hasLetter(s string) bool {
	for i := 0; i < len(s); i++ {
		if isLetter(s[i]) {
			return true
		}
	}
	return false
}
