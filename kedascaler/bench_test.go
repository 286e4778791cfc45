package kedascaler

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/vigilops/vigil/forecast"
)

// BenchmarkEvaluate is one steady-state evaluation (incremental history,
// guards, metrics) with a trivial forecaster: the scaler's own overhead.
func BenchmarkEvaluate(b *testing.B) {
	benchEvaluate(b, &bandForecaster{mean: constant(100), spread: 0.2})
}

// BenchmarkEvaluateModel is one steady-state evaluation on the real
// forecaster over 7 days of 1-minute history: an Update per new point and
// a forecast of the horizon (the refit happens once, outside the timing).
func BenchmarkEvaluateModel(b *testing.B) {
	benchEvaluate(b, NewModelForecaster(forecast.DefaultOptions()))
}

func benchEvaluate(b *testing.B, f Forecaster) {
	clk := &fakeClock{now: t0}
	h := &fnHistory{value: func(t time.Time) float64 {
		return 100 + 40*math.Sin(2*math.Pi*float64(t.Unix()%86400)/86400)
	}}
	s, err := New(Options{History: h, Forecaster: f, Now: clk.Now, StreamInterval: time.Second, MaxObjects: 10, MaxHistoryPoints: 50000})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	meta := md()
	if _, err := s.Evaluate(ctx, "shop", "frontend", meta); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clk.Add(time.Minute)
		if _, err := s.Evaluate(ctx, "shop", "frontend", meta); err != nil {
			b.Fatal(err)
		}
	}
}
