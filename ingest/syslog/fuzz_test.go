package syslog

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

var fuzzLoc = time.FixedZone("X", 5*3600+1800)

// checkRecord holds for any input: Parse never loses the line and never
// builds invalid labels.
func checkRecord(t *testing.T, raw string) {
	rec, err := Parse(raw, received, fuzzLoc)
	if rec.Raw != raw {
		t.Fatalf("Raw = %q, want the input", rec.Raw)
	}
	if !rec.Labels.Valid() {
		t.Fatalf("invalid labels %v", rec.Labels)
	}
	if rec.Time.IsZero() {
		t.Fatal("zero time")
	}
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("err %v does not wrap ErrMalformed", err)
		}
		if rec.Format != "" || rec.Fields != nil || rec.Message != "" {
			t.Fatalf("malformed record has parsed parts: %+v", rec)
		}
		return
	}
	if rec.Format != Format5424 && rec.Format != Format3164 {
		t.Fatalf("Format = %q", rec.Format)
	}
	if !strings.Contains(raw, rec.Message) {
		t.Fatalf("message %q not in the input", rec.Message)
	}
}

func FuzzSyslog5424(f *testing.F) {
	for _, s := range []string{
		"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xef\xbb\xbf'su root' failed",
		"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time",
		`<165>1 2003-10-11T22:14:15.003Z h evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application"][p@1 class="high"] msg`,
		`<14>1 2024-01-02T03:04:05Z h a - - [x@1 q="say \"hi\"" b="c:\\dir" k="a\]b"] m`,
		"<13>1 - - - - - -",
		"<13>1 - - - - - [",
		`<13>1 - - - - - [a b="\`,
	} {
		f.Add(s, `v"\]`)
	}
	f.Fuzz(func(t *testing.T, raw, value string) {
		checkRecord(t, raw)
		// Any value, escaped as RFC 5424 says, reads back unchanged.
		esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`).Replace(value)
		msg := `<13>1 2024-01-02T03:04:05Z h a - - [x@1 k="` + esc + `"] ` + value
		rec, err := Parse(msg, received, fuzzLoc)
		if err != nil {
			t.Fatalf("Parse(%q): %v", msg, err)
		}
		if got := rec.Fields["sd.x@1.k"]; got != value {
			t.Fatalf("param = %q, want %q", got, value)
		}
		if want := strings.TrimPrefix(value, bom); rec.Message != want {
			t.Fatalf("message = %q, want %q", rec.Message, want)
		}
	})
}

func FuzzSyslog3164(f *testing.F) {
	for _, s := range []string{
		"<34>Oct 11 22:14:15 mymachine su: 'su root' failed",
		"<86>Jun  5 17:32:18 10.0.0.99 sshd[1234]: Accepted publickey",
		"<30>Jun 15 11:59:58 systemd-logind[88]: New session",
		"<13>2024-03-01T10:00:00.123+02:00 host app[9]: hi",
		"Jun 15 06:25:01 web01 CRON[4242]: (root) CMD",
		"<189>*Mar  1 2023 18:48:50.483 router1 ospf: down",
		"<13>disk full",
		"Feb 29 12:00:00 h a: m",
		"<13>Jun 15 11:00:00 fe80::1 app: x",
	} {
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, raw string, shift int64) {
		checkRecord(t, raw)
		// A year-less timestamp lands within a year of the receive time,
		// whenever that is.
		at := received.Add(time.Duration(shift % int64(200*365*24*time.Hour)))
		rec, err := Parse(raw, at, fuzzLoc)
		if err != nil || rec.Format != Format3164 {
			return
		}
		s := strings.TrimLeft(raw[strings.IndexByte(raw, '>')+1:], "*.")
		if len(s) > 10 && s[4] == '-' || rec.Time.Equal(at) {
			return // ISO timestamp, or none
		}
		t1, _, ok := parseBSDTime(s, at, fuzzLoc)
		if !ok {
			return
		}
		if t2, _, _ := parseBSDTime(s, at.AddDate(5, 0, 0), fuzzLoc); t1.Equal(t2) {
			return // explicit year
		}
		if d := rec.Time.Sub(at); d > 367*24*time.Hour || d < -367*24*time.Hour {
			t.Fatalf("time %v is %v from receive time %v", rec.Time, d, at)
		}
	})
}

func FuzzOctetFraming(f *testing.F) {
	for _, s := range []string{
		"5 hello6 world!", "a\nb\x00c\n", "5 hello<13>x\n3 abc", "0 5 hello",
		"100 " + strings.Repeat("x", 100) + "5 hello", strings.Repeat("y", 40) + "\nz",
		"9999999999 x", "99999999999 x\n", "10 abc", "12",
	} {
		f.Add([]byte(s), uint8(3), uint8(16))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk, max uint8) {
		m := int(max) + 1
		want := frameAll(t, bytes.NewReader(data), m)
		for _, r := range []io.Reader{
			&chunkReader{b: data, n: int(chunk%16) + 1},
			&chunkReader{b: data, n: 1},
		} {
			if got := frameAll(t, r, m); !slices.Equal(got, want) {
				t.Fatalf("framing depends on read sizes:\n whole %q\n chunk %q", want, got)
			}
		}
		// Nothing is invented: each frame is a piece of the input.
		for _, fr := range want {
			if fr[0] != '!' && !bytes.Contains(data, []byte(fr)) {
				t.Fatalf("frame %q not in input", fr)
			}
		}
	})
}
