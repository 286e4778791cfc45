package backtest

import (
	"context"
	"testing"
	"time"

	"github.com/vigilops/vigil/internal/datasets"
)

// TestNABTargets runs the default jobs of `vigil eval forecast` (default
// options, MASE on the daily seasonal scale) and holds the forecast
// targets: nyc_taxi 30 minutes ahead at MASE <= 0.28 and 1 hour ahead at
// <= 0.55, and no series 15 minutes ahead worse than the last value.
func TestNABTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("backtests every NAB series")
	}
	dir := datasets.Dir(t, "nab")
	jobs, err := DefaultJobs(dir)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	scores, err := RunJobs(context.Background(), dir, jobs, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d jobs in %v", len(scores), time.Since(start))
	for _, s := range scores {
		t.Logf("%-60s %5v h=%d mase %.3f naive %.3f snaive %.3f smape %.2f  %v", s.Name, s.Horizon, s.Steps, s.MASE, s.NaiveMASE, s.SeasonalMASE, s.SMAPE, s.Models)
		switch {
		case s.Name == NYCTaxi && s.Horizon == 30*time.Minute && s.MASE > 0.28:
			t.Errorf("%s 30m ahead: MASE %.3f, want <= 0.28", s.Name, s.MASE)
		case s.Name == NYCTaxi && s.Horizon == time.Hour && s.MASE > 0.55:
			t.Errorf("%s 1h ahead: MASE %.3f, want <= 0.55", s.Name, s.MASE)
		case s.Horizon == 15*time.Minute && s.MAE > s.NaiveMAE:
			t.Errorf("%s 15m ahead: MASE %.3f worse than last value's %.3f", s.Name, s.MASE, s.NaiveMASE)
		}
	}
}
