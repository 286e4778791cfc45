package logparse

import (
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigilops/vigil/telemetry"
)

func newRec(raw string) telemetry.LogRecord { return telemetry.LogRecord{Raw: raw} }

func newParser(t testing.TB, o Options) *Parser {
	t.Helper()
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDetect(t *testing.T) {
	cases := []struct {
		line string
		want Format
	}{
		{`{"level":"info","msg":"x"}`, FormatJSON},
		{`level=info msg="x" a=b`, FormatLogfmt},
		{`1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326`, FormatAccessCommon},
		{`1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326 "-" "curl"`, FormatAccessCombined},
		{`<34>Oct 11 22:14:15 host su: failed`, FormatSyslog3164},
		{`Oct 11 22:14:15 host sshd[1]: ok`, FormatSyslog3164},
		{`<165>1 2003-10-11T22:14:15.003Z host app - - - msg`, FormatSyslog5424},
		{`[2024-10-10 13:55:36.123] [WARN] [RequestHandler] message`, FormatBracketed},
		{`2023-10-27 10:00:01 [INFO] msg`, FormatBracketed},
		{`2024-01-01T10:00:00Z INFO [main] c.e.Foo - msg`, FormatLogback},
		{`2024-01-01 10:00:00,123 - name - ERROR - msg`, FormatPython},
		{`2024/01/01 10:00:00 msg`, FormatGoLog},
		{`2024/01/01 10:00:00 [error] 1#1: *2 boom`, FormatNginxError},
		{`I0101 10:00:00.123456 1234 file.go:42] msg`, FormatKlog},
		{`1:M 05 Jan 2026 10:00:00.123 * Ready`, FormatRedis},
		{`2024-01-01 10:00:00 no level here`, FormatHeader},
		{`{"log":"x\n","stream":"stdout","time":"2024-01-01T10:00:00Z"}`, FormatDocker},
		{`2024-01-01T10:00:00.123456789Z stdout F message`, FormatCRI},
		{`just words`, FormatPlain},
		{``, FormatPlain},
		{`{"truncated":`, FormatPlain},
	}
	for _, c := range cases {
		t.Run(c.line, func(t *testing.T) {
			if got := Detect(c.line); got != c.want {
				t.Errorf("Detect = %q, want %q", got, c.want)
			}
		})
	}
}

// TestBadInput: nothing panics, Raw is kept, and what cannot be read is
// plain with a valid UTF-8 message.
func TestBadInput(t *testing.T) {
	huge := `{"msg":"` + strings.Repeat("x", 200<<10) + `"}`
	cases := []struct {
		name, raw string
		format    Format
	}{
		{"binary garbage", "\x00\x01\x02\xff\xfe binary \x1b[0m\x00", FormatPlain},
		{"truncated json", `{"level":"info","msg":"cut he`, FormatPlain},
		{"json trailing garbage", `{"msg":"x"} extra`, FormatPlain},
		{"json bad escape", `{"msg":"\q"}`, FormatPlain},
		{"json bad unicode escape", `{"msg":"\u12"}`, FormatPlain},
		{"json array", `["a","b"]`, FormatPlain},
		{"deep json", strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100), FormatJSON},
		{"too deep json", strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 99), FormatPlain},
		{"huge line", huge, FormatPlain},
		{"invalid utf-8", "2024-10-10 13:55:36 [INFO] caf\xe9 \xff\xfe", FormatPlain},
		{"lone bracket", "[", FormatPlain},
		{"lone brace", "{", FormatPlain},
		{"lone angle", "<", FormatPlain},
		{"pri only", "<34>", FormatSyslog3164},
		{"bad pri", "<999>Oct 11 22:14:15 host su: x", FormatPlain},
		{"unclosed sd", `<165>1 2003-10-11T22:14:15.003Z host app - - [id a="b`, FormatPlain},
		{"cri without content", "2024-01-01T10:00:00Z stdout F", FormatPlain},
		{"whitespace", " \t \r\n", FormatPlain},
		{"nul in header", "2024-10-10 13:55:36 [INFO]\x00x", FormatPlain},
	}
	p := newParser(t, DefaultOptions())
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := newRec(c.raw)
			p.Parse(&rec, benchNow)
			if rec.Raw != c.raw {
				t.Fatal("Raw changed")
			}
			if rec.Format != string(c.format) {
				t.Errorf("Format %q, want %q", rec.Format, c.format)
			}
			if !utf8.ValidString(rec.Message) {
				t.Errorf("Message is not valid UTF-8: %q", rec.Message)
			}
			if len(rec.Message) > DefaultMaxLineBytes {
				t.Errorf("Message is %d bytes, more than MaxLineBytes", len(rec.Message))
			}
		})
	}
}

// TestParseReused: Format is always the parser's, and a reused record,
// cleared as Parse asks, carries nothing over.
func TestParseReused(t *testing.T) {
	p := newParser(t, DefaultOptions())
	rec := newRec(`{"level":"error","msg":"x","a":"b"}`)
	p.Parse(&rec, benchNow)
	rec.Raw = "plain words"
	rec.Fields, rec.Level, rec.Message = nil, telemetry.LevelUnknown, ""
	p.Parse(&rec, benchNow)
	if rec.Fields != nil || rec.Level != telemetry.LevelUnknown || rec.Format != string(FormatPlain) || rec.Message != "plain words" {
		t.Errorf("reused record kept state: %+v", rec)
	}
}

// TestParseKeepsReceiverSet: what a receiver set before parsing (Loki
// structured metadata, OTLP severity and trace ids, an NDJSON message)
// survives Parse as Parse documents.
func TestParseKeepsReceiverSet(t *testing.T) {
	type f = map[string]string
	cases := []struct {
		name string
		raw  string
		// set by the receiver
		fields  f
		level   telemetry.Level
		message string
		// want
		format     Format
		wantLevel  telemetry.Level
		wantMsg    string
		wantFields f
	}{
		{
			name: "nothing set", raw: `level=info msg=hi a=b`,
			format: FormatLogfmt, wantLevel: telemetry.LevelInfo, wantMsg: "hi", wantFields: f{"a": "b"},
		},
		{
			name: "metadata merged into json fields, receiver's keys win", raw: `{"level":"info","msg":"hi","a":"line","b":"line"}`,
			fields: f{"a": "meta", "trace_id": "4bf9"},
			format: FormatJSON, wantLevel: telemetry.LevelInfo, wantMsg: "hi", wantFields: f{"a": "meta", "b": "line", "trace_id": "4bf9"},
		},
		{
			name: "metadata on a line without fields", raw: `just words`,
			fields: f{"trace_id": "4bf9"},
			format: FormatPlain, wantMsg: "just words", wantFields: f{"trace_id": "4bf9"},
		},
		{
			name: "metadata beside container fields", raw: `2024-10-10T13:55:36.1Z stdout F {"msg":"hi","pod":"line"}`,
			fields: f{"pod": "meta"},
			format: FormatJSON, wantMsg: "hi", wantFields: f{"pod": "meta", FieldContainerRuntime: "cri", FieldContainerStream: "stdout"},
		},
		{
			name: "receiver level kept when the line has none", raw: `just words`,
			level:  telemetry.LevelError,
			format: FormatPlain, wantLevel: telemetry.LevelError, wantMsg: "just words",
		},
		{
			name: "the line's level wins", raw: `level=warn msg=hi`,
			level:  telemetry.LevelError,
			format: FormatLogfmt, wantLevel: telemetry.LevelWarn, wantMsg: "hi",
		},
		{
			name: "receiver message kept for a plain line", raw: "caf\xe9 \xff bytes",
			message: "café bytes",
			format:  FormatPlain, wantMsg: "café bytes",
		},
		{
			name: "the line's message wins", raw: `{"msg":"from the line"}`,
			message: "from the receiver",
			format:  FormatJSON, wantMsg: "from the line",
		},
		{
			name: "receiver message not kept when the line is structured", raw: `{"text":"no message key"}`,
			message: "from the receiver",
			format:  FormatJSON, wantMsg: `{"text":"no message key"}`, wantFields: f{"text": "no message key"},
		},
		{
			name: "all three", raw: `2024-10-10 13:55:36 plain header line`,
			fields: f{"k": "v"}, level: telemetry.LevelDebug, message: "given",
			format: FormatHeader, wantLevel: telemetry.LevelDebug, wantMsg: "plain header line", wantFields: f{"k": "v"},
		},
	}
	p := newParser(t, Options{AutoLearn: false})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before f
			if c.fields != nil {
				before = maps.Clone(c.fields)
			}
			rec := telemetry.LogRecord{Raw: c.raw, Fields: c.fields, Level: c.level, Message: c.message}
			p.Parse(&rec, benchNow)
			if rec.Format != string(c.format) || rec.Level != c.wantLevel || rec.Message != c.wantMsg {
				t.Errorf("format %q level %v message %q, want %q %v %q", rec.Format, rec.Level, rec.Message, c.format, c.wantLevel, c.wantMsg)
			}
			if !maps.Equal(rec.Fields, c.wantFields) {
				t.Errorf("fields %v, want %v", rec.Fields, c.wantFields)
			}
			if !maps.Equal(c.fields, before) {
				t.Errorf("the receiver's map was written to: %v, was %v", c.fields, before)
			}
		})
	}
}

// TestLenientJSON: JSON a sloppy writer gets slightly wrong, which the
// receivers' strict scanner refuses, is still read as JSON here.
func TestLenientJSON(t *testing.T) {
	cases := []struct{ name, raw string }{
		{"raw tab in a string", "{\"level\":\"error\",\"msg\":\"a\tb\"}"},
		{"leading zero", `{"level":"error","msg":"m","min":05}`},
		{"plus sign", `{"level":"error","msg":"m","n":+1}`},
		{"bad escape inside an array", `{"level":"error","msg":"m","tags":["\x"]}`},
	}
	p := newParser(t, DefaultOptions())
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := newRec(c.raw)
			p.Parse(&rec, benchNow)
			if rec.Format != string(FormatJSON) || rec.Level != telemetry.LevelError {
				t.Errorf("format %q level %v, want json and error", rec.Format, rec.Level)
			}
		})
	}
}

// TestReceiveTimeKept: a line without a timestamp keeps the receiver's time.
func TestReceiveTimeKept(t *testing.T) {
	p := newParser(t, DefaultOptions())
	recv := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := telemetry.LogRecord{Raw: "level=info msg=hello a=b", Time: recv}
	p.Parse(&rec, recv)
	if !rec.Time.Equal(recv) {
		t.Errorf("Time = %v, want the receive time %v", rec.Time, recv)
	}
}

func TestOptionsValidate(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Options)
		ok   bool
	}{
		{"defaults", func(*Options) {}, true},
		{"zero value", func(o *Options) { *o = Options{} }, true},
		{"tiny max line", func(o *Options) { o.MaxLineBytes = 10 }, false},
		{"negative max fields", func(o *Options) { o.MaxFields = -1 }, false},
		{"few samples", func(o *Options) { o.LearnSamples = 2 }, false},
		{"threshold too low", func(o *Options) { o.LearnThreshold = 0.5 }, false},
		{"threshold above one", func(o *Options) { o.LearnThreshold = 1.5 }, false},
		{"negative sources", func(o *Options) { o.MaxSources = -3 }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := DefaultOptions()
			c.mod(&o)
			_, err := New(o)
			if c.ok && err != nil {
				t.Fatalf("New: %v", err)
			}
			if !c.ok && !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("New: %v, want ErrInvalidOptions", err)
			}
		})
	}
}

func TestMaxFields(t *testing.T) {
	p := newParser(t, Options{MaxFields: 3})
	rec := newRec(`{"msg":"m","a":1,"b":2,"c":3,"d":4,"e":5}`)
	p.Parse(&rec, benchNow)
	if rec.Message != "m" || len(rec.Fields) > 3 {
		t.Errorf("got message %q and %d fields, want m and at most 3", rec.Message, len(rec.Fields))
	}
}

// TestConcurrentParse runs Parse from many goroutines; run with -race.
func TestConcurrentParse(t *testing.T) {
	p := newParser(t, Options{AutoLearn: true, LearnSamples: 10})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				for _, bl := range benchLines {
					rec := telemetry.LogRecord{Raw: bl.line, Service: bl.name}
					p.Parse(&rec, benchNow)
					if rec.Format == "" {
						t.Error("no format")
						return
					}
				}
				rec := telemetry.LogRecord{Raw: customLine(i), Service: "custom"}
				p.Parse(&rec, benchNow)
			}
		}()
	}
	wg.Wait()
	if p.Layout("custom") == nil {
		t.Error("the custom source's layout was not learned")
	}
}
