package slo

import (
	"errors"
	"testing"
)

func TestParseSelector(t *testing.T) {
	tests := []struct {
		in, want string
		match    map[string]string
		noMatch  map[string]string
	}{
		{in: `up`, want: `up`, match: map[string]string{"__name__": "up"}, noMatch: map[string]string{"__name__": "down"}},
		{in: ` http_requests_total{code=~"5..", service="checkout"} `, want: `http_requests_total{code=~"5..",service="checkout"}`,
			match:   map[string]string{"__name__": "http_requests_total", "code": "503", "service": "checkout"},
			noMatch: map[string]string{"__name__": "http_requests_total", "code": "5030", "service": "checkout"}},
		{in: `a:b:c{x!="",y!~'z.*'}`, want: `a:b:c{x!="",y!~"z.*"}`,
			match:   map[string]string{"__name__": "a:b:c", "x": "1", "y": "q"},
			noMatch: map[string]string{"__name__": "a:b:c", "y": "q"}},
		{in: "m{le=`0.3`}", want: `m{le="0.3"}`, match: map[string]string{"__name__": "m", "le": "0.3"}},
		{in: `m{v="a\"b"}`, want: `m{v="a\"b"}`, match: map[string]string{"__name__": "m", "v": `a"b`}},
		{in: `m{v='it\'s "x"'}`, want: `m{v="it's \"x\""}`, match: map[string]string{"__name__": "m", "v": `it's "x"`}},
		{in: `m{}`, want: `m`, match: map[string]string{"__name__": "m"}},
		{in: `m{a="1",}`, want: `m{a="1"}`, match: map[string]string{"__name__": "m", "a": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			sel, err := ParseSelector(tt.in)
			if err != nil {
				t.Fatalf("ParseSelector: %v", err)
			}
			if got := sel.String(); got != tt.want {
				t.Errorf("String = %s, want %s", got, tt.want)
			}
			again, err := ParseSelector(sel.String())
			if err != nil || again.String() != sel.String() {
				t.Errorf("round trip of %s: %v, %v", sel, again, err)
			}
			if tt.match != nil && !sel.Matches(getter(tt.match)) {
				t.Errorf("%s does not match %v", sel, tt.match)
			}
			if tt.noMatch != nil && sel.Matches(getter(tt.noMatch)) {
				t.Errorf("%s matches %v", sel, tt.noMatch)
			}
		})
	}
}

func getter(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseSelectorErrors(t *testing.T) {
	for _, in := range []string{
		``, `{code="5"}`, `rate(x[5m])`, `x[5m]`, `x{code}`, `x{code="5"`, `x{code=5}`,
		`x{code="5" service="a"}`, `x{__name__="y"}`, `x{a=~"("}`, `x{a="\q"}`, `x offset 5m`, `9x`,
		`x{a="unterminated}`,
	} {
		t.Run(in, func(t *testing.T) {
			_, err := ParseSelector(in)
			if !errors.Is(err, ErrSelector) {
				t.Fatalf("ParseSelector(%q) = %v, want ErrSelector", in, err)
			}
		})
	}
}

func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{`up`, `a{b="c",d!~"e.*"}`, `m{v='it\'s'}`, "m{le=`1`}", `x{a=~"("}`, `x{`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		sel, err := ParseSelector(in)
		if err != nil {
			if !errors.Is(err, ErrSelector) {
				t.Fatalf("error %v does not match ErrSelector", err)
			}
			return
		}
		// What parses renders to text that parses to the same rendering.
		again, err := ParseSelector(sel.String())
		if err != nil {
			t.Fatalf("rendering %q of %q does not parse: %v", sel.String(), in, err)
		}
		if again.String() != sel.String() {
			t.Fatalf("round trip changed %q to %q", sel.String(), again.String())
		}
	})
}
