package diagnose

import (
	"math"
	"slices"
)

// Disturbed normal time.
//
// A normal period taken from a running system is rarely clean: an
// unrecorded incident, a fault nobody wrote down, a restart. Such a stretch
// sets the normal extreme of every series it touched, and the incident
// under diagnosis then looks ordinary next to it. Its signature is that
// many services deviate at the same moment, which ordinary noise (one
// series spiking on its own) does not do. Moments where a large share of
// the services stray far from their own median are therefore left out of
// the normal period before any series is judged.
const (
	// disturbedZ is the deviation, in robust standard deviations, that
	// counts a service as straying at a moment.
	disturbedZ = 6.0
	// disturbedShare is the share of the services with normal data that
	// must stray together for the moment to count as disturbed: half of
	// them, so that a burst one busy path carries (a caller, its callees)
	// stays part of normal.
	disturbedShare = 0.5
	// disturbedMinServices is the least number of services straying
	// together: two services moving in step are a caller and its callee,
	// not an incident.
	disturbedMinServices = 3
	// maxDisturbedShare bounds what is left out: when more than this share
	// of the normal period looks disturbed, the period is what normal
	// looks like and is kept whole.
	maxDisturbedShare = 0.25
)

// disturbance says which normal-period moments to leave out. The zero
// value leaves out nothing.
type disturbance struct {
	origin, step int64
	buckets      map[int64]bool
}

func (d disturbance) bucket(t int64) int64 { return (t - d.origin + d.step/2) / d.step }

// skip reports whether a normal point at t falls in a disturbed moment.
func (d disturbance) skip(t int64) bool {
	return d.buckets != nil && d.buckets[d.bucket(t)]
}

// findDisturbance finds the normal-period moments (buckets of width step)
// where many services strayed together; none when step is unknown.
func findDisturbance(ss []Series, normal Window, step int64, maxPoints int) disturbance {
	if step <= 0 {
		return disturbance{}
	}
	d := disturbance{origin: normal.Start.UnixMilli(), step: step}
	bucket := d.bucket
	straying := map[int64]map[string]bool{}
	services := map[string]bool{}
	buckets := map[int64]bool{}
	var nv []float64
	for i := range ss {
		s := &ss[i]
		pts := s.Points
		if len(pts) > maxPoints {
			pts = pts[len(pts)-maxPoints:]
		}
		nv = nv[:0]
		magnitude := 0.0
		for _, p := range pts {
			if normal.contains(p.T) && !math.IsNaN(p.V) && !math.IsInf(p.V, 0) {
				nv = append(nv, p.V)
				magnitude = max(magnitude, math.Abs(p.V))
			}
		}
		if len(nv) < 8 {
			continue
		}
		services[s.Service] = true
		med, scale := robustScale(slices.Clone(nv), s.Kind.unitMagnitude(magnitude), s.Kind.scaleFloor())
		dir := s.Kind.direction()
		for _, p := range pts {
			if !normal.contains(p.T) || math.IsNaN(p.V) || math.IsInf(p.V, 0) {
				continue
			}
			b := bucket(p.T)
			buckets[b] = true
			if directional(dir, (p.V-med)/scale) < disturbedZ {
				continue
			}
			m := straying[b]
			if m == nil {
				m = map[string]bool{}
				straying[b] = m
			}
			m[s.Service] = true
		}
	}
	need := max(disturbedMinServices, int(math.Ceil(disturbedShare*float64(len(services)))))
	out := map[int64]bool{}
	for b, m := range straying {
		if len(m) >= need {
			out[b] = true
		}
	}
	if len(out) == 0 || float64(len(out)) > maxDisturbedShare*float64(len(buckets)) {
		return d
	}
	d.buckets = out
	return d
}
