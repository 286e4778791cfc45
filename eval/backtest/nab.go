package backtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vigilops/vigil/forecast"
	"github.com/vigilops/vigil/telemetry"
)

// Job is one series at one lead time.
type Job struct {
	Name    string // "<category>/<file>.csv", relative to DIR/data
	Horizon time.Duration
}

// DefaultJobs is the set `vigil eval forecast` runs when not told
// otherwise: every series of a NAB-layout folder 15 minutes ahead, and
// realKnownCause/nyc_taxi.csv also 30 minutes and 1 hour ahead.
func DefaultJobs(dir string) ([]Job, error) {
	names, err := ListNAB(dir)
	if err != nil {
		return nil, err
	}
	var jobs []Job
	for _, n := range names {
		jobs = append(jobs, Job{Name: n, Horizon: 15 * time.Minute})
	}
	if slices.Contains(names, NYCTaxi) {
		jobs = append(jobs, Job{NYCTaxi, 30 * time.Minute}, Job{NYCTaxi, time.Hour})
	}
	return jobs, nil
}

// NYCTaxi is the NAB series the forecast targets are quoted on.
const NYCTaxi = "realKnownCause/nyc_taxi.csv"

// ListNAB returns the series of a NAB-layout folder (DIR/data/<category>/
// <file>.csv) as "<category>/<file>.csv", sorted.
func ListNAB(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "data", "*", "*.csv"))
	if err != nil {
		return nil, fmt.Errorf("list series: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no series under %s (want DIR/data/<category>/<file>.csv)", filepath.Join(dir, "data"))
	}
	out := make([]string, 0, len(files))
	for _, f := range files {
		rel, err := filepath.Rel(filepath.Join(dir, "data"), f)
		if err != nil {
			return nil, fmt.Errorf("list series: %w", err)
		}
		out = append(out, filepath.ToSlash(rel))
	}
	slices.Sort(out)
	return out, nil
}

// LoadNAB reads one series of a NAB-layout folder by its name.
func LoadNAB(dir, name string) ([]telemetry.Point, error) {
	if strings.Contains(name, "..") || filepath.IsAbs(name) {
		return nil, fmt.Errorf("series %q: want <category>/<file>.csv", name)
	}
	f, err := os.Open(filepath.Join(dir, "data", filepath.FromSlash(name)))
	if err != nil {
		return nil, fmt.Errorf("series %s: %w", name, err)
	}
	defer f.Close()
	pts, err := forecast.ReadCSV(f, 0)
	if err != nil {
		return nil, fmt.Errorf("series %s: %w", name, err)
	}
	return pts, nil
}

// Score is one job's outcome.
type Score struct {
	Name string
	*Result
}

// RunJobs backtests each job on the NAB-layout folder dir, in order.
func RunJobs(ctx context.Context, dir string, jobs []Job, opts Options) ([]Score, error) {
	cache := map[string][]telemetry.Point{}
	out := make([]Score, 0, len(jobs))
	for _, j := range jobs {
		pts, ok := cache[j.Name]
		if !ok {
			var err error
			if pts, err = LoadNAB(dir, j.Name); err != nil {
				return nil, err
			}
			cache[j.Name] = pts
		}
		r, err := Run(ctx, pts, j.Horizon, opts)
		if err != nil {
			return nil, fmt.Errorf("series %s at %v: %w", j.Name, j.Horizon, err)
		}
		out = append(out, Score{Name: j.Name, Result: r})
	}
	return out, nil
}
