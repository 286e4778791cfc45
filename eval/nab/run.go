package nab

import (
	"context"
	"time"
)

// Detector is a streaming detector of one series: it sees each row once,
// in order, and answers an anomaly score in [0,1] before the next row.
type Detector interface {
	Observe(t time.Time, v float64) float64
}

// Run feeds every file of the corpus, row by row, to a fresh detector from
// newDetector and collects the scores. It stops early when ctx is done.
func Run(ctx context.Context, c *Corpus, newDetector func(name string) Detector) (Scores, error) {
	out := make(Scores, len(c.Files))
	for _, f := range c.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d := newDetector(f.Name)
		s := make([]float64, len(f.Rows))
		for i, r := range f.Rows {
			s[i] = d.Observe(r.Time, r.Value)
		}
		out[f.Name] = s
	}
	return out, nil
}
