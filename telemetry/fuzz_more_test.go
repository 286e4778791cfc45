package telemetry

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParseFingerprint holds ParseFingerprint to its contract: what it
// accepts is a hex number that String renders back to the same value (no
// stray prefix, sign or garbage silently dropped), and what it rejects comes
// with an error that quotes the input.
func FuzzParseFingerprint(f *testing.F) {
	for _, s := range []string{
		"0000000000000000", "ffffffffffffffff", "deadbeefdeadbeef", "cbf29ce484222325",
		"DEADBEEF", "1", "", "0x1", "10000000000000000", "-1", "+1", "zz",
		" 1", "1 ", "1_0", "g", "ffffffffffffffff0", "00000000000000000001", "\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fp, err := ParseFingerprint(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("ParseFingerprint(%q): empty error", s)
			}
			if !strings.Contains(err.Error(), strconv.Quote(s)) {
				t.Fatalf("ParseFingerprint(%q): error %q does not name the input", s, err)
			}
			return
		}
		str := fp.String()
		if len(str) != 16 {
			t.Fatalf("ParseFingerprint(%q).String() = %q, want 16 digits", s, str)
		}
		back, err := ParseFingerprint(str)
		if err != nil || back != fp {
			t.Fatalf("round trip of %q: %v, %v, want %v", str, back, err, fp)
		}
		// Every accepted byte must be a hex digit and carry its value: the
		// input, lowercased and without leading zeros, is the canonical form.
		for i := 0; i < len(s); i++ {
			if !isHexDigit(s[i]) {
				t.Fatalf("ParseFingerprint(%q) accepted non-hex byte %q", s, s[i])
			}
		}
		if got, want := trimZeros(strings.ToLower(s)), trimZeros(str); got != want {
			t.Fatalf("ParseFingerprint(%q) = %s, which does not spell the input", s, str)
		}
	})
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func trimZeros(s string) string {
	if t := strings.TrimLeft(s, "0"); t != "" {
		return t
	}
	return "0"
}

// FuzzParseLevel checks that ParseLevel never panics, stays within the
// defined levels, ignores ASCII case as documented, agrees with
// UnmarshalText, and that every level's name parses back to it.
func FuzzParseLevel(f *testing.F) {
	for _, s := range []string{
		"", "info", "INFO", "Warning", "WARN", "Err", "eror", "crit", "panic", "dpanic",
		"30", "7", "0", "trace", "finest", "notice", "emerg", "unknown", " info", "info\n",
		"İNFO", "ınfo", "\xffinfo", "informational", "Informational", "fatal", "FATAL", "8",
	} {
		f.Add(s)
	}
	for l := LevelUnknown; l <= LevelFatal; l++ {
		if got := ParseLevel(l.String()); got != l {
			f.Fatalf("ParseLevel(%q) = %v, want %v", l.String(), got, l)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		l := ParseLevel(s)
		if l > LevelFatal {
			t.Fatalf("ParseLevel(%q) = %d, outside the defined levels", s, l)
		}
		if up := ParseLevel(upperASCII(s)); up != l {
			t.Fatalf("ParseLevel(%q) = %v but upper-cased %v", s, l, up)
		}
		if lo := ParseLevel(lowerBytesASCII(s)); lo != l {
			t.Fatalf("ParseLevel(%q) = %v but lower-cased %v", s, l, lo)
		}
		var u Level
		if err := u.UnmarshalText([]byte(s)); err != nil || u != l {
			t.Fatalf("UnmarshalText(%q) = %v, %v; ParseLevel = %v", s, u, err, l)
		}
		if back := ParseLevel(l.String()); back != l {
			t.Fatalf("ParseLevel(%q) = %v, want %v", l.String(), back, l)
		}
		// Recognised spellings are bare words: surrounding space or any
		// non-ASCII byte means the input was not one of them.
		if l != LevelUnknown {
			for i := 0; i < len(s); i++ {
				if c := s[i]; c <= ' ' || c >= 0x80 {
					t.Fatalf("ParseLevel(%q) = %v from input with byte %q", s, l, c)
				}
			}
		}
	})
}

// upperASCII upper-cases ASCII letters only, byte by byte, so invalid UTF-8
// and non-ASCII letters (whose Unicode case mapping may produce ASCII, as
// 'ı' does) pass through unchanged.
func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

func lowerBytesASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}
