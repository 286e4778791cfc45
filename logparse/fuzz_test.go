package logparse

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigilops/vigil/telemetry"
)

// fuzzSeeds are the golden sample lines plus the benchmark lines.
func fuzzSeeds(f *testing.F) []string {
	var seeds []string
	files, _ := filepath.Glob("testdata/*.log")
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, strings.Split(string(b), "\n")...)
	}
	for _, bl := range benchLines {
		seeds = append(seeds, bl.line)
	}
	return seeds
}

var knownFormats = []Format{FormatPlain, FormatJSON, FormatLogfmt, FormatAccessCommon, FormatAccessCombined,
	FormatSyslog3164, FormatSyslog5424, FormatBracketed, FormatLogback, FormatPython, FormatGoLog,
	FormatNginxError, FormatKlog, FormatRedis, FormatHeader, FormatLearned}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	p, err := New(Options{MaxLineBytes: 4096})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		rec := telemetry.LogRecord{Raw: raw}
		p.Parse(&rec, benchNow)
		if rec.Raw != raw {
			t.Fatal("Raw changed")
		}
		if !slices.Contains(knownFormats, Format(rec.Format)) {
			t.Fatalf("format %q", rec.Format)
		}
		if utf8.ValidString(raw) && len(rec.Message) > len(raw) {
			t.Fatalf("message (%d bytes) longer than the line (%d)", len(rec.Message), len(raw))
		}
		if !utf8.ValidString(rec.Message) {
			t.Fatalf("invalid UTF-8 message %q", rec.Message)
		}
		if utf8.ValidString(raw) {
			for k, v := range rec.Fields {
				if !utf8.ValidString(k) || !utf8.ValidString(v) {
					t.Fatalf("invalid UTF-8 field %q=%q", k, v)
				}
			}
		}
		if !rec.Time.IsZero() && rec.Time.Location() != time.UTC {
			t.Fatalf("time %v not in UTC", rec.Time)
		}
		again := telemetry.LogRecord{Raw: raw}
		p.Parse(&again, benchNow)
		if again.Format != rec.Format || again.Message != rec.Message || !again.Time.Equal(rec.Time) || len(again.Fields) != len(rec.Fields) {
			t.Fatalf("not deterministic: %+v then %+v", rec, again)
		}
		_ = Detect(raw)
	})
}

func FuzzTimestamp(f *testing.F) {
	for _, s := range []string{
		"2024-10-10T13:55:36.123456789Z", "2024-10-10 13:55:36,123", "2024/10/10 13:55:36", "Oct  9 13:55:36",
		"10/Oct/2000:13:55:36 -0700", "10-Oct-2024 13:55:36.123", "05 Jan 2026 10:00:00.123", "Wed Oct 11 14:32:52.123456 2000",
		"Mon, 02 Jan 2006 15:04:05 -0700", "13:55:36.123", "1728568536.123", "1728568536123456789", "2024-10-10 13:55:36 CEST",
		"2024-10-10T13:55:36+14:59", "Feb 29 10:00:00", "9999-12-31T23:59:60Z", "0000-01-01T00:00:00-14:00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, ref := range []time.Time{benchNow, {}} {
			tm, n, kind := parseTimePrefix(s, ref, time.UTC)
			if kind == tsNone {
				if n != 0 {
					t.Fatalf("no time but %d bytes consumed", n)
				}
				continue
			}
			if n <= 0 || n > len(s) {
				t.Fatalf("consumed %d of %d bytes", n, len(s))
			}
			if tm.IsZero() {
				continue // yearless or dateless without a reference
			}
			if tm.Location() != time.UTC {
				t.Fatalf("%v not in UTC", tm)
			}
			if kind == tsISO && tm.Year() >= 1 && tm.Year() <= 9999 {
				back, ok := parseTimeValue(tm.Format(time.RFC3339Nano), ref, time.UTC)
				if !ok || !back.Equal(tm) {
					t.Fatalf("round trip of %v gave %v (%v)", tm, back, ok)
				}
			}
			// The consumed prefix alone reads the same.
			if again, ok := parseTimeValue(s[:n], ref, time.UTC); !ok || !again.Equal(tm) {
				if !strings.HasSuffix(s[:n], " ") {
					t.Fatalf("prefix %q read %v, alone %v (%v)", s[:n], tm, again, ok)
				}
			}
		}
		_, _ = parseTimeValue(s, benchNow, time.UTC)
		_, _ = parseEpoch(s)
	})
}

func FuzzJoiner(f *testing.F) {
	for _, name := range []string{"multiline_java", "multiline_python", "multiline_go", "multiline_container"} {
		b, err := os.ReadFile(filepath.Join("testdata", name+".log"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(strings.TrimSuffix(string(b), "\n"), uint8(3))
	}
	f.Add("a\n\tb\n\n\tc", uint8(0))
	p, err := New(Options{MaxLineBytes: 4096})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data string, flushEvery uint8) {
		j, err := NewJoiner(JoinOptions{Parser: p, MaxLines: 1 << 20, MaxBytes: 1 << 30, Timeout: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(data, "\n")
		var out []telemetry.LogRecord
		now := benchNow
		for i, l := range lines {
			now = now.Add(time.Duration(len(l)%7) * time.Millisecond)
			out = append(out, j.Push(telemetry.LogRecord{Raw: l}, now)...)
			if flushEvery > 0 && i%int(flushEvery) == 0 {
				out = append(out, j.Flush(now)...)
			}
		}
		out = append(out, j.Drain(now)...)
		if j.Pending() {
			t.Fatal("pending after Drain")
		}
		var got []string
		for _, r := range out {
			if r.Format == "" {
				t.Fatal("unparsed record")
			}
			got = append(got, strings.Split(r.Raw, "\n")...)
		}
		slices.Sort(got)
		want := slices.Clone(lines)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("lines out differ from lines in:\n got %q\nwant %q", got, want)
		}
	})
}

func FuzzLearn(f *testing.F) {
	f.Add(strings.Join(samples(20, customLine), "\n"), "%{time} <%{component}> (%{field2}) %{level}: %{message}")
	f.Add(strings.Join(samples(20, dottedLine), "\n"), "%{time:02.01.2006 15:04:05} | %{level} | %{component} | %{message}")
	f.Add("a\nb\nc\nd\ne\nf", "%{x} %{message}")
	f.Fuzz(func(t *testing.T, data, pattern string) {
		// Bounded so an execution stays well under a millisecond: the
		// fuzzer minimises every new input by re-running it thousands of
		// times, and Learn is linear in the samples.
		if len(data) > 1024 || len(pattern) > 128 {
			t.Skip()
		}
		lines := strings.Split(data, "\n")
		if len(lines) > 32 {
			lines = lines[:32]
		}
		p, err := New(Options{Proposer: PatternProposerFunc(func(context.Context, []string) (string, error) { return pattern, nil })})
		if err != nil {
			t.Fatal(err)
		}
		l, err := p.Learn(context.Background(), "s", lines)
		if err == nil {
			if l.Coverage < DefaultLearnThreshold {
				t.Fatalf("accepted %q with coverage %v", l.Pattern, l.Coverage)
			}
			if _, err := CompileLayout(l.Pattern); err != nil {
				t.Fatalf("learned pattern %q does not compile: %v", l.Pattern, err)
			}
			for _, s := range lines {
				rec := telemetry.LogRecord{Raw: s, Service: "s"}
				p.Parse(&rec, benchNow)
			}
		} else if p.Layout("s") != nil {
			t.Fatalf("failed (%v) but stored a layout", err)
		}
		if cl, err := CompileLayout(pattern); err == nil {
			for _, s := range lines {
				var rec telemetry.LogRecord
				cl.apply(&rec, s, benchNow, time.UTC)
			}
		}
	})
}
