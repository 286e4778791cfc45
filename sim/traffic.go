package sim

import (
	"math"
	"math/rand/v2"
	"time"
)

// peakEdgeRPS is the edge request rate at a weekday evening peak.
const peakEdgeRPS = 160.0

// Hourly shapes of edge traffic as a fraction of the peak: quiet at night,
// a morning ramp, a lunch bump and the evening peak on weekdays; a later,
// flatter day on weekends.
var (
	weekdayShape = [24]float64{
		0.34, 0.24, 0.17, 0.13, 0.12, 0.14, 0.21, 0.36, 0.52, 0.62, 0.68, 0.72,
		0.78, 0.75, 0.70, 0.70, 0.73, 0.79, 0.89, 0.98, 1.00, 0.92, 0.72, 0.50,
	}
	weekendShape = [24]float64{
		0.42, 0.32, 0.24, 0.18, 0.15, 0.14, 0.16, 0.22, 0.34, 0.50, 0.64, 0.74,
		0.79, 0.80, 0.78, 0.76, 0.75, 0.77, 0.81, 0.85, 0.84, 0.78, 0.64, 0.52,
	}
	// dayFactor is indexed by time.Weekday (Sunday first).
	dayFactor = [7]float64{0.92, 1.00, 1.02, 1.00, 1.03, 0.95, 0.86}
)

// knot returns the seasonal level at the start of hour h of t's day, where
// h may be 24 (the next day's midnight).
func knot(day time.Time, h int) float64 {
	if h == 24 {
		day = day.AddDate(0, 0, 1)
		h = 0
	}
	wd := day.Weekday()
	shape := &weekdayShape
	if wd == time.Saturday || wd == time.Sunday {
		shape = &weekendShape
	}
	return shape[h] * dayFactor[wd]
}

// seasonal returns the noise-free edge rate at t, interpolating hourly knots
// with a cosine so the curve has no corners.
func seasonal(t time.Time) float64 {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	hf := t.Sub(day).Hours()
	h := int(hf)
	f := hf - float64(h)
	w := (1 - math.Cos(math.Pi*f)) / 2
	return peakEdgeRPS * (knot(day, h)*(1-w) + knot(day, h+1)*w)
}

// burst is a short benign rise in traffic (a newsletter, a bot crawl).
type burst struct {
	start time.Time
	dur   time.Duration
	mag   float64
}

// traffic generates the edge request rate. Its state (the AR(1) noise and
// the day's bursts) advances one step at a time.
type traffic struct {
	noise  float64
	day    int64
	bursts []burst
}

func dayIndex(t time.Time) int64 { return t.Unix() / 86400 }

// planBursts draws the benign bursts of t's day from the day's own seed, so
// the same day has the same bursts whatever the simulation's start.
func (tr *traffic) planBursts(seed int64, t time.Time, r *stream) {
	d := dayIndex(t)
	if d == tr.day && tr.bursts != nil {
		return
	}
	tr.day = d
	tr.bursts = tr.bursts[:0:0]
	r.reseed(seed, streamDay, d*8)
	start := time.Unix(d*86400, 0).UTC()
	n := poisson(r.Rand, 2)
	for i := 0; i < n; i++ {
		off := time.Duration(r.Float64()*23.6*3600) * time.Second
		tr.bursts = append(tr.bursts, burst{
			start: start.Add(off),
			dur:   time.Duration(3+r.IntN(10)) * time.Minute,
			mag:   0.12 + 0.2*r.Float64(),
		})
	}
}

// burstFactor is the multiplicative lift from bursts at t: a fast rise and
// a slower decay.
func (tr *traffic) burstFactor(t time.Time) float64 {
	f := 1.0
	for _, b := range tr.bursts {
		if t.Before(b.start) || !t.Before(b.start.Add(b.dur)) {
			continue
		}
		x := t.Sub(b.start).Seconds() / b.dur.Seconds()
		shape := math.Min(1, x*5) * math.Min(1, (1-x)*2)
		f += b.mag * shape
	}
	return f
}

// rate advances the noise by one step and returns the edge rate at t.
func (tr *traffic) rate(t time.Time, step time.Duration, r *rand.Rand) float64 {
	const tau, sigma = 600.0, 0.05
	phi := math.Exp(-step.Seconds() / tau)
	tr.noise = phi*tr.noise + math.Sqrt(1-phi*phi)*sigma*r.NormFloat64()
	white := 0.02 * r.NormFloat64()
	return seasonal(t) * tr.burstFactor(t) * math.Exp(tr.noise+white)
}
