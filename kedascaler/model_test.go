package kedascaler

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/vigilops/vigil/forecast"
	"github.com/vigilops/vigil/telemetry"
)

// daily returns n one-minute points of a daily sine around 100 ending at end.
func daily(end time.Time, n int) []telemetry.Point {
	out := make([]telemetry.Point, n)
	for i := range out {
		t := end.Add(-time.Duration(n-1-i) * time.Minute)
		out[i] = telemetry.Point{T: t.UnixMilli(), V: 100 + 40*math.Sin(2*math.Pi*float64(t.Unix()%86400)/86400)}
	}
	return out
}

func TestModelForecaster(t *testing.T) {
	ctx := context.Background()
	f := NewModelForecaster(forecast.DefaultOptions())
	hist := daily(t0, 3*1440)
	req := Request{Key: "a", History: hist, Now: t0.Add(30 * time.Second), Horizon: 15 * time.Minute, Quantile: 0.9}
	b, err := f.Forecast(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Times) == 0 || b.Times[len(b.Times)-1].Before(req.Now.Add(req.Horizon)) || !b.Times[0].After(t0) {
		t.Fatalf("band %s..%s does not cover (%s, now+15m]", b.Times[0], b.Times[len(b.Times)-1], t0)
	}
	for i := range b.Times {
		if !(b.Lower[i] <= b.Mean[i] && b.Mean[i] <= b.Upper[i] && b.Value[i] >= b.Mean[i]) {
			t.Fatalf("step %d: lower %g mean %g upper %g q0.9 %g out of order", i, b.Lower[i], b.Mean[i], b.Upper[i], b.Value[i])
		}
	}
	if !b.FittedAt.Equal(t0) || b.Model == "" {
		t.Fatalf("fitted at %s model %q", b.FittedAt, b.Model)
	}
	first := f.models["a"].m

	// A minute later with one more point: updated, not refitted.
	hist2 := daily(t0.Add(time.Minute), 3*1440+1)
	b2, err := f.Forecast(ctx, Request{Key: "a", History: hist2, Now: t0.Add(90 * time.Second), Horizon: 15 * time.Minute, Quantile: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	if f.models["a"].m != first || !b2.FittedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("refitted on a one-point update (fitted at %s)", b2.FittedAt)
	}
	// A new horizon: the backtest must score at it, so refit.
	if _, err := f.Forecast(ctx, Request{Key: "a", History: hist2, Now: t0.Add(90 * time.Second), Horizon: time.Hour, Quantile: 0.9}); err != nil {
		t.Fatal(err)
	}
	if f.models["a"].m == first {
		t.Fatal("kept the model after the horizon changed")
	}
	// History that ends before the model: refit rather than forecast from
	// the future.
	second := f.models["a"].m
	if _, err := f.Forecast(ctx, Request{Key: "a", History: hist, Now: t0, Horizon: time.Hour, Quantile: 0.9}); err != nil {
		t.Fatal(err)
	}
	if f.models["a"].m == second {
		t.Fatal("kept a model that has seen points the history no longer has")
	}
}

func TestModelForecasterErrors(t *testing.T) {
	ctx := context.Background()
	f := NewModelForecaster(forecast.DefaultOptions())
	if _, err := f.Forecast(ctx, Request{Key: "a", Now: t0, Horizon: time.Minute, Quantile: 0.5}); !errors.Is(err, forecast.ErrShortHistory) {
		t.Fatalf("empty history: %v, want ErrShortHistory", err)
	}
	if _, err := f.Forecast(ctx, Request{Key: "a", History: daily(t0, 3), Now: t0, Horizon: time.Minute, Quantile: 0.5}); !errors.Is(err, forecast.ErrShortHistory) {
		t.Fatalf("3 points: %v, want ErrShortHistory", err)
	}
	// A model far behind now would need an unbounded forecast.
	_, err := f.Forecast(ctx, Request{Key: "b", History: daily(t0, 200), Now: t0.Add(365 * 24 * time.Hour), Horizon: time.Minute, Quantile: 0.5})
	if err == nil {
		t.Fatal("forecast a year past the data without complaint")
	}
}

func TestModelForecasterBounded(t *testing.T) {
	ctx := context.Background()
	f := NewModelForecaster(forecast.DefaultOptions())
	f.maxModels = 2
	hist := daily(t0, 300)
	for _, k := range []string{"a", "b", "a", "c"} {
		if _, err := f.Forecast(ctx, Request{Key: k, History: hist, Now: t0, Horizon: 5 * time.Minute, Quantile: 0.9}); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := f.models["b"]; len(f.models) != 2 || ok {
		t.Fatalf("kept %d models (b kept: %v), want a and c", len(f.models), ok)
	}
}

// TestScalerWithModelForecaster runs the whole evaluation on the real
// forecaster: a daily pattern's rise inside the horizon must be served
// before it is observed.
func TestScalerWithModelForecaster(t *testing.T) {
	r := newRig(t, nil)
	wave := func(t time.Time) float64 { return 100 + 40*math.Sin(2*math.Pi*float64(t.Unix()%86400)/86400) }
	r.hist.value = wave
	s, err := New(Options{History: r.hist, Forecaster: NewModelForecaster(forecast.DefaultOptions()), Now: r.clk.Now,
		StreamInterval: time.Second, MaxObjects: 10, MaxHistoryPoints: 50000})
	if err != nil {
		t.Fatal(err)
	}
	// Midnight is the sine's steepest rise: 15 minutes add about 2.6.
	now := time.Date(2026, 1, 9, 0, 0, 0, 0, time.UTC)
	r.clk.Set(now)
	dec, err := s.Evaluate(context.Background(), "shop", "frontend", md(KeyLookback, "3d"))
	if err != nil {
		t.Fatal(err)
	}
	if dec.Fallback != "" || !(dec.Value > wave(now)+2) || dec.Model == "" {
		t.Fatalf("decision %+v: want the forecast rise served (current %g, in 15m %g)", dec, wave(now), wave(now.Add(15*time.Minute)))
	}
}
