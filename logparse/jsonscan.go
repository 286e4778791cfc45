package logparse

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A hand-written JSON scanner, because encoding/json into map[string]any
// costs several microseconds and a dozen allocations per line, and we only
// need strings out: keys and values are substrings of the line unless they
// hold escapes, and only dotted keys of nested objects are built.
//
// It is not internal/jsonscan, the receivers' scanner, on purpose. That one
// accepts exactly what encoding/json accepts, as a wire protocol needs;
// this one is lenient where log writers are sloppy: raw control characters
// in strings, loose numbers (05, +1, 1.2.3), and escapes not checked
// inside values kept raw. Those are the very lines the NDJSON receiver
// hands on as plain lines for us to read, and here they keep their fields
// and level (TestLenientJSON). On BenchmarkParse's JSON lines jsonscan
// measured about 10% faster (cpu-ns/op), so speed is not the reason:
// switching means deciding to drop the leniency.

// valKind tells how a value was written, which the well-known key mapping
// needs (a level may be "warn" or 40, a time "2024-.." or 1.7e9).
type valKind uint8

const (
	kindString valKind = iota + 1
	kindNumber
	kindBool
	kindNull
	kindRaw // an array, or an object nested deeper than maxJSONDepth, kept as JSON text
)

// kv is one extracted field.
type kv struct {
	key, val string
	kind     valKind
}

// maxJSONDepth bounds recursion on hostile input; deeper objects are kept as
// raw JSON text under their dotted key.
const maxJSONDepth = 16

// maxSkipDepth bounds the recursion of skip, which walks values kept raw.
const maxSkipDepth = 256

type jsonScanner struct {
	s         string
	i         int
	out       []kv
	maxFields int
	dropped   int
}

func (sc *jsonScanner) ws() {
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

func (sc *jsonScanner) add(key, val string, kind valKind) {
	if len(sc.out) >= sc.maxFields {
		sc.dropped++
		return
	}
	sc.out = append(sc.out, kv{key: key, val: val, kind: kind})
}

// object scans an object at sc.i, flattening members under prefix.
func (sc *jsonScanner) object(prefix string, depth int) bool {
	if sc.i >= len(sc.s) || sc.s[sc.i] != '{' {
		return false
	}
	sc.i++
	sc.ws()
	if sc.i < len(sc.s) && sc.s[sc.i] == '}' {
		sc.i++
		return true
	}
	for {
		sc.ws()
		key, ok := sc.str()
		if !ok {
			return false
		}
		if prefix != "" {
			key = prefix + "." + key
		}
		sc.ws()
		if sc.i >= len(sc.s) || sc.s[sc.i] != ':' {
			return false
		}
		sc.i++
		sc.ws()
		if sc.i >= len(sc.s) {
			return false
		}
		switch c := sc.s[sc.i]; {
		case c == '"':
			v, ok := sc.str()
			if !ok {
				return false
			}
			sc.add(key, v, kindString)
		case c == '{' && depth < maxJSONDepth:
			if !sc.object(key, depth+1) {
				return false
			}
		case c == '{' || c == '[':
			start := sc.i
			if !sc.skip(0) {
				return false
			}
			sc.add(key, sc.s[start:sc.i], kindRaw)
		default:
			start := sc.i
			kind, ok := sc.scalar()
			if !ok {
				return false
			}
			sc.add(key, sc.s[start:sc.i], kind)
		}
		sc.ws()
		if sc.i >= len(sc.s) {
			return false
		}
		switch sc.s[sc.i] {
		case ',':
			sc.i++
		case '}':
			sc.i++
			return true
		default:
			return false
		}
	}
}

// scalar scans a number, true, false or null.
func (sc *jsonScanner) scalar() (valKind, bool) {
	s, i := sc.s, sc.i
	switch s[i] {
	case 't':
		if strings.HasPrefix(s[i:], "true") {
			sc.i += 4
			return kindBool, true
		}
	case 'f':
		if strings.HasPrefix(s[i:], "false") {
			sc.i += 5
			return kindBool, true
		}
	case 'n':
		if strings.HasPrefix(s[i:], "null") {
			sc.i += 4
			return kindNull, true
		}
	default:
		start := i
		if s[i] == '-' {
			i++
		}
		digits := 0
		for i < len(s) {
			c := s[i]
			if isDigit(c) {
				digits++
			} else if c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-' {
				break
			}
			i++
		}
		if digits == 0 || i == start {
			return 0, false
		}
		sc.i = i
		return kindNumber, true
	}
	return 0, false
}

// skip moves past any value, checking only what is needed to find its end.
func (sc *jsonScanner) skip(depth int) bool {
	if depth > maxSkipDepth {
		return false
	}
	sc.ws()
	if sc.i >= len(sc.s) {
		return false
	}
	switch sc.s[sc.i] {
	case '"':
		_, ok := sc.strEnd()
		return ok
	case '{', '[':
		closer := byte('}')
		if sc.s[sc.i] == '[' {
			closer = ']'
		}
		sc.i++
		sc.ws()
		if sc.i < len(sc.s) && sc.s[sc.i] == closer {
			sc.i++
			return true
		}
		for {
			if closer == '}' {
				sc.ws()
				if _, ok := sc.strEnd(); !ok {
					return false
				}
				sc.ws()
				if sc.i >= len(sc.s) || sc.s[sc.i] != ':' {
					return false
				}
				sc.i++
			}
			if !sc.skip(depth + 1) {
				return false
			}
			sc.ws()
			if sc.i >= len(sc.s) {
				return false
			}
			switch sc.s[sc.i] {
			case ',':
				sc.i++
			case closer:
				sc.i++
				return true
			default:
				return false
			}
		}
	default:
		_, ok := sc.scalar()
		return ok
	}
}

// strEnd moves past a string at sc.i and reports whether it holds escapes.
func (sc *jsonScanner) strEnd() (escaped, ok bool) {
	s := sc.s
	if sc.i >= len(s) || s[sc.i] != '"' {
		return false, false
	}
	i := sc.i + 1
	for {
		j := strings.IndexAny(s[i:], "\"\\")
		if j < 0 {
			return false, false
		}
		i += j
		if s[i] == '"' {
			sc.i = i + 1
			return escaped, true
		}
		escaped = true
		i += 2
		if i > len(s) {
			return false, false
		}
	}
}

// str scans a string at sc.i and returns its value.
func (sc *jsonScanner) str() (string, bool) {
	start := sc.i
	escaped, ok := sc.strEnd()
	if !ok {
		return "", false
	}
	body := sc.s[start+1 : sc.i-1]
	if !escaped {
		return body, true
	}
	return unescapeJSON(body)
}

// unescapeJSON decodes the escapes of a JSON string body.
func unescapeJSON(s string) (string, bool) {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		i++
		if i >= len(s) {
			return "", false
		}
		switch s[i] {
		case '"', '\\', '/':
			b = append(b, s[i])
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(s, i+1)
			if !ok {
				return "", false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(s, i+3); ok && i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", false
		}
	}
	return string(b), true
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for k := i; k < i+4; k++ {
		c := s[k]
		switch {
		case isDigit(c):
			r = r<<4 | rune(c-'0')
		case (c|0x20)-'a' < 6:
			r = r<<4 | rune((c|0x20)-'a'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// scanJSON scans a whole line holding one object. Trailing bytes other than
// whitespace make it not JSON.
func scanJSON(line string, out []kv, maxFields int) ([]kv, int, bool) {
	sc := jsonScanner{s: line, out: out, maxFields: maxFields}
	if !sc.object("", 0) {
		return sc.out, 0, false
	}
	sc.ws()
	return sc.out, sc.dropped, sc.i == len(line)
}
