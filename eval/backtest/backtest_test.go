package backtest

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// daily is days of a daily shape with noise at step.
func daily(seed uint64, days int, step time.Duration) []telemetry.Point {
	r := rand.New(rand.NewPCG(seed, 2))
	per := int(24 * time.Hour / step)
	pts := make([]telemetry.Point, days*per)
	for i := range pts {
		v := 100 + 40*math.Sin(2*math.Pi*float64(i)/float64(per)) + 2*r.NormFloat64()
		pts[i] = telemetry.Point{T: int64(i) * step.Milliseconds(), V: v}
	}
	return pts
}

func TestRun(t *testing.T) {
	step := 10 * time.Minute
	pts := daily(1, 12, step)
	tests := []struct {
		name    string
		horizon time.Duration
		steps   int
	}{
		{"one step", 10 * time.Minute, 1},
		{"below a step", 3 * time.Minute, 1},
		{"an hour", time.Hour, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Run(context.Background(), pts, tc.horizon, DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			n := len(pts)
			if res.Steps != tc.steps || res.Step != step {
				t.Errorf("steps %d of %v, want %d of %v", res.Steps, res.Step, tc.steps, step)
			}
			if want := n - n/2 - tc.steps; res.Origins != want {
				t.Errorf("%d origins, want %d", res.Origins, want)
			}
			if res.Refits < 5 || res.Refits > 7 {
				t.Errorf("%d refits over 6 days at a daily cadence", res.Refits)
			}
			if !(res.MASE < res.NaiveMASE && res.MASE < res.SeasonalMASE) {
				t.Errorf("MASE %.3f, last value %.3f, seasonal naive %.3f: want the model best on a clean daily shape",
					res.MASE, res.NaiveMASE, res.SeasonalMASE)
			}
			if math.Abs(res.MASE*res.Scale-res.MAE) > 1e-9 || res.Scale != res.ScaleSeasonal {
				t.Errorf("MASE %.4f x scale %.4f != MAE %.4f, or scale is not the seasonal one", res.MASE, res.Scale, res.MAE)
			}
		})
	}
}

// TestScales checks both MASE denominators on a series where they are
// known: a ramp of slope 1 per step has one-step in-sample MAE 1 and
// daily (m-step) in-sample MAE m.
func TestScales(t *testing.T) {
	step := time.Hour
	pts := make([]telemetry.Point, 24*10)
	for i := range pts {
		pts[i] = telemetry.Point{T: int64(i) * step.Milliseconds(), V: float64(i)}
	}
	for _, sc := range []string{ScaleNaive, ScaleSeasonal} {
		t.Run(sc, func(t *testing.T) {
			o := DefaultOptions()
			o.Scale = sc
			res, err := Run(context.Background(), pts, step, o)
			if err != nil {
				t.Fatal(err)
			}
			if res.ScaleNaive != 1 || res.ScaleSeasonal != 24 {
				t.Fatalf("scales %v and %v, want 1 and 24", res.ScaleNaive, res.ScaleSeasonal)
			}
			want := res.ScaleNaive
			if sc == ScaleSeasonal {
				want = res.ScaleSeasonal
			}
			if res.Scale != want {
				t.Errorf("scale %v, want %v", res.Scale, want)
			}
			// The last value is always exactly one behind on a ramp.
			if math.Abs(res.NaiveMAE-1) > 1e-9 || math.Abs(res.SMAPE) > 5 {
				t.Errorf("last value MAE %v, want 1; sMAPE %v", res.NaiveMAE, res.SMAPE)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	pts := daily(1, 1, time.Hour)
	if _, err := Run(context.Background(), pts, time.Hour, DefaultOptions()); !errors.Is(err, ErrTooShort) {
		t.Errorf("24 points: err %v, want ErrTooShort", err)
	}
	long := daily(1, 10, 5*time.Minute)
	if _, err := Run(context.Background(), long, 30*24*time.Hour, DefaultOptions()); !errors.Is(err, ErrTooShort) {
		t.Errorf("horizon past the end: err %v, want ErrTooShort", err)
	}
	bad := DefaultOptions()
	bad.Train = 1
	if _, err := Run(context.Background(), long, time.Hour, bad); err == nil {
		t.Error("accepted Train 1")
	}
	bad = DefaultOptions()
	bad.Scale = "mean"
	if _, err := Run(context.Background(), long, time.Hour, bad); err == nil {
		t.Error("accepted scale mean")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, long, time.Hour, DefaultOptions()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err %v", err)
	}
}

// TestNoLookahead: changing the future of the series after the last
// origin's target cannot change any forecast; changing the last target
// changes only that error.
func TestNoLookahead(t *testing.T) {
	pts := daily(4, 8, 15*time.Minute)
	a, err := Run(context.Background(), pts, 15*time.Minute, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	// Raise the last point by 1000: only the final forecast's error moves,
	// by exactly the change unless that forecast sees the point.
	mod := append([]telemetry.Point(nil), pts...)
	mod[len(mod)-1].V += 1000
	b, err := Run(context.Background(), mod, 15*time.Minute, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	diff := (b.MAE - a.MAE) * float64(a.Origins)
	if diff > 1000+1e-6 || diff < 900 {
		t.Errorf("total error moved by %.3f, want about 1000: a forecast saw its target", diff)
	}
}
