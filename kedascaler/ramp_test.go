package kedascaler

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// series returns points every step from start, value f(i).
func series(start time.Time, step time.Duration, n int, f func(i int) float64) []telemetry.Point {
	out := make([]telemetry.Point, n)
	for i := range out {
		out[i] = telemetry.Point{T: start.Add(time.Duration(i) * step).UnixMilli(), V: f(i)}
	}
	return out
}

func TestRampValue(t *testing.T) {
	// An hour of 1-minute history whose one-step changes are about ±2.
	wiggle := func(i int) float64 { return 100 + 2*float64(i%2) }
	hist := series(t0.Add(-time.Hour), time.Minute, 61, wiggle)
	now := t0.Add(30 * time.Second) // the newest recent point is 30 s old
	tests := []struct {
		name string
		pts  []telemetry.Point
		want float64 // NaN: no ramp
	}{
		// 10 per minute over the last 2 minutes, 20 above the wiggle:
		// carried 30 s + 2 m past the newest point (120 at t0).
		{"steep rise is extrapolated over the lead", series(t0.Add(-2*time.Minute), 15*time.Second, 9, func(i int) float64 { return 100 + 2.5*float64(i) }), 120 + 10*2.5},
		// 40 a minute for the first minute, 10 a minute for the last: the
		// freshest half's pace is carried (150 + 10 x 2.5), not the
		// window's average one.
		{"a ramp levelling off is carried at its freshest pace", series(t0.Add(-2*time.Minute), 15*time.Second, 9, func(i int) float64 {
			if i <= 4 {
				return 100 + 10*float64(i)
			}
			return 140 + 2.5*float64(i-4)
		}), 175},
		// Flat for the first minute, 20 a minute for the last (the first
		// minute of a surge): the window's slope (10 a minute) would
		// order for less than the load is already climbing at; the
		// freshest half's pace is carried (120 + 20 x 2.5).
		{"a ramp speeding up is carried at its freshest pace", series(t0.Add(-2*time.Minute), 15*time.Second, 9, func(i int) float64 {
			if i <= 4 {
				return 100
			}
			return 100 + 5*float64(i-4)
		}), 170},
		// 40 a minute for the first minute, then flat: the window rose,
		// its freshest half did not; the rise has stopped.
		{"a rise that has stopped is not extrapolated", series(t0.Add(-2*time.Minute), 15*time.Second, 9, func(i int) float64 {
			return 100 + 10*float64(min(i, 4))
		}), math.NaN()},
		{"rise within the noise is not a ramp", series(t0.Add(-2*time.Minute), 15*time.Second, 9, func(i int) float64 { return 100 + 0.25*float64(i) }), math.NaN()},
		{"a fall is not extrapolated", series(t0.Add(-2*time.Minute), 15*time.Second, 9, func(i int) float64 { return 200 - 2.5*float64(i) }), math.NaN()},
		{"too few points", series(t0.Add(-time.Minute), 30*time.Second, 3, func(i int) float64 { return 100 + 50*float64(i) }), math.NaN()},
		{"flat", series(t0.Add(-2*time.Minute), 15*time.Second, 9, func(int) float64 { return 100 }), math.NaN()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := rampValue(tc.pts, hist, now, 2*time.Minute, 2*time.Minute)
			if math.IsNaN(tc.want) != math.IsNaN(got) || !math.IsNaN(got) && math.Abs(got-tc.want) > 1e-9 {
				t.Fatalf("ramp %g, want %g", got, tc.want)
			}
		})
	}
	t.Run("no history to judge the noise", func(t *testing.T) {
		pts := series(t0.Add(-2*time.Minute), 15*time.Second, 9, func(i int) float64 { return 100 + 10*float64(i) })
		if got := rampValue(pts, hist[:2], now, 2*time.Minute, 2*time.Minute); !math.IsNaN(got) {
			t.Fatalf("ramp %g without a noise scale, want none", got)
		}
	})
}

func TestEvaluateRecentAndRamp(t *testing.T) {
	// Flat at 100 until two minutes before t0, then 40 more every minute.
	load := func(t time.Time) float64 {
		if d := t.Sub(t0.Add(-2 * time.Minute)); d > 0 {
			return 100 + 40*d.Minutes()
		}
		return 100
	}
	tests := []struct {
		name     string
		meta     map[string]string
		current  float64
		ramp     bool
		minValue float64
	}{
		// At t0+45s the grid's newest point is t0 (180); the 15 s one is
		// t0+45s (210). The ramp is carried 2 minutes past it: 290.
		{"fresh value and ramp", md(), 210, true, 290},
		{"recent reads off: grid only, no ramp", md(KeyRecentStep, "0"), 180, false, 180},
		{"lead time 0: fresh value, no ramp", md(KeyLeadTime, "0"), 210, false, 210},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			r.hist.value = load
			r.fc.mean = constant(100) // a model that has not seen the rise
			r.clk.Set(t0.Add(45 * time.Second))
			dec, err := r.s.Evaluate(context.Background(), "shop", "frontend", tc.meta)
			if err != nil {
				t.Fatal(err)
			}
			hasRamp := false
			for _, g := range dec.Guards {
				hasRamp = hasRamp || g == GuardRamp
			}
			if math.Abs(dec.Current-tc.current) > 1e-9 || hasRamp != tc.ramp || math.IsNaN(dec.Ramp) == tc.ramp || dec.Value < tc.minValue-1e-9 {
				t.Fatalf("decision %+v, want current %g, ramp %v, value at least %g", dec, tc.current, tc.ramp, tc.minValue)
			}
			if tc.ramp && math.Abs(dec.Value-tc.minValue) > 1e-9 {
				t.Fatalf("served %g, want the ramp's %g", dec.Value, tc.minValue)
			}
			if got := metric(t, r.reg, "vigil_kedascaler_guard_actions_total", "guard", GuardRamp); tc.ramp && got != 1 {
				t.Fatalf("ramp guard counted %g times, want 1", got)
			}
		})
	}
}
