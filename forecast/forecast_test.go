package forecast

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/telemetry"
)

func TestFitRejects(t *testing.T) {
	good := synth(1, 500, 5*time.Minute)
	tests := []struct {
		name string
		pts  []telemetry.Point
		opts func(*Options)
		want error
	}{
		{name: "empty", pts: nil, want: ErrShortHistory},
		{name: "few points", pts: good[:5], want: ErrShortHistory},
		{name: "decreasing time", pts: []telemetry.Point{{T: 10, V: 1}, {T: 5, V: 1}, {T: 20, V: 1}, {T: 30, V: 1},
			{T: 40, V: 1}, {T: 50, V: 1}, {T: 60, V: 1}, {T: 70, V: 1}, {T: 80, V: 1}, {T: 90, V: 1}, {T: 100, V: 1},
			{T: 110, V: 1}, {T: 120, V: 1}, {T: 130, V: 1}, {T: 140, V: 1}, {T: 150, V: 1}}, want: ErrBadHistory},
		{name: "NaN value", pts: func() []telemetry.Point {
			p := append([]telemetry.Point(nil), good...)
			p[100].V = math.NaN()
			return p
		}(), want: ErrBadHistory},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := DefaultOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			_, err := Fit(context.Background(), tc.pts, opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Fit: err %v, want %v", err, tc.want)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Options)
	}{
		{"no models", func(o *Options) { o.Models = nil }},
		{"unknown model", func(o *Options) { o.Models = []string{"arima"} }},
		{"negative horizon", func(o *Options) { o.Horizon = -time.Minute }},
		{"zero backtest", func(o *Options) { o.Backtest = 0 }},
		{"bad quantile method", func(o *Options) { o.QuantileMethod = "bootstrap" }},
		{"bad season", func(o *Options) { o.Seasonalities = []time.Duration{0} }},
		{"margin", func(o *Options) { o.SimplerMargin = 1 }},
	}
	pts := synth(1, 3000, 5*time.Minute)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			tc.mod(&o)
			if _, err := Fit(context.Background(), pts, o); err == nil {
				t.Fatal("Fit accepted bad options")
			}
		})
	}
	if err := DefaultOptions().validate(); err != nil {
		t.Fatalf("default options invalid: %v", err)
	}
	if err := ReferenceHoltWinters().validate(); err != nil {
		t.Fatalf("reference options invalid: %v", err)
	}
}

func TestFitCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Fit(ctx, synth(1, 3000, 5*time.Minute), DefaultOptions()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Fit on a cancelled context: %v", err)
	}
}

// TestGrid: the step is the median spacing, the end the last point, gaps
// are filled and jitter is absorbed.
func TestGrid(t *testing.T) {
	step := time.Minute
	var pts []telemetry.Point
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	for i := 0; i < 600; i++ {
		if i >= 200 && i < 210 { // a 10-step gap
			continue
		}
		jitter := int64((i%3)-1) * 900 // +-0.9 s
		pts = append(pts, telemetry.Point{T: t0 + int64(i)*step.Milliseconds() + jitter, V: float64(i)})
	}
	g, err := regularize(pts, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if g.step != step {
		t.Errorf("step %v, want %v", g.step, step)
	}
	if len(g.v) != 600 {
		t.Fatalf("%d grid points, want 600", len(g.v))
	}
	if g.end != pts[len(pts)-1].T {
		t.Errorf("end %d, want the last point's %d", g.end, pts[len(pts)-1].T)
	}
	for i, v := range g.v {
		if math.Abs(v-float64(i)) > 1e-9 {
			t.Fatalf("grid[%d] = %v, want %d (a linear ramp with its gap filled)", i, v, i)
		}
	}
}

func TestGridDropsBeforeLongGap(t *testing.T) {
	opts := DefaultOptions()
	pts := synth(1, 2000, time.Minute)
	// Move the last 1,000 points a day later: a gap far above MaxGap.
	for i := 1000; i < len(pts); i++ {
		pts[i].T += 24 * 3600 * 1000
	}
	g, err := regularize(pts, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.v) != 1000 {
		t.Errorf("kept %d points, want the 1000 after the gap", len(g.v))
	}
	if len(g.warnings) != 1 || !strings.Contains(g.warnings[0], "dropped") {
		t.Errorf("warnings %q, want one about the dropped history", g.warnings)
	}
}

// TestChoosesSeasonal: a clean daily shape is forecast by a seasonal model
// far better than by the last value; a random walk by the last value.
func TestChoosesSeasonal(t *testing.T) {
	step := 5 * time.Minute
	day := int(24 * time.Hour / step)
	t.Run("daily shape", func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 3))
		n := 10 * day
		pts := make([]telemetry.Point, n+day)
		for i := range pts {
			v := 100 + 40*math.Sin(2*math.Pi*float64(i)/float64(day)) + r.NormFloat64()
			pts[i] = telemetry.Point{T: int64(i) * step.Milliseconds(), V: v}
		}
		m, err := Fit(context.Background(), pts[:n], DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Name(), "(288") {
			t.Errorf("model %s, want one with the daily season (288 steps)", m.Name())
		}
		f := m.Forecast(day)
		var mae, naive float64
		for i, v := range f.Mean {
			mae += math.Abs(pts[n+i].V - v)
			naive += math.Abs(pts[n+i].V - pts[n-1].V)
		}
		if mae > naive/5 {
			t.Errorf("a day ahead: MAE %.2f, last value %.2f: want at least 5x better", mae/float64(day), naive/float64(day))
		}
		if w := m.Warnings(); len(w) != 1 || w[0] != "weekly seasonality needs 14 days of history, have 10d: using daily only" {
			t.Errorf("warnings %q, want the weekly one", w)
		}
	})
	t.Run("random walk", func(t *testing.T) {
		r := rand.New(rand.NewPCG(4, 4))
		pts := make([]telemetry.Point, 3*day)
		v := 100.0
		for i := range pts {
			v += r.NormFloat64()
			pts[i] = telemetry.Point{T: int64(i) * step.Milliseconds(), V: v}
		}
		m, err := Fit(context.Background(), pts, DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		if m.Name() != "naive" {
			t.Errorf("model %s on a random walk, want naive", m.Name())
		}
		sc := m.Score()
		if sc.MAE != sc.NaiveMAE || sc.Points == 0 || sc.Candidates < 1 {
			t.Errorf("score %+v: want the naive MAE and some points and candidates", sc)
		}
	})
}

// TestQuantiles: monotone in q at every step, never narrower further out,
// and calibrated roughly: the 10-90% band holds about 80% of what follows.
func TestQuantiles(t *testing.T) {
	for _, method := range []string{QuantileEmpirical, QuantileNormal} {
		t.Run(method, func(t *testing.T) {
			step := 5 * time.Minute
			pts := synth(7, 20*288, step)
			opts := DefaultOptions()
			opts.QuantileMethod = method
			var inside, total int
			for origin := 14 * 288; origin+12 <= len(pts); origin += 97 {
				m, err := Fit(context.Background(), pts[:origin], opts)
				if err != nil {
					t.Fatal(err)
				}
				f := m.Forecast(12)
				qs := []float64{0.01, 0.1, 0.5, 0.9, 0.99}
				var prev []float64
				for _, q := range qs {
					cur := f.Quantile(q)
					for i := range cur {
						if prev != nil && cur[i] < prev[i] {
							t.Fatalf("step %d: quantile %v = %v below the one before, %v", i, q, cur[i], prev[i])
						}
					}
					prev = cur
				}
				lo, hi := f.Quantile(0.1), f.Quantile(0.9)
				for i := 1; i < len(lo); i++ {
					if hi[i]-f.Mean[i] < hi[i-1]-f.Mean[i-1]-1e-9 || f.Mean[i]-lo[i] < f.Mean[i-1]-lo[i-1]-1e-9 {
						t.Fatalf("band narrows from step %d to %d", i, i+1)
					}
				}
				for i := range lo {
					if y := pts[origin+i].V; y >= lo[i] && y <= hi[i] {
						inside++
					}
					total++
				}
			}
			cover := float64(inside) / float64(total)
			if cover < 0.65 || cover > 0.93 {
				t.Errorf("10-90%% band holds %.0f%% of %d outcomes, want about 80%%", 100*cover, total)
			}
		})
	}
}

func TestForecastTimes(t *testing.T) {
	pts := synth(2, 3000, time.Minute)
	m, err := Fit(context.Background(), pts, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if m.Step() != time.Minute {
		t.Errorf("step %v", m.Step())
	}
	if got, want := m.End(), time.UnixMilli(pts[len(pts)-1].T).UTC(); !got.Equal(want) {
		t.Errorf("end %v, want %v", got, want)
	}
	f := m.Forecast(5)
	ts := f.Times()
	if len(ts) != 5 || len(f.Mean) != 5 || len(f.Spread) != 5 {
		t.Fatalf("lengths %d %d %d, want 5", len(ts), len(f.Mean), len(f.Spread))
	}
	for i, tm := range ts {
		if want := m.End().Add(time.Duration(i+1) * time.Minute); !tm.Equal(want) {
			t.Errorf("time %d = %v, want %v", i, tm, want)
		}
	}
	if n := len(m.Forecast(0).Mean); n != 0 {
		t.Errorf("Forecast(0) has %d steps", n)
	}
	if n := len(m.Forecast(-3).Quantile(0.5)); n != 0 {
		t.Errorf("Forecast(-3) has %d steps", n)
	}
	for _, q := range []float64{0, 1, -1, 2, math.NaN()} {
		for _, v := range f.Quantile(q) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("Quantile(%v) gave %v", q, v)
			}
		}
	}
}

func TestUpdate(t *testing.T) {
	step := time.Minute
	pts := synth(5, 4000, step)
	opts := DefaultOptions()
	m, err := Fit(context.Background(), pts[:3000], opts)
	if err != nil {
		t.Fatal(err)
	}
	end := m.End()
	if m.NeedsRefit(end) {
		t.Error("needs a refit right after fitting")
	}
	if !m.NeedsRefit(end.Add(opts.RefitEvery)) {
		t.Error("no refit due after RefitEvery")
	}
	m.Update(pts[2999]) // not after End: ignored
	if !m.End().Equal(end) {
		t.Fatalf("an old point moved End to %v", m.End())
	}
	for _, p := range pts[3000:3100] {
		m.Update(p)
	}
	if want := time.UnixMilli(pts[3099].T).UTC(); !m.End().Equal(want) {
		t.Fatalf("End %v after updates, want %v", m.End(), want)
	}
	// Updating must track the series as well as refitting does, about.
	up := m.Forecast(15)
	re, err := Fit(context.Background(), pts[:3100], opts)
	if err != nil {
		t.Fatal(err)
	}
	fresh := re.Forecast(15)
	var dUp, dRe float64
	for i := range up.Mean {
		dUp += math.Abs(up.Mean[i] - pts[3100+i].V)
		dRe += math.Abs(fresh.Mean[i] - pts[3100+i].V)
	}
	if dUp > 2*dRe+15*10 {
		t.Errorf("updated model error %.1f, refitted %.1f", dUp, dRe)
	}
	// A gap of a few steps is bridged; a long one asks for a refit.
	m.Update(telemetry.Point{T: pts[3099].T + 5*step.Milliseconds(), V: pts[3104].V})
	if m.NeedsRefit(m.End()) {
		t.Error("a 4-step gap made the model stale")
	}
	m.Update(telemetry.Point{T: m.End().UnixMilli() + int64(opts.MaxGap+5)*step.Milliseconds(), V: 1})
	if !m.NeedsRefit(m.End()) {
		t.Error("a long gap did not make the model stale")
	}
	if w := m.Warnings(); len(w) == 0 || !strings.Contains(w[len(w)-1], "refit needed") {
		t.Errorf("warnings %q, want one about the gap", w)
	}
	m.Update(telemetry.Point{T: m.End().UnixMilli() + step.Milliseconds(), V: math.NaN()})
}

// TestFallback: when a seasonal series stops being seasonal, the guard
// falls back to the last value without waiting for a refit.
func TestFallback(t *testing.T) {
	step := 5 * time.Minute
	day := 288
	r := rand.New(rand.NewPCG(9, 9))
	pts := make([]telemetry.Point, 12*day)
	for i := range pts {
		v := 100 + 40*math.Sin(2*math.Pi*float64(i)/float64(day)) + r.NormFloat64()
		pts[i] = telemetry.Point{T: int64(i) * step.Milliseconds(), V: v}
	}
	m, err := Fit(context.Background(), pts[:10*day], DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if m.Fallback() {
		t.Fatal("falls back on the series it was fitted to")
	}
	for i := 10 * day; i < len(pts); i++ {
		m.Update(telemetry.Point{T: pts[i].T, V: 50 + r.NormFloat64()}) // flat from now on
	}
	if !m.Fallback() {
		t.Fatal("still trusts the seasonal model after two flat days")
	}
	f := m.Forecast(3)
	for _, v := range f.Mean {
		if math.Abs(v-50) > 5 {
			t.Errorf("fallback forecast %v, want about the last value 50", v)
		}
	}
}

func TestMultiplicativeNeedsPositive(t *testing.T) {
	pts := synth(1, 5*288, 5*time.Minute)
	pts[100].V = -1
	g, err := regularize(pts, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range candidates(g.v, []int{288}, DefaultOptions()) {
		if c.kind == kMul {
			t.Fatal("multiplicative candidate for a series with a negative value")
		}
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := DefaultOptions()
	opts.Registerer = reg
	pts := synth(1, 3000, time.Minute)
	for i := 0; i < 2; i++ {
		if _, err := Fit(context.Background(), pts, opts); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Fit(context.Background(), pts[:3], opts); err == nil {
		t.Fatal("fit of 3 points")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				fam := ""
				for _, l := range m.GetLabel() {
					fam = l.GetValue()
				}
				got[mf.GetName()+"/"+fam] += m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				got[mf.GetName()] += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	var fits float64
	for k, v := range got {
		if strings.HasPrefix(k, "vigil_forecast_fits_total/") && k != "vigil_forecast_fits_total/error" {
			fits += v
		}
	}
	if fits != 2 || got["vigil_forecast_fits_total/error"] != 1 ||
		got["vigil_forecast_fit_duration_seconds"] != 2 || got["vigil_forecast_fit_points"] != 2 {
		t.Errorf("metrics %v: want 2 fits, 1 error, 2 durations and sizes", got)
	}
}

func TestHugeValues(t *testing.T) {
	pts := synth(1, 2000, time.Minute)
	for i := range pts {
		pts[i].V *= 1e305
	}
	m, err := Fit(context.Background(), pts, DefaultOptions())
	if err != nil {
		t.Fatalf("values near the float64 limit: %v", err)
	}
	for _, v := range m.Forecast(3).Mean {
		if math.IsNaN(v) {
			t.Fatalf("forecast %v", v)
		}
	}
}

// TestConcurrentUse: Update, Forecast and the accessors may run at once
// (run with -race).
func TestConcurrentUse(t *testing.T) {
	pts := synth(3, 4000, time.Minute)
	m, err := Fit(context.Background(), pts[:3000], DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, p := range pts[3000:] {
			m.Update(p)
		}
	}()
	for i := 0; i < 200; i++ {
		f := m.Forecast(15)
		_ = f.Quantile(0.9)
		_ = m.End()
		_ = m.Warnings()
		_ = m.Fallback()
		_ = m.NeedsRefit(m.End())
		_ = m.Name()
	}
	<-done
	if want := time.UnixMilli(pts[len(pts)-1].T).UTC(); !m.End().Equal(want) {
		t.Errorf("End %v, want %v", m.End(), want)
	}
}

// TestDecomposition: trend plus daily and weekly shapes, fitted by the
// decomposition alone, forecast a day ahead far better than the last value.
func TestDecomposition(t *testing.T) {
	step := 30 * time.Minute
	day, week := 48, 336
	r := rand.New(rand.NewPCG(11, 11))
	n := 6 * week
	pts := make([]telemetry.Point, n+day)
	for i := range pts {
		v := 200 + 0.05*float64(i) + 30*math.Sin(2*math.Pi*float64(i)/float64(day))
		if (i/day)%7 >= 5 {
			v -= 40
		}
		pts[i] = telemetry.Point{T: int64(i) * step.Milliseconds(), V: v + 2*r.NormFloat64()}
	}
	opts := DefaultOptions()
	opts.Models = []string{FamilyDecomposition}
	m, err := Fit(context.Background(), pts[:n], opts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Name(), "decomposition(48,336)") {
		t.Errorf("model %s, want decomposition(48,336)", m.Name())
	}
	f := m.Forecast(day)
	var mae, naive float64
	for i, v := range f.Mean {
		mae += math.Abs(pts[n+i].V - v)
		naive += math.Abs(pts[n+i].V - pts[n-1].V)
	}
	if mae > naive/4 || mae/float64(day) > 10 {
		t.Errorf("a day ahead: MAE %.2f, last value %.2f", mae/float64(day), naive/float64(day))
	}
	// With two weeks of 1-minute data the weekly season does not fit
	// before the backtest window: daily only.
	pts = synth(2, 14*24*60, time.Minute)
	m, err = Fit(context.Background(), pts, opts)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != "decomposition(1440)" && m.Name() != "decomposition(1440)+ar1" {
		t.Errorf("model %s, want the daily decomposition", m.Name())
	}
}

func TestCholSolve(t *testing.T) {
	a := []float64{4, 2, 2, 3}
	x, ok := cholSolve(a, []float64{2, 1}, 2)
	if !ok || math.Abs(x[0]-0.5) > 1e-12 || math.Abs(x[1]) > 1e-12 {
		t.Errorf("solve = %v, %v; want [0.5 0]", x, ok)
	}
	if _, ok := cholSolve([]float64{1, 2, 2, 1}, []float64{1, 1}, 2); ok {
		t.Error("solved an indefinite system")
	}
}
