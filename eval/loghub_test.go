package eval

import (
	"context"
	"testing"

	"github.com/vigilops/vigil/internal/datasets"
)

// loghubDir finds the Loghub-2k folder or skips.
func loghubDir(t testing.TB) string { return datasets.Dir(t, "loghub-2k") }

// TestLoghubAccuracy needs the Loghub-2k datasets. It logs the per-system
// figures (run with -v) and checks the targets of the default
// configuration.
func TestLoghubAccuracy(t *testing.T) {
	dir := loghubDir(t)
	rep, err := ParseEval(context.Background(), dir, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%-10s %6s %6s %6s %6s %5s %5s %10s", "system", "GA", "PA", "FGA", "FTA", "tpl", "truth", "lines/s")
	for _, s := range rep.Systems {
		t.Logf("%-10s %6.3f %6.3f %6.3f %6.3f %5d %5d %10.0f", s.Name, s.GA, s.PA, s.FGA, s.FTA, s.Predicted, s.Truth, s.LinesPerSec)
	}
	t.Logf("%-10s %6.3f %6.3f %6.3f %6.3f", "mean", rep.Mean.GA, rep.Mean.PA, rep.Mean.FGA, rep.Mean.FTA)

	if len(rep.Systems) != 12 {
		t.Errorf("systems = %d, want 12", len(rep.Systems))
	}
	for _, s := range rep.Systems {
		if s.Lines != 2000 {
			t.Errorf("%s: %d lines, want 2000", s.Name, s.Lines)
		}
	}
	checkTargets(t, rep)
}

// checkTargets asserts the goals of the default configuration.
func checkTargets(t *testing.T, rep *ParseReport) {
	t.Helper()
	if rep.Mean.GA < 0.95 {
		t.Errorf("mean GA %.3f < 0.95", rep.Mean.GA)
	}
	if rep.Mean.PA < 0.80 {
		t.Errorf("mean PA %.3f < 0.80", rep.Mean.PA)
	}
	if rep.Mean.FGA < 0.90 {
		t.Errorf("mean FGA %.3f < 0.90", rep.Mean.FGA)
	}
	for _, s := range rep.Systems {
		if s.GA < 0.85 {
			t.Errorf("%s: GA %.3f < 0.85", s.Name, s.GA)
		}
	}
}
