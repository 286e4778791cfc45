package forecast_test

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/vigilops/vigil/forecast"
	"github.com/vigilops/vigil/telemetry"
)

func Example() {
	// Ten days of a daily pattern at 5-minute steps.
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	var history []telemetry.Point
	for i := 0; i < 10*288; i++ {
		t := t0.Add(time.Duration(i) * 5 * time.Minute)
		history = append(history, telemetry.Point{T: t.UnixMilli(), V: 100 + 40*math.Sin(2*math.Pi*float64(i)/288)})
	}
	opts := forecast.DefaultOptions()
	opts.Horizon = 30 * time.Minute // the lead time acted on
	m, err := forecast.Fit(context.Background(), history, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	f := m.Forecast(6)
	hi := f.Quantile(0.9)
	fmt.Println(m.Step(), f.Times()[5].Format(time.RFC3339), math.Round(f.Mean[5]), hi[5] >= f.Mean[5])
	fmt.Println(m.Warnings()[0])
	// Output:
	// 5m0s 2026-01-15T00:25:00Z 104 true
	// weekly seasonality needs 14 days of history, have 10d: using daily only
}
