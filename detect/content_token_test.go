package detect

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

// FuzzCtNumber: the value ctNumber reads, along its fast path or not, is
// what strconv.ParseFloat makes of the number it cut out, and the parts
// put together give the token back.
func FuzzCtNumber(f *testing.F) {
	for _, s := range []string{"took=35ms", "50000ms", "latency:0.2s", "(12)", "-7", "x=-0.5s", "123456789012345678",
		"1.000000000000001", "99999999999999.9", "0.0000000000000000000001", "v2", "10.0.0.1", "status=200,", "1e5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		prefix, v, unit, ok := ctNumber(tok)
		if !ok {
			return
		}
		if !strings.HasPrefix(tok, prefix) {
			t.Fatalf("prefix %q not a prefix of %q", prefix, tok)
		}
		rest := tok[len(prefix):]
		j := 0
		if j < len(rest) && rest[j] == '-' {
			j++
		}
		for j < len(rest) && ctDigit(rest[j]) {
			j++
		}
		if j+1 < len(rest) && rest[j] == '.' && ctDigit(rest[j+1]) {
			j += 2
			for j < len(rest) && ctDigit(rest[j]) {
				j++
			}
		}
		want, err := strconv.ParseFloat(rest[:j], 64)
		if err != nil {
			t.Fatalf("ctNumber(%q) = %v but ParseFloat(%q): %v", tok, v, rest[:j], err)
		}
		if math.Float64bits(v) != math.Float64bits(want) {
			t.Fatalf("ctNumber(%q) = %v, ParseFloat(%q) = %v", tok, v, rest[:j], want)
		}
		if !strings.HasPrefix(rest[j:], unit) {
			t.Fatalf("unit %q does not follow the number in %q", unit, tok)
		}
	})
}

// TestCtContainsDurationWord: the one-pass search finds exactly what a
// search for each word finds.
func TestCtContainsDurationWord(t *testing.T) {
	words := []string{"duration", "latency", "elapsed", "took", "request_time", "response_time"}
	tests := []string{"", "d", "duration", "req_duration_ms", "latenc", "xlatency", "elapsed_s", "tooktook", "too",
		"request_tim", "upstream_response_time", "responsetime", "status", "rt", "dddduration", "retook"}
	for _, s := range tests {
		t.Run(s, func(t *testing.T) {
			want := false
			for _, w := range words {
				want = want || strings.Contains(s, w)
			}
			if got := ctContainsDurationWord(s); got != want {
				t.Errorf("ctContainsDurationWord(%q) = %v, want %v", s, got, want)
			}
		})
	}
}

// TestCtLogTable: ctLog of the whole numbers the table serves, and of
// their neighbours that it does not, is the logarithm it stands in for.
func TestCtLogTable(t *testing.T) {
	for _, x := range []float64{0, 1, 2, 35, 200, 4095, 4096, 4095.5, 1e6, 0.5, -3, math.Copysign(0, -1)} {
		want := math.Log(1 + x)
		if x < 0 {
			want = -math.Log(1 - x)
		}
		if got := ctLog(x); math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("ctLog(%v) = %v, want %v", x, got, want)
		}
	}
}

// FuzzCtCut: ctCut, with its own scanning, cuts what ctNextToken cuts and
// reads each token as ctNumber does; it gives up exactly when the tokens
// do not fit.
func FuzzCtCut(f *testing.F) {
	for _, s := range []string{"", "   ", "request handled in 35ms status=200 path=/items/42", "a\tb\nc\rd", "x=1 y=2.5s  z",
		"1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17", "\xff\x00 9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		var buf [16]ctTok
		for i := range buf { // stale values must not show through
			buf[i] = ctTok{tok: "stale", prefix: "p", unit: "u", v: 1, num: true}
		}
		got := ctCut(msg, buf[:0])
		var want []ctTok
		for i := 0; ; {
			tok, next := ctNextToken(msg, i)
			if tok == "" {
				break
			}
			w := ctTok{tok: tok}
			w.prefix, w.v, w.unit, w.num = ctNumber(tok)
			want = append(want, w)
			i = next
		}
		if len(want) > len(buf) {
			if got != nil {
				t.Fatalf("ctCut(%q) cut %d tokens into 16", msg, len(got))
			}
			return
		}
		if len(got) != len(want) {
			t.Fatalf("ctCut(%q): %d tokens, want %d", msg, len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.tok != w.tok || g.prefix != w.prefix || g.unit != w.unit || g.num != w.num ||
				math.Float64bits(g.v) != math.Float64bits(w.v) {
				t.Fatalf("ctCut(%q)[%d] = %+v, want %+v", msg, i, g, w)
			}
		}
	})
}

// TestCtShape: two values hash alike exactly when they are alike once
// every word holding a digit, or hex of 8 or more, is masked.
func TestCtShape(t *testing.T) {
	mask := func(v string) string {
		var b strings.Builder
		for i := 0; i < len(v); {
			if !ctAlnum(v[i]) && v[i] != '_' {
				b.WriteByte(v[i])
				i++
				continue
			}
			j := i
			for j < len(v) && (ctAlnum(v[j]) || v[j] == '_') {
				j++
			}
			w := v[i:j]
			if strings.ContainsAny(w, "0123456789") || ctHexWord(w) {
				b.WriteByte('#')
			} else {
				b.WriteString(w)
			}
			i = j
		}
		return b.String()
	}
	values := []string{"", "a", "ab", "a-b", "ab-", "-ab", "#", "1", "x1", "deadbeef", "deadbeefz", "DEADBEEF00",
		`{"ok":true}`, `{"ok":false}`, `{"id":"ch_9f2a","status":"succeeded"}`, `{"id":"ch_77","status":"succeeded"}`,
		`{"error":"rate_limited"}`, "abcdefgh", "abcdefghi", "abcdefghijklmnopq", "abcdefghijklmnopr", "héllo", "h\xffllo",
		"path=/items/12", "path=/items/9", "path=/users/9", "a_b_c", "a__b", "aaaaaaaa-bbbbbbbb", "aaaaaaaa_bbbbbbbb"}
	for _, a := range values {
		for _, b := range values {
			if same, want := ctShape(a) == ctShape(b), mask(a) == mask(b); same != want {
				t.Errorf("ctShape(%q) == ctShape(%q) is %v, masked %q and %q", a, b, same, mask(a), mask(b))
			}
		}
	}
}
