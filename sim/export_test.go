package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func exportOptions() Options {
	o := DefaultOptions()
	o.Start = evening
	o.Faults = []Fault{
		{Scenario: ScenarioRedisMemory, Onset: peakOnset},
		{Scenario: ScenarioDBConnectionRefused, Onset: peakOnset.Add(80 * time.Minute)},
	}
	return o
}

func exportTo(t *testing.T, dir string, hours int) Summary {
	t.Helper()
	o := exportOptions()
	s := newSim(t, o)
	var calls int
	sum, err := Export(context.Background(), s, o.Start.Add(time.Duration(hours)*time.Hour), dir, func(done, total time.Duration) {
		calls++
		if done > total {
			t.Errorf("progress %v of %v", done, total)
		}
	})
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	if calls != hours {
		t.Errorf("progress called %d times for %d hourly chunks", calls, hours)
	}
	return sum
}

func TestExportIsByteIdentical(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	exportTo(t, a, 4)
	exportTo(t, b, 4)
	var n int
	err := filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		x, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil {
			return err
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two exports", rel)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 60 {
		t.Errorf("only %d files exported", n)
	}
}

func TestExportLayout(t *testing.T) {
	dir := t.TempDir()
	sum := exportTo(t, dir, 4)
	for _, f := range []string{"truth.json", "topology.json", "manifest.json", "metrics/metrics.om",
		"metrics/redis/redis_memory_used_bytes.csv", "metrics/checkout/http_request_duration_seconds_quantile-0.99.csv",
		"metrics/node/node_load1_node-2.csv", "wire/alertmanager.ndjson", "wire/loki.ndjson", "wire/events.ndjson"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	var lines int
	for _, svc := range svcNames[:numOwn] {
		b, err := os.ReadFile(filepath.Join(dir, "logs", svc+".log"))
		if err != nil {
			t.Fatalf("logs of %s: %v", svc, err)
		}
		n := bytes.Count(b, []byte{'\n'})
		if n != sum.LogsByService[svc] {
			t.Errorf("%s.log has %d lines, summary says %d", svc, n, sum.LogsByService[svc])
		}
		lines += n
	}
	if lines != sum.Logs || lines == 0 {
		t.Errorf("%d log lines, summary %d", lines, sum.Logs)
	}

	var m manifest
	readJSON(t, filepath.Join(dir, "manifest.json"), &m)
	if m.Logs != sum.Logs || m.Samples != sum.Samples || m.Alerts != sum.Alerts || len(m.Faults) != 2 || m.Faults[0].Duration == 0 {
		t.Errorf("manifest %+v does not match summary %+v", m.Summary, sum)
	}
	var truth []Truth
	readJSON(t, filepath.Join(dir, "truth.json"), &truth)
	if len(truth) != 2 || truth[0].Scenario != ScenarioRedisMemory {
		t.Errorf("truth.json: %+v", truth)
	}

	checkOpenMetrics(t, filepath.Join(dir, "metrics", "metrics.om"), sum.Samples)

	csv, _ := os.ReadFile(filepath.Join(dir, "metrics", "redis", "redis_memory_used_bytes.csv"))
	rows := strings.Split(strings.TrimSpace(string(csv)), "\n")
	if rows[0] != "timestamp,value" || !strings.HasPrefix(rows[1], "2026-01-05 17:00:00,") || len(rows) != 4*120+1 {
		t.Errorf("csv starts %q, %q and has %d rows", rows[0], rows[1], len(rows))
	}

	sends := 0
	eachLine(t, filepath.Join(dir, "wire", "alertmanager.ndjson"), func(line []byte) {
		var w struct {
			At   time.Time `json:"at"`
			Body []struct {
				Labels       map[string]string `json:"labels"`
				StartsAt     time.Time         `json:"startsAt"`
				EndsAt       time.Time         `json:"endsAt"`
				GeneratorURL string            `json:"generatorURL"`
			} `json:"body"`
		}
		if err := json.Unmarshal(line, &w); err != nil || w.At.IsZero() || len(w.Body) == 0 || w.Body[0].Labels["alertname"] == "" {
			t.Fatalf("alertmanager line %s: %v", line, err)
		}
		sends++
	})
	if sends != sum.AlertSends || sends == 0 {
		t.Errorf("%d alert sends, summary %d", sends, sum.AlertSends)
	}
	pushes, values := 0, 0
	eachLine(t, filepath.Join(dir, "wire", "loki.ndjson"), func(line []byte) {
		var w struct {
			At   time.Time `json:"at"`
			Body struct {
				Streams []struct {
					Stream map[string]string `json:"stream"`
					Values [][2]string       `json:"values"`
				} `json:"streams"`
			} `json:"body"`
		}
		if err := json.Unmarshal(line, &w); err != nil || len(w.Body.Streams) == 0 {
			t.Fatalf("loki line: %v", err)
		}
		svc := w.Body.Streams[0].Stream["service"]
		for _, st := range w.Body.Streams {
			if st.Stream["service"] != svc {
				t.Fatalf("one push mixes %s and %s", svc, st.Stream["service"])
			}
			for _, v := range st.Values {
				if len(v[0]) != 19 || v[1] == "" {
					t.Fatalf("loki value %q", v)
				}
				values++
			}
		}
		pushes++
	})
	if values != sum.Logs || pushes != sum.LokiPushes {
		t.Errorf("loki: %d values in %d pushes, summary %d lines in %d pushes", values, pushes, sum.Logs, sum.LokiPushes)
	}
	events := 0
	eachLine(t, filepath.Join(dir, "wire", "events.ndjson"), func(line []byte) {
		var e map[string]any
		if err := json.Unmarshal(line, &e); err != nil || e["id"] == "" {
			t.Fatalf("event line %s: %v", line, err)
		}
		events++
	})
	if events != sum.Events {
		t.Errorf("%d events, summary %d", events, sum.Events)
	}
}

// checkOpenMetrics verifies the structure promtool's importer needs: every
// family contiguous behind its TYPE line, names belong to their family, and
// the file ends with # EOF.
func checkOpenMetrics(t *testing.T, path string, samples int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	seen := map[string]bool{}
	var fam, typ, last string
	n := 0
	for sc.Scan() {
		line := sc.Text()
		last = line
		switch {
		case strings.HasPrefix(line, "# TYPE "):
			parts := strings.Fields(line)
			fam, typ = parts[2], parts[3]
			if seen[fam] {
				t.Fatalf("family %s appears twice", fam)
			}
			seen[fam] = true
		case strings.HasPrefix(line, "#"):
		default:
			name := line[:strings.IndexAny(line, "{ ")]
			want := fam
			if typ == "counter" {
				want += "_total"
			}
			if name != want {
				t.Fatalf("sample %q inside family %s", line, fam)
			}
			if fs := strings.Fields(line); len(fs) < 3 {
				t.Fatalf("sample without timestamp: %q", line)
			}
			n++
		}
	}
	if last != "# EOF" {
		t.Errorf("last line %q, want # EOF", last)
	}
	if n != samples {
		t.Errorf("%d samples in metrics.om, %d emitted", n, samples)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func eachLine(t *testing.T, path string, fn func([]byte)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 16<<20), 16<<20)
	for sc.Scan() {
		fn(sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestExportCancel(t *testing.T) {
	o := DefaultOptions()
	s := newSim(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Export(ctx, s, o.Start.Add(48*time.Hour), t.TempDir(), func(done, total time.Duration) {
		if done >= 2*time.Hour {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Export after cancel: %v", err)
	}
	if s.Now().After(o.Start.Add(3 * time.Hour)) {
		t.Errorf("export kept going to %v after cancel", s.Now())
	}
}
