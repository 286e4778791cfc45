package nab

import (
	"fmt"
	"math"
	"sort"
)

// Scores maps a corpus file name to the detector's anomaly score for each
// of its rows, in row order.
type Scores map[string][]float64

// point is one scorable row: its anomaly score, its NAB sweep score (the
// weighted contribution it makes if detected) and the corpus-wide id of the
// window it falls in (noWindow outside every window).
type point struct {
	anomaly float64
	sweep   float64
	window  int32
}

const noWindow = -1

// Sweep holds the scorable rows of a corpus under one profile, ready for
// threshold sweeps. It is immutable once built.
type Sweep struct {
	profile Profile
	points  []point // sorted by anomaly score, highest first
	// windows is the number of windows with at least one row after
	// probation; each starts as a false negative.
	windows int
	// rowSweep holds, per file, every row's sweep score (probation rows
	// included), as NAB writes them in the S(t) columns of result files.
	rowSweep map[string][]float64
}

// ThresholdScore is the raw NAB score when every row whose anomaly score is
// at least Threshold counts as a detection, with the row counts (probation
// rows excluded; rows inside windows count as TP or FN).
type ThresholdScore struct {
	Threshold      float64
	Score          float64
	TP, TN, FP, FN int
}

// NewSweep computes every row's sweep score for profile p, as NAB's
// Sweeper.calcSweepScore does, over the whole corpus.
func NewSweep(c *Corpus, scores Scores, p Profile) (*Sweep, error) {
	s := &Sweep{profile: p, rowSweep: make(map[string][]float64, len(c.Files))}
	maxTP := scaledSigmoid(-1)
	windowID := int32(0)
	for fi := range c.Files {
		f := &c.Files[fi]
		as, ok := scores[f.Name]
		if !ok {
			return nil, fmt.Errorf("%w: no anomaly scores for %s", ErrMismatch, f.Name)
		}
		if len(as) != len(f.Rows) {
			return nil, fmt.Errorf("%w: %s has %d rows but %d anomaly scores", ErrMismatch, f.Name, len(f.Rows), len(as))
		}
		idx, err := f.windowIndices()
		if err != nil {
			return nil, err
		}
		probation := ProbationLength(len(f.Rows))
		rs := make([]float64, len(f.Rows))
		next := 0 // next window to enter
		cur := -1 // window we are in, or -1
		prevEnd, prevWidth := -1, 0.0
		for i := range f.Rows {
			if next < len(idx) && i == idx[next][0] {
				cur = next
				next++
			}
			var w float64
			win := int32(noWindow)
			if cur >= 0 {
				width := float64(idx[cur][1] - idx[cur][0] + 1)
				pos := -float64(idx[cur][1]-i+1) / width
				w = scaledSigmoid(pos) * p.TP / maxTP
				win = windowID + int32(cur)
			} else {
				pos := 3.0
				if prevEnd >= 0 {
					// A one-row window divides by zero in NAB too; +Inf
					// (or NaN for the row itself, which cannot occur
					// outside the window) maps to the full penalty.
					pos = math.Abs(float64(prevEnd-i)) / (prevWidth - 1)
				}
				w = scaledSigmoid(pos) * p.FP
			}
			if math.IsNaN(w) {
				w = -p.FP
			}
			rs[i] = w
			if i >= probation {
				if math.IsNaN(as[i]) {
					return nil, fmt.Errorf("%w: %s row %d: anomaly score is NaN", ErrMismatch, f.Name, i)
				}
				s.points = append(s.points, point{anomaly: as[i], sweep: w, window: win})
			}
			if cur >= 0 && i == idx[cur][1] {
				prevEnd, prevWidth = i, float64(idx[cur][1]-idx[cur][0]+1)
				cur = -1
			}
		}
		windowID += int32(len(idx))
		s.rowSweep[f.Name] = rs
	}
	seen := make(map[int32]bool)
	for _, pt := range s.points {
		if pt.window != noWindow && !seen[pt.window] {
			seen[pt.window] = true
		}
	}
	s.windows = len(seen)
	sort.SliceStable(s.points, func(i, j int) bool { return s.points[i].anomaly > s.points[j].anomaly })
	return s, nil
}

// RowSweep returns the sweep score of every row of the named file, NAB's
// S(t) column for this profile.
func (s *Sweep) RowSweep(name string) []float64 { return s.rowSweep[name] }

// Curve returns the raw score at every distinct threshold, highest first,
// starting at 1.1 where nothing is detected, as NAB's calcScoreByThreshold.
func (s *Sweep) Curve() []ThresholdScore {
	var out []ThresholdScore
	s.walk(math.Inf(-1), func(ts ThresholdScore) { out = append(out, ts) })
	return out
}

// Best returns the threshold with the highest raw score; among equal
// scores the highest threshold wins, as in NAB's stable sort.
func (s *Sweep) Best() ThresholdScore {
	var best ThresholdScore
	first := true
	s.walk(math.Inf(-1), func(ts ThresholdScore) {
		if first || ts.Score > best.Score {
			best, first = ts, false
		}
	})
	return best
}

// At returns the raw score when rows with anomaly score >= threshold are
// detections.
func (s *Sweep) At(threshold float64) ThresholdScore {
	var last ThresholdScore
	s.walk(threshold, func(ts ThresholdScore) { last = ts })
	// walk reports a threshold only when it meets a lower score; the rows
	// at and above threshold are all in the final report.
	last.Threshold = threshold
	return last
}

// walk visits the points from the highest anomaly score down, reporting
// the score each time the threshold steps to a new value, and finally the
// score with every point of score >= floor included.
func (s *Sweep) walk(floor float64, report func(ThresholdScore)) {
	windowPart := make(map[int32]float64, s.windows)
	total := -s.profile.FN * float64(s.windows)
	var tp, fp int
	tn, fn := 0, 0
	for _, pt := range s.points {
		if pt.window == noWindow {
			tn++
		} else {
			fn++
		}
	}
	th := 1.1
	for _, pt := range s.points {
		if pt.anomaly < floor {
			break
		}
		if pt.anomaly != th {
			report(ThresholdScore{Threshold: th, Score: total, TP: tp, TN: tn, FP: fp, FN: fn})
			th = pt.anomaly
		}
		if pt.window == noWindow {
			fp++
			tn--
			total += pt.sweep
			continue
		}
		tp++
		fn--
		old, ok := windowPart[pt.window]
		if !ok {
			old = -s.profile.FN
		}
		if pt.sweep > old {
			windowPart[pt.window] = pt.sweep
			total += pt.sweep - old
		} else if !ok {
			windowPart[pt.window] = old
		}
	}
	report(ThresholdScore{Threshold: th, Score: total, TP: tp, TN: tn, FP: fp, FN: fn})
}

// Result is one profile's outcome for one detector.
type Result struct {
	Profile   string  `json:"profile"`
	Threshold float64 `json:"threshold"`
	// Raw is the summed NAB score; Null and Perfect are the raw scores of
	// the detector that never fires and of one that fires exactly at the
	// start of every window.
	Raw     float64 `json:"raw"`
	Null    float64 `json:"null"`
	Perfect float64 `json:"perfect"`
	// Normalized is 100*(Raw-Null)/(Perfect-Null), NAB's published score.
	Normalized     float64 `json:"normalized"`
	TP, TN, FP, FN int
}

// Evaluate scores a detector on the corpus for each profile. When
// thresholds holds a value for a profile it is used as is (NAB's published
// thresholds); otherwise the threshold is optimised over the corpus.
func Evaluate(c *Corpus, scores Scores, profiles []Profile, thresholds map[string]float64) ([]Result, error) {
	null := make(Scores, len(c.Files))
	windows := 0
	for _, f := range c.Files {
		null[f.Name] = make([]float64, len(f.Rows))
		windows += len(f.Windows)
	}
	out := make([]Result, 0, len(profiles))
	for _, p := range profiles {
		sw, err := NewSweep(c, scores, p)
		if err != nil {
			return nil, err
		}
		var ts ThresholdScore
		if t, ok := thresholds[p.Name]; ok {
			ts = sw.At(t)
		} else {
			ts = sw.Best()
		}
		nsw, err := NewSweep(c, null, p)
		if err != nil {
			return nil, err
		}
		nullRaw := nsw.Best().Score
		perfect := float64(windows) * p.TP
		r := Result{Profile: p.Name, Threshold: ts.Threshold, Raw: ts.Score, Null: nullRaw, Perfect: perfect,
			TP: ts.TP, TN: ts.TN, FP: ts.FP, FN: ts.FN}
		if perfect != nullRaw {
			r.Normalized = 100 * (ts.Score - nullRaw) / (perfect - nullRaw)
		}
		out = append(out, r)
	}
	return out, nil
}
