package ndjson

import (
	"fmt"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner reads JSON from a byte slice in place, without building a tree.
// Strings are located as spans and only copied out, and unescaped only when
// they contain a backslash, when the caller keeps them. It accepts exactly
// the documents encoding/json accepts, and decodes strings as it does
// (invalid UTF-8 and lone surrogates become U+FFFD). It is the scanner of
// package loki (which fuzzes it against encoding/json), kept in step by
// hand: the two packages share no internal package to hold it.
type scanner struct {
	b []byte
	i int
	// stack and buf are scratch for skip and unescape.
	stack []byte
	buf   []byte
}

// syntaxError is a JSON syntax error. A line that has one is not JSON,
// and is kept as a plain line.
type syntaxError struct {
	msg string
	off int
}

func (e *syntaxError) Error() string { return fmt.Sprintf("json: %s at offset %d", e.msg, e.off) }

func (s *scanner) fail(msg string) error { return &syntaxError{msg, s.i} }

// span is a string's content between its quotes.
type span struct {
	start, end int
	flags      uint8
}

const (
	spanEscaped uint8 = 1 << iota // contains a backslash
	spanHigh                      // contains a byte >= 0x80
)

// strClass: 0 plain, 1 quote, 2 backslash, 3 control, 4 high bit.
var strClass = func() (t [256]uint8) {
	for c := 0; c < 0x20; c++ {
		t[c] = 3
	}
	t['"'], t['\\'] = 1, 2
	for c := 0x80; c < 0x100; c++ {
		t[c] = 4
	}
	return t
}()

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// str reads a string at s.i (which holds '"').
func (s *scanner) str() (span, error) {
	b := s.b
	i := s.i + 1
	sp := span{start: i}
	for {
		for i < len(b) && strClass[b[i]] == 0 {
			i++
		}
		if i >= len(b) {
			s.i = i
			return sp, s.fail("unterminated string")
		}
		switch strClass[b[i]] {
		case 1:
			sp.end = i
			s.i = i + 1
			return sp, nil
		case 2:
			sp.flags |= spanEscaped
			if i+1 >= len(b) {
				s.i = i
				return sp, s.fail("unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex4(b[i+2:i+6]) {
					s.i = i
					return sp, s.fail("bad \\u escape")
				}
				i += 6
			default:
				s.i = i
				return sp, s.fail("bad escape")
			}
		case 3:
			s.i = i
			return sp, s.fail("control character in string")
		case 4:
			sp.flags |= spanHigh
			i++
		}
	}
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// bytes returns a span's decoded content. The result aliases the input when
// the span needs no decoding, else s.buf: it is valid until the next call.
func (s *scanner) bytes(sp span) []byte {
	raw := s.b[sp.start:sp.end]
	if sp.flags == 0 || (sp.flags == spanHigh && utf8.Valid(raw)) {
		return raw
	}
	s.buf = unescape(s.buf[:0], raw)
	return s.buf
}

// string returns a span's decoded content as a new string.
func (s *scanner) string(sp span) string { return string(s.bytes(sp)) }

// unescape appends the decoded content of a valid JSON string body to dst,
// exactly as encoding/json decodes it.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			switch raw[i+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(raw[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
						if d := utf16.DecodeRune(r, hex4(raw[i+2:])); d != unicode.ReplacementChar {
							dst = utf8.AppendRune(dst, d)
							i += 6
							continue
						}
					}
					r = unicode.ReplacementChar
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, raw[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n == 1 {
				dst = utf8.AppendRune(dst, unicode.ReplacementChar)
			} else {
				dst = append(dst, raw[i:i+n]...)
			}
			i += n
		}
	}
	return dst
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// number reads a JSON number at s.i and reports whether it is an integer
// (no fraction, no exponent).
func (s *scanner) number() (start int, integer bool, err error) {
	b := s.b
	i := s.i
	start = i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		s.i = i
		return start, false, s.fail("bad number")
	}
	integer = true
	if i < len(b) && b[i] == '.' {
		integer = false
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			s.i = i
			return start, false, s.fail("bad number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		integer = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			s.i = i
			return start, false, s.fail("bad number")
		}
	}
	s.i = i
	return start, integer, nil
}

func (s *scanner) literal(word string) error {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return s.fail("bad literal")
	}
	s.i += len(word)
	return nil
}

// scalar reads a string, number or literal at s.i.
func (s *scanner) scalar(c byte) error {
	switch {
	case c == '"':
		_, err := s.str()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		_, _, err := s.number()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.fail("expected a value")
}

// maxDepth is encoding/json's nesting limit, kept so that both accept the
// same documents.
const maxDepth = 10000

// skip reads and validates one value of any kind, found inside depth
// containers. It keeps its own stack instead of recursing, so deep nesting
// costs heap, not goroutine stack.
func (s *scanner) skip(depth int) error {
	stack := s.stack[:0]
	defer func() { s.stack = stack[:0] }()
	for {
		// A value is expected here.
		c := s.peek()
		switch c {
		case '{', '[':
			if depth+len(stack)+1 > maxDepth {
				return s.fail("exceeded max depth")
			}
			s.i++
			closer := byte('}')
			if c == '[' {
				closer = ']'
			}
			if s.peek() == closer {
				s.i++
				break
			}
			stack = append(stack, closer)
			if c == '{' {
				if err := s.memberKey(); err != nil {
					return err
				}
			}
			continue
		default:
			if err := s.scalar(c); err != nil {
				return err
			}
		}
		// A value ended: close containers until one continues.
		for {
			if len(stack) == 0 {
				return nil
			}
			c := s.peek()
			top := stack[len(stack)-1]
			if c == ',' {
				s.i++
				if top == '}' {
					if err := s.memberKey(); err != nil {
						return err
					}
				}
				break
			}
			if c != top {
				return s.fail("expected ',' or '" + string(top) + "'")
			}
			s.i++
			stack = stack[:len(stack)-1]
		}
	}
}

// memberKey reads `"key" :`.
func (s *scanner) memberKey() error {
	_, err := s.key()
	return err
}

func (s *scanner) key() (span, error) {
	if s.peek() != '"' {
		return span{}, s.fail("expected a string key")
	}
	sp, err := s.str()
	if err != nil {
		return sp, err
	}
	if s.peek() != ':' {
		return sp, s.fail("expected ':'")
	}
	s.i++
	return sp, nil
}

// next moves past ',' to the next element or member of a container whose
// first element was read, or past the closer (returning false).
func (s *scanner) next(closer byte) (bool, error) {
	switch s.peek() {
	case ',':
		s.i++
		return true, nil
	case closer:
		s.i++
		return false, nil
	}
	return false, s.fail("expected ',' or '" + string(closer) + "'")
}

// open consumes opener and reports whether the container has a first
// element (false when it is empty and was consumed whole).
func (s *scanner) open(opener, closer byte) (bool, error) {
	if s.peek() != opener {
		return false, s.fail("expected '" + string(opener) + "'")
	}
	s.i++
	if s.peek() == closer {
		s.i++
		return false, nil
	}
	return true, nil
}

// end checks that only whitespace follows the document.
func (s *scanner) end() error {
	if s.ws(); s.i < len(s.b) {
		return s.fail("unexpected data after the document")
	}
	return nil
}
