package syslog

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// frameAll runs a framer over r and returns the frames, "!oversize" for
// each skipped frame and "!bad" when the stream is given up.
func frameAll(t testing.TB, r io.Reader, max int) []string {
	f := newFramer(r, max)
	var out []string
	for range 100000 {
		frame, err := f.next()
		if frame != nil {
			if len(frame) > max {
				t.Fatalf("frame of %d bytes over max %d", len(frame), max)
			}
			out = append(out, string(frame))
		}
		switch {
		case err == nil:
		case errors.Is(err, errFrameTooLarge):
			out = append(out, "!oversize")
		case errors.Is(err, errBadStream):
			return append(out, "!bad")
		case errors.Is(err, io.EOF):
			return out
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	t.Fatal("framer does not terminate")
	return nil
}

// chunkReader returns its data n bytes per Read.
type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := min(c.n, len(p), len(c.b))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

func TestFramer(t *testing.T) {
	big := strings.Repeat("x", 100)
	tests := []struct {
		name string
		in   string
		max  int
		want []string
	}{
		{"octet counted", "5 hello6 world!", 64, []string{"hello", "world!"}},
		{"newline framed", "a\nb\x00c\n", 64, []string{"a", "b", "c"}},
		{"crlf and blank lines skipped", "a\r\n\r\n\nb\n", 64, []string{"a\r", "b"}},
		{"mixed per frame", "5 hello<13>x\n3 abc", 64, []string{"hello", "<13>x", "abc"}},
		{"LF after octet frame", "5 hello\n5 world\n", 64, []string{"hello", "world"}},
		{"frame holding newlines", "11 line1\nline2", 64, []string{"line1\nline2"}},
		{"digits without space are a line", "2024-01-02 x\n123abc\n", 64, []string{"2024-01-02 x", "123abc"}},
		{"zero length frame", "0 5 hello", 64, []string{"hello"}},
		{"last line without delimiter", "abc", 64, []string{"abc"}},
		{"octet frame cut by EOF", "10 abc", 64, []string{"abc"}},
		{"count cut by EOF", "12", 64, []string{"12"}},
		{"oversize octet frame skipped", "100 " + big + "5 hello", 16, []string{"!oversize", "hello"}},
		{"oversize line skipped", big + "\nok\n", 16, []string{"!oversize", "ok"}},
		{"oversize line at EOF", big, 16, []string{"!oversize"}},
		{"line of exactly max", strings.Repeat("y", 16) + "\nz", 16, []string{strings.Repeat("y", 16), "z"}},
		{"line one over max", strings.Repeat("y", 17) + "\nz", 16, []string{"!oversize", "z"}},
		{"octet count absurd", "9999999999 x", 16, []string{"!bad"}},
		{"eleven digits are not a count", "99999999999 x\n", 64, []string{"99999999999 x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []struct {
				name string
				r    io.Reader
			}{
				{"whole", strings.NewReader(tc.in)},
				{"bytewise", iotest.OneByteReader(strings.NewReader(tc.in))},
				{"chunks of 3", &chunkReader{b: []byte(tc.in), n: 3}},
				{"data with EOF", iotest.DataErrReader(strings.NewReader(tc.in))},
			} {
				if got := frameAll(t, r.r, tc.max); !slices.Equal(got, tc.want) {
					t.Errorf("%s: frames = %q, want %q", r.name, got, tc.want)
				}
			}
		})
	}
}

func TestFramerReadError(t *testing.T) {
	boom := errors.New("boom")
	f := newFramer(io.MultiReader(strings.NewReader("a\nb"), iotest.ErrReader(boom)), 64)
	var got []string
	for {
		frame, err := f.next()
		if frame != nil {
			got = append(got, string(frame))
		}
		if err != nil {
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v, want boom", err)
			}
			break
		}
	}
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("frames = %q", got)
	}
}

// TestFramerSkipsHugeFrameWithoutBuffering checks memory stays bounded
// while a large announced frame streams past.
func TestFramerSkipsHugeFrameWithoutBuffering(t *testing.T) {
	const n = 8 << 20
	in := io.MultiReader(strings.NewReader("8388608 "), io.LimitReader(zeros{}, n), strings.NewReader("2 ok"))
	f := newFramer(in, 1024)
	if _, err := f.next(); !errors.Is(err, errFrameTooLarge) {
		t.Fatalf("err = %v, want too large", err)
	}
	frame, err := f.next()
	if err != nil || !bytes.Equal(frame, []byte("ok")) {
		t.Fatalf("next = %q, %v", frame, err)
	}
	if cap(f.buf) > 2048 {
		t.Errorf("buffer grew to %d", cap(f.buf))
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
