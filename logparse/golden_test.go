package logparse

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenNow is the receive time of every golden line: a little after the
// samples were "written", so yearless timestamps land in 2024.
var goldenNow = time.Date(2024, time.October, 10, 14, 0, 0, 0, time.UTC)

// goldenRecord is what a golden file shows of a parsed record.
type goldenRecord struct {
	Raw     string            `json:"raw"`
	Format  string            `json:"format"`
	Time    string            `json:"time,omitempty"`
	Level   string            `json:"level,omitempty"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

func toGolden(rec telemetry.LogRecord) goldenRecord {
	g := goldenRecord{Raw: rec.Raw, Format: rec.Format, Message: rec.Message, Fields: rec.Fields}
	if !rec.Time.IsZero() {
		g.Time = rec.Time.UTC().Format(time.RFC3339Nano)
	}
	if rec.Level != telemetry.LevelUnknown {
		g.Level = rec.Level.String()
	}
	return g
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestGolden parses every testdata/*.log file, line by line, or through a
// Joiner for the multiline_* ones, and compares with the .golden file
// beside it. Run with -update to rewrite the golden files, then review the
// diff.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.log")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".log")
		t.Run(name, func(t *testing.T) {
			p, err := New(DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			var out []goldenRecord
			lines := readLines(t, path)
			if strings.HasPrefix(name, "multiline_") {
				j, err := NewJoiner(JoinOptions{Parser: p})
				if err != nil {
					t.Fatal(err)
				}
				now := goldenNow
				for _, l := range lines {
					now = now.Add(time.Millisecond)
					for _, rec := range j.Push(telemetry.LogRecord{Raw: l, Time: now}, now) {
						out = append(out, toGolden(rec))
					}
				}
				for _, rec := range j.Drain(now) {
					out = append(out, toGolden(rec))
				}
			} else {
				for _, l := range lines {
					rec := telemetry.LogRecord{Raw: l}
					p.Parse(&rec, goldenNow)
					out = append(out, toGolden(rec))
				}
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(out); err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(path, ".log") + ".golden"
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s differs from the parse; first difference:\n%s\n(run with -update and review the diff)",
					golden, firstDiff(string(want), buf.String()))
			}
		})
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + itoa(i+1) + ":\n- " + w + "\n+ " + g
		}
	}
	return "(none)"
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
