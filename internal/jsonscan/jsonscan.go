// Package jsonscan reads JSON from a byte slice in place, without building
// a tree, for the receivers whose hot path is JSON (Loki push bodies,
// NDJSON lines). A caller walks the document with a Scanner, reading the
// parts it wants and skipping the rest.
//
// Its invariant: a Scanner accepts exactly the documents encoding/json
// accepts (nesting limit included), and decodes strings exactly as
// encoding/json does (invalid UTF-8 and lone surrogates become U+FFFD).
// The fuzz test holds it to encoding/json on both.
package jsonscan

import (
	"fmt"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Scanner reads one JSON document from a byte slice. Strings are located
// as Spans and copied out, and unescaped only when they contain a
// backslash, when the caller asks for them. Methods that read a value
// expect it at the current position, after optional whitespace; on a
// syntax error they return a *SyntaxError and leave the position where the
// error was found.
//
// The zero value scans an empty document; Reset gives it input. A Scanner
// is not safe for concurrent use.
type Scanner struct {
	b []byte
	i int
	// stack and buf are scratch for Skip and Bytes, kept across Reset.
	stack []byte
	buf   []byte
}

// Reset makes s scan b from its start. It keeps the scratch space of
// earlier documents, so a Scanner reused across documents does not
// allocate once warm.
func (s *Scanner) Reset(b []byte) {
	s.b, s.i = b, 0
	s.stack, s.buf = s.stack[:0], s.buf[:0]
}

// Pos returns the offset in the input of the next byte to read.
func (s *Scanner) Pos() int { return s.i }

// SyntaxError is a JSON syntax error: the document is not one that
// encoding/json would accept.
type SyntaxError struct {
	Msg    string // what is wrong, as a short phrase
	Offset int    // where in the input it was found
}

// Error returns "json: <Msg> at offset <Offset>".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("json: %s at offset %d", e.Msg, e.Offset)
}

func (s *Scanner) fail(msg string) error { return &SyntaxError{Msg: msg, Offset: s.i} }

// Span locates a string's content between its quotes: b[Start:End] of the
// input, before decoding.
type Span struct {
	Start, End int
	flags      uint8
}

const (
	spanEscaped uint8 = 1 << iota // contains a backslash
	spanHigh                      // contains a byte >= 0x80
)

// Empty reports whether the string is "", which needs no decoding to know.
func (sp Span) Empty() bool { return sp.End == sp.Start }

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

func (s *Scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// Peek skips whitespace and returns the next byte, or 0 at the end of the
// input. It tells callers which kind of value comes next.
func (s *Scanner) Peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// Str reads a string. The caller has seen '"' with Peek.
func (s *Scanner) Str() (Span, error) {
	b := s.b
	i := s.i + 1
	sp := Span{Start: i}
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
			sp.End = i
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

// Verbatim reports whether a string's raw bytes are its decoded content
// (no escapes, valid UTF-8), so that a caller holding the input as a
// string can cut the value from it instead of copying.
func (s *Scanner) Verbatim(sp Span) bool {
	return sp.flags == 0 || (sp.flags == spanHigh && utf8.Valid(s.b[sp.Start:sp.End]))
}

// Bytes returns a string's decoded content. The result aliases the input
// when the string needs no decoding, else scratch space of s: it is valid
// until the next call to Bytes or Text, and must not be modified.
func (s *Scanner) Bytes(sp Span) []byte {
	raw := s.b[sp.Start:sp.End]
	if s.Verbatim(sp) {
		return raw
	}
	s.buf = unescape(s.buf[:0], raw)
	return s.buf
}

// Text returns a string's decoded content as a new string.
func (s *Scanner) Text(sp Span) string { return string(s.Bytes(sp)) }

// Equal reports whether a string's decoded content is name, without
// allocating. Like Bytes, it may reuse the scratch space that a result of
// Bytes is in.
func (s *Scanner) Equal(sp Span, name string) bool {
	if sp.flags == 0 {
		return string(s.b[sp.Start:sp.End]) == name
	}
	return string(s.Bytes(sp)) == name
}

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

// Number reads a number and returns its text (aliasing the input), and
// whether it is an integer: no fraction, no exponent. The caller has seen
// '-' or a digit with Peek.
func (s *Scanner) Number() (text []byte, integer bool, err error) {
	b := s.b
	i := s.i
	start := i
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
		return nil, false, s.fail("bad number")
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
			return nil, false, s.fail("bad number")
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
			return nil, false, s.fail("bad number")
		}
	}
	s.i = i
	return b[start:i], integer, nil
}

// Literal reads word, one of true, false and null. The caller has seen its
// first letter with Peek.
func (s *Scanner) Literal(word string) error {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return s.fail("bad literal")
	}
	s.i += len(word)
	return nil
}

// scalar reads a string, number or literal starting with c.
func (s *Scanner) scalar(c byte) error {
	switch {
	case c == '"':
		_, err := s.Str()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		_, _, err := s.Number()
		return err
	case c == 't':
		return s.Literal("true")
	case c == 'f':
		return s.Literal("false")
	case c == 'n':
		return s.Literal("null")
	}
	return s.fail("expected a value")
}

// MaxDepth is encoding/json's nesting limit, kept so that both accept the
// same documents.
const MaxDepth = 10000

// Skip reads and validates one value of any kind, found inside depth
// containers (which count towards MaxDepth). It keeps its own stack
// instead of recursing, so deep nesting costs heap, not goroutine stack.
func (s *Scanner) Skip(depth int) error {
	stack := s.stack[:0]
	defer func() { s.stack = stack[:0] }()
	for {
		// A value is expected here.
		c := s.Peek()
		switch c {
		case '{', '[':
			if depth+len(stack)+1 > MaxDepth {
				return s.fail("exceeded max depth")
			}
			s.i++
			closer := byte('}')
			if c == '[' {
				closer = ']'
			}
			if s.Peek() == closer {
				s.i++
				break
			}
			stack = append(stack, closer)
			if c == '{' {
				if _, err := s.Key(); err != nil {
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
			c := s.Peek()
			top := stack[len(stack)-1]
			if c == ',' {
				s.i++
				if top == '}' {
					if _, err := s.Key(); err != nil {
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

// Key reads an object member's key and the ':' after it.
func (s *Scanner) Key() (Span, error) {
	if s.Peek() != '"' {
		return Span{}, s.fail("expected a string key")
	}
	sp, err := s.Str()
	if err != nil {
		return sp, err
	}
	if s.Peek() != ':' {
		return sp, s.fail("expected ':'")
	}
	s.i++
	return sp, nil
}

// Open reads opener ('{' or '[') and reports whether the container has a
// first member or element (false when it is empty, and was read up to and
// including closer).
func (s *Scanner) Open(opener, closer byte) (bool, error) {
	if s.Peek() != opener {
		return false, s.fail("expected '" + string(opener) + "'")
	}
	s.i++
	if s.Peek() == closer {
		s.i++
		return false, nil
	}
	return true, nil
}

// Next moves past the ',' before the next member or element of a
// container whose previous one was read, and reports true; or past closer
// at the container's end, and reports false.
func (s *Scanner) Next(closer byte) (bool, error) {
	switch s.Peek() {
	case ',':
		s.i++
		return true, nil
	case closer:
		s.i++
		return false, nil
	}
	return false, s.fail("expected ',' or '" + string(closer) + "'")
}

// End checks that only whitespace follows the document.
func (s *Scanner) End() error {
	if s.ws(); s.i < len(s.b) {
		return s.fail("unexpected data after the document")
	}
	return nil
}
