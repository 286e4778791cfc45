package config

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

var durationSeeds = []string{
	"30s", "5m", "12h", "30d", "2w", "1y", "1h30m", "1w2d3h4m5s6ms", "0", "0s", " 5m ", "100ms",
	"", "-5m", "5", "1.5h", "5M", "m", "1m1h", "5ms5s", "5mx", "5m 5s", "0x10s",
	"9223372036854ms", "9223372036855ms", "106751d23h47m16s854ms", "99999999999999999999s", "1µs",
}

// FuzzParseDuration: an accepted duration is non-negative, a whole number
// of milliseconds (the syntax's finest unit), survives String and back,
// ignores surrounding space, and stops being accepted with garbage after
// it; a rejected one gets an error quoting the input.
func FuzzParseDuration(f *testing.F) {
	for _, s := range durationSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", s)) {
				t.Fatalf("ParseDuration(%q): error %q does not quote the input", s, err)
			}
			return
		}
		if d < 0 || time.Duration(d)%time.Millisecond != 0 {
			t.Fatalf("ParseDuration(%q) = %d ns", s, int64(d))
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v (%d ns); reparse %v, %v", s, d, int64(d), back, err)
		}
		if p, err := ParseDuration(" \t" + s + "\n"); err != nil || p != d {
			t.Fatalf("ParseDuration with space around %q = %v, %v, want %v", s, p, err, d)
		}
		bad := strings.TrimSpace(s) + "x"
		if v, err := ParseDuration(bad); err == nil {
			t.Fatalf("ParseDuration(%q) = %v, want an error (from valid %q)", bad, v, s)
		}
	})
}

var sizeSeeds = []string{
	"10", "1KiB", "4MiB", "2GB", " 7 B ", "512KiB", "10MB", "1KB", "0", "4294967296GiB",
	"4611686018427387904", "4611686018427387905", "4294967297GiB", "4611686018427388KB",
	"", "-1", "1.5MiB", "MiB", "99999999999999999999", "1kib", "1KiBB", "1iB", "+5", "-0",
	"1 KiB", "0x10", "1e6", "5 5MiB", "1\u00a0KiB", "1_000",
}

// sizeOracle computes what ParseSize should return, by other means: the
// number is read with math/big so overflow cannot hide, and the documented
// bound (2^62 bytes) is applied to the exact product.
func sizeOracle(s string) (Size, bool) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	if !sizeNumber.MatchString(t) {
		return 0, false
	}
	n, ok := new(big.Int).SetString(strings.TrimPrefix(t, "+"), 10)
	if !ok {
		return 0, false
	}
	n.Mul(n, big.NewInt(mult))
	if n.Sign() < 0 || n.Cmp(big.NewInt(1<<62)) > 0 {
		return 0, false
	}
	return Size(n.Int64()), true
}

var sizeNumber = regexp.MustCompile(`^[+-]?[0-9]+$`)

// FuzzParseSize: ParseSize agrees with an independent oracle, what it
// accepts survives String and back, garbage after a valid size is refused,
// and a rejected input gets an error quoting it.
func FuzzParseSize(f *testing.F) {
	for _, s := range sizeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		want, ok := sizeOracle(s)
		if ok != (err == nil) || (ok && n != want) {
			t.Fatalf("ParseSize(%q) = %d, %v; want %d, ok %v", s, n, err, want, ok)
		}
		if err != nil {
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", s)) {
				t.Fatalf("ParseSize(%q): error %q does not quote the input", s, err)
			}
			return
		}
		back, err := ParseSize(n.String())
		if err != nil || back != n {
			t.Fatalf("ParseSize(%q) = %d; String %q reparses to %d, %v", s, n, n.String(), back, err)
		}
		bad := strings.TrimSpace(s) + "x"
		if v, err := ParseSize(bad); err == nil {
			t.Fatalf("ParseSize(%q) = %d, want an error (from valid %q)", bad, v, s)
		}
	})
}

// FuzzDurationSizeYAML drives UnmarshalYAML of Duration and Size with
// arbitrary YAML documents. Called on a scalar it must agree with the
// string parser; called on a mapping or list it must fail and say what it
// got instead of complaining about an empty string. Decoding a whole
// document into a struct and marshalling it again must round-trip.
func FuzzDurationSizeYAML(f *testing.F) {
	for _, s := range durationSeeds {
		f.Add("v: " + s + "\n")
	}
	for _, s := range sizeSeeds {
		f.Add("v: " + s + "\n")
	}
	for _, s := range []string{
		"v: {a: 1}\n", "v: [1, 2]\n", "v: ~\n", "v:\n", "v: \"5m\"\n", "v: !!int 10\n",
		"a: &x 5m\nv: *x\n", "v: |\n  5m\n", "v: 'KiB'\n", "v: [\n", "- 1\n", "v: 1KiB # size\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var root yaml.Node
		if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
			return
		}
		if n := valueNode(&root); n != nil {
			checkNode(t, n)
		}
		var v struct {
			D Duration `yaml:"v"`
		}
		if err := yaml.Unmarshal([]byte(doc), &v); err == nil {
			checkYAMLRoundTrip(t, v)
		} else if err.Error() == "" {
			t.Fatalf("duration in %q: empty error", doc)
		}
		var s struct {
			S Size `yaml:"v"`
		}
		if err := yaml.Unmarshal([]byte(doc), &s); err == nil {
			checkYAMLRoundTrip(t, s)
		} else if err.Error() == "" {
			t.Fatalf("size in %q: empty error", doc)
		}
	})
}

// valueNode returns the node under key "v" of a mapping document, with
// aliases resolved as yaml.v3 does before calling an Unmarshaler.
func valueNode(root *yaml.Node) *yaml.Node {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "v" {
			n := m.Content[i+1]
			for depth := 0; n.Kind == yaml.AliasNode && n.Alias != nil && depth < 10; depth++ {
				n = n.Alias
			}
			return n
		}
	}
	return nil
}

func checkNode(t *testing.T, n *yaml.Node) {
	t.Helper()
	var d Duration
	dErr := d.UnmarshalYAML(n)
	var s Size
	sErr := s.UnmarshalYAML(n)
	if n.Kind == yaml.ScalarNode {
		wd, wdErr := ParseDuration(n.Value)
		if (dErr == nil) != (wdErr == nil) || d != wd {
			t.Fatalf("Duration.UnmarshalYAML(%q) = %v, %v; ParseDuration %v, %v", n.Value, d, dErr, wd, wdErr)
		}
		ws, wsErr := ParseSize(n.Value)
		if (sErr == nil) != (wsErr == nil) || s != ws {
			t.Fatalf("Size.UnmarshalYAML(%q) = %v, %v; ParseSize %v, %v", n.Value, s, sErr, ws, wsErr)
		}
		return
	}
	for _, err := range []error{dErr, sErr} {
		if err == nil {
			t.Fatalf("UnmarshalYAML accepted a YAML node of kind %v", n.Kind)
		}
		if strings.Contains(err.Error(), `""`) {
			t.Fatalf("UnmarshalYAML on a YAML node of kind %v: error %q does not say what it got", n.Kind, err)
		}
	}
}

func checkYAMLRoundTrip[T comparable](t *testing.T, v T) {
	t.Helper()
	out, err := yaml.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %+v: %v", v, err)
	}
	var back T
	if err := yaml.Unmarshal(out, &back); err != nil || back != v {
		t.Fatalf("round trip of %+v via %q: %+v, %v", v, out, back, err)
	}
}
