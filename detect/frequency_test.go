package detect

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestFrequencyMayFire: whenever mayFire rules a count out, neither the
// spike nor the drop case holds for the full estimate, so skipping the
// estimate changes no judgement. Counts are drawn near the thresholds,
// and baselines include reals whose mean rounds above their maximum.
func TestFrequencyMayFire(t *testing.T) {
	d := NewFrequencyDetector(DefaultFrequencyOptions())
	tests := []struct {
		name string
		val  func(r *rand.Rand, base float64) float64
	}{
		{"steady counts", func(r *rand.Rand, base float64) float64 { return math.Round(base + 3*r.NormFloat64()) }},
		{"constant reals", func(r *rand.Rand, base float64) float64 { return base + 0.1 }},
		{"sparse counts", func(r *rand.Rand, base float64) float64 { return float64(r.IntN(3) * r.IntN(2)) }},
		{"bursty", func(r *rand.Rand, base float64) float64 { return base * float64(1+r.IntN(4)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			var skipped, fired int
			for range 20000 {
				base := float64(r.IntN(60))
				n := 30 + r.IntN(99)
				s := make([]float64, n)
				for i := range s {
					s[i] = max(0, tt.val(r, base))
				}
				slices.Sort(s)
				e := blEstimateSorted(s, BaselineAllHours)
				// Counts around every threshold: the drop line, the
				// usual value, the spike line.
				lam := math.Max(e.Mean, e.Median)
				c := []float64{0, math.Floor(0.25 * lam), math.Ceil(0.25 * lam), e.Median, math.Ceil(1.5 * e.Max), 3 * lam, float64(r.IntN(200))}[r.IntN(7)]
				peak := e.Max * r.Float64() * 2
				sd := math.Max(1, math.Sqrt(lam+e.Sigma()*e.Sigma()))
				z := (c - lam) / sd
				for _, errs := range []bool{false, true} {
					minCount := d.opts.MinSpikeCount
					if errs {
						minCount = d.opts.MinErrorBurst
					}
					would := d.spike(e, c, lam, z, peak, minCount) || !errs && d.drop(e, c, lam, z)
					if would {
						fired++
					}
					if !d.mayFire(c, peak, minCount, s, errs) {
						skipped++
						if would {
							t.Fatalf("count %v ruled out but fires against %+v (peak %v, errs %v)", c, e, peak, errs)
						}
					}
				}
			}
			if skipped == 0 {
				t.Error("mayFire never ruled a count out")
			}
			t.Logf("%d judgements skipped, %d would fire", skipped, fired)
		})
	}
}
