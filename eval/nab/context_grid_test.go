package nab

import (
	"context"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/internal/datasets"
)

// gridEnv turns on the (slower) experiment grids of this file.
const gridEnv = "VIGIL_NAB_GRID"

// combineHeld combines pointwise with f, then damps (×0.1) the combined
// score for hold points after one at or above at: one event seen by both
// detectors at different moments is one detection.
func combineHeld(a, b Scores, f func(x, y float64) float64, hold int, at float64) Scores {
	out := make(Scores, len(a))
	for name, xs := range a {
		ys := b[name]
		zs := make([]float64, len(xs))
		cool := 0
		for i := range xs {
			z := f(xs[i], ys[i])
			if cool > 0 {
				cool--
				z *= 0.1
			} else if z >= at {
				cool = hold
			}
			zs[i] = z
		}
		out[name] = zs
	}
	return out
}

// TestContextGrid is the record of every configuration tried (TUNING.md,
// "A second detector"). VIGIL_NAB_GRID names the parts to run, joined by
// commas: ref (the published contextOSE scores combined with the core's),
// oracle (the non-causal check; add perfile for a per-file listing), opts
// (one option at a time from the defaults; add steps, cross, final, cad, mem
// or replay for those grids instead), comb (ensemble functions; add held for the
// shared hold-off grid), gate (damping the core by the context memory's
// raw score), diff (a context detector on first differences), cal
// (per-series calibration of the scores).
func TestContextGrid(t *testing.T) {
	if os.Getenv(gridEnv) == "" {
		t.Skipf("set %s=1 to run the experiment grid", gridEnv)
	}
	dir := datasets.Dir(t, "nab")
	c, err := LoadCorpus(dir)
	if err != nil {
		t.Fatal(err)
	}
	which := os.Getenv(gridEnv)
	core := runCore(t, c)
	t.Logf("core alone %s", fmtTriple(nabTriple(t, c, core)))

	if strings.Contains(which, "ref") {
		// What kind of detector complements ours: the published
		// contextOSE scores (which saw each file's min and max), combined.
		ref, err := LoadScoresFile(filepath.Join(dir, "reference_scores", "contextOSE.json.gz"))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("contextOSE ref %s", fmtTriple(nabTriple(t, c, ref)))
		for _, name := range slices.Sorted(maps.Keys(combiners())) {
			f := combiners()[name]
			t.Logf("core ⊕ contextOSE ref, %-12s %s", name, fmtTriple(nabTriple(t, c, combine(core, ref, f))))
		}
	}
	if strings.Contains(which, "oracle") {
		// Not causal, a check of the method only: each file's own min and
		// max and NAB's rest of probation/5, as NAB's contextOSE runs.
		s := make(Scores, len(c.Files))
		for _, f := range c.Files {
			o := detect.DefaultContextOptions()
			o.Min, o.Max = f.Rows[0].Value, f.Rows[0].Value
			for _, r := range f.Rows {
				o.Min, o.Max = math.Min(o.Min, r.Value), math.Max(o.Max, r.Value)
			}
			o.RestPoints = ProbationLength(len(f.Rows)) / 5
			d, err := detect.NewContextDetector(o)
			if err != nil {
				t.Fatal(err)
			}
			xs := make([]float64, len(f.Rows))
			for i, r := range f.Rows {
				xs[i] = d.Observe(r.Value)
			}
			s[f.Name] = xs
		}
		t.Logf("oracle range+rest %s", fmtTriple(nabTriple(t, c, s)))
		if strings.Contains(which, "perfile") {
			res, _ := Evaluate(c, s, DefaultProfiles(), nil)
			perFile(t, c, s, res[0].Threshold)
			cs := runContext(t, c, detect.DefaultContextOptions())
			res, _ = Evaluate(c, cs, DefaultProfiles(), nil)
			perFile(t, c, cs, res[0].Threshold)
		}
	}
	if strings.Contains(which, "opts") {
		type variant struct {
			name string
			mod  func(*detect.ContextOptions)
		}
		vs := []variant{{"default", func(*detect.ContextOptions) {}}}
		if strings.Contains(which, "cross") {
			vs = nil
			for _, m := range []float64{0.5, 1} {
				for _, w := range []int{150, 300} {
					for _, r := range []int{50, 100} {
						vs = append(vs, variant{fmt.Sprintf("m%v w%d r%d", m, w, r), func(o *detect.ContextOptions) { o.Margin, o.WarmUp, o.RestPoints = m, w, r }})
					}
				}
			}
		}
		if strings.Contains(which, "final") {
			vs = []variant{
				{"w100 m0.5", func(o *detect.ContextOptions) { o.WarmUp = 100 }},
				{"replay 500 m0.5", func(o *detect.ContextOptions) { o.Replay = 500 }},
				{"replay 2000 m0.5", func(o *detect.ContextOptions) { o.Replay = 2000 }},
				{"bits 4 m0.5", func(o *detect.ContextOptions) { o.Bits = 4 }},
			}
		}
		if strings.Contains(which, "cad") {
			vs = nil
			for _, x := range []float64{0.7, 0.8} {
				vs = append(vs, variant{fmt.Sprintf("rest at %.1f", x), func(o *detect.ContextOptions) { o.RestThreshold = x }})
			}
			for _, x := range []int{10, 20} {
				vs = append(vs, variant{fmt.Sprintf("active %d", x), func(o *detect.ContextOptions) { o.MaxActive = x }})
			}
			for _, x := range []int{5, 10} {
				vs = append(vs, variant{fmt.Sprintf("left %d", x), func(o *detect.ContextOptions) { o.MaxLeftFacts = x }})
			}
		}
		if strings.Contains(which, "steps") {
			// The steps of TUNING.md's table before the shipped margin.
			vs = []variant{
				{"step 1", func(o *detect.ContextOptions) { o.Margin, o.Replay = 0.1, 0 }},
				{"step 2", func(o *detect.ContextOptions) { o.Margin = 0.1 }},
			}
		}
		if strings.Contains(which, "mem") {
			vs = nil
			for _, m := range []int{250, 500, 1000, 2000} {
				vs = append(vs, variant{fmt.Sprintf("max ctx %d", m), func(o *detect.ContextOptions) { o.MaxContexts = m }})
			}
		}
		if strings.Contains(which, "replay") {
			vs = nil
			for _, r := range []int{0, 500, 1000, 2000} {
				vs = append(vs, variant{fmt.Sprintf("replay %d", r), func(o *detect.ContextOptions) { o.Replay = r }})
			}
		}
		for _, w := range []int{50, 100, 300} {
			vs = append(vs, variant{fmt.Sprintf("warmup %d", w), func(o *detect.ContextOptions) { o.WarmUp = w }})
		}
		for _, m := range []float64{0, 0.25, 0.5} {
			vs = append(vs, variant{fmt.Sprintf("margin %v", m), func(o *detect.ContextOptions) { o.Margin = m }})
		}
		for _, r := range []int{50, 150, 200} {
			vs = append(vs, variant{fmt.Sprintf("rest %d", r), func(o *detect.ContextOptions) { o.RestPoints = r }})
		}
		for _, r := range []int{0, 500, 2000} {
			vs = append(vs, variant{fmt.Sprintf("replay %d", r), func(o *detect.ContextOptions) { o.Replay = r }})
		}
		for _, b := range []int{2, 4} {
			vs = append(vs, variant{fmt.Sprintf("bits %d", b), func(o *detect.ContextOptions) { o.Bits = b }})
		}
		for _, v := range vs {
			o := detect.DefaultContextOptions()
			v.mod(&o)
			cs := runContext(t, c, o)
			t.Logf("%-12s alone %s | max %s | shipped %s", v.name, fmtTriple(nabTriple(t, c, cs)),
				fmtTriple(nabTriple(t, c, combine(core, cs, math.Max))),
				fmtTriple(nabTriple(t, c, combine(core, cs, detect.CombineScores))))
		}
	}
	if strings.Contains(which, "diff") {
		// A second context detector on first differences beside the one
		// on values.
		cs := runContext(t, c, detect.DefaultContextOptions())
		ds, err := Run(context.Background(), c, func(string) Detector {
			d, err := detect.NewContextDetector(detect.DefaultContextOptions())
			if err != nil {
				t.Fatal(err)
			}
			prev, first := 0.0, true
			return seriesFunc(func(_ time.Time, v float64) float64 {
				if first {
					first, prev = false, v
					return 0
				}
				x := v - prev
				prev = v
				return d.Observe(x)
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		both := combine(cs, ds, math.Max)
		t.Logf("differences alone %s", fmtTriple(nabTriple(t, c, ds)))
		t.Logf("max(values, differences) %s", fmtTriple(nabTriple(t, c, both)))
		t.Logf("core ⊕ max(values, differences) %s", fmtTriple(nabTriple(t, c, combine(core, both, detect.CombineScores))))
		t.Logf("core ⊕ differences %s", fmtTriple(nabTriple(t, c, combine(core, ds, detect.CombineScores))))
	}
	if strings.Contains(which, "cal") {
		calGrid(t, c, core)
	}
	if strings.Contains(which, "gate") {
		gateGrid(t, c, core)
	}
	if strings.Contains(which, "comb") {
		cs := runContext(t, c, detect.DefaultContextOptions())
		t.Logf("context alone %s", fmtTriple(nabTriple(t, c, cs)))
		for _, name := range slices.Sorted(maps.Keys(combiners())) {
			f := combiners()[name]
			t.Logf("core ⊕ context, %-12s %s", name, fmtTriple(nabTriple(t, c, combine(core, cs, f))))
		}
		for _, x := range []Scores{core, cs} {
			res, _ := Evaluate(c, x, DefaultProfiles(), nil)
			t.Logf("thresholds %.4f %.4f %.4f fp %d %d %d", res[0].Threshold, res[1].Threshold, res[2].Threshold, res[0].FP, res[1].FP, res[2].FP)
		}
		for _, k := range []float64{0.25, 0.5} {
			f := func(x, y float64) float64 { return math.Min(1, x+k*y) }
			t.Logf("core ⊕ context, min(1, core+%.2f×ctx) %s", k, fmtTriple(nabTriple(t, c, combine(core, cs, f))))
		}
		for _, pw := range []float64{0.5, 2} {
			f := func(x, y float64) float64 { return math.Max(x, math.Pow(0.75*y, pw)) }
			t.Logf("core ⊕ context, max(core, (0.75×ctx)^%.1f) %s", pw, fmtTriple(nabTriple(t, c, combine(core, cs, f))))
		}
		for _, hold := range []int{25, 100} {
			f := func(x, y float64) float64 { return math.Max(x, 0.75*y) }
			t.Logf("core ⊕ context, max(core, 0.75×ctx) held %d at 0.5 %s", hold, fmtTriple(nabTriple(t, c, combineHeld(core, cs, f, hold, 0.5))))
		}
		for _, k := range []float64{0.5, 0.75, 1.5, 2} {
			f := func(x, y float64) float64 { return math.Max(x, math.Min(1, k*y)) }
			t.Logf("core ⊕ context, max(core, %.2f×ctx) %s | held 50 at 0.5 %s", k, fmtTriple(nabTriple(t, c, combine(core, cs, f))),
				fmtTriple(nabTriple(t, c, combineHeld(core, cs, f, 50, 0.5))))
		}
		for _, base := range []string{"max", "mean w0.50", "mean w0.75", "noisy-or"} {
			if !strings.Contains(which, "held") {
				break
			}
			f := combiners()[base]
			for _, hold := range []int{50, 100, 200} {
				for _, at := range []float64{0.5, 0.7} {
					g := combineHeld(core, cs, f, hold, at)
					t.Logf("core ⊕ context, %-10s hold %3d at %.1f %s", base, hold, at, fmtTriple(nabTriple(t, c, g)))
				}
			}
		}
	}
}

// gateGrid is the record of damping the core where the context memory
// predicted the point (TUNING.md): it needs the context detector's raw,
// ungated score of every row.
func gateGrid(t *testing.T, c *Corpus, core Scores) {
	raws := make(Scores)
	cs, err := Run(context.Background(), c, func(name string) Detector {
		d, err := detect.NewContextDetector(detect.DefaultContextOptions())
		if err != nil {
			t.Fatal(err)
		}
		return seriesFunc(func(_ time.Time, v float64) float64 {
			s := d.Observe(v)
			raws[name] = append(raws[name], d.Raw())
			return s
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	gated := func(g func(core, raw float64) float64) Scores {
		out := make(Scores, len(core))
		for n, xs := range core {
			ys := make([]float64, len(xs))
			for i := range xs {
				ys[i] = math.Max(g(xs[i], raws[n][i]), 0.75*cs[n][i])
			}
			out[n] = ys
		}
		return out
	}
	for _, lim := range []float64{0.05, 0.1, 0.25} {
		for _, damp := range []float64{0, 0.5} {
			s := gated(func(x, r float64) float64 {
				if r < lim {
					return x * damp
				}
				return x
			})
			t.Logf("raw < %.2f → core × %.1f: %s", lim, damp, fmtTriple(nabTriple(t, c, s)))
		}
	}
	for _, w := range []int{1, 10, 50} {
		recent := make(Scores, len(raws))
		for n, xs := range raws {
			ys := make([]float64, len(xs))
			for i := range xs {
				for j := max(0, i-w+1); j <= i; j++ {
					ys[i] = math.Max(ys[i], xs[j])
				}
			}
			recent[n] = ys
		}
		for _, floor := range []float64{0, 0.5} {
			out := make(Scores, len(core))
			for n, xs := range core {
				ys := make([]float64, len(xs))
				for i := range xs {
					g := floor + (1-floor)*math.Min(1, 2*recent[n][i])
					ys[i] = math.Max(xs[i]*g, 0.75*cs[n][i])
				}
				out[n] = ys
			}
			t.Logf("core × (%.1f + %.1f·min(1, 2·raw over %d)): %s", floor, 1-floor, w, fmtTriple(nabTriple(t, c, out)))
		}
	}
}

// calibrate maps each score to 1 − the share of the file's earlier scores
// (in 0.01 bins) at or above it, 0 staying 0: how rare the score is for
// its series so far.
func calibrate(s Scores) Scores {
	out := make(Scores, len(s))
	for n, xs := range s {
		var hist [101]int
		ys := make([]float64, len(xs))
		for i, x := range xs {
			b := int(math.Min(100, math.Max(0, x*100)))
			ge := 0
			for _, h := range hist[b:] {
				ge += h
			}
			if x != 0 {
				ys[i] = 1 - float64(ge)/float64(i+1)
			}
			hist[b]++
		}
		out[n] = ys
	}
	return out
}

// calGrid is the record of per-series calibration of the scores.
func calGrid(t *testing.T, c *Corpus, core Scores) {
	cs := runContext(t, c, detect.DefaultContextOptions())
	cc, cx := calibrate(core), calibrate(cs)
	mul := func(x, y float64) float64 { return x * y }
	ccore, cctx := combine(core, cc, mul), combine(cs, cx, mul)
	t.Logf("calibrated core %s", fmtTriple(nabTriple(t, c, cc)))
	t.Logf("calibrated context %s", fmtTriple(nabTriple(t, c, cx)))
	t.Logf("max(calibrated core, calibrated context) %s", fmtTriple(nabTriple(t, c, combine(cc, cx, math.Max))))
	t.Logf("core × its calibration %s", fmtTriple(nabTriple(t, c, ccore)))
	t.Logf("context × its calibration %s", fmtTriple(nabTriple(t, c, cctx)))
	t.Logf("CombineScores(core × cal, context) %s", fmtTriple(nabTriple(t, c, combine(ccore, cs, detect.CombineScores))))
	t.Logf("CombineScores(core × cal, context × cal) %s", fmtTriple(nabTriple(t, c, combine(ccore, cctx, detect.CombineScores))))
	t.Logf("max(core × cal, context × cal) %s", fmtTriple(nabTriple(t, c, combine(ccore, cctx, math.Max))))
}

// combiners are the ensemble functions tried, by name.
func combiners() map[string]func(x, y float64) float64 {
	m := map[string]func(x, y float64) float64{
		"max":      math.Max,
		"noisy-or": func(x, y float64) float64 { return 1 - (1-x)*(1-y) },
		"geomean":  func(x, y float64) float64 { return math.Sqrt(x * y) },
		"shipped":  detect.CombineScores,
	}
	for _, w := range []float64{0.25, 0.5, 0.75} {
		m[fmt.Sprintf("mean w%.2f", w)] = func(x, y float64) float64 { return (1-w)*x + w*y }
	}
	return m
}
