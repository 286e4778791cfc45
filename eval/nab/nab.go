// Package nab scores anomaly detectors on the Numenta Anomaly Benchmark
// (NAB v1.1) exactly as NAB's own scorer does: a probation period at the
// start of every file, scaled-sigmoid weights inside and after labelled
// windows, only the earliest detection in a window counting, one threshold
// optimised over the whole corpus per cost profile, and the normalisation
// 100*(raw-null)/(perfect-null).
//
// Invariant: scores are a pure function of the corpus (data rows, windows),
// the anomaly scores and the profiles; nothing depends on map order or the
// wall clock, so the same inputs give bit-identical results.
package nab

import (
	"errors"
	"math"
	"time"
)

// ProbationPercent is the fraction of each file (capped at
// ProbationPercent*5000 rows) during which detections are not scored.
const ProbationPercent = 0.15

// TimeLayout is the timestamp format of NAB data files and label windows
// (windows add ".000000").
const TimeLayout = "2006-01-02 15:04:05"

// Errors callers can branch on.
var (
	// ErrFormat means an input file does not have NAB's layout.
	ErrFormat = errors.New("nab: bad format")
	// ErrMismatch means anomaly scores or windows do not fit the data rows.
	ErrMismatch = errors.New("nab: scores do not match the corpus")
)

// Profile is one NAB cost matrix. TN is not used by the scorer (as in NAB).
type Profile struct {
	Name string  `json:"name"`
	TP   float64 `json:"tpWeight"`
	FP   float64 `json:"fpWeight"`
	FN   float64 `json:"fnWeight"`
}

// Profile names, in the order reports print them.
const (
	Standard  = "standard"
	LowFPRate = "reward_low_FP_rate"
	LowFNRate = "reward_low_FN_rate"
)

// DefaultProfiles returns NAB v1.1's three application profiles.
func DefaultProfiles() []Profile {
	return []Profile{
		{Name: Standard, TP: 1, FP: 0.11, FN: 1},
		{Name: LowFPRate, TP: 1, FP: 0.22, FN: 1},
		{Name: LowFNRate, TP: 1, FP: 0.11, FN: 2},
	}
}

// Window is one labelled anomaly window, both ends inclusive.
type Window struct {
	Start, End time.Time
}

// Row is one data row.
type Row struct {
	Time  time.Time
	Value float64
}

// File is one series of the corpus with its labelled windows.
type File struct {
	// Name is the path relative to the data folder, e.g.
	// "realKnownCause/nyc_taxi.csv"; it is the key of the windows file.
	Name    string
	Rows    []Row
	Windows []Window
}

// ProbationLength returns the number of leading rows NAB does not score in
// a file of n rows: min(floor(0.15*n), 0.15*5000).
func ProbationLength(n int) int {
	p := math.Floor(ProbationPercent * float64(n))
	return int(math.Min(p, ProbationPercent*5000))
}

// scaledSigmoid is NAB's weight for a relative position: -1 at the left
// edge of a window gives 0.98661, 0 at its right edge gives 0, and
// positions at or beyond 3 window-lengths after it give -1.
func scaledSigmoid(x float64) float64 {
	if x >= 3 {
		return -1
	}
	return 2/(1+math.Exp(5*x)) - 1
}
