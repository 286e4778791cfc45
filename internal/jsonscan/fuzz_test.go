package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func FuzzScanner(f *testing.F) {
	for _, s := range seeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAgainstReference(t, data)
	})
}

func TestAgainstReference(t *testing.T) {
	for _, s := range seeds() {
		checkAgainstReference(t, []byte(s))
	}
}

func seeds() []string {
	return []string{
		`{"streams":[{"stream":{"app":"a"},"values":[["1","x"],["2","y",{"k":"v"}]]}]}`,
		`{"streams":[{"labels":"{job=\"x\"}","entries":[{"ts":"2024-05-06T07:08:09Z","line":"l"}]}]}`,
		`["\u00e9\ud83d\ude00\ud800\\\"\/\b\f\n\r\t","` + "\xff\xfe raw \xc3" + `","\ud800\u0041","\udc00\ud800"]`,
		`{"time":"2024-05-06T07:08:09Z","level":"info","msg":"hi","n":1,"a":{"b":[1,{"c":null}]}}`,
		`{"k\u00e9y":"\ud83d\ude00\ud800","log":"` + "\xff" + `","k":"v","k":"w"}`,
		`[true,false,null,-1.5e-3,0,-0,1E+2,12.50,{"":""},[],{}]`,
		" \t\r\n{ \"a\" : [ 1 , 2 ] } \n",
		`[01]`, `[1.]`, `[1e]`, `[-]`, `[.5]`, `[+1]`, `[tru]`, `[nul]`, `["a` + "\t" + `b"]`, `["\x"]`, `["\u12"]`,
		`{"a" 1}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{1:2}`, `{}{}`, `{} x`, `"`, `"\`, ``, ` `, `x`,
		strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth),
		strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
		strings.Repeat(`{"a":`, 50) + "1" + strings.Repeat("}", 50),
	}
}

// checkAgainstReference is the property FuzzScanner checks: the scanner
// accepts what encoding/json accepts, and a document read through its
// methods is the tree encoding/json decodes, strings and number texts
// included.
func checkAgainstReference(t *testing.T, data []byte) {
	t.Helper()
	var s Scanner
	s.Reset(data)
	err := s.Skip(0)
	if err == nil {
		err = s.End()
	}
	if valid := json.Valid(data); valid != (err == nil) {
		t.Fatalf("%.200q: json.Valid = %v, scanner error %v", data, valid, err)
	}
	if err != nil {
		var se *SyntaxError
		if !errors.As(err, &se) || se.Offset < 0 || se.Offset > len(data) {
			t.Fatalf("%.200q: error %v is not a *SyntaxError within the input", data, err)
		}
		return
	}
	s.Reset(data)
	got, err := read(t, &s, 0)
	if err == nil {
		err = s.End()
	}
	if err != nil {
		t.Fatalf("%.200q: valid document read with error %v", data, err)
	}
	var want any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&want); err != nil {
		t.Fatalf("%.200q: encoding/json: %v", data, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%.200q: scanner reads\n%#v\nencoding/json\n%#v", data, got, want)
	}
}

// read builds the value at s's position, inside depth containers, as
// encoding/json with UseNumber would. Near the top it also checks that
// Skip ends where reading does.
func read(t *testing.T, s *Scanner, depth int) (any, error) {
	if depth < 4 {
		skip := *s
		skip.stack, skip.buf = nil, nil
		if err := skip.Skip(depth); err != nil {
			return nil, err
		}
		defer func(end int) {
			if s.Pos() != end && !t.Failed() {
				t.Fatalf("value read up to %d, skipped up to %d", s.Pos(), end)
			}
		}(skip.Pos())
	}
	switch c := s.Peek(); c {
	case '{':
		m := map[string]any{}
		more, err := s.Open('{', '}')
		for more && err == nil {
			var k Span
			if k, err = s.Key(); err != nil {
				return nil, err
			}
			key := text(t, s, k)
			var v any
			if v, err = read(t, s, depth+1); err != nil {
				return nil, err
			}
			m[key] = v
			more, err = s.Next('}')
		}
		return m, err
	case '[':
		a := []any{}
		more, err := s.Open('[', ']')
		for more && err == nil {
			var v any
			if v, err = read(t, s, depth+1); err != nil {
				return nil, err
			}
			a = append(a, v)
			more, err = s.Next(']')
		}
		return a, err
	case '"':
		sp, err := s.Str()
		if err != nil {
			return nil, err
		}
		return text(t, s, sp), nil
	case 't':
		return true, s.Literal("true")
	case 'f':
		return false, s.Literal("false")
	case 'n':
		return nil, s.Literal("null")
	default:
		num, integer, err := s.Number()
		if err != nil {
			return nil, err
		}
		if integer == bytes.ContainsAny(num, ".eE") {
			t.Fatalf("number %s: integer = %v", num, integer)
		}
		return json.Number(num), nil
	}
}

// text decodes a string with Text, checking Bytes, Equal and Verbatim
// against it.
func text(t *testing.T, s *Scanner, sp Span) string {
	v := s.Text(sp)
	if string(s.Bytes(sp)) != v || !s.Equal(sp, v) || s.Equal(sp, v+"x") || sp.Empty() != (v == "") {
		t.Fatalf("string %q: Bytes, Equal or Empty disagree with Text", v)
	}
	// Escapes always change the text, so the raw text is the value exactly
	// when it holds none and is valid UTF-8.
	if s.Verbatim(sp) != (string(s.b[sp.Start:sp.End]) == v) {
		t.Fatalf("string %q: Verbatim = %v", v, s.Verbatim(sp))
	}
	return v
}
