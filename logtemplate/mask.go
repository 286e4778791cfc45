package logtemplate

import "strings"

// The masker turns one whitespace-separated token into its masked form, in
// which every variable part is replaced by "<*>", and records where each
// variable sits in the message (for parameter extraction). It is hand
// written: no regexp runs on the hot path, and a first pass (scanToken)
// lets plain words and numbers skip the detailed rules.
//
// The rules follow how people, and the Loghub-2.0 annotation rules, write
// templates, so that masked tokens can serve as template text directly:
//
//   - Whole values that punctuation would cut are recognised first: UUIDs,
//     MAC and IPv6 addresses, e-mail addresses, host names with digits,
//     ISO timestamps, drive-letter paths, and URLs (the scheme is kept:
//     "hdfs://<*>").
//   - The token is then split at strong delimiters (, ! ; : = | " ' [ ] ( )
//     { }) into segments. A segment is one variable when it is a path
//     (/abs, \unc, ./rel, a/b/c, pkg.name/.Class), a host name with digits
//     (msra-sa-41, cp-1.vm1.example.us), a host before ":port", or the
//     value of key=value that holds a variable or a digit ("steps=<*>").
//   - Other segments are split at the Loghub delimiters . - + @ # $ % &
//     into words. A word with a value in it is one variable ("17>",
//     "rdd_2_0", "blk_-42"), except around a '/' ("4K/8K" -> "<*>/<*>").
//     A value starts with a digit (numbers, hex, 10KB, 50ms), is a signed
//     number, v<digits>, a long hex word, a literal (true, false, null) or a
//     default account name (root, admin).
//   - Variables separated by nothing or by a single "." are one variable
//     (an IPv4 address, a decimal number, a version): "<*>.<*>" is "<*>".
//   - Month and day names before a time of day are variables too (see
//     scratch.dates), and a token that holds a literal "<*>" is one.
//
// So "10.251.73.220:50010" masks to "<*>:<*>", "core.2275" to "core.<*>",
// "uid=0" to "uid=<*>", "node-12" to "node-<*>" and "3)." to "<*>).".

// Byte classes.
const (
	cDigit  = 1 << iota // 0-9
	cLetter             // A-Z a-z and every byte >= 0x80 (UTF-8 text)
	cHex                // 0-9 A-F a-f
	cStrong             // strong delimiter: , ! ; : = | " ' [ ] ( ) { }
	cPunct              // any other ASCII punctuation except '_'
	cSplit              // the Loghub-2.0 token delimiters . - + @ # $ % &
	cSpace              // ASCII white space
)

var class [256]uint8

func init() {
	for c := 0; c < 256; c++ {
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			class[c] = cSpace
		case c >= '0' && c <= '9':
			class[c] = cDigit | cHex
		case c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			class[c] = cLetter | cHex
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= 0x80:
			class[c] = cLetter
		case c == '_':
			// A word character: snake_case identifiers stay one piece.
		case strings.IndexByte(",!;:=|\"'[](){}", byte(c)) >= 0:
			class[c] = cStrong
		case strings.IndexByte(".-+@#$%&", byte(c)) >= 0:
			class[c] = cPunct | cSplit
		case c > ' ' && c < 0x7f:
			class[c] = cPunct
		}
	}
}

func isDigit(c byte) bool  { return class[c]&cDigit != 0 }
func isLetter(c byte) bool { return class[c]&cLetter != 0 }
func isAlnum(c byte) bool  { return class[c]&(cDigit|cLetter) != 0 }
func isHex(c byte) bool    { return class[c]&cHex != 0 }

// isWord reports whether c belongs inside a word (letters, digits, '_').
func isWord(c byte) bool { return class[c]&(cDigit|cLetter) != 0 || c == '_' }

// span is a variable's byte range in the message.
type span struct{ start, end int32 }

// token is one whitespace-separated token of a message and its mask.
type token struct {
	off        int32 // the token is msg[off:end] (no pointers: the token
	end        int32 // slice of a pooled scratch costs the GC nothing)
	mStart     int32 // masked form: scratch.buf[mStart:mEnd]
	mEnd       int32
	sStart     int32 // variables: scratch.spans[sStart:sEnd]
	sEnd       int32
	hasVar     bool // the masked form holds at least one <*>
	allVar     bool // the masked form is exactly <*>
	informativ bool // carries constant text worth comparing (see informative)
	unit       bool // a unit of size or time after a number
}

// maskWriter appends one token's masked form to buf and its variables to
// spans, merging adjacent variables as it goes.
type maskWriter struct {
	buf   []byte
	spans []span
	// lastVar is len(buf) just after the last <*> written for the current
	// token, or -1.
	lastVar int
}

func (w *maskWriter) lit(s string) {
	w.buf = append(w.buf, s...)
}

// v writes a variable covering msg[start:end]. A variable right after
// another one, or after another one and a single '.', extends it.
func (w *maskWriter) v(start, end int) {
	n := len(w.buf)
	if w.lastVar >= 0 {
		if w.lastVar == n || (w.lastVar == n-1 && w.buf[n-1] == '.') {
			w.buf = w.buf[:w.lastVar]
			w.spans[len(w.spans)-1].end = int32(end)
			return
		}
	}
	w.buf = append(w.buf, "<*>"...)
	w.spans = append(w.spans, span{int32(start), int32(end)})
	w.lastVar = len(w.buf)
}

// What a first pass over a token found (see scanToken).
const (
	tDigit   = 1 << iota // a digit
	tSpecial             // punctuation other than simplePunct
	tLess                // a '<': the token may hold a literal "<*>"
	tValue               // a letter run that is a value word or long hex
)

// scanClass maps a byte to what scanToken adds to its flags, or to
// sLetter or sSpace.
var scanClass [256]uint8

const (
	sLetter = 0x80
	sSpace  = 0x40
)

func init() {
	for c := 0; c < 256; c++ {
		k := class[c]
		switch {
		case k&cLetter != 0:
			scanClass[c] = sLetter
		case k&cSpace != 0:
			scanClass[c] = sSpace
		case k&cDigit != 0:
			scanClass[c] = tDigit
		case c == '<':
			scanClass[c] = tSpecial | tLess
		case strings.IndexByte(".,:-()[]'\"_=;", byte(c)) >= 0:
			// Punctuation that cannot make a letters-only token variable.
		default:
			scanClass[c] = tSpecial
		}
	}
}

// scanToken finds the end of the token that starts at msg[i] (the next
// white space) and classifies it in the same pass, so that the common
// tokens (words and plain numbers) skip the detailed rules.
func scanToken(msg string, i int) (end int, f uint8) {
	run := 0
	j := i
	for ; j < len(msg); j++ {
		k := scanClass[msg[j]]
		if k == sLetter {
			run++
			continue
		}
		if k == sSpace {
			break
		}
		if run > 3 && runValue(msg[j-run:j]) {
			f |= tValue
		}
		run = 0
		f |= k
	}
	if run > 3 && runValue(msg[j-run:j]) {
		f |= tValue
	}
	return j, f
}

// runValue reports whether a run of letters is a value word or a long hex
// word.
func runValue(w string) bool {
	n := len(w)
	return (n == 4 || n == 5) && valueWord(w) || n >= 8 && hexWord(w, false)
}

// maskToken masks raw, which starts at byte off of the message.
// f is what scanToken found.
func (w *maskWriter) maskToken(raw string, off int, f uint8) {
	w.lastVar = -1
	switch {
	case f == 0:
		w.lit(raw)
		return
	case f == tDigit && allDigits(raw):
		w.v(off, off+len(raw))
		return
	case f&tLess != 0 && strings.Contains(raw, "<*>"):
		// A literal wildcard in the input would be indistinguishable from a
		// parameter in the template: make the whole token one.
		w.v(off, off+len(raw))
		return
	}
	if f&(tDigit|tSpecial) != 0 {
		lo, hi := trimPunct(raw)
		core := raw[lo:hi]
		if lo < hi && wholeVariable(core) {
			w.lit(raw[:lo])
			w.v(off+lo, off+hi)
			w.lit(raw[hi:])
			return
		}
		if f&tSpecial != 0 && w.url(raw, core, lo, hi, off) {
			return
		}
	}
	w.segments(raw, off)
}

// url masks a token holding scheme://rest and reports whether it did. The
// scheme is kept ("hdfs://<*>"); an address without digits (a
// documentation link) stays whole.
func (w *maskWriter) url(raw, core string, lo, hi, off int) bool {
	i := strings.Index(core, "://")
	if i <= 0 {
		return false
	}
	k := i
	for k > 0 && (isAlnum(core[k-1]) || core[k-1] == '+' || core[k-1] == '-' || core[k-1] == '.') {
		k--
	}
	if k == i || !isLetter(core[k]) {
		return false
	}
	if hasDigit(core[i+3:]) {
		w.lit(raw[:lo+i+3])
		w.v(off+lo+i+3, off+hi)
		w.lit(raw[hi:])
	} else {
		w.lit(raw)
	}
	return true
}

// segments masks raw piece by piece, splitting at strong delimiters first.
func (w *maskWriter) segments(raw string, off int) {
	i := 0
	for i < len(raw) {
		c := raw[i]
		if class[c]&cStrong != 0 {
			w.buf = append(w.buf, c)
			i++
			continue
		}
		j := i
		for j < len(raw) && class[raw[j]]&cStrong == 0 {
			j++
		}
		if i > 0 && raw[i-1] == '=' {
			// The value of key=value: one parameter if any part of it is
			// one, or if it holds a digit ("steps=1514038440000##6993" ->
			// "steps=<*>", "mc=e08x" -> "mc=<*>").
			n, k, last := len(w.buf), len(w.spans), w.lastVar
			w.segment(raw[i:j], off+i)
			if len(w.spans) > k || hasDigit(raw[i:j]) {
				w.buf, w.spans, w.lastVar = w.buf[:n], w.spans[:k], last
				w.v(off+i, off+j)
			}
		} else if j < len(raw) && raw[j] == ':' && portFollows(raw[j+1:]) && isHostName(raw[i:j]) {
			// host:port, the host spelt without digits
			// (proxy.example.com:5070).
			w.v(off+i, off+j)
		} else {
			w.segment(raw[i:j], off+i)
		}
		i = j
	}
}

// segment masks a part of a token between strong delimiters.
func (w *maskWriter) segment(seg string, off int) {
	slash, dash, dot, digit, path := -1, false, false, false, false
	for i := 0; i < len(seg); i++ {
		switch c := seg[i]; {
		case isDigit(c):
			digit = true
		case c == '/':
			slash, path = i, true
		case c == '\\':
			path = true
		case c == '-':
			dash = true
		case c == '.':
			dot = true
		}
	}
	if slash > 0 && digit && seg[0] != '/' && isIPv4(seg[slash+1:]) {
		// Java's host/address form: msra-sa-41/10.190.173.170.
		w.segment(seg[:slash], off)
		w.buf = append(w.buf, '/')
		w.v(off+slash+1, off+len(seg))
		return
	}
	switch {
	case path && isPath(seg):
		w.v(off, off+len(seg))
	case digit && dash && seg[0] != '-' && isHostWithDigit(seg, 2, 0):
		// A host name such as msra-sa-41.
		w.v(off, off+len(seg))
	case digit && dot && seg[0] != '.' && isHostWithDigit(seg, 0, 2):
		w.v(off, off+len(seg))
	default:
		w.pieces(seg, off)
	}
}

// pieces masks a segment without strong delimiters. It splits it at the
// Loghub-2.0 token delimiters (. - + @ # $ % &); each part is a "word".
func (w *maskWriter) pieces(seg string, off int) {
	i := 0
	for i < len(seg) {
		c := seg[i]
		if class[c]&cSplit != 0 && !signAt(seg, i) {
			w.buf = append(w.buf, c)
			i++
			continue
		}
		start := i
		i++
		for i < len(seg) && (class[seg[i]]&cSplit == 0 || signAt(seg, i)) {
			i++
		}
		w.word(seg[start:i], off+start)
	}
}

// signAt reports whether seg[i] is the sign of a number: '-' or '+' before
// a digit and after something that is not alphanumeric (so "-17" and
// "blk_-42" are signed but "node-12" is not).
func signAt(seg string, i int) bool {
	c := seg[i]
	return (c == '-' || c == '+') && i+1 < len(seg) && isDigit(seg[i+1]) && (i == 0 || !isAlnum(seg[i-1]))
}

// word masks a part between Loghub delimiters. It may still hold other
// punctuation (/ < > * ~ ...), which splits it into bits for the value
// rules. As in the Loghub-2.0 templates, a word with a value in it is one
// parameter ("17>" -> "<*>"), unless it holds a '/' ("4K/8K" -> "<*>/<*>").
func (w *maskWriter) word(p string, off int) {
	anyVar, slash := false, false
	for i := 0; i < len(p); {
		j := bitEnd(p, i)
		if j == i {
			slash = slash || p[i] == '/'
			i++
			continue
		}
		if bitVariable(p[i:j]) {
			anyVar = true
		}
		i = j
	}
	switch {
	case !anyVar:
		w.lit(p)
	case !slash:
		w.v(off, off+len(p))
	default:
		for i := 0; i < len(p); {
			j := bitEnd(p, i)
			if j == i {
				w.buf = append(w.buf, p[i])
				i++
				continue
			}
			if bitVariable(p[i:j]) {
				w.v(off+i, off+j)
			} else {
				w.lit(p[i:j])
			}
			i = j
		}
	}
}

// bitEnd returns the end of the bit (letters, digits, '_', a leading sign
// and signs after '_') that starts at i, or i if p[i] is punctuation.
func bitEnd(p string, i int) int {
	j := i
	if signAt(p, j) {
		j++
	}
	for j < len(p) {
		d := p[j]
		if isWord(d) || (j > i && p[j-1] == '_' && signAt(p, j)) {
			j++
			continue
		}
		break
	}
	return j
}

// bitVariable reports whether a bit is a value: it is one by the rules of
// partVariable, is a value word (true, false, null and the default user
// names the Loghub-2.0 rules treat as values), or holds a numeric part
// between underscores (rdd_2_0, blk_-42, task_201706_0024).
func bitVariable(p string) bool {
	if partVariable(p) || valueWord(p) {
		return true
	}
	if strings.IndexByte(p, '_') < 0 {
		return false
	}
	for p != "" {
		k := strings.IndexByte(p, '_')
		part := p
		if k >= 0 {
			part, p = p[:k], p[k+1:]
		} else {
			p = ""
		}
		if partVariable(part) {
			return true
		}
	}
	return false
}

// partVariable applies the shape rules to a bit or a part of one: it starts
// with a digit (numbers, hex, 10KB, 50ms, 2b00), is a signed number, is
// v<digits> (a version), or is a long hex word.
func partVariable(p string) bool {
	if p == "" {
		return false
	}
	c := p[0]
	if isDigit(c) {
		return true
	}
	if (c == '-' || c == '+') && len(p) > 1 && isDigit(p[1]) {
		return true
	}
	if (c == 'v' || c == 'V') && len(p) > 1 && allDigits(p[1:]) {
		return true
	}
	return len(p) >= 6 && hexWord(p, len(p) < 8)
}
