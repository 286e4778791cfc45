package kedascaler

import (
	"context"
	"testing"
	"time"

	"github.com/vigilops/vigil/forecast"
)

// TestReplaySurge is the predictive-versus-reactive comparison on the
// simulator's traffic surge (see Replay for the setup and HPAModel for the
// documented HPA defaults both policies run under).
//
// Asserted, for the unannounced surge and for one that recurs daily: the
// predictive scaler is short of capacity for fewer minutes than the reactive
// HPA, in the surge window and over the day, and uses at most 15% more
// replica-minutes over the day. The bar (80% fewer minutes in the
// surge window for at most 15% more replica-minutes) is logged with every
// figure, not asserted, because it does not hold on seeds 1-3 alike: with
// the recent reads and the ramp extrapolation the unannounced surge reaches
// 76%, 69% and 93% fewer minutes (seeds 1, 2, 3) at +9-13% replica-minutes
// in the window. What is left is mostly the HPA's 10% tolerance at normal
// load (a served value less than 10% above the capacity moves nothing) and
// the first minute or two of the ramp, before it stands out of the noise.
// The recurring surge clears 80% but is pre-provisioned over the 15-minute
// horizon, at +20-26% replica-minutes in the window.
func TestReplaySurge(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates five days of the shop")
	}
	short := DefaultHPAModel()
	short.Stabilization = time.Minute
	for _, tc := range []struct {
		name      string
		recurring bool
		predHPA   *HPAModel
	}{
		{"unannounced", false, nil},
		{"recurring", true, nil},
		{"unannounced, predictive HPA scale-down window 60s", false, &short},
		{"recurring, predictive HPA scale-down window 60s", true, &short},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultReplayOptions()
			o.Recurring = tc.recurring
			o.PredictiveHPA = tc.predHPA
			o.Forecaster = NewModelForecaster(forecast.DefaultOptions())
			res, err := Replay(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range []struct {
				name string
				w    ReplayWindow
			}{{"surge window", res.Surge}, {"surge day", res.Day}} {
				r, p := w.w.Reactive, w.w.Predictive
				fewer := 100 * (1 - p.UnderMinutes/r.UnderMinutes)
				more := 100 * (p.ReplicaMinutes/r.ReplicaMinutes - 1)
				t.Logf("%s %s..%s: under-provisioned minutes reactive %.2f predictive %.2f (%.0f%% fewer); replica-minutes reactive %.0f predictive %.0f (%+.1f%%); bar (>=80%% fewer, <=15%% more) met=%v; shortfall (rps x min) reactive %.0f predictive %.0f; peak replicas %d / %d",
					w.name, w.w.From.Format("Mon 15:04"), w.w.To.Format("Mon 15:04"),
					r.UnderMinutes, p.UnderMinutes, fewer,
					r.ReplicaMinutes, p.ReplicaMinutes, more, fewer >= 80 && more <= 15,
					r.LoadShortfall, p.LoadShortfall, r.PeakReplicas, p.PeakReplicas)
				if !(p.UnderMinutes < r.UnderMinutes) {
					t.Errorf("%s: predictive short of capacity %.2f min, reactive %.2f", w.name, p.UnderMinutes, r.UnderMinutes)
				}
				if w.name == "surge day" && more > 15 {
					t.Errorf("%s: predictive used %.1f%% more replica-minutes, above 15%%", w.name, more)
				}
			}
			t.Logf("model at onset %s; fallbacks %v", res.Model, res.Fallbacks)
		})
	}
}
