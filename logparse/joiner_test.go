package logparse

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

func newJoiner(t testing.TB, o JoinOptions) *Joiner {
	t.Helper()
	j, err := NewJoiner(o)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// push feeds lines one millisecond apart and returns everything emitted,
// drained at the end.
func push(j *Joiner, start time.Time, lines ...string) []telemetry.LogRecord {
	var out []telemetry.LogRecord
	now := start
	for _, l := range lines {
		now = now.Add(time.Millisecond)
		out = append(out, j.Push(telemetry.LogRecord{Raw: l, Time: now}, now)...)
	}
	return append(out, j.Drain(now)...)
}

func TestJoinerScenarios(t *testing.T) {
	cases := []struct {
		name    string
		lines   []string
		records int    // records out
		message string // message of the first multi-line record
		excType string
		level   telemetry.Level
	}{
		{"single lines stay single", []string{"a b", "c d", "e f"}, 3, "", "", 0},
		{"java trace on an error line", []string{
			"2024-10-10 13:55:36 ERROR [main] c.e.Foo - failed",
			"java.lang.IllegalStateException: boom",
			"\tat c.e.Foo.bar(Foo.java:1)",
			"2024-10-10 13:55:37 INFO [main] c.e.Foo - next",
		}, 2, "failed", "java.lang.IllegalStateException", telemetry.LevelError},
		{"unindented exception after an info line is its own record", []string{
			"2024-10-10 13:55:36 INFO [main] c.e.Foo - fine",
			"java.lang.IllegalStateException: boom",
			"\tat c.e.Foo.bar(Foo.java:1)",
		}, 2, "java.lang.IllegalStateException: boom", "java.lang.IllegalStateException", telemetry.LevelError},
		{"indented lines continue any line", []string{
			"2024-10-10 13:55:36 INFO [main] c.e.Foo - config:",
			"    port: 8080",
			"    host: 0.0.0.0",
		}, 1, "config:", "", telemetry.LevelInfo},
		{"python traceback on its own", []string{
			"Traceback (most recent call last):",
			`  File "a.py", line 1, in <module>`,
			"KeyError: 'x'",
			"after",
		}, 2, "KeyError: 'x'", "KeyError", telemetry.LevelError},
		{"go panic with goroutines", []string{
			"panic: boom",
			"",
			"goroutine 1 [running]:",
			"main.main()",
			"\t/a/main.go:5 +0x1d",
			"",
			"goroutine 2 [chan receive]:",
			"main.worker()",
			"\t/a/main.go:9 +0x2",
			"exit status 2",
			"next",
		}, 2, "panic: boom", "panic", telemetry.LevelFatal},
		{"a new panic is a new record", []string{"panic: one", "panic: two"}, 2, "", "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := newJoiner(t, DefaultJoinOptions())
			out := push(j, benchNow, c.lines...)
			if len(out) != c.records {
				for _, r := range out {
					t.Logf("%q", r.Raw)
				}
				t.Fatalf("%d records, want %d", len(out), c.records)
			}
			assertAllLines(t, c.lines, out)
			if c.message == "" {
				return
			}
			var multi *telemetry.LogRecord
			for i := range out {
				if strings.Contains(out[i].Raw, "\n") {
					multi = &out[i]
					break
				}
			}
			if multi == nil {
				t.Fatal("nothing was joined")
			}
			if multi.Message != c.message || multi.Fields[FieldExceptionType] != c.excType || multi.Level != c.level {
				t.Errorf("joined record: message %q type %q level %v", multi.Message, multi.Fields[FieldExceptionType], multi.Level)
			}
			if multi.Fields[FieldStack] == "" {
				t.Error("no stack field")
			}
		})
	}
}

// assertAllLines checks that every input line comes out exactly once.
func assertAllLines(t *testing.T, in []string, out []telemetry.LogRecord) {
	t.Helper()
	var got []string
	for _, r := range out {
		got = append(got, strings.Split(r.Raw, "\n")...)
	}
	if strings.Join(got, "\n") != strings.Join(in, "\n") {
		t.Errorf("lines out differ from lines in:\n got %q\nwant %q", got, in)
	}
}

func TestJoinerTimeout(t *testing.T) {
	j := newJoiner(t, JoinOptions{Timeout: time.Second})
	t0 := benchNow
	if out := j.Push(newRec("2024-10-10 13:55:36 ERROR [main] c.e.Foo - failed"), t0); len(out) != 0 {
		t.Fatal("emitted before the next line")
	}
	if out := j.Push(newRec("\tat c.e.Foo.bar(Foo.java:1)"), t0.Add(100*time.Millisecond)); len(out) != 0 {
		t.Fatal("emitted a continued entry")
	}
	if out := j.Flush(t0.Add(900 * time.Millisecond)); len(out) != 0 {
		t.Fatal("flushed before the timeout")
	}
	if !j.Pending() {
		t.Fatal("nothing pending")
	}
	out := j.Flush(t0.Add(1100 * time.Millisecond))
	if len(out) != 1 || !strings.Contains(out[0].Raw, "\n\tat c.e.Foo") {
		t.Fatalf("flush after the timeout: %+v", out)
	}
	if j.Pending() {
		t.Fatal("still pending")
	}
	// A line after a quiet spell starts afresh even if it looks like a frame.
	j.Push(newRec("head"), t0.Add(2*time.Second))
	out = j.Push(newRec("\tat late.Frame(F.java:1)"), t0.Add(5*time.Second))
	if len(out) != 1 || out[0].Raw != "head" {
		t.Fatalf("push after the timeout: %+v", out)
	}
}

func TestJoinerBounds(t *testing.T) {
	cases := []struct {
		name string
		o    JoinOptions
	}{
		{"max lines", JoinOptions{MaxLines: 10}},
		{"max bytes", JoinOptions{MaxBytes: 300}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := newJoiner(t, c.o)
			lines := []string{"2024-10-10 13:55:36 ERROR [main] c.e.Foo - failed", "java.lang.IllegalStateException: boom"}
			for i := 0; i < 100; i++ {
				lines = append(lines, fmt.Sprintf("\tat c.e.Foo.frame%d(Foo.java:%d)", i, i))
			}
			lines = append(lines, "2024-10-10 13:55:37 INFO [main] c.e.Foo - next")
			out := push(j, benchNow, lines...)
			if len(out) != 2 {
				t.Fatalf("%d records, want 2", len(out))
			}
			r := out[0]
			if n := strings.Count(r.Raw, "\n") + 1; n > 10 && c.o.MaxLines == 10 {
				t.Errorf("%d lines kept, bound 10", n)
			}
			if len(r.Raw) > 300 && c.o.MaxBytes == 300 {
				t.Errorf("%d bytes kept, bound 300", len(r.Raw))
			}
			if r.Fields[FieldTruncated] != "true" || r.Fields[FieldDroppedLines] == "" {
				t.Errorf("truncation not marked: %v", r.Fields)
			}
			if r.Fields[FieldExceptionType] != "java.lang.IllegalStateException" {
				t.Errorf("exception type %q", r.Fields[FieldExceptionType])
			}
		})
	}
}

func TestJoinerContainerPieces(t *testing.T) {
	j := newJoiner(t, JoinOptions{Timeout: time.Second})
	t0 := benchNow
	out := j.Push(newRec(`2024-10-10T13:55:36.1Z stdout P {"msg":"half `), t0)
	out = append(out, j.Push(newRec(`2024-10-10T13:55:36.2Z stderr F other stream`), t0)...)
	out = append(out, j.Push(newRec(`2024-10-10T13:55:36.3Z stdout F and half","level":"warn"}`), t0)...)
	out = append(out, j.Drain(t0)...)
	if len(out) != 2 {
		t.Fatalf("%d records, want 2: %+v", len(out), out)
	}
	var joined telemetry.LogRecord
	for _, r := range out {
		if r.Format == string(FormatJSON) {
			joined = r
		}
	}
	if joined.Message != "half and half" || joined.Level != telemetry.LevelWarn || joined.Fields[FieldContainerPartial] != "" {
		t.Errorf("joined pieces: %+v", joined)
	}
	if !joined.Time.Equal(time.Date(2024, 10, 10, 13, 55, 36, 1e8, time.UTC)) {
		t.Errorf("time %v, want the first piece's", joined.Time)
	}

	// Pieces with no final line are flushed on timeout, glued.
	j.Push(newRec(`2024-10-10T13:55:37Z stdout P only `), t0)
	j.Push(newRec(`2024-10-10T13:55:37Z stdout P pieces`), t0)
	out = j.Flush(t0.Add(2 * time.Second))
	out = append(out, j.Flush(t0.Add(4*time.Second))...)
	if len(out) != 1 || out[0].Message != "only pieces" {
		t.Fatalf("flushed pieces: %+v", out)
	}
}

// TestJoinerPiecesKeepReceiverSet: what the receiver set on the first
// container piece survives the gluing, as Parse keeps it on whole lines.
func TestJoinerPiecesKeepReceiverSet(t *testing.T) {
	j := newJoiner(t, DefaultJoinOptions())
	first := newRec(`2024-10-10T13:55:36.1Z stdout P {"msg":"half `)
	first.Fields = map[string]string{"trace_id": "4bf9", "msg2": "meta"}
	first.Level = telemetry.LevelError
	out := j.Push(first, benchNow)
	out = append(out, j.Push(newRec(`2024-10-10T13:55:36.3Z stdout F and half","msg2":"line"}`), benchNow)...)
	out = append(out, j.Drain(benchNow)...)
	if len(out) != 1 {
		t.Fatalf("%d records, want 1: %+v", len(out), out)
	}
	r := out[0]
	if r.Message != "half and half" || r.Level != telemetry.LevelError || r.Fields["trace_id"] != "4bf9" || r.Fields["msg2"] != "meta" {
		t.Errorf("joined pieces: %+v", r)
	}
}

func TestJoinerPreParsed(t *testing.T) {
	p := newParser(t, DefaultOptions())
	j := newJoiner(t, JoinOptions{Parser: p})
	rec := newRec("2024-10-10 13:55:36 [ERROR] boom")
	p.Parse(&rec, benchNow)
	rec.Message = "kept as given"
	out := push(j, benchNow)
	out = append(out, j.Push(rec, benchNow)...)
	out = append(out, j.Drain(benchNow)...)
	if len(out) != 1 || out[0].Message != "kept as given" {
		t.Errorf("pre-parsed record re-parsed: %+v", out)
	}
}

func TestJoinOptionsValidate(t *testing.T) {
	for _, o := range []JoinOptions{{MaxLines: -1}, {MaxBytes: 10}, {Timeout: -time.Second}} {
		if _, err := NewJoiner(o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("NewJoiner(%+v): %v, want ErrInvalidOptions", o, err)
		}
	}
}

func BenchmarkJoiner(b *testing.B) {
	lines := []string{
		"2024-10-10 13:55:36.123 [main] INFO  c.e.Foo - request served in 12ms",
		"2024-10-10 13:55:36.456 [main] ERROR c.e.Foo - request failed",
		"java.lang.IllegalStateException: boom",
		"\tat c.e.Foo.bar(Foo.java:42)",
		"\tat c.e.Foo.main(Foo.java:7)",
	}
	p := newParser(b, DefaultOptions())
	j := newJoiner(b, JoinOptions{Parser: p})
	b.ReportAllocs()
	now := benchNow
	n := 0
	for b.Loop() {
		now = now.Add(time.Microsecond)
		j.Push(telemetry.LogRecord{Raw: lines[n%len(lines)]}, now)
		n++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
