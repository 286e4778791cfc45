package rca

import (
	"context"
	"math"
	"slices"
	"sort"

	"github.com/vigilops/vigil/diagnose"
)

// The baselines check the loaders against published figures: with the same
// windows they should land near what RCAEval reports for them.

// NSigma ranks services by the largest (x − mean) / std of any of their
// series over the anomalous period, mean and std taken over the normal
// period (the n-sigma baseline as RCAEval scores it: rises only).
func NSigma() Ranker {
	return RankFunc(func(_ context.Context, in diagnose.Input) ([]string, error) {
		return rankBy(in, func(normal []float64) func(float64) float64 {
			m, sd := meanStd(normal)
			if sd == 0 {
				sd = 1
			}
			return func(x float64) float64 { return (x - m) / sd }
		}), nil
	})
}

// BARO ranks services by the largest (x − median) / IQR of any of their
// series over the anomalous period, median and IQR taken over the normal
// period: the root-cause step of BARO (Pham et al., FSE 2024) as RCAEval
// scores it (rises only; a zero IQR falls back to 1).
func BARO() Ranker {
	return RankFunc(func(_ context.Context, in diagnose.Input) ([]string, error) {
		return rankBy(in, func(normal []float64) func(float64) float64 {
			xs := slices.Clone(normal)
			slices.Sort(xs)
			med := quantile(xs, 0.5)
			iqr := quantile(xs, 0.75) - quantile(xs, 0.25)
			if iqr == 0 {
				iqr = 1
			}
			return func(x float64) float64 { return (x - med) / iqr }
		}), nil
	})
}

func rankBy(in diagnose.Input, fit func(normal []float64) func(float64) float64) []string {
	best := map[string]float64{}
	normal := in.Normal
	if normal.Start.IsZero() && normal.End.IsZero() {
		normal.End = in.Anomalous.Start
		normal.Start = normal.End.Add(-1 << 62)
	}
	nlo, nhi := normal.Start.UnixMilli(), normal.End.UnixMilli()
	alo, ahi := in.Anomalous.Start.UnixMilli(), in.Anomalous.End.UnixMilli()
	for _, s := range in.Series {
		var nv, av []float64
		for _, p := range s.Points {
			if math.IsNaN(p.V) {
				continue
			}
			switch {
			case p.T >= nlo && p.T < nhi:
				nv = append(nv, p.V)
			case p.T >= alo && p.T < ahi:
				av = append(av, p.V)
			}
		}
		if len(nv) < 2 || len(av) == 0 {
			continue
		}
		f := fit(nv)
		sc := math.Inf(-1)
		for _, x := range av {
			sc = max(sc, f(x))
		}
		if b, ok := best[s.Service]; !ok || sc > b {
			best[s.Service] = sc
		}
	}
	out := make([]string, 0, len(best))
	for s := range best {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if best[out[i]] != best[out[j]] {
			return best[out[i]] > best[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}

func meanStd(xs []float64) (float64, float64) {
	m := 0.0
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	v := 0.0
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return m, math.Sqrt(v / float64(len(xs)))
}

func quantile(sorted []float64, q float64) float64 {
	p := q * float64(len(sorted)-1)
	lo := int(math.Floor(p))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (p-float64(lo))*(sorted[hi]-sorted[lo])
}
