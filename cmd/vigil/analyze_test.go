package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	out, stderr, err := runVigil(t, "", "logs", "analyze", "--json", path)
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	var rep analyzeReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
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
	b.WriteString("panic: runtime error: invalid memory address or nil pointer dereference\n")
	out, stderr, err := runVigil(t, b.String(), "logs", "analyze", "--json", "-")
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	var rep analyzeReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if rep.Lines != 4001 || rep.Analysis.Cause == "" {
		t.Errorf("lines %d cause %q", rep.Lines, rep.Analysis.Cause)
	}
	if len(rep.Anomalies) == 0 {
		t.Errorf("no anomaly after an hour of synthetic time: %s", out)
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
