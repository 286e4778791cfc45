package logtemplate

import (
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// loghubSystems are the labelled systems of the Loghub-2k folder.
var loghubSystems = []string{
	"Android", "Apache", "BGL", "HDFS", "HPC", "Hadoop",
	"HealthApp", "Linux", "OpenSSH", "OpenStack", "Spark", "Windows",
}

// loghubDir finds the Loghub-2k folder: $VIGIL_DATASETS/loghub-2k, else
// ../shared/datasets/loghub-2k beside the module root. Tests and benchmarks
// that need it skip when it is absent.
func loghubDir(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("VIGIL_DATASETS"); d != "" {
		p := filepath.Join(d, "loghub-2k")
		if _, err := os.Stat(p); err != nil {
			tb.Skipf("needs the Loghub-2k datasets: %v", err)
		}
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		tb.Skip(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("needs the Loghub-2k datasets: module root not found")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "datasets", "loghub-2k")
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("needs the Loghub-2k datasets (set VIGIL_DATASETS): %s not found", p)
	}
	return p
}

// loghubContent returns the Content column of one system.
func loghubContent(tb testing.TB, system string) []string {
	tb.Helper()
	path := filepath.Join(loghubDir(tb), system, system+"_2k.log_structured.csv")
	f, err := os.Open(path)
	if err != nil {
		tb.Skipf("needs %s: %v", path, err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		tb.Fatal(err)
	}
	col := -1
	for i, h := range header {
		if h == "Content" {
			col = i
		}
	}
	if col < 0 {
		tb.Fatalf("%s: no Content column", path)
	}
	var out []string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, rec[col])
	}
	return out
}

// replicate repeats lines until there are n.
func replicate(lines []string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = lines[i%len(lines)]
	}
	return out
}
