package logparse

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

var customLevels = []string{"INFO", "WARN", "ERROR", "DEBUG"}

// customLine is a header no built-in detector reads well: a host in angle
// brackets and a worker in parentheses before the level.
func customLine(i int) string {
	return fmt.Sprintf("2024-10-10 13:%02d:%02d.%03d <web-%d> (worker-%d) %s: processed %d items in %dms",
		i/60%60, i%60, i%1000, i%4, i%7, customLevels[i%len(customLevels)], i*3, i%250)
}

// dottedLine has a timestamp form the built-in reader does not know
// (European day.month.year), so only a proposer can make sense of it.
func dottedLine(i int) string {
	return fmt.Sprintf("10.10.2024 13:%02d:%02d | %s | billing | invoice %d sent", i/60%60, i%60, customLevels[i%len(customLevels)], 1000+i)
}

func samples(n int, f func(int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

// fakeProposer answers with a fixed pattern and counts its calls.
type fakeProposer struct {
	pattern string
	err     error
	calls   atomic.Int32
}

func (f *fakeProposer) ProposeHeaderPattern(ctx context.Context, s []string) (string, error) {
	f.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return f.pattern, f.err
}

func TestLearnHeuristic(t *testing.T) {
	p := newParser(t, DefaultOptions())
	l, err := p.Learn(context.Background(), "custom", samples(40, customLine))
	if err != nil {
		t.Fatal(err)
	}
	if want := "%{time} <%{component}> (%{field2}) %{level}: %{message}"; l.Pattern != want {
		t.Errorf("pattern %q, want %q", l.Pattern, want)
	}
	if l.Origin != OriginHeuristic || l.Coverage < 0.9 {
		t.Errorf("origin %q coverage %v", l.Origin, l.Coverage)
	}
	rec := telemetry.LogRecord{Raw: customLine(2), Service: "custom"}
	p.Parse(&rec, benchNow)
	if rec.Format != string(FormatLearned) || rec.Level != telemetry.LevelError ||
		rec.Message != "processed 6 items in 2ms" || rec.Fields["component"] != "web-2" || rec.Fields["field2"] != "worker-2" {
		t.Errorf("parsed with the learned layout: %+v", rec)
	}
	if want := time.Date(2024, 10, 10, 13, 0, 2, 2e6, time.UTC); !rec.Time.Equal(want) {
		t.Errorf("time %v, want %v", rec.Time, want)
	}
	// Other sources are not affected.
	rec = telemetry.LogRecord{Raw: customLine(3), Service: "other"}
	p.Parse(&rec, benchNow)
	if rec.Format == string(FormatLearned) {
		t.Error("layout leaked to another source")
	}
}

func TestLearnTolerance(t *testing.T) {
	lines := samples(40, customLine)
	// Under 10% noise is tolerated...
	for i := 0; i < 3; i++ {
		lines[i*10] = "some unrelated line " + lines[i*10]
	}
	p := newParser(t, DefaultOptions())
	if _, err := p.Learn(context.Background(), "s", lines); err != nil {
		t.Fatalf("3 noisy lines of 40: %v", err)
	}
	// ...more is not.
	for i := 0; i < 6; i++ {
		lines[i*6+1] = "noise " + lines[i*6+1]
	}
	if _, err := p.Learn(context.Background(), "s2", lines); !errors.Is(err, ErrNoLayout) {
		t.Fatalf("9 noisy lines of 40: %v, want ErrNoLayout", err)
	}
}

func TestLearnRefuses(t *testing.T) {
	cases := []struct {
		name    string
		samples []string
		err     error
	}{
		{"too few", samples(3, customLine), ErrTooFewSamples},
		{"no timestamps", samples(20, func(i int) string { return fmt.Sprintf("[worker-%d] INFO: job %d", i, i) }), ErrNoLayout},
		{"bare timestamp", samples(20, func(i int) string { return fmt.Sprintf("2024-10-10 13:55:%02d job %d done", i, i) }), ErrNoLayout},
		{"unknown time form", samples(20, dottedLine), ErrNoLayout},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newParser(t, DefaultOptions())
			if _, err := p.Learn(context.Background(), "s", c.samples); !errors.Is(err, c.err) {
				t.Fatalf("err %v, want %v", err, c.err)
			}
			if p.Layout("s") != nil {
				t.Error("a layout was stored")
			}
		})
	}
}

func TestLearnWithProposer(t *testing.T) {
	cases := []struct {
		name     string
		answer   string
		err      error
		wantErr  error
		wantPat  string
		sentinel bool
	}{
		{"good", "%{time:02.01.2006 15:04:05} | %{level} | %{component} | %{message}", nil, nil,
			"%{time:02.01.2006 15:04:05} | %{level} | %{component} | %{message}", false},
		{"fenced with prose", "```\n%{time:02.01.2006 15:04:05} | %{severity} | %{component} | %{msg}\n```\nThis matches the lines.", nil, nil,
			"%{time:02.01.2006 15:04:05} | %{severity} | %{component} | %{msg}", false},
		{"no time", "%{day} | %{level} | %{message}", nil, ErrNoLayout, "", false},
		{"does not match", "%{time:2006-01-02} [%{level}] %{message}", nil, ErrNoLayout, "", false},
		{"does not compile", "%{time} %{bad name} %{message}", nil, ErrBadPattern, "", false},
		{"proposer fails", "", errors.New("model offline"), nil, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fp := &fakeProposer{pattern: c.answer, err: c.err}
			p := newParser(t, Options{Proposer: fp})
			l, err := p.Learn(context.Background(), "billing", samples(20, dottedLine))
			switch {
			case c.sentinel:
				if !errors.Is(err, c.err) {
					t.Fatalf("err %v, want %v", err, c.err)
				}
				return
			case c.wantErr != nil:
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err %v, want %v", err, c.wantErr)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if l.Pattern != c.wantPat || l.Origin != OriginProposer {
				t.Errorf("layout %q from %q", l.Pattern, l.Origin)
			}
			rec := telemetry.LogRecord{Raw: dottedLine(2), Service: "billing"}
			p.Parse(&rec, benchNow)
			if rec.Format != string(FormatLearned) || rec.Level != telemetry.LevelError || rec.Message != "invoice 1002 sent" ||
				rec.Fields["component"] != "billing" || !rec.Time.Equal(time.Date(2024, 10, 10, 13, 0, 2, 0, time.UTC)) {
				t.Errorf("parsed %+v", rec)
			}
			if fp.calls.Load() != 1 {
				t.Errorf("proposer called %d times", fp.calls.Load())
			}
		})
	}
}

// TestAutoLearn: Parse collects unreadable lines and learns from them on
// its own; the proposer is asked once per source, from LearnPending only.
func TestAutoLearn(t *testing.T) {
	fp := &fakeProposer{pattern: "%{time:02.01.2006 15:04:05} | %{level} | %{component} | %{message}"}
	p := newParser(t, Options{AutoLearn: true, LearnSamples: 20, Proposer: fp})
	parse := func(svc, line string) telemetry.LogRecord {
		rec := telemetry.LogRecord{Raw: line, Service: svc}
		p.Parse(&rec, benchNow)
		return rec
	}
	for i := 0; i < 100; i++ {
		parse("custom", customLine(i))
		parse("billing", dottedLine(i))
		parse("prose", fmt.Sprintf("Processed batch %d without errors", i))
		if fp.calls.Load() != 0 {
			t.Fatal("Parse called the proposer")
		}
	}
	if l := p.Layout("custom"); l == nil || l.Origin != OriginHeuristic {
		t.Fatalf("custom layout %+v, want a heuristic one", l)
	}
	if rec := parse("custom", customLine(7)); rec.Format != string(FormatLearned) {
		t.Errorf("custom line parsed as %q", rec.Format)
	}
	if p.Layout("billing") != nil {
		t.Fatal("billing learned before LearnPending")
	}
	// "prose" is put to the proposer too, whose answer does not read it.
	if err := p.LearnPending(context.Background()); !errors.Is(err, ErrNoLayout) {
		t.Fatalf("LearnPending: %v, want the prose source's ErrNoLayout", err)
	}
	for i := 0; i < 2; i++ {
		if err := p.LearnPending(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := fp.calls.Load(); got > 2 {
		t.Errorf("proposer called %d times, want at most once per source", got)
	}
	if l := p.Layout("billing"); l == nil || l.Origin != OriginProposer {
		t.Fatalf("billing layout %+v, want the proposer's", l)
	}
	if rec := parse("billing", dottedLine(5)); rec.Format != string(FormatLearned) || rec.Fields["component"] != "billing" {
		t.Errorf("billing line parsed as %+v", rec)
	}
	if p.Layout("prose") != nil {
		t.Error("prose got a layout")
	}
	before := fp.calls.Load()
	for i := 0; i < 100; i++ {
		parse("prose", fmt.Sprintf("Processed batch %d without errors", i))
	}
	if err := p.LearnPending(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fp.calls.Load() != before {
		t.Error("a source given up on was put to the proposer again")
	}
}

// TestLearnPendingCancelled: an interrupted proposal is retried later.
func TestLearnPendingCancelled(t *testing.T) {
	fp := &fakeProposer{pattern: "%{time:02.01.2006 15:04:05} | %{level} | %{component} | %{message}"}
	p := newParser(t, Options{AutoLearn: true, LearnSamples: 10, Proposer: fp})
	for i := 0; i < 10; i++ {
		rec := telemetry.LogRecord{Raw: dottedLine(i), Service: "billing"}
		p.Parse(&rec, benchNow)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.LearnPending(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if err := p.LearnPending(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p.Layout("billing") == nil {
		t.Error("not learned after the retry")
	}
}

func TestCompileLayout(t *testing.T) {
	cases := []struct {
		pattern string
		ok      bool
	}{
		{"%{time} [%{level}] %{component}: %{message}", true},
		{"%{timestamp} %{severity} %{msg}", true},
		{"%{time:2006-01-02 15:04:05} %{message}", true},
		{"100%% %{time} %{message}", true},
		{"%{time} %{level}%{component} %{message}", false}, // adjacent parts
		{"%{time} %{message} %{level}", false},             // message not last
		{"%{time} %{level} %{level}", false},               // twice
		{"%{level:2006} %{message}", false},                // layout on a non-time part
		{"%{time", false},
		{"no parts at all", false},
		{"%{} %{message}", false},
	}
	for _, c := range cases {
		t.Run(c.pattern, func(t *testing.T) {
			_, err := CompileLayout(c.pattern)
			if c.ok && err != nil {
				t.Fatal(err)
			}
			if !c.ok && !errors.Is(err, ErrBadPattern) {
				t.Fatalf("err %v, want ErrBadPattern", err)
			}
		})
	}
}

func TestLayoutMatch(t *testing.T) {
	cases := []struct {
		pattern, line string
		ok            bool
		level         telemetry.Level
		message       string
		fields        map[string]string
	}{
		{"%{time} [%{level}] %{component}: %{message}", "2024-10-10 13:55:36 [WARN] db.pool: exhausted (20/20)", true,
			telemetry.LevelWarn, "exhausted (20/20)", map[string]string{"component": "db.pool"}},
		{"%{time} %{level} %{message}", "2024-10-10T13:55:36Z    INFO   padded", true, telemetry.LevelInfo, "padded", nil},
		{"%{time} %{level} %{message}", "2024-10-10T13:55:36Z INFO", true, telemetry.LevelInfo, "", nil},
		{"%{time} [%{level}] %{message}", "2024-10-10 13:55:36 [NOPE] x", false, 0, "", nil},
		{"%{time} [%{level}] %{message}", "not a time [INFO] x", false, 0, "", nil},
		{"[%{time:02/01/2006 15:04}] %{thread} %{message}", "[10/10/2024 13:55] T-1 hello there", true,
			telemetry.LevelUnknown, "hello there", map[string]string{"thread": "T-1"}},
		{"%{time} %{host} %{message}", "2024-10-10T13:55:36Z", false, 0, "", nil},
	}
	for _, c := range cases {
		t.Run(c.line, func(t *testing.T) {
			l, err := CompileLayout(c.pattern)
			if err != nil {
				t.Fatal(err)
			}
			var rec telemetry.LogRecord
			ok := l.apply(&rec, c.line, benchNow, time.UTC)
			if ok != c.ok {
				t.Fatalf("match %v, want %v", ok, c.ok)
			}
			if !ok {
				return
			}
			if rec.Level != c.level || rec.Message != c.message || len(rec.Fields) != len(c.fields) {
				t.Errorf("got %+v", rec)
			}
			for k, v := range c.fields {
				if rec.Fields[k] != v {
					t.Errorf("field %s = %q, want %q", k, rec.Fields[k], v)
				}
			}
		})
	}
}

func TestConfiguredLayoutGoesFirst(t *testing.T) {
	p := newParser(t, DefaultOptions())
	l, err := CompileLayout("%{time} [%{level}] [%{service}] %{message}")
	if err != nil {
		t.Fatal(err)
	}
	p.SetLayout("svc", l)
	// The bracketed reader would take this line well; a configured layout
	// still goes first.
	rec := telemetry.LogRecord{Raw: "2024-10-10 13:55:36 [WARN] [pay] x", Service: "svc"}
	p.Parse(&rec, benchNow)
	if rec.Format != string(FormatLearned) || rec.Fields["service"] != "pay" {
		t.Errorf("configured layout not used first: %+v", rec)
	}
	p.SetLayout("svc", nil)
	if p.Layout("svc") != nil {
		t.Error("layout not removed")
	}
	rec = telemetry.LogRecord{Raw: "2024-10-10 13:55:36 [WARN] [pay] x", Service: "svc"}
	p.Parse(&rec, benchNow)
	if rec.Format != string(FormatBracketed) {
		t.Errorf("after removal parsed as %q", rec.Format)
	}
}

func TestCleanProposal(t *testing.T) {
	for in, want := range map[string]string{
		"%{time} %{message}":                      "%{time} %{message}",
		"`%{time} %{message}`":                    "%{time} %{message}",
		"```text\n%{time} %{message}\n```":        "%{time} %{message}",
		"Pattern: %{time} %{message}":             "%{time} %{message}",
		"Here you go:\n\"%{time} %{message}\"\n":  "%{time} %{message}",
		"  %{time} [%{level}] %{message}  \n\nok": "%{time} [%{level}] %{message}",
	} {
		if got := cleanProposal(in); got != want {
			t.Errorf("cleanProposal(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSourceTableBound(t *testing.T) {
	p := newParser(t, Options{AutoLearn: true, MaxSources: 50})
	for i := 0; i < 1000; i++ {
		rec := telemetry.LogRecord{Raw: fmt.Sprintf("line %d with digits", i), Service: fmt.Sprintf("svc-%d", i)}
		p.Parse(&rec, benchNow)
	}
	if n := p.sources.n.Load(); n > 50 {
		t.Errorf("%d sources kept, bound 50", n)
	}
	n := 0
	p.sources.m.Range(func(any, any) bool { n++; return true })
	if n > 50 {
		t.Errorf("%d sources in the map, bound 50", n)
	}
	if !strings.HasPrefix(PatternSyntax, "A layout pattern") {
		t.Error("PatternSyntax changed its opening; prompts quote it")
	}
}

// TestLayoutInsideContainer: layouts read the application's line inside a
// container wrapper, never the wrapper.
func TestLayoutInsideContainer(t *testing.T) {
	p := newParser(t, DefaultOptions())
	if _, err := p.Learn(context.Background(), "custom", samples(20, customLine)); err != nil {
		t.Fatal(err)
	}
	rec := telemetry.LogRecord{Raw: "2024-10-10T13:59:00.5Z stdout F " + customLine(2), Service: "custom"}
	p.Parse(&rec, benchNow)
	if rec.Format != string(FormatLearned) || rec.Fields["component"] != "web-2" || rec.Fields[FieldContainerRuntime] != "cri" {
		t.Errorf("CRI-wrapped custom line: %+v", rec)
	}
	cfg, err := CompileLayout("%{time} %{message}")
	if err != nil {
		t.Fatal(err)
	}
	p.SetLayout("greedy", cfg)
	rec = telemetry.LogRecord{Raw: "2024-10-10T13:59:00.5Z stderr F inner text", Service: "greedy"}
	p.Parse(&rec, benchNow)
	if rec.Message != "inner text" || rec.Fields[FieldContainerStream] != "stderr" {
		t.Errorf("a configured layout swallowed the wrapper: %+v", rec)
	}
}
