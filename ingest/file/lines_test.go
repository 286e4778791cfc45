package file

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
)

type splitLine struct {
	text      string
	end       int64
	truncated bool
}

func (l splitLine) String() string {
	return fmt.Sprintf("%q@%d%s", l.text, l.end, map[bool]string{true: "!"}[l.truncated])
}

// split feeds data in chunks of n bytes (0: all at once), flushes when
// final, and returns the lines.
func split(data []byte, n, max int, final bool) []splitLine {
	s := lineSplitter{max: max}
	s.reset(0)
	var out []splitLine
	emit := func(line []byte, end int64, truncated bool) {
		out = append(out, splitLine{string(line), end, truncated})
	}
	if n <= 0 {
		n = len(data) + 1
	}
	for len(data) > 0 {
		c := min(n, len(data))
		s.feed(data[:c], emit)
		data = data[c:]
	}
	if final {
		s.flush(emit)
	}
	return out
}

func TestLineSplitter(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		max   int
		final bool
		want  []splitLine
	}{
		{"lines", "a\nbc\n", 10, false, []splitLine{{"a", 2, false}, {"bc", 5, false}}},
		{"partial held", "a\nbc", 10, false, []splitLine{{"a", 2, false}}},
		{"partial flushed when final", "a\nbc", 10, true, []splitLine{{"a", 2, false}, {"bc", 4, false}}},
		{"crlf", "a\r\nb\r\n", 10, false, []splitLine{{"a", 3, false}, {"b", 6, false}}},
		{"empty lines keep positions", "\n\na\n", 10, false, []splitLine{{"", 1, false}, {"", 2, false}, {"a", 4, false}}},
		{"exactly max", "abcd\n", 4, false, []splitLine{{"abcd", 5, false}}},
		{"truncated", "abcdefg\nxy\n", 4, false, []splitLine{{"abcd", 8, true}, {"xy", 11, false}}},
		{"truncated unfinished, flushed", "abcdefg", 4, true, []splitLine{{"abcd", 7, true}}},
		{"truncated unfinished, held", "abcdefg", 4, false, nil},
		{"nothing", "", 4, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range []int{0, 1, 2, 3} {
				got := split([]byte(tc.in), n, tc.max, tc.final)
				if !slices.Equal(got, tc.want) {
					t.Errorf("chunks of %d: got %v, want %v", n, got, tc.want)
				}
			}
		})
	}
}

// checkSplit verifies the lines split from data against data itself.
func checkSplit(t *testing.T, data []byte, lines []splitLine, max int, final bool) {
	t.Helper()
	prev := int64(0)
	for _, l := range lines {
		if l.end <= prev {
			t.Fatalf("end %d not after %d", l.end, prev)
		}
		whole := data[prev:l.end]
		if whole[len(whole)-1] == '\n' {
			whole = whole[:len(whole)-1]
		} else if l.end != int64(len(data)) || !final {
			t.Fatalf("line ending at %d is not terminated", l.end)
		}
		if bytes.IndexByte(whole, '\n') >= 0 {
			t.Fatalf("line %v spans a newline", l)
		}
		want := whole
		if len(want) > max {
			want = want[:max]
		}
		want = bytes.TrimSuffix(want, []byte("\r"))
		if l.text != string(want) || l.truncated != (len(whole) > max) {
			t.Fatalf("line %v, want %q truncated %v", l, want, len(whole) > max)
		}
		prev = l.end
	}
	rest := data[prev:]
	if final && len(rest) > 0 {
		t.Fatalf("final flush left %q", rest)
	}
	if !final && bytes.IndexByte(rest, '\n') >= 0 {
		t.Fatalf("complete line left unsplit in %q", rest)
	}
}

func FuzzFileLines(f *testing.F) {
	for _, s := range []string{"a\nbc\n", "a\nbc", "a\r\nb\r\n", "\n\n", "abcdefg\nxy\n", strings.Repeat("x", 300) + "\ny"} {
		f.Add([]byte(s), uint8(3), uint8(4), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk, max uint8, final bool) {
		m := int(max) + 1
		whole := split(data, 0, m, final)
		checkSplit(t, data, whole, m, final)
		if got := split(data, int(chunk)+1, m, final); !slices.Equal(got, whole) {
			t.Fatalf("chunks of %d: %v, all at once: %v", int(chunk)+1, got, whole)
		}
	})
}
