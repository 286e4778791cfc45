package logparse

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"

	"github.com/vigilops/vigil/internal/datasets"
)

// loghubSystems are the LogHub 2k samples the header learner is measured
// on. Mac, Proxifier, Thunderbird and Zookeeper are held out on purpose:
// nothing in this package may be tuned to them (or to any one system).
var loghubSystems = []string{
	"Android", "Apache", "BGL", "HDFS", "HPC", "Hadoop",
	"HealthApp", "Linux", "OpenSSH", "OpenStack", "Spark", "Windows",
}

// loghubFloor is the mean exact-message rate the learner must keep.
const loghubFloor = 0.95

// loghubContent reads the ground-truth message bodies by LineId.
func loghubContent(t *testing.T, path string) map[int]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	id, content := -1, -1
	for k, h := range rows[0] {
		switch strings.TrimPrefix(h, "\ufeff") {
		case "LineId":
			id = k
		case "Content":
			content = k
		}
	}
	if id < 0 || content < 0 {
		t.Fatalf("%s: no LineId or Content column", path)
	}
	out := make(map[int]string, len(rows))
	for _, row := range rows[1:] {
		n, err := strconv.Atoi(row[id])
		if err != nil {
			continue
		}
		out[n] = row[content]
	}
	return out
}

// TestLoghubMessages measures how often the Message Parse extracts from a
// raw LogHub line equals the dataset's hand-checked Content. Each system is
// one source, read by one Parser with DefaultOptions the way a stream would
// be: the first pass is the warm-up during which AutoLearn collects its
// samples and learns the source's header; the second pass, scored, is
// what every later line of the stream gets.
func TestLoghubMessages(t *testing.T) {
	root := datasets.Dir(t, "loghub-2k")
	now := time.Date(2024, time.October, 10, 14, 0, 0, 0, time.UTC)
	var table []string
	sum, n := 0.0, 0
	for _, sys := range loghubSystems {
		dir := filepath.Join(root, sys)
		logPath := filepath.Join(dir, sys+"_2k.log")
		if _, err := os.Stat(logPath); err != nil {
			t.Logf("%s: missing, skipped", sys)
			continue
		}
		lines := readLines(t, logPath)
		want := loghubContent(t, filepath.Join(dir, sys+"_2k.log_structured.csv"))
		p, err := New(DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		parse := func(line string) telemetry.LogRecord {
			rec := telemetry.LogRecord{Raw: line, Service: sys}
			p.Parse(&rec, now)
			return rec
		}
		for _, line := range lines { // warm-up pass
			parse(line)
		}
		hits, total := 0, 0
		var misses []string
		for k, line := range lines {
			w, ok := want[k+1]
			if !ok {
				continue
			}
			total++
			rec := parse(line)
			if strings.TrimSpace(rec.Message) == strings.TrimSpace(w) {
				hits++
			} else if len(misses) < 3 {
				misses = append(misses, fmt.Sprintf("\n    got  %q\n    want %q", cut(rec.Message, 100), cut(w, 100)))
			}
		}
		if total == 0 {
			continue
		}
		rate := float64(hits) / float64(total)
		sum += rate
		n++
		pat := "-"
		if l := p.Layout(sys); l != nil {
			pat = l.Pattern
		}
		table = append(table, fmt.Sprintf("%-10s %6.3f  %s%s", sys, rate, pat, strings.Join(misses, "")))
	}
	if n == 0 {
		t.Skip("no LogHub systems found")
	}
	sort.Strings(table)
	mean := sum / float64(n)
	t.Logf("exact message rate per system:\n%s\nmean %.3f over %d systems", strings.Join(table, "\n"), mean, n)
	if mean < loghubFloor {
		t.Errorf("mean exact message rate %.3f is below the floor %.2f", mean, loghubFloor)
	}
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
