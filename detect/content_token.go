package detect

import (
	"strconv"
	"strings"
)

// ctNextToken returns the next whitespace-separated token of s at or after
// i and the index just past it; tok is empty at the end. It does not
// allocate, which matters because it runs on every token of every line.
func ctNextToken(s string, i int) (tok string, next int) {
	for i < len(s) && ctSpace(s[i]) {
		i++
	}
	j := i
	for j < len(s) && !ctSpace(s[j]) {
		j++
	}
	return s[i:j], j
}

func ctSpace(c byte) bool { return ctSpaceTab[c] }

var ctSpaceTab = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

func ctDigit(c byte) bool { return c >= '0' && c <= '9' }

// ctTok is one whitespace-separated token of a message and what ctNumber
// makes of it.
type ctTok struct {
	tok, prefix, unit string
	v                 float64
	num               bool
}

// ctCut appends the tokens of msg to buf, each read by ctNumber, or
// returns nil if they do not fit in its capacity. It lets the content
// detector and the log metrics share one cut of a message.
func ctCut(msg string, buf []ctTok) []ctTok {
	// ctNextToken inlined, noting on the way whether a token holds a
	// digit: most tokens are words, which ctNumber would only scan again
	// to find none.
	for i := 0; ; {
		for i < len(msg) && ctClass[msg[i]] == ctClassSpace {
			i++
		}
		if i == len(msg) {
			return buf
		}
		j, classes := i, uint8(0)
		for j < len(msg) && ctClass[msg[j]] != ctClassSpace {
			classes |= ctClass[msg[j]]
			j++
		}
		if len(buf) == cap(buf) {
			return nil
		}
		// Filled in place: a ctTok is 64 bytes, not worth building
		// aside and copying in.
		buf = buf[:len(buf)+1]
		t := &buf[len(buf)-1]
		t.tok = msg[i:j]
		if classes&ctClassDigit != 0 {
			t.prefix, t.v, t.unit, t.num = ctNumber(t.tok)
		} else {
			t.prefix, t.v, t.unit, t.num = "", 0, "", false // what ctNumber says of a word
		}
		i = j
	}
}

// Byte classes for ctCut: ctSpace's whitespace and ctDigit's digits.
const (
	ctClassSpace = 1
	ctClassDigit = 2
)

var ctClass = func() (c [256]uint8) {
	for b := range c {
		switch {
		case ctSpace(byte(b)):
			c[b] = ctClassSpace
		case ctDigit(byte(b)):
			c[b] = ctClassDigit
		}
	}
	return c
}()

// ctTokens appends the whitespace-separated tokens of s to buf, or
// returns nil if they do not fit in its capacity.
func ctTokens(s string, buf []string) []string {
	for i := 0; ; {
		tok, next := ctNextToken(s, i)
		if tok == "" {
			return buf
		}
		if len(buf) == cap(buf) {
			return nil
		}
		buf = append(buf, tok)
		i = next
	}
}

// ctCountTokens counts the whitespace-separated tokens of s.
func ctCountTokens(s string) int {
	n := 0
	for i := 0; ; {
		tok, next := ctNextToken(s, i)
		if tok == "" {
			return n
		}
		n++
		i = next
	}
}

// ctNumber splits a token of the shape prefix·number·unit ("took=35ms",
// "50000ms", "latency:0.2s", "(12)") into its parts. A token with more than
// one run of digits (an IP address, a date, a hex id) is not a number.
func ctNumber(tok string) (prefix string, v float64, unit string, ok bool) {
	i := 0
	for i < len(tok) && !ctDigit(tok[i]) {
		i++
	}
	if i == len(tok) {
		return "", 0, "", false
	}
	start := i
	if start > 0 && tok[start-1] == '-' && (start == 1 || !ctAlnum(tok[start-2])) {
		start--
	}
	// The mantissa is read along with the digits, so that the common
	// case needs no second pass (see ctParseFloat).
	j := i
	var m uint64
	for j < len(tok) && ctDigit(tok[j]) {
		m = m*10 + uint64(tok[j]-'0')
		j++
	}
	frac := 0
	if j+1 < len(tok) && tok[j] == '.' && ctDigit(tok[j+1]) {
		j++
		k := j
		for j < len(tok) && ctDigit(tok[j]) {
			m = m*10 + uint64(tok[j]-'0')
			j++
		}
		frac = j - k
	}
	// The prefix must not end in a letter glued to the number (v2, sha256)
	// and the rest must hold no further digits.
	if start > 0 && ctLetter(tok[start-1]) {
		return "", 0, "", false
	}
	rest := tok[j:]
	for k := 0; k < len(rest); k++ {
		if ctDigit(rest[k]) {
			return "", 0, "", false
		}
	}
	// Trailing punctuation is not part of the unit.
	e := len(rest)
	for e > 0 && !ctLetter(rest[e-1]) && rest[e-1] != '%' {
		e--
	}
	rest = rest[:e]
	for k := 0; k < len(rest); k++ {
		if !ctLetter(rest[k]) && rest[k] != '%' && rest[k] != '/' {
			return "", 0, "", false
		}
	}
	var f float64
	if nd := j - i - min(frac, 1); start == i && nd <= 15 {
		// ctParseFloat's fast path, on the mantissa read above.
		f = float64(m)
		if frac > 0 {
			f /= ctPow10[frac]
		}
	} else if f, ok = ctParseFloat(tok[start:j]); !ok {
		return "", 0, "", false
	}
	return tok[:start], f, rest, true
}

// ctPow10 holds the powers of ten that float64 represents exactly.
var ctPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// ctParseFloat is strconv.ParseFloat for the digits[.digits] that ctNumber
// cuts out. When the mantissa has at most 15 digits, it is exact in a
// float64 and so is the power of ten, so one division gives the correctly
// rounded value, the same one ParseFloat returns; anything else goes to
// ParseFloat.
func ctParseFloat(s string) (float64, bool) {
	var m uint64
	nd, frac, dot := 0, 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			nd++
			if dot {
				frac++
			}
		case c == '.' && !dot:
			dot = true
		default:
			nd = 100 // a sign or anything else: the slow path
		}
	}
	if nd == 0 || nd > 15 || frac >= len(ctPow10) {
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil
	}
	f := float64(m)
	if frac > 0 {
		f /= ctPow10[frac]
	}
	return f, true
}

func ctLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 }
func ctAlnum(c byte) bool  { return ctLetter(c) || ctDigit(c) }

// ctDurationSeconds converts v in unit to seconds; ok is false for units
// that are not durations.
func ctDurationSeconds(v float64, unit string) (float64, bool) {
	switch unit {
	case "ns":
		return v / 1e9, true
	case "us", "µs", "μs":
		return v / 1e6, true
	case "ms", "msec", "millis":
		return v / 1e3, true
	case "s", "sec", "secs", "seconds":
		return v, true
	}
	return 0, false
}

// ctDurationKey reports whether a field name or token prefix names a
// duration, and the unit a bare number in it is in.
func ctDurationKey(key string) (unit string, ok bool) {
	k := key
	for len(k) > 0 && !ctLetter(k[len(k)-1]) {
		k = k[:len(k)-1]
	}
	var buf [32]byte
	n := min(len(k), len(buf))
	for i := 0; i < n; i++ {
		c := k[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	s := string(buf[:n])
	if !(s == "rt" || ctContainsDurationWord(s)) {
		return "", false
	}
	unit = "s"
	switch {
	case ctHasSuffix(s, "_ms") || ctHasSuffix(s, "millis") || ctHasSuffix(s, "ms") && len(s) > 2 && s[len(s)-3] != 'm':
		unit = "ms"
	case ctHasSuffix(s, "_us"):
		unit = "us"
	case ctHasSuffix(s, "_ns"):
		unit = "ns"
	}
	return unit, true
}

// ctContainsDurationWord reports whether s holds one of the words that
// make a name a duration ("upstream_response_time" holds "response_time").
func ctContainsDurationWord(s string) bool {
	// One pass, trying at each byte only the words that start with it,
	// rather than a strings.Contains pass per word: this runs for every
	// number with a prefix ("status=200") of every line.
	for i := 0; i < len(s); i++ {
		var w1, w2 string
		switch s[i] {
		case 'd':
			w1 = "duration"
		case 'l':
			w1 = "latency"
		case 'e':
			w1 = "elapsed"
		case 't':
			w1 = "took"
		case 'r':
			w1, w2 = "request_time", "response_time"
		default:
			continue
		}
		if strings.HasPrefix(s[i:], w1) || w2 != "" && strings.HasPrefix(s[i:], w2) {
			return true
		}
	}
	return false
}

func ctHasSuffix(s, suf string) bool { return len(s) >= len(suf) && s[len(s)-len(suf):] == suf }

// ctLineDuration returns the largest duration (in seconds) a line states,
// from its message tokens ("took 35ms", "in 0.2s") or its fields
// ("duration_ms=35", "request_time=0.035"). The largest, because a line
// that lists parts and a total ("db=3ms total=35ms") means the total.
func ctLineDuration(msg string, fields map[string]string) (float64, bool) {
	return ctLineDurationKeys(msg, fields, nil)
}

// ctLineDurationKeys is ctLineDuration with the duration keys looked up
// in keys, when not nil.
func ctLineDurationKeys(msg string, fields map[string]string, keys *ctDurationKeys) (float64, bool) {
	best, found := 0.0, false
	for i := 0; ; {
		tok, next := ctNextToken(msg, i)
		if tok == "" {
			break
		}
		i = next
		prefix, v, unit, ok := ctNumber(tok)
		if !ok {
			continue
		}
		if sec, ok := ctTokDuration(prefix, v, unit, keys); ok && sec >= 0 && (!found || sec > best) {
			best, found = sec, true
		}
	}
	return ctFieldsDuration(best, found, fields, keys)
}

// ctLineDurationToks is ctLineDurationKeys for a message already cut.
func ctLineDurationToks(toks []ctTok, fields map[string]string, keys *ctDurationKeys) (float64, bool) {
	best, found := 0.0, false
	for i := range toks {
		t := &toks[i]
		if !t.num {
			continue
		}
		if sec, ok := ctTokDuration(t.prefix, t.v, t.unit, keys); ok && sec >= 0 && (!found || sec > best) {
			best, found = sec, true
		}
	}
	return ctFieldsDuration(best, found, fields, keys)
}

// ctTokDuration is the duration in seconds of a token that ctNumber read
// as prefix, v, unit.
func ctTokDuration(prefix string, v float64, unit string, keys *ctDurationKeys) (float64, bool) {
	sec, ok := ctDurationSeconds(v, unit)
	if !ok && unit == "" && prefix != "" {
		if u, isDur := keys.lookup(prefix); isDur {
			sec, ok = ctDurationSeconds(v, u)
		}
	}
	return sec, ok
}

// ctFieldsDuration goes on from the largest duration of the message, best
// (if found), with the durations of the fields.
func ctFieldsDuration(best float64, found bool, fields map[string]string, keys *ctDurationKeys) (float64, bool) {
	for k, val := range fields {
		u, isDur := keys.lookup(k)
		if !isDur {
			continue
		}
		_, v, unit, ok := ctNumber(val)
		if !ok {
			continue
		}
		if unit == "" {
			unit = u
		}
		if sec, ok := ctDurationSeconds(v, unit); ok && sec >= 0 && (!found || sec > best) {
			best, found = sec, true
		}
	}
	return best, found
}

// ctDurationKeys remembers recent answers of ctDurationKey. The keys it is
// asked about are the field names and token prefixes of a few templates
// ("status=", "path=/items/"), the same line after line, and comparing a
// key with the one remembered costs less than lower-casing it and looking
// for six words in it. It is a small direct-mapped table: a colliding key
// takes the slot over, so it holds on to at most 64 keys. A nil table
// remembers nothing.
type ctDurationKeys struct {
	e [64]struct {
		key, unit string
		ok, set   bool
	}
}

func (c *ctDurationKeys) lookup(key string) (unit string, ok bool) {
	if c == nil || key == "" {
		return ctDurationKey(key)
	}
	e := &c.e[(uint(len(key))*31+uint(key[0])*7+uint(key[len(key)-1]))%uint(len(c.e))]
	if !e.set || e.key != key {
		e.unit, e.ok = ctDurationKey(key)
		e.key, e.set = key, true
	}
	return e.unit, e.ok
}
