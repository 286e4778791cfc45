package nab

import (
	"context"
	"testing"
	"time"

	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/internal/datasets"
)

type seriesFunc func(t time.Time, v float64) float64

func (f seriesFunc) Observe(t time.Time, v float64) float64 { return f(t, v) }

// TestVigilDetector runs Vigil's default metric detector over the corpus,
// streaming, one configuration, and guards against regressions: the floor
// sits a little under the measured scores (see TUNING.md), far above the
// published windowedGaussian (29.06) and twitterADVec (38.91) baselines.
func TestVigilDetector(t *testing.T) {
	dir := datasets.Dir(t, "nab")
	c, err := LoadCorpus(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Run(context.Background(), c, func(string) Detector {
		d := detect.NewSeriesDetector(detect.DefaultSeriesOptions())
		return seriesFunc(func(t time.Time, v float64) float64 { return d.Observe(t, v).Score })
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Evaluate(c, s, DefaultProfiles(), nil)
	if err != nil {
		t.Fatal(err)
	}
	floor := map[string]float64{Standard: 72, LowFPRate: 63.5, LowFNRate: 76.5}
	for _, r := range res {
		t.Logf("%-20s %.2f thr %.4f raw %.2f tp %d fp %d", r.Profile, r.Normalized, r.Threshold, r.Raw, r.TP, r.FP)
		if r.Normalized < floor[r.Profile] {
			t.Errorf("%s = %.2f, below the regression floor %.0f", r.Profile, r.Normalized, floor[r.Profile])
		}
	}
	if testing.Verbose() {
		perFile(t, c, s, res[0].Threshold)
	}
}

// perFile logs (with -v), at one threshold, each file's windows found and
// rows above threshold outside windows, to see where a detector wins and
// loses.
func perFile(t *testing.T, c *Corpus, s Scores, th float64) {
	for _, f := range c.Files {
		one := &Corpus{Files: []File{f}}
		sw, _ := NewSweep(one, Scores{f.Name: s[f.Name]}, DefaultProfiles()[0])
		r := sw.At(th)
		// count detections (first crossing) outside windows
		lab := f.Labels()
		fpN, det := 0, 0
		found := map[int]bool{}
		idx, _ := f.windowIndices()
		for i, v := range s[f.Name] {
			if i < ProbationLength(len(f.Rows)) || v < th {
				continue
			}
			if lab[i] == 0 {
				fpN++
			} else {
				for wi, w := range idx {
					if i >= w[0] && i <= w[1] && !found[wi] {
						found[wi] = true
						det++
					}
				}
			}
		}
		t.Logf("%-55s win %d/%d fp %3d raw %6.2f", f.Name, det, len(f.Windows), fpN, r.Score)
	}
}
