package diagnose

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// seriesScore is the verdict on one series.
type seriesScore struct {
	svc, name string
	kind      Kind
	median    float64
	// z is the peak directional deviation in the anomalous period, in
	// robust standard deviations; tail the same over the normal period.
	z, tail float64
	// score is z over max(threshold, tail): above 1 the series went further
	// than it ever did in normal time.
	score    float64
	observed float64
	onset    int64 // ms; first anomalous point beyond the bar
	change   string
}

// robustScale returns the median and a robust standard deviation of xs:
// the larger of IQR/1.349 and 1.4826·MAD, floored at 1% of the series'
// magnitude (the larger of the median and the largest absolute value seen,
// normal or not; floor is that share, see Kind.scaleFloor) so that a series
// flat at zero does not turn its first move into an infinite score. xs is
// sorted in place.
func robustScale(xs []float64, magnitude, floor float64) (med, scale float64) {
	slices.Sort(xs)
	med = quantileSorted(xs, 0.5)
	iqr := (quantileSorted(xs, 0.75) - quantileSorted(xs, 0.25)) / 1.349
	dev := make([]float64, len(xs))
	for i, x := range xs {
		dev[i] = math.Abs(x - med)
	}
	slices.Sort(dev)
	mad := 1.4826 * quantileSorted(dev, 0.5)
	// A series that is flat most of the time (a rarely used path, a
	// counter at zero) has no robust spread; its classical spread then
	// says how large its occasional moves are.
	sd := 0.0
	for _, x := range xs {
		sd += (x - med) * (x - med)
	}
	sd = math.Sqrt(sd / float64(len(xs)))
	scale = max(iqr, mad, floor*max(math.Abs(med), magnitude), 1e-9)
	if iqr == 0 || mad == 0 {
		scale = max(scale, sd)
	}
	return med, scale
}

// quantileSorted interpolates the q-quantile of sorted xs.
func quantileSorted(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	p := q * float64(len(xs)-1)
	lo := int(math.Floor(p))
	hi := min(lo+1, len(xs)-1)
	return xs[lo] + (p-float64(lo))*(xs[hi]-xs[lo])
}

func directional(dir int, d float64) float64 {
	switch dir {
	case 1:
		return max(0, d)
	case -1:
		return max(0, -d)
	}
	return math.Abs(d)
}

// scoreSeries judges one series; ok is false when it has too little normal
// data to judge. Normal points in moments dist marks as disturbed are left
// out. An absent anomalous period after a normal period that ran
// up to the onset is itself evidence (a target that stopped reporting).
func scoreSeries(s *Series, normal, anom Window, threshold float64, maxPoints int, dist disturbance) (seriesScore, bool) {
	pts := s.Points
	if len(pts) > maxPoints {
		pts = pts[len(pts)-maxPoints:]
	}
	var nv []float64
	var lastNormal int64
	magnitude := 0.0
	nAnom := 0
	for _, p := range pts {
		if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
			continue
		}
		inNormal := normal.contains(p.T) && !dist.skip(p.T)
		if inNormal || anom.contains(p.T) {
			magnitude = max(magnitude, math.Abs(p.V))
		}
		switch {
		case inNormal:
			nv = append(nv, p.V)
			lastNormal = max(lastNormal, p.T)
		case anom.contains(p.T):
			nAnom++
		}
	}
	if len(nv) < 3 {
		return seriesScore{}, false
	}
	out := seriesScore{svc: s.Service, name: s.Name, kind: s.Kind}
	sorted := slices.Clone(nv)
	med, scale := robustScale(sorted, s.Kind.unitMagnitude(magnitude), s.Kind.scaleFloor())
	out.median = med
	dir := s.Kind.direction()
	devs := make([]float64, len(nv))
	for i, v := range nv {
		devs[i] = directional(dir, (v-med)/scale)
	}
	// The bar is the largest deviation of the normal period: an anomaly
	// must go beyond anything the series did in normal time.
	out.tail = slices.Max(devs)
	bar := max(threshold, out.tail)
	if nAnom == 0 {
		// Reporting stopped: only meaningful when the series was still
		// reporting in the last tenth of the normal period and the
		// anomalous period is long enough to have expected a point.
		span := normal.End.Sub(normal.Start)
		if span > 0 && lastNormal >= normal.End.Add(-span/10).UnixMilli() && anom.End.Sub(anom.Start) >= span/20 {
			out.change = "absent"
			out.score = 1.5
			out.z = bar * 1.5
			out.onset = anom.Start.UnixMilli()
			return out, true
		}
		return seriesScore{}, false
	}
	out.onset = -1
	// second is the second largest deviation: with three or more points
	// in the anomalous period a single outlying sample (a histogram
	// quantile jumping one bucket) is not enough; the deviation must hold.
	second, n := 0.0, 0
	for _, p := range pts {
		if !anom.contains(p.T) || math.IsNaN(p.V) || math.IsInf(p.V, 0) {
			continue
		}
		n++
		d := (p.V - med) / scale
		dd := directional(dir, d)
		if dd > out.z {
			second = out.z
			out.z, out.observed = dd, p.V
			out.change = "up"
			if d < 0 {
				out.change = "down"
			}
		} else if dd > second {
			second = dd
		}
		if out.onset < 0 && dd > bar {
			out.onset = p.T
		}
	}
	if n >= 3 {
		out.z = second
	}
	out.score = out.z / bar
	if out.onset < 0 {
		out.onset = anom.End.UnixMilli()
	}
	return out, true
}

func (s *seriesScore) evidence() Evidence {
	e := Evidence{
		Kind: EvidenceMetric, Service: s.svc, Series: s.name, MetricKind: s.kind, Score: s.z,
		Onset: time.UnixMilli(s.onset).UTC(), Normal: s.median, Observed: s.observed, Change: s.change,
	}
	if s.change == "absent" {
		e.Summary = fmt.Sprintf("%s stopped reporting (normally %.4g)", s.name, s.median)
	} else {
		e.Summary = fmt.Sprintf("%s %s to %.4g against a normal %.4g (%.1f robust SDs, %.1f× its normal extreme)",
			s.name, s.change, s.observed, s.median, s.z, s.score)
	}
	return e
}
