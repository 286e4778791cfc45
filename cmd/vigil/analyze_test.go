package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigilops/vigil/detect"
)

func TestLogsAnalyzeDatabaseRefused(t *testing.T) {
	out, stderr, err := runVigil(t, "", "logs", "analyze", filepath.Join("testdata", "analyze", "db.log"))
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	for _, want := range []string{
		"What looks wrong", "Evidence", "Summary (offline analyst; no LLM configured)",
		"line 2: 2023-10-27 10:00:05 [ERROR] ConnectionRefusedError",
		"line 3: 2023-10-27 10:00:06 [CRITICAL] Database health check failed",
		"Cause: The service cannot reach its database at db-prod-1:5432",
		"(first at line 2)",
		"is up and accepting connections on db-prod-1:5432",
		"network policy, firewall rule",
		"3 lines, 3 entries, 3 templates, 0 anomalies",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "line 1:") {
		t.Errorf("the INFO line is cited as evidence:\n%s", out)
	}
}

func TestLogsAnalyzeStdinJSON(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "analyze", "db.log"))
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runVigil(t, string(in), "logs", "analyze", "--json", "-")
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	var rep map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	for _, k := range []string{"lines", "templates", "anomalies", "analysis"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("no %q in %s", k, out)
		}
	}
	if string(rep["lines"]) != "3" || string(rep["templates"]) != "3" || string(rep["anomalies"]) != "[]" {
		t.Errorf("lines %s templates %s anomalies %s; want 3, 3, []", rep["lines"], rep["templates"], rep["anomalies"])
	}
	var an struct {
		Summary   string   `json:"summary"`
		Cause     string   `json:"cause"`
		NextSteps []string `json:"next_steps"`
		Findings  []struct {
			FirstLine int   `json:"first_line"`
			Lines     []int `json:"lines"`
		} `json:"findings"`
		Confidence float64 `json:"confidence"`
	}
	if err := json.Unmarshal(rep["analysis"], &an); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(an.Cause, "database at db-prod-1:5432") || len(an.NextSteps) == 0 || an.Confidence <= 0 {
		t.Errorf("analysis %+v", an)
	}
	// Line numbers are the input's, not positions among the lines the
	// analyst read.
	if len(an.Findings) == 0 || an.Findings[0].FirstLine != 2 || len(an.Findings[0].Lines) != 1 || an.Findings[0].Lines[0] != 2 {
		t.Errorf("findings %+v, want the first at line 2", an.Findings)
	}
}

// steadyThenError writes two hours of one INFO template every 2 s (enough
// for the new-pattern detector's warm-up: an hour and 2,000 lines with no
// new template), then a new ERROR template.
func steadyThenError(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	start := time.Date(2023, 10, 27, 10, 0, 0, 0, time.UTC)
	ts := start
	for ; ts.Before(start.Add(2 * time.Hour)); ts = ts.Add(2 * time.Second) {
		fmt.Fprintf(&b, "%s [INFO] request served in %d ms\n", ts.Format("2006-01-02 15:04:05"), 10+ts.Second()%7)
	}
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&b, "%s [ERROR] disk quota exceeded on volume data-%d\n", ts.Format("2006-01-02 15:04:05"), i)
		ts = ts.Add(time.Second)
	}
	path := filepath.Join(t.TempDir(), "steady.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLogsAnalyzeNewPattern(t *testing.T) {
	path := steadyThenError(t)
	rep := analyzeJSON(t, "", path)
	if rep.Lines != 3605 || rep.Templates != 2 {
		t.Errorf("lines %d templates %d; want 3605, 2", rep.Lines, rep.Templates)
	}
	found := false
	for i, a := range rep.Anomalies {
		if i > 0 && a.Score > rep.Anomalies[i-1].Score {
			t.Errorf("anomalies not by score: %v after %v", a.Score, rep.Anomalies[i-1].Score)
		}
		if a.Type == "new_pattern" && strings.Contains(a.Template, "disk quota exceeded") {
			found = true
		}
		if len(a.Examples) > maxAnomalyExamples {
			t.Errorf("%d examples", len(a.Examples))
		}
	}
	if !found || len(rep.Anomalies) > maxShownAnomalies {
		t.Errorf("no new_pattern anomaly for the ERROR template (or too many): %+v", rep.Anomalies)
	}

	txt, _, err := runVigil(t, "", "logs", "analyze", path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt, "new_pattern") || !strings.Contains(txt, "disk quota exceeded on volume") || !strings.Contains(txt, "line 3601: ") {
		t.Errorf("text report lacks the new pattern or its evidence:\n%s", txt)
	}
}

// Lines without a timestamp still move the detectors' clock.
func TestLogsAnalyzeSyntheticTime(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 4000; i++ {
		fmt.Fprintf(&b, "heartbeat ok seq=%d\n", i)
	}
	// An error the new-pattern detector reports on its first line, once
	// warm: after an hour of history, which only the synthetic clock gives.
	b.WriteString("ERROR panic: runtime error: invalid memory address or nil pointer dereference\n")
	rep := analyzeJSON(t, b.String(), "-")
	if rep.Lines != 4001 || rep.Analysis.Cause == "" {
		t.Errorf("lines %d cause %q", rep.Lines, rep.Analysis.Cause)
	}
	found := false
	for _, a := range rep.Anomalies {
		found = found || a.Type == detect.TypeNewPattern && strings.Contains(a.Template, "panic")
		if a.Type == detect.TypeSilence {
			t.Errorf("a silence at the end of the input: %+v", a)
		}
	}
	if !found {
		t.Errorf("no new_pattern anomaly after an hour of synthetic time: %+v", rep.Anomalies)
	}
}

func TestLogsAnalyzeUsage(t *testing.T) {
	for _, argv := range [][]string{
		{"logs", "analyze"},
		{"logs", "analyze", "-f", "-"},
		{"logs", "analyze", "--max-line-bytes", "10", "x"},
	} {
		_, _, err := runVigil(t, "", argv...)
		if exitCode(err) != exitUsage {
			t.Errorf("%v: exit %d (%v), want %d", argv, exitCode(err), err, exitUsage)
		}
	}
	if _, _, err := runVigil(t, "", "logs", "analyze", filepath.Join("testdata", "analyze", "missing.log")); err == nil {
		t.Error("a missing file is no error")
	}
}

// writeSteadyLog writes one JSON line a second for two hours from start,
// with no line in [gapAt, gapAt+gap) when gap > 0 (and an hour more after
// it), and returns its path.
func writeSteadyLog(t *testing.T, name string, start time.Time, gapAt, gap time.Duration) string {
	t.Helper()
	var b strings.Builder
	end := start.Add(2 * time.Hour)
	if gap > 0 {
		end = start.Add(gapAt + gap + time.Hour)
	}
	for ts := start; ts.Before(end); ts = ts.Add(time.Second) {
		if gap > 0 && !ts.Before(start.Add(gapAt)) && ts.Before(start.Add(gapAt+gap)) {
			continue
		}
		fmt.Fprintf(&b, `{"time":%q,"level":"INFO","msg":"request served","path":"/items/%d","status":200}`+"\n",
			ts.Format(time.RFC3339), ts.Unix()%97)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func silences(as []detect.Anomaly) []detect.Anomaly {
	var out []detect.Anomaly
	for _, a := range as {
		if a.Type == detect.TypeSilence {
			out = append(out, a)
		}
	}
	return out
}

// The end of a file is not a silence; a gap between its lines is.
func TestLogsAnalyzeSilenceOnlyBetweenLines(t *testing.T) {
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name       string
		gapAt, gap time.Duration
	}{
		{name: "steady to the end"},
		{name: "half an hour of quiet in the middle", gapAt: 90 * time.Minute, gap: 30 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeSteadyLog(t, "api.log", start, tc.gapAt, tc.gap)
			rep := analyzeJSON(t, "", path)
			sl := silences(rep.Anomalies)
			if tc.gap == 0 {
				if len(sl) > 0 {
					t.Fatalf("a silence in a file that logs steadily to its end: %+v", sl)
				}
				return
			}
			if len(sl) != 1 {
				t.Fatalf("%d silences, want the one in the middle: %+v", len(sl), sl)
			}
			wantStart, wantEnd := start.Add(tc.gapAt-time.Second), start.Add(tc.gapAt+tc.gap)
			if a := sl[0]; !a.Start.Equal(wantStart) || !a.End.Equal(wantEnd) || a.Service != "api" {
				t.Errorf("silence in %s from %v to %v, want api from %v to %v", a.Service, a.Start, a.End, wantStart, wantEnd)
			}
			if !strings.Contains(sl[0].Explanation, "no lines for "+(tc.gap+time.Second).String()) {
				t.Errorf("explanation %q does not give the gap", sl[0].Explanation)
			}
		})
	}
}

// Following a file, only wall time that passed with no line counts as
// quiet: stopping 3 s after the last line is no silence, 10 minutes of
// real quiet is, and lines that keep coming keep it away.
func TestLogsAnalyzeFollowSilence(t *testing.T) {
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		quiet time.Duration
		// live is how many lines are appended, one a second, before
		// the quiet.
		live int
		want bool
	}{
		{name: "stopped 3s after the last line", quiet: 3 * time.Second},
		{name: "lines keep coming for 5m", live: 300, quiet: 2 * time.Second},
		{name: "10m with no line", quiet: 10 * time.Minute, want: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeSteadyLog(t, "api.log", start, 0, 0)
			cop, err := loadCopilot("")
			if err != nil {
				t.Fatal(err)
			}
			synctest.Test(t, func(t *testing.T) {
				f, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				la, err := newLogAnalyzer("api", time.Now(), cop)
				if err != nil {
					t.Fatal(err)
				}
				lr := &lineReader{r: bufio.NewReaderSize(f, 64<<10), max: defaultMaxLineBytes}
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				var out bytes.Buffer
				done := make(chan error, 1)
				go func() { done <- la.follow(ctx, lr, &out, defaultMaxLineBytes) }()

				w, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close()
				ts := start.Add(2 * time.Hour)
				for range tc.live {
					time.Sleep(time.Second)
					fmt.Fprintf(w, `{"time":%q,"level":"INFO","msg":"request served","path":"/items/1","status":200}`+"\n", ts.Format(time.RFC3339))
					ts = ts.Add(time.Second)
				}
				time.Sleep(tc.quiet)
				cancel()
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				sl := silences(la.anomalies)
				if !tc.want {
					if len(sl) > 0 || strings.Contains(out.String(), "silence") {
						t.Fatalf("silences after %v of quiet: %+v\n%s", tc.quiet, sl, out.String())
					}
					return
				}
				if len(sl) != 1 {
					t.Fatalf("%d silences after %v of quiet, want 1: %+v", len(sl), tc.quiet, sl)
				}
				// Reported while following, once the quiet was long enough:
				// shorter than the quiet that passed, and not invented at
				// Ctrl-C.
				if gap := sl[0].End.Sub(sl[0].Start); gap < detect.DefaultSilenceOptions().MinGap || gap >= tc.quiet {
					t.Errorf("silence of %v after %v of quiet", gap, tc.quiet)
				}
				if !sl[0].Start.Equal(ts.Add(-time.Second)) {
					t.Errorf("silence from %v, want the last line's time %v", sl[0].Start, ts.Add(-time.Second))
				}
				if !strings.Contains(out.String(), "silence in api") {
					t.Errorf("the silence is not printed:\n%s", out.String())
				}
			})
		})
	}
}

// Without --service the file's name stands in; no explanation has a blank
// where the service goes.
func TestLogsAnalyzeServiceName(t *testing.T) {
	path := steadyThenError(t) // steady.log
	in, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, stdin string
		argv        []string
		service     string
	}{
		{name: "file", argv: []string{path}, service: "steady"},
		{name: "stdin", stdin: string(in), argv: []string{"-"}, service: "stdin"},
		{name: "flag", argv: []string{"--service", "checkout", path}, service: "checkout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, err := runVigil(t, tc.stdin, append([]string{"logs", "analyze"}, tc.argv...)...)
			if err != nil {
				t.Fatalf("%v (stderr %q)", err, stderr)
			}
			for _, bad := range []string{"service :", "templates of  ", "service  ", "a new template 0% a line"} {
				if strings.Contains(out, bad) {
					t.Errorf("output has %q:\n%s", bad, out)
				}
			}
			for _, want := range []string{"new_pattern in " + tc.service, "known templates of " + tc.service + " ("} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestClarifyExplanation(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"3 known templates of api (chance of a new template 0% a line)", "3 known templates of api (no earlier template had been seen only once, so a new one was not expected)"},
		{"x (chance of a new template 0.012% a line), 4 lines", "x (new templates were expected on about 0.012% of lines), 4 lines"},
		{"nothing to change", "nothing to change"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := clarifyExplanation(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// Many cited lines of one template are one evidence line with their count.
func TestLogsAnalyzeEvidenceGrouped(t *testing.T) {
	var b strings.Builder
	ts := time.Date(2023, 10, 27, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 25; i++ {
		fmt.Fprintf(&b, "%s [ERROR] connection refused to redis-%d:6379 (request %x)\n", ts.Format("2006-01-02 15:04:05"), i%3, 1000+i*37)
		fmt.Fprintf(&b, "%s [INFO] retrying in %d ms\n", ts.Format("2006-01-02 15:04:05"), 100+i)
		ts = ts.Add(time.Second)
	}
	b.WriteString("2023-10-27 10:00:30 [ERROR] disk quota exceeded on volume data-1\n")
	path := filepath.Join(t.TempDir(), "redis.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := analyzeJSON(t, "", path)
	var refused []evidenceJSON
	for _, e := range rep.Evidence {
		if strings.Contains(e.Text, "connection refused") {
			refused = append(refused, e)
		}
	}
	if len(refused) < 2 {
		t.Fatalf("want several cited connection refused lines, got %+v", rep.Evidence)
	}

	txt, _, err := runVigil(t, "", "logs", "analyze", path)
	if err != nil {
		t.Fatal(err)
	}
	ev := txt[strings.Index(txt, "\nEvidence\n"):strings.Index(txt, "\nSummary")]
	if n := strings.Count(ev, "connection refused"); n != 1 {
		t.Errorf("connection refused shown %d times in the evidence, want once:\n%s", n, ev)
	}
	want := fmt.Sprintf("  %d cited lines alike (%d to %d), e.g. line %d: %s\n", len(refused),
		refused[0].Line, refused[len(refused)-1].Line, refused[0].Line, refused[0].Text)
	if !strings.Contains(ev, want) {
		t.Errorf("evidence lacks %q:\n%s", want, ev)
	}
	if !strings.Contains(ev, ": 2023-10-27 10:00:30 [ERROR] disk quota exceeded") {
		t.Errorf("the other kind of line is not shown:\n%s", ev)
	}
}

// analyzeJSON runs `vigil logs analyze --json` on path with stdin and
// decodes its report.
func analyzeJSON(t *testing.T, stdin, path string) analyzeReport {
	t.Helper()
	out, stderr, err := runVigil(t, stdin, "logs", "analyze", "--json", path)
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	var rep analyzeReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	return rep
}

// TestLogsAnalyzeRefusesBinary: a binary or compressed file is refused
// with a reason and the way out; --binary analyses it anyway; UTF-8 text
// and a Latin-1 log with a few stray bytes are read as text.
func TestLogsAnalyzeRefusesBinary(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bin := write("core.bin", append([]byte("ELF\x00\x01\x02"), bytes.Repeat([]byte{0x90, 0x00, 0xff}, 500)...))
	_, _, err := runVigil(t, "", "logs", "analyze", bin)
	if err == nil || !strings.Contains(err.Error(), "core.bin") || !strings.Contains(err.Error(), "NUL byte") || !strings.Contains(err.Error(), "--binary") {
		t.Fatalf("binary file: err %v, want it refused naming the file, the reason and --binary", err)
	}
	if _, stderr, err := runVigil(t, "", "logs", "analyze", "--binary", bin); err != nil {
		t.Errorf("--binary: %v (stderr %q)", err, stderr)
	}
	utf := write("utf8.log", []byte(strings.Repeat("2026-01-05T10:00:00Z INFO héllo wörld ✓ request served\n", 50)))
	latin := write("latin1.log", []byte(strings.Repeat("2026-01-05T10:00:00Z INFO caf\xe9 order served to customer\n", 50)))
	for _, p := range []string{utf, latin} {
		if _, stderr, err := runVigil(t, "", "logs", "analyze", p); err != nil {
			t.Errorf("%s: %v (stderr %q)", filepath.Base(p), err, stderr)
		}
	}
}

// FuzzBinaryReason: any input gets an answer without a panic, text made
// only of printable ASCII and newlines is never refused, and an input
// holding a NUL byte always is.
func FuzzBinaryReason(f *testing.F) {
	f.Add([]byte("2026-01-05 INFO hello\n"))
	f.Add([]byte("\x1f\x8b\x08\x00gzip"))
	f.Add([]byte("caf\xe9\n"))
	f.Add([]byte{0xe2, 0x9c})
	f.Fuzz(func(t *testing.T, b []byte) {
		why := binaryReason(b)
		if bytes.IndexByte(b, 0) >= 0 && why == "" {
			t.Fatalf("%q holds a NUL byte but was taken for text", b)
		}
		ascii := true
		for _, c := range b {
			if (c < 0x20 || c > 0x7e) && c != '\n' {
				ascii = false
				break
			}
		}
		if ascii && why != "" {
			t.Fatalf("printable ASCII %q refused: %s", b, why)
		}
	})
}
