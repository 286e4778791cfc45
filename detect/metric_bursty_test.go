package detect

import (
	"math/rand/v2"
	"testing"
	"time"
)

// burstySeries is a job's CPU at 30s steps: idle near 0.01 with noise
// of sd idleSD, and a run of a few minutes at about 0.18 starting at a random
// minute of most hours, as a worker whose jobs start at irregular hours.
// fault, when set, alters the value at step i.
func burstySeries(days int, idleSD float64, fault func(i int, v float64) float64) (ts []time.Time, vs []float64) {
	rng := rand.New(rand.NewPCG(5, 6))
	const perHour = 120
	var start, length int
	for i := 0; i < days*24*perHour; i++ {
		if i%perHour == 0 {
			start, length = -1, 0
			if rng.IntN(4) > 0 {
				start, length = i+rng.IntN(perHour-10), 4+rng.IntN(5)
			}
		}
		v := 0.01 + idleSD*rng.NormFloat64()
		if start >= 0 && i >= start && i < start+length {
			v = 0.18 + 0.01*rng.NormFloat64()
		}
		if fault != nil {
			v = fault(i, v)
		}
		ts = append(ts, mtT0.Add(time.Duration(i)*30*time.Second))
		vs = append(vs, v)
	}
	return ts, vs
}

// TestSeriesDetectorBurstyPaging checks the paging gate on an intermittent
// series: its routine bursts, whatever the hour, stop paging once a few
// have been seen, also when the idle level is so quiet that every burst
// is an extreme surprise to the point scores.
func TestSeriesDetectorBurstyPaging(t *testing.T) {
	const days = 4
	tests := []struct {
		name   string
		idleSD float64
		// maxRoutine bounds anomalies after the first day.
		maxRoutine int
	}{
		{name: "noisy idle", idleSD: 0.02, maxRoutine: 1},
		{name: "noiseless idle", idleSD: 0.0002, maxRoutine: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewSeriesDetector(DefaultSeriesOptions())
			ts, vs := burstySeries(days, tc.idleSD, nil)
			routine := 0
			for i := range ts {
				s := d.Observe(ts[i], vs[i])
				if s.Anomaly != nil && ts[i].Sub(mtT0) >= 24*time.Hour {
					routine++
					t.Logf("routine burst paged: %s %s", ts[i].Sub(mtT0), s.Anomaly.Explanation)
				}
			}
			if routine > tc.maxRoutine {
				t.Errorf("%d routine bursts paged after the first day, want at most %d", routine, tc.maxRoutine)
			}
		})
	}
}
