package jsonscan

import (
	"errors"
	"strings"
	"testing"
)

func TestSkipErrors(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	tests := []struct {
		name, doc string
		depth     int
		msg       string // "" for a valid document
		offset    int
	}{
		{name: "object", doc: `{"a":[1,-2.5e3,"x",true,false,null,{}]}`},
		{name: "whitespace", doc: " \t\r\n[ 1 , { \"a\" : 2 } ] \n"},
		{name: "as deep as encoding/json allows", doc: deep},
		{name: "deeper than encoding/json allows", doc: "[" + deep + "]", msg: "exceeded max depth", offset: MaxDepth},
		{name: "depth counts enclosing containers", doc: "[[]]", depth: MaxDepth - 1, msg: "exceeded max depth", offset: 1},
		{name: "empty", doc: "", msg: "expected a value"},
		{name: "blank", doc: "  ", msg: "expected a value", offset: 2},
		{name: "trailing data", doc: `{} x`, msg: "unexpected data after the document", offset: 3},
		{name: "two documents", doc: `{}{}`, msg: "unexpected data after the document", offset: 2},
		{name: "leading zero", doc: `[01]`, msg: "expected ',' or ']'", offset: 2},
		{name: "bare minus", doc: `[-]`, msg: "bad number", offset: 2},
		{name: "no fraction digits", doc: `[1.]`, msg: "bad number", offset: 3},
		{name: "no exponent digits", doc: `[1e+]`, msg: "bad number", offset: 4},
		{name: "bad literal", doc: `[nul]`, msg: "bad literal", offset: 1},
		{name: "control character", doc: "[\"a\tb\"]", msg: "control character in string", offset: 3},
		{name: "bad escape", doc: `["\x"]`, msg: "bad escape", offset: 2},
		{name: "bad unicode escape", doc: `["\u12"]`, msg: "bad \\u escape", offset: 2},
		{name: "unterminated string", doc: `["abc`, msg: "unterminated string", offset: 5},
		{name: "unterminated escape", doc: `["\`, msg: "unterminated string", offset: 2},
		{name: "key not a string", doc: `{1:2}`, msg: "expected a string key", offset: 1},
		{name: "missing colon", doc: `{"a" 1}`, msg: "expected ':'", offset: 5},
		{name: "missing comma", doc: `[1 2]`, msg: "expected ',' or ']'", offset: 3},
		{name: "trailing comma", doc: `[1,]`, msg: "expected a value", offset: 3},
		{name: "unclosed", doc: `{"a":1`, msg: "expected ',' or '}'", offset: 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s Scanner
			s.Reset([]byte(tc.doc))
			err := s.Skip(tc.depth)
			if err == nil {
				err = s.End()
			}
			if tc.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var se *SyntaxError
			if !errors.As(err, &se) || se.Msg != tc.msg || se.Offset != tc.offset {
				t.Fatalf("err = %v, want %q at offset %d", err, tc.msg, tc.offset)
			}
		})
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		name, body, want string
		verbatim         bool
	}{
		{name: "plain", body: `abc`, want: "abc", verbatim: true},
		{name: "empty", body: ``, want: "", verbatim: true},
		{name: "UTF-8", body: "é😀", want: "é😀", verbatim: true},
		{name: "invalid UTF-8", body: "a\xffb\xc3", want: "a\uFFFDb\uFFFD"},
		{name: "short escapes", body: `\"\\\/\b\f\n\r\t`, want: "\"\\/\b\f\n\r\t"},
		{name: "unicode escape", body: `\u00e9\u00E9`, want: "éé"},
		{name: "surrogate pair", body: `\ud83d\ude00`, want: "😀"},
		{name: "lone high surrogate", body: `\ud800x`, want: "\uFFFDx"},
		{name: "lone low surrogate", body: `\udc00`, want: "\uFFFD"},
		{name: "high surrogate before a non-surrogate escape", body: `\ud800\u0041`, want: "\uFFFDA"},
		{name: "reversed pair", body: `\udc00\ud800`, want: "\uFFFD\uFFFD"},
		{name: "escape and invalid UTF-8", body: `\n` + "\xff", want: "\n\uFFFD"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s Scanner
			s.Reset([]byte(`"` + tc.body + `"`))
			sp, err := s.Str()
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Text(sp); got != tc.want {
				t.Errorf("Text = %q, want %q", got, tc.want)
			}
			if !s.Equal(sp, tc.want) {
				t.Errorf("Equal(%q) = false", tc.want)
			}
			if s.Verbatim(sp) != tc.verbatim {
				t.Errorf("Verbatim = %v, want %v", s.Verbatim(sp), tc.verbatim)
			}
			if sp.Start != 1 || sp.End != 1+len(tc.body) || s.Pos() != len(tc.body)+2 {
				t.Errorf("span %d:%d, position %d", sp.Start, sp.End, s.Pos())
			}
		})
	}
}

func TestNumber(t *testing.T) {
	tests := []struct {
		doc     string
		integer bool
	}{
		{"0", true}, {"-0", true}, {"1234567890", true}, {"-12", true},
		{"1.5", false}, {"1e3", false}, {"1E-3", false}, {"-0.0e+0", false},
	}
	for _, tc := range tests {
		t.Run(tc.doc, func(t *testing.T) {
			var s Scanner
			s.Reset([]byte(tc.doc + ","))
			text, integer, err := s.Number()
			if err != nil || string(text) != tc.doc || integer != tc.integer {
				t.Fatalf("Number = %q, %v, %v; want %q, %v", text, integer, err, tc.doc, tc.integer)
			}
		})
	}
}

// TestReuseDoesNotAllocate checks what Reset promises: a warm Scanner
// skips and decodes without allocating.
func TestReuseDoesNotAllocate(t *testing.T) {
	doc := []byte(`{"a":[[[{"b":"\u00e9\n"}]]],"c":"` + "\xff" + `"}`)
	var s Scanner
	walk := func() {
		s.Reset(doc)
		if err := s.Skip(0); err != nil {
			t.Fatal(err)
		}
		s.Reset(doc)
		more, err := s.Open('{', '}')
		for more && err == nil {
			if _, err = s.Key(); err != nil {
				break
			}
			if s.Peek() == '"' {
				var sp Span
				if sp, err = s.Str(); err == nil {
					_ = s.Bytes(sp)
				}
			} else {
				err = s.Skip(1)
			}
			if err == nil {
				more, err = s.Next('}')
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	walk()
	if n := testing.AllocsPerRun(100, walk); n != 0 {
		t.Errorf("%v allocations per document", n)
	}
}

// BenchmarkSkip validates a Loki push body of 100 lines.
func BenchmarkSkip(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"streams":[{"stream":{"job":"default/api","pod":"api-0"},"values":[`)
	for i := range 100 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`["1714979289123456789","level=info ts=2024-05-06T07:08:09.123456Z caller=handler.go:142 msg=\"request served\" method=GET path=/api/v1/items/42 status=200 duration=12ms"]`)
	}
	sb.WriteString(`]}]}`)
	doc := []byte(sb.String())
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	var s Scanner
	for b.Loop() {
		s.Reset(doc)
		if err := s.Skip(0); err != nil {
			b.Fatal(err)
		}
	}
}
