package detect

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/vigilops/vigil/eval/nab"
	"github.com/vigilops/vigil/internal/datasets"
)

// diagRow is one NAB row as the diagnosis sees it: the score, the range
// view's own score (before rvWeight) and the pieces of the core's
// judgement, with both hold-offs.
type diagRow struct {
	score, rng  float64
	parts       coreParts
	cool, rcool int
	exits       uint32 // times the range view's current level has been left
}

// TestNABDiag prints where the score finds and misses NAB's windows at the
// corpus-best threshold of one profile, and which view raised each false
// positive. It lives here rather than in eval/nab because it reads the
// detector's internals. A tool for tuning, not a check: it runs only with
// VIGIL_NAB_DIAG=1:
//
//	VIGIL_NAB_DIAG=1 go test -count=1 -run TestNABDiag -v ./detect
//
// VIGIL_NAB_PROFILE=0|1|2 picks the profile whose threshold is used
// (standard, low FP, low FN); VIGIL_NAB_FILE=part-of-name with
// VIGIL_NAB_ROWS=from:to also dumps those rows of the file. -count=1
// matters: the test cache does not know these variables.
func TestNABDiag(t *testing.T) {
	if os.Getenv("VIGIL_NAB_DIAG") == "" {
		t.Skip("set VIGIL_NAB_DIAG=1 to print the NAB diagnosis")
	}
	c, err := nab.LoadCorpus(datasets.Dir(t, "nab"))
	if err != nil {
		t.Fatal(err)
	}
	all := make(map[string][]diagRow, len(c.Files))
	scores := make(nab.Scores, len(c.Files))
	restN, allN := 0, 0
	for _, f := range c.Files {
		d := NewSeriesDetector(DefaultSeriesOptions())
		// The range view depends on the values alone, so a second one
		// fed the same values gives the score the detector's view gave.
		var shadow rangeView
		rs := make([]diagRow, len(f.Rows))
		s := make([]float64, len(f.Rows))
		for i, r := range f.Rows {
			sc := d.Observe(r.Time, r.Value).Score
			rs[i] = diagRow{score: sc, rng: shadow.observe(r.Value), parts: d.core.last,
				cool: d.core.cool, rcool: shadow.cool, exits: shadow.row[shadow.prev]}
			s[i] = sc
			if shadow.cool > 0 {
				restN++
			}
		}
		allN += len(rs)
		all[f.Name], scores[f.Name] = rs, s
	}
	res, err := nab.Evaluate(c, scores, nab.DefaultProfiles(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		t.Logf("%-20s %.2f thr %.4f tp %d fp %d", r.Profile, r.Normalized, r.Threshold, r.TP, r.FP)
	}
	t.Logf("range view resting on %.1f%% of rows", 100*float64(restN)/float64(allN))
	pi := 0
	fmt.Sscanf(os.Getenv("VIGIL_NAB_PROFILE"), "%d", &pi)
	if pi < 0 || pi >= len(res) {
		t.Fatalf("VIGIL_NAB_PROFILE %d: want 0..%d", pi, len(res)-1)
	}
	th := res[pi].Threshold
	prof := nab.DefaultProfiles()[pi]
	sw, err := nab.NewSweep(c, scores, prof)
	if err != nil {
		t.Fatal(err)
	}
	// How steeply the score falls below the threshold: a cliff means the
	// corpus threshold sits on a knife edge.
	for _, x := range []float64{0.5, th, 0.499, 0.498, 0.495, 0.49, 0.48, 0.46} {
		a := sw.At(x)
		t.Logf("%s at %.4f: raw %.3f tp %d fp %d", prof.Name, x, a.Score, a.TP, a.FP)
	}
	for _, f := range c.Files {
		diagFile(f, all[f.Name], sw.RowSweep(f.Name), th)
	}
}

// diagView names the view behind a row's score.
func diagView(r diagRow) string {
	if r.rng > 0 && rvWeight*r.rng >= r.score {
		if r.rng >= 1 {
			return "range:extreme"
		}
		return fmt.Sprintf("range:step(%.4f)", r.rng)
	}
	return "core:" + r.parts.kind()
}

// diagFile prints one file's windows (found: where and by which view;
// missed: the best score in the window and its view) and its rows above th
// outside windows, with their NAB cost.
func diagFile(f nab.File, rs []diagRow, rowSweep []float64, th float64) {
	lab := f.Labels()
	prob := nab.ProbationLength(len(f.Rows))
	fmt.Printf("== %s (%d rows, probation %d)\n", f.Name, len(rs), prob)
	if name := os.Getenv("VIGIL_NAB_FILE"); name != "" && strings.Contains(f.Name, name) {
		var a, b int
		fmt.Sscanf(os.Getenv("VIGIL_NAB_ROWS"), "%d:%d", &a, &b)
		for i := max(a, 0); i < min(b, len(rs)); i++ {
			r, p := rs[i], rs[i].parts
			fmt.Printf("   %6d %s lab %d v %10.3f score %.4f rng %.4f z r/l/s %5.1f/%5.1f/%5.1f cool %3d rcool %3d exits %d\n",
				i, f.Rows[i].Time.Format("01-02 15:04"), lab[i], f.Rows[i].Value, r.score, r.rng,
				p.zResid, p.zLevel, p.zSpread, r.cool, r.rcool, r.exits)
		}
	}
	wi := 0
	for s := 0; s < len(lab); s++ {
		if lab[s] == 0 || (s > 0 && lab[s-1] == 1) {
			continue
		}
		e := s
		for e+1 < len(lab) && lab[e+1] == 1 {
			e++
		}
		first, best, bi := -1, -1.0, -1
		for i := max(s, prob); i <= e; i++ {
			if rs[i].score >= th && first < 0 {
				first = i
			}
			if rs[i].score > best {
				best, bi = rs[i].score, i
			}
		}
		switch {
		case first >= 0:
			fmt.Printf("  win %d [%d,%d] FOUND at +%d (%.2f of width) sweep %.3f by %s score %.4f\n",
				wi, s, e, first-s, float64(first-s)/float64(e-s+1), rowSweep[first], diagView(rs[first]), rs[first].score)
		case bi >= 0:
			p := rs[bi].parts
			fmt.Printf("  win %d [%d,%d] MISSED best %.4f at +%d by %s (core z r/l/s %.1f/%.1f/%.1f, hold-off %d, range rest %d)\n",
				wi, s, e, best, bi-s, diagView(rs[bi]), p.zResid, p.zLevel, p.zSpread, rs[bi].cool, rs[bi].rcool)
		}
		wi++
	}
	for i := prob; i < len(rs); i++ {
		if lab[i] == 0 && rs[i].score >= th {
			fmt.Printf("  FP row %d score %.4f cost %.3f by %s\n", i, rs[i].score, rowSweep[i], diagView(rs[i]))
		}
	}
}
