package forecast

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// grid is a history on a regular time grid ending at its last point.
type grid struct {
	step     time.Duration
	end      int64 // ms of v[len(v)-1]
	v        []float64
	warnings []string
}

// niceSteps are the spacings scrapes and query steps are usually set to.
var niceSteps = []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second,
	20 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
	10 * time.Minute, 15 * time.Minute, 20 * time.Minute, 30 * time.Minute, time.Hour,
	2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

// inferStep returns the median spacing of increasing timestamps (ms),
// snapped to a usual spacing within 5% of it: timestamps jitter by a
// scrape's delay, and a step of 60.9 s would put days off the grid.
func inferStep(pts []telemetry.Point) int64 {
	d := make([]int64, 0, len(pts)-1)
	for i := 1; i < len(pts); i++ {
		d = append(d, pts[i].T-pts[i-1].T)
	}
	slices.Sort(d)
	med := d[len(d)/2]
	for _, s := range niceSteps {
		if ms := s.Milliseconds(); math.Abs(float64(med-ms)) <= 0.05*float64(ms) {
			return ms
		}
	}
	return med
}

// regularize checks the history and puts it on the grid of its median
// spacing, anchored at the last point. Points off the grid go to the
// nearest slot (the later wins a shared slot); gaps up to opts.MaxGap
// missing steps are filled linearly; history before a longer gap (unless
// fewer than 8*MinPoints steps follow it), or beyond MaxHistory or
// MaxPoints, is dropped.
func regularize(history []telemetry.Point, opts Options) (*grid, error) {
	if len(history) < opts.MinPoints {
		return nil, fmt.Errorf("%w: %d points, need at least %d", ErrShortHistory, len(history), opts.MinPoints)
	}
	for i, p := range history {
		if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
			return nil, fmt.Errorf("%w: value at point %d (t=%d) is %v", ErrBadHistory, i, p.T, p.V)
		}
		if i > 0 && p.T <= history[i-1].T {
			return nil, fmt.Errorf("%w: timestamps not increasing at point %d (%d after %d)", ErrBadHistory, i, p.T, history[i-1].T)
		}
	}
	end := history[len(history)-1].T
	if from := end - opts.MaxHistory.Milliseconds(); history[0].T < from {
		i, _ := slices.BinarySearchFunc(history, from, func(p telemetry.Point, t int64) int {
			switch {
			case p.T < t:
				return -1
			case p.T > t:
				return 1
			}
			return 0
		})
		history = history[i:]
		if len(history) < opts.MinPoints {
			return nil, fmt.Errorf("%w: %d points in the last %v, need at least %d", ErrShortHistory, len(history), opts.MaxHistory, opts.MinPoints)
		}
	}
	step := inferStep(history)
	g := &grid{step: time.Duration(step) * time.Millisecond, end: end}

	// Walk back from the end, finding the oldest point still usable.
	slot := func(t int64) int64 { return (end - t + step/2) / step }
	first := len(history) - 1
	for i := len(history) - 2; i >= 0; i-- {
		k := slot(history[i].T)
		if k >= int64(opts.MaxPoints) {
			g.warnings = append(g.warnings, fmt.Sprintf("history cut to the last %d points", opts.MaxPoints))
			break
		}
		if gap := k - slot(history[i+1].T) - 1; gap > int64(opts.MaxGap) {
			at := time.UnixMilli(history[i].T).UTC().Format(time.RFC3339)
			if k-gap >= int64(8*opts.MinPoints) {
				g.warnings = append(g.warnings, fmt.Sprintf("history before a gap of %v at %s dropped",
					time.Duration(gap)*g.step, at))
				break
			}
			// Too little after the gap to stand alone: bridge it.
			g.warnings = append(g.warnings, fmt.Sprintf("gap of %v at %s filled by interpolation",
				time.Duration(gap)*g.step, at))
		}
		first = i
	}
	history = history[first:]
	n := int(slot(history[0].T)) + 1
	if len(history) < opts.MinPoints || n < opts.MinPoints {
		return nil, fmt.Errorf("%w: %d usable points, need at least %d", ErrShortHistory, len(history), opts.MinPoints)
	}
	g.v = make([]float64, n)
	filled := make([]bool, n)
	for _, p := range history {
		j := n - 1 - int(slot(p.T))
		g.v[j], filled[j] = p.V, true
	}
	// Linear fill between filled slots; the first and last are filled.
	prev := 0
	for j := 1; j < n; j++ {
		if !filled[j] {
			continue
		}
		if j-prev > 1 {
			a, b := g.v[prev], g.v[j]
			for k := prev + 1; k < j; k++ {
				g.v[k] = a + (b-a)*float64(k-prev)/float64(j-prev)
			}
		}
		prev = j
	}
	return g, nil
}
