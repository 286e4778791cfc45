package kedascaler

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

func TestEvaluateServesForecastPeak(t *testing.T) {
	ramp := func(t time.Time) float64 { return 100 + t.Sub(t0).Minutes() }
	tests := []struct {
		name    string
		meta    map[string]string
		mean    func(time.Time) float64
		lift    float64
		want    float64
		wantQ   float64
		wantHor time.Duration
	}{
		{"ramp peaks at the horizon", md(), ramp, 0.1, 115 * 1.1, 0.9, 15 * time.Minute},
		{"longer horizon sees further", md(KeyHorizon, "30m"), ramp, 0.1, 130 * 1.1, 0.9, 30 * time.Minute},
		{"quantile is passed on", md(KeyQuantile, "0.5"), ramp, 0, 115, 0.5, 15 * time.Minute},
		{"spike beyond the horizon is ignored", md(), func(t time.Time) float64 {
			if t.Sub(t0) == 20*time.Minute {
				return 1000
			}
			return 120
		}, 0, 120, 0.9, 15 * time.Minute},
		{"never below the current value", md(), constant(40), 0, 100, 0.9, 15 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			r.fc.mean, r.fc.lift = tc.mean, tc.lift
			dec, err := r.s.Evaluate(context.Background(), "shop", "frontend", tc.meta)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(dec.Value-tc.want) > 1e-9 || dec.Fallback != "" || dec.Current != 100 {
				t.Fatalf("decision %+v, want value %g with no fallback", dec, tc.want)
			}
			req := r.fc.reqs[0]
			if req.Quantile != tc.wantQ || req.Horizon != tc.wantHor || !req.Now.Equal(t0) {
				t.Fatalf("forecaster asked %+v", req)
			}
			if got := metric(t, r.reg, "vigil_kedascaler_served_value", "namespace", "shop", "name", "frontend"); got != dec.Value {
				t.Fatalf("served gauge %g, want %g", got, dec.Value)
			}
		})
	}
}

func TestEvaluateFallsBack(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(r *rig)
		reason string
	}{
		{"unsure: interval wider than the mean", func(r *rig) { r.fc.spread = 0.8 }, FallbackUnsure},
		{"stale data", func(r *rig) { r.hist.upTo = t0.Add(-6 * time.Minute) }, FallbackStaleData},
		{"stale fit", func(r *rig) { r.fc.fitted = t0.Add(-2 * time.Hour) }, FallbackStaleFit},
		{"fit error", func(r *rig) { r.fc.err = errors.New("singular matrix") }, FallbackFitError},
		{"NaN forecast", func(r *rig) { r.fc.mean = constant(math.NaN()) }, FallbackFitError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			r.fc.mean = constant(300)
			tc.setup(r)
			dec, err := r.s.Evaluate(context.Background(), "shop", "frontend", md())
			if err != nil {
				t.Fatal(err)
			}
			if dec.Fallback != tc.reason {
				t.Fatalf("fallback %q, want %q (%+v)", dec.Fallback, tc.reason, dec)
			}
			if tc.reason == "" {
				return
			}
			if dec.Value != 100 {
				t.Fatalf("served %g on fallback, want the current value 100", dec.Value)
			}
			if got := metric(t, r.reg, "vigil_kedascaler_fallbacks_total", "reason", tc.reason); got != 1 {
				t.Fatalf("fallbacks_total{reason=%q} = %g, want 1", tc.reason, got)
			}
		})
	}
}

func TestEvaluateHistory(t *testing.T) {
	t.Run("no data", func(t *testing.T) {
		r := newRig(t, nil)
		r.hist.upTo = t0.Add(-30 * 24 * time.Hour)
		_, err := r.s.Evaluate(context.Background(), "shop", "frontend", md())
		if !errors.Is(err, ErrNoData) {
			t.Fatalf("err %v, want ErrNoData", err)
		}
	})
	t.Run("history error with nothing cached", func(t *testing.T) {
		r := newRig(t, nil)
		r.hist.err = errors.New("connection refused")
		_, err := r.s.Evaluate(context.Background(), "shop", "frontend", md())
		if err == nil || errors.Is(err, ErrNoData) {
			t.Fatalf("err %v, want the history error", err)
		}
	})
	t.Run("history error uses the cache", func(t *testing.T) {
		r := newRig(t, nil)
		if _, err := r.s.Evaluate(context.Background(), "shop", "frontend", md()); err != nil {
			t.Fatal(err)
		}
		r.hist.set(func(h *fnHistory) { h.err = errors.New("connection refused") })
		r.clk.Add(time.Minute)
		dec, err := r.s.Evaluate(context.Background(), "shop", "frontend", md())
		if err != nil || dec.Fallback != FallbackHistoryError || dec.Current != 100 {
			t.Fatalf("decision %+v err %v, want a history_error fallback on the cached value", dec, err)
		}
	})
	t.Run("fetches only what is new", func(t *testing.T) {
		r := newRig(t, nil)
		ctx := context.Background()
		for i := range 3 {
			r.clk.Set(t0.Add(time.Duration(i) * time.Minute))
			// recentStep 0: only the grid's fetches are counted here.
			if _, err := r.s.Evaluate(ctx, "shop", "frontend", md(KeyLookback, "2h", KeyRecentStep, "0")); err != nil {
				t.Fatal(err)
			}
		}
		want := []time.Time{t0.Add(-2 * time.Hour), t0.Add(time.Millisecond), t0.Add(time.Minute + time.Millisecond)}
		if len(r.hist.froms) != 3 {
			t.Fatalf("%d history calls, want 3", len(r.hist.froms))
		}
		for i, w := range want {
			if !r.hist.froms[i].Equal(w) {
				t.Fatalf("call %d from %s, want %s", i, r.hist.froms[i], w)
			}
		}
		st := r.s.objects[objectKey("shop", "frontend", md(KeyLookback, "2h", KeyRecentStep, "0"))].st
		// 2h at 1m with both ends is 121 points; each later minute adds one
		// and drops one.
		if n, last := len(st.hist), time.UnixMilli(st.hist[len(st.hist)-1].T); n != 121 || !last.Equal(t0.Add(2*time.Minute)) {
			t.Fatalf("kept %d points up to %s, want 121 up to %s", n, last, t0.Add(2*time.Minute))
		}
	})
	t.Run("old points leave the window", func(t *testing.T) {
		r := newRig(t, nil)
		ctx := context.Background()
		meta := md(KeyLookback, "1h")
		for i := range 5 {
			r.clk.Set(t0.Add(time.Duration(i) * 30 * time.Minute))
			if _, err := r.s.Evaluate(ctx, "shop", "frontend", meta); err != nil {
				t.Fatal(err)
			}
		}
		st := r.s.objects[objectKey("shop", "frontend", meta)].st
		if first := time.UnixMilli(st.hist[0].T); first.Before(r.clk.Now().Add(-time.Hour)) {
			t.Fatalf("oldest kept point %s is outside the 1h lookback from %s", first, r.clk.Now())
		}
	})
}

func TestEvaluateMinInterval(t *testing.T) {
	r := newRig(t, func(o *Options) { o.MinEvalInterval = 10 * time.Second })
	ctx := context.Background()
	meta := md(KeyRecentStep, "0") // one history call per evaluation
	d1, err := r.s.Evaluate(ctx, "shop", "frontend", meta)
	if err != nil {
		t.Fatal(err)
	}
	r.clk.Add(5 * time.Second)
	r.fc.set(func(f *bandForecaster) { f.mean = constant(500) })
	d2, _ := r.s.Evaluate(ctx, "shop", "frontend", meta)
	if d2.Value != d1.Value || r.hist.calls != 1 {
		t.Fatalf("within the interval: value %g (was %g), %d history calls; want the cached decision", d2.Value, d1.Value, r.hist.calls)
	}
	r.clk.Add(6 * time.Second)
	d3, _ := r.s.Evaluate(ctx, "shop", "frontend", meta)
	if d3.Value == d1.Value || r.hist.calls != 2 {
		t.Fatalf("after the interval: value %g, %d history calls; want a new evaluation", d3.Value, r.hist.calls)
	}
}

func TestEvaluateBoundsObjects(t *testing.T) {
	r := newRig(t, func(o *Options) { o.MaxObjects = 2 })
	ctx := context.Background()
	for _, name := range []string{"a", "b", "c", "a"} {
		if _, err := r.s.Evaluate(ctx, "shop", name, md()); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(r.s.objects); n != 2 {
		t.Fatalf("%d objects kept, want 2", n)
	}
	if _, ok := r.s.objects[objectKey("shop", "b", md())]; ok {
		t.Fatal("b, the least recently used, was kept")
	}
}

func TestEvaluateActivation(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	dec, _ := r.s.Evaluate(ctx, "shop", "frontend", md(KeyActivationThreshold, "150"))
	if dec.Active {
		t.Fatalf("value %g active above threshold 150", dec.Value)
	}
	dec, _ = r.s.Evaluate(ctx, "shop", "frontend", md(KeyActivationThreshold, "50"))
	if !dec.Active {
		t.Fatalf("value %g inactive with threshold 50", dec.Value)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	h, f := &fnHistory{value: constant(1)}, &bandForecaster{mean: constant(1)}
	tests := []struct {
		name string
		mod  func(o *Options)
	}{
		{"no history", func(o *Options) { o.History = nil }},
		{"no forecaster", func(o *Options) { o.Forecaster = nil }},
		{"no clock", func(o *Options) { o.Now = nil }},
		{"zero stream interval", func(o *Options) { o.StreamInterval = 0 }},
		{"no objects", func(o *Options) { o.MaxObjects = 0 }},
		{"tiny history", func(o *Options) { o.MaxHistoryPoints = 3 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			o.History, o.Forecaster, o.Registerer = h, f, nil
			tc.mod(&o)
			if _, err := New(o); !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("err %v, want ErrInvalidOptions", err)
			}
		})
	}
}
