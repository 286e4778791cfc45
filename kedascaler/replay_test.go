package kedascaler

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vigilops/vigil/forecast"
)

// TestReplaySurge is the predictive-versus-reactive comparison on the
// simulator's traffic surge (see Replay for the setup and HPAModel for the
// documented HPA defaults both policies run under), over seeds 1-3.
//
// The bar is 80% fewer under-provisioned minutes than the
// reactive HPA for at most 15% more replica-minutes. Asserted for every
// seed, both surges (unannounced and recurring daily), both windows (the
// surge with an hour either side, and the whole surge day): the bar, and
// fewer under-provisioned minutes than the reactive HPA.
//
// Seeds 1-5 (`vigil eval scaler --seed N [--recurring]`), surge window,
// % fewer under-provisioned minutes / % more replica-minutes: unannounced
// 80/+12.2, 85/+14.1, 93/+12.8, 87/+13.4, 88/+14.2; recurring 93/+10.8,
// 88/+13.7, 99/+14.2, 93/+14.0, 100/+12.8. The whole day: 90-97% fewer at
// +9.1% to +11.3%. Seed 1 unannounced sits exactly on the bar (9.75 of
// the reactive 48.75 minutes), so a change that costs it one 15 s step
// fails here. `vigil eval scaler --trace` names the cause of each short
// step; seed 1's 9.75 minutes are 3.75 of the surge's own ramp (0.75
// before any signal reaches the pipeline, 2.75 with pods ordered but
// starting or sized on a ramp seen a minute late, 0.25 after a release)
// and 6 of ordinary slow rises around it: 3 with the step out of the
// HPA's 10% band judged not worth it at 0.9's price (see stayIsCheaper),
// 2 while the step's pods started and 1 with no sign of the rise.
func TestReplaySurge(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates five days of the shop, six times")
	}
	for _, recurring := range []bool{false, true} {
		for seed := int64(1); seed <= 3; seed++ {
			name := fmt.Sprintf("unannounced seed %d", seed)
			if recurring {
				name = fmt.Sprintf("recurring seed %d", seed)
			}
			t.Run(name, func(t *testing.T) {
				o := DefaultReplayOptions()
				o.Seed, o.Recurring = seed, recurring
				o.Forecaster = NewModelForecaster(forecast.DefaultOptions())
				res, err := Replay(context.Background(), o)
				if err != nil {
					t.Fatal(err)
				}
				checkReplay(t, res, true, true)
			})
		}
	}
}

// TestReplayShortScaleDownWindow runs the predictive policy under the 60 s
// HPA scale-down window deploy/kubernetes recommends: it must still beat
// the reactive HPA (which keeps the default 300 s) and stay within the
// replica budget over the day.
func TestReplayShortScaleDownWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates five days of the shop, twice")
	}
	short := DefaultHPAModel()
	short.Stabilization = time.Minute
	for _, recurring := range []bool{false, true} {
		t.Run(fmt.Sprintf("recurring=%v", recurring), func(t *testing.T) {
			o := DefaultReplayOptions()
			o.Recurring, o.PredictiveHPA = recurring, &short
			o.Forecaster = NewModelForecaster(forecast.DefaultOptions())
			res, err := Replay(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			checkReplay(t, res, false, false)
		})
	}
}

// checkReplay logs both windows and asserts fewer under-provisioned
// minutes in both, the day's replica budget, and, when bar is set, the
// issue's bar over the day (and over the surge window when surgeBar).
func checkReplay(t *testing.T, res ReplayResult, bar, surgeBar bool) {
	t.Helper()
	for _, w := range []struct {
		name string
		w    ReplayWindow
		bar  bool
	}{{"surge window", res.Surge, surgeBar}, {"surge day", res.Day, true}} {
		r, p := w.w.Reactive, w.w.Predictive
		fewer := 100 * (1 - p.UnderMinutes/r.UnderMinutes)
		more := 100 * (p.ReplicaMinutes/r.ReplicaMinutes - 1)
		met := fewer >= 80 && more <= 15
		t.Logf("%s %s..%s: under-provisioned minutes reactive %.2f predictive %.2f (%.0f%% fewer); replica-minutes reactive %.0f predictive %.0f (%+.1f%%); bar (>=80%% fewer, <=15%% more) met=%v; shortfall (rps x min) reactive %.0f predictive %.0f; peak replicas %d / %d",
			w.name, w.w.From.Format("Mon 15:04"), w.w.To.Format("Mon 15:04"),
			r.UnderMinutes, p.UnderMinutes, fewer,
			r.ReplicaMinutes, p.ReplicaMinutes, more, met,
			r.LoadShortfall, p.LoadShortfall, r.PeakReplicas, p.PeakReplicas)
		if !(p.UnderMinutes < r.UnderMinutes) {
			t.Errorf("%s: predictive short of capacity %.2f min, reactive %.2f", w.name, p.UnderMinutes, r.UnderMinutes)
		}
		if w.name == "surge day" && more > 15 {
			t.Errorf("%s: predictive used %.1f%% more replica-minutes, above 15%%", w.name, more)
		}
		if bar && w.bar && !met {
			t.Errorf("%s: %.1f%% fewer under-provisioned minutes at %+.1f%% replica-minutes, below the bar (>=80%% fewer, <=15%% more)", w.name, fewer, more)
		}
	}
	t.Logf("model at onset %s; fallbacks %v", res.Model, res.Fallbacks)
}
