package eval

import (
	"cmp"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestParseErrorReport is a tuning aid, skipped unless
// VIGIL_PARSE_REPORT names systems (e.g. "Linux,HPC"): for each it logs the
// ground-truth groups the miner got wrong, with the predicted templates of
// their lines, and the most frequent template strings that differ from the
// truth. Run with -v. It needs the Loghub-2k datasets.
func TestParseErrorReport(t *testing.T) {
	systems := os.Getenv("VIGIL_PARSE_REPORT")
	if systems == "" {
		t.Skip("set VIGIL_PARSE_REPORT=System[,System...]")
	}
	dir := loghubDir(t)
	for _, name := range strings.Split(systems, ",") {
		ds, err := LoadDataset(filepath.Join(dir, name, name+"_2k.log_structured.csv"))
		if err != nil {
			t.Fatal(err)
		}
		res, pred, err := ParseSystem(context.Background(), ds, DefaultOptions().Miner)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("=== %s GA %.3f PA %.3f FGA %.3f FTA %.3f", name, res.GA, res.PA, res.FGA, res.FTA)
		byTruth := map[string]map[string]int{}
		predSize := map[string]int{}
		example := map[[2]string]string{}
		for i, p := range pred {
			tr := ds.Truth[i]
			if byTruth[tr] == nil {
				byTruth[tr] = map[string]int{}
			}
			byTruth[tr][p]++
			predSize[p]++
			if _, ok := example[[2]string{tr, p}]; !ok {
				example[[2]string{tr, p}] = ds.Content[i]
			}
		}
		type row struct {
			truth string
			n     int
		}
		var wrong, misspelt []row
		for tr, ps := range byTruth {
			n := 0
			for _, c := range ps {
				n += c
			}
			for p, c := range ps {
				if len(ps) != 1 || predSize[p] != n {
					wrong = append(wrong, row{tr, n})
					break
				}
				if p != tr {
					misspelt = append(misspelt, row{tr, c})
				}
			}
		}
		byCount := func(a, b row) int { return cmp.Compare(b.n, a.n) }
		slices.SortFunc(wrong, byCount)
		slices.SortFunc(misspelt, byCount)
		for _, w := range wrong {
			t.Logf("group %5d  truth: %s", w.n, w.truth)
			for p, c := range byTruth[w.truth] {
				t.Logf("      %5d  pred:  %s   (e.g. %s)", c, p, example[[2]string{w.truth, p}])
			}
		}
		for _, w := range misspelt {
			for p := range byTruth[w.truth] {
				t.Logf("string %4d  truth: %s\n                    pred:  %s", w.n, w.truth, p)
			}
		}
	}
}
