package logtemplate

import (
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigilops/vigil/internal/datasets"
)

// loghubSystems are the labelled systems of the Loghub-2k folder.
var loghubSystems = []string{
	"Android", "Apache", "BGL", "HDFS", "HPC", "Hadoop",
	"HealthApp", "Linux", "OpenSSH", "OpenStack", "Spark", "Windows",
}

// loghubDir finds the Loghub-2k folder or skips.
func loghubDir(tb testing.TB) string { return datasets.Dir(tb, "loghub-2k") }

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
