package forecast

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// FuzzFit checks that any history either fits or fails with an error, and
// that a fitted model's forecasts are finite and ordered.
func FuzzFit(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, uint16(60))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255}, uint16(1))
	f.Fuzz(func(t *testing.T, vals []byte, stepS uint16) {
		if len(vals) > 4000 {
			return
		}
		step := int64(stepS%3600+1) * 1000
		pts := make([]telemetryPoint, 0, len(vals))
		var tm int64
		for i, b := range vals {
			tm += step * int64(1+int(b)%3*boolInt(i%7 == 0))
			pts = append(pts, telemetryPoint{T: tm, V: float64(int(b) - 128)})
		}
		type res struct {
			m   *Model
			err error
		}
		ch := make(chan res, 1)
		go func() {
			m, err := Fit(context.Background(), pts, DefaultOptions())
			ch <- res{m, err}
		}()
		var m *Model
		select {
		case r := <-ch:
			if r.err != nil {
				return
			}
			m = r.m
		case <-time.After(10 * time.Second):
			t.Fatalf("Fit of %d points, step %d ms, took over 10 s", len(pts), step)
		}
		fc := m.Forecast(10)
		lo, hi := fc.Quantile(0.05), fc.Quantile(0.95)
		for i := range fc.Mean {
			if !finiteF(fc.Mean[i]) || lo[i] > hi[i] {
				t.Fatalf("step %d: mean %v, band %v..%v", i, fc.Mean[i], lo[i], hi[i])
			}
		}
	})
}

type telemetryPoint = telemetry.Point

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func finiteF(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
