package kedascaler

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

func TestShapeForBand(t *testing.T) {
	const target, tol = 10.0, 0.1
	tests := []struct {
		name     string
		want     float64
		expected float64
		cur      int
		served   float64
	}{
		{"replicas unknown: served as is", 123.4, 100, 0, 123.4},
		{"not positive: served as is", 0, 0, 10, 0},
		{"rise that clears the band: top of its bucket", 135, 130, 10, 139.9},
		{"rise inside the band, load expected above capacity: the smallest step out", 105, 104, 10, 119.9},
		{"rise inside the band, only the quantile above capacity: stay (bucket top, ignored)", 104, 99, 10, 109.9},
		{"same bucket: middle of the band", 96, 90, 10, 100},
		{"fall: bottom of its bucket", 71, 70, 10, 70.1},
		{"fall inside the band whose bucket bottom clears it: middle of the band", 91, 90, 10, 100},
		{"fall just out of the band: bottom of its bucket", 89.9, 88, 10, 80.1},
		{"fall to one replica", 3, 2, 10, 0.1},
		{"value on a bucket edge asks for that bucket", 110, 110, 10, 119.9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := shapeForBand(tc.want, tc.expected, 0.9, target, tol, tc.cur)
			if math.Abs(got-tc.served) > 1e-9 {
				t.Fatalf("served %g, want %g", got, tc.served)
			}
		})
	}
}

// TestShapeForBandThroughHPA checks the shaped value against the HPA model
// the replay uses (the documented algorithm): for every current count and
// wanted value, the HPA never lands below what was wanted when it moves,
// never moves when the count already fits, lands exactly on the wanted
// count whenever any value could have made it on a rise, and on a fall
// moves exactly when the wanted value itself is out of the band.
func TestShapeForBandThroughHPA(t *testing.T) {
	m := DefaultHPAModel()
	m.ScaleUpPods, m.ScaleUpPercent = 1000, 1000 // isolate the band from the rate limits
	for _, target := range []float64{0.5, 10, 37.5} {
		for cur := 1; cur <= 60; cur++ {
			for w := 1; w <= 80; w++ {
				want := (float64(w) - 0.5) * target // asks for w replicas
				// A load expected far above capacity: the step out of the
				// band is always worth it.
				v := shapeForBand(want, 1e12, 0.9, target, m.Tolerance, cur)
				h := newHPASim(m, target)
				h.start(t0, cur)
				h.sync(t0, v)
				got := h.replicas
				// reachable: a value inside bucket n, bandMargin clear of its
				// edges, makes the HPA act.
				reachable := func(n int) bool {
					c := float64(cur) * target
					return (float64(n)-bandMargin)*target > (1+m.Tolerance)*c || (float64(n)-1+bandMargin)*target < (1-m.Tolerance)*c
				}
				switch {
				case w == cur && got != cur:
					t.Fatalf("target %g cur %d want %d: HPA moved to %d", target, cur, w, got)
				case w > cur && got != cur && got < w:
					t.Fatalf("target %g cur %d want %d: HPA added too few (%d)", target, cur, w, got)
				case w > cur && reachable(w) && got != w:
					t.Fatalf("target %g cur %d want %d: HPA at %d, %d was reachable", target, cur, w, got, w)
				case w > cur && !reachable(w) && got == cur:
					t.Fatalf("target %g cur %d want %d: the expected load is far above capacity and the HPA did not step", target, cur, w)
				case w < cur && got < w:
					t.Fatalf("target %g cur %d want %d: HPA went below the want (%d)", target, cur, w, got)
				case w < cur && want < (1-m.Tolerance)*float64(cur)*target && got != w:
					t.Fatalf("target %g cur %d want %d: the want is below the band and the HPA is at %d", target, cur, w, got)
				case w < cur && want >= (1-m.Tolerance)*float64(cur)*target && got != cur:
					t.Fatalf("target %g cur %d want %d: the want is inside the band and the HPA moved to %d", target, cur, w, got)
				}
			}
		}
	}
}

func TestStayIsCheaper(t *testing.T) {
	tests := []struct {
		name                       string
		c, step, want, expected, q float64
		stay                       bool
	}{
		{"expected load well above capacity: step", 10, 12, 11.2, 10.8, 0.9, false},
		{"expected load at capacity, small spread: stay", 10, 12, 10.4, 10.0, 0.9, true},
		{"certain shortfall worth the step (10 x 0.3 > 2)", 10, 12, 10.3, 10.3, 0.9, false},
		{"certain shortfall not worth the step (10 x 0.1 < 2)", 10, 12, 10.1, 10.1, 0.9, true},
		{"tie: stay", 10, 12, 10.2, 10.2, 0.9, true},
		{"a higher quantile prices shortfall higher", 10, 12, 10.1, 10.1, 0.99, false},
		{"NaN expected reads as want", 10, 12, 11, math.NaN(), 0.9, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := stayIsCheaper(tc.c, tc.step, tc.want, tc.expected, tc.q); got != tc.stay {
				t.Fatalf("stay = %v, want %v", got, tc.stay)
			}
		})
	}
}

func TestExpectedShortfall(t *testing.T) {
	if got := expectedShortfall(12, 0, 10); got != 2 {
		t.Fatalf("point mass: %g, want 2", got)
	}
	if got := expectedShortfall(8, 0, 10); got != 0 {
		t.Fatalf("point mass below: %g, want 0", got)
	}
	// E[(X-mu)+] = sd/sqrt(2 pi) for a normal X.
	if got, want := expectedShortfall(5, 2, 5), 2/math.Sqrt(2*math.Pi); math.Abs(got-want) > 1e-12 {
		t.Fatalf("at the mean: %g, want %g", got, want)
	}
	// Far below the mean it is the mean's distance; far above, nothing.
	if got := expectedShortfall(100, 1, 50); math.Abs(got-50) > 1e-9 {
		t.Fatalf("far below: %g, want 50", got)
	}
	if got := expectedShortfall(100, 1, 150); got > 1e-12 {
		t.Fatalf("far above: %g, want 0", got)
	}
}

func TestPredicted(t *testing.T) {
	st := &objState{}
	at := func(d time.Duration) int64 { return t0.Add(d).UnixMilli() }
	lead := 2 * time.Minute
	// A forecast every 15 s for five minutes, each for the next three
	// minutes, rising 10 a minute from 100 at t0.
	for i := 0; i <= 20; i++ {
		made := t0.Add(time.Duration(i) * 15 * time.Second)
		var pts []telemetry.Point
		for k := 1; k <= 3; k++ {
			tt := made.Truncate(time.Minute).Add(time.Duration(k) * time.Minute)
			pts = append(pts, telemetry.Point{T: tt.UnixMilli(), V: 100 + 10*tt.Sub(t0).Minutes() + float64(i)})
		}
		st.remember(made, pts, lead)
	}
	if len(st.preds) > 10 {
		t.Fatalf("kept %d forecasts, want only those a lookup can reach", len(st.preds))
	}
	now := t0.Add(5 * time.Minute)
	// The newest forecast at least 2m old was made at t0+3m (i=12); its
	// steps are t0+4m..t0+6m at 140+12, 150+12, 160+12.
	v, ok := st.predicted(now, lead, at(4*time.Minute+30*time.Second))
	if !ok || math.Abs(v-157) > 1e-9 {
		t.Fatalf("predicted %g, %v; want 157 between its steps", v, ok)
	}
	if v, ok := st.predicted(now, lead, at(3*time.Minute)); !ok || v != 152 {
		t.Fatalf("before the first step: %g, %v; want the first step's 152", v, ok)
	}
	if _, ok := st.predicted(now, lead, at(7*time.Minute)); ok {
		t.Fatal("a time past the forecast's end was predicted")
	}
	if _, ok := st.predicted(t0.Add(time.Minute), lead, at(time.Minute)); ok {
		t.Fatal("a forecast younger than the lead time was used")
	}
	for i := 0; i < 2*maxPredictions; i++ {
		st.remember(now.Add(time.Duration(i)*time.Millisecond), nil, time.Hour)
	}
	if len(st.preds) > maxPredictions {
		t.Fatalf("kept %d forecasts, above the bound %d", len(st.preds), maxPredictions)
	}
}

func TestEvaluateWithReplicas(t *testing.T) {
	tests := []struct {
		name     string
		replicas func() (int, error)
		meta     map[string]string
		value    float64
		dead     bool
	}{
		// Forecast 100 rising to 103 at 10/replica: the guarded value is
		// 103*1.1 = 113.3 (12 replicas).
		{"no source: the guarded value", nil, md(KeyHorizon, "3m"), 113.3, false},
		{"10 replicas: 12 clears the band, top of its bucket", func() (int, error) { return 10, nil }, md(), 119.9, true},
		{"12 replicas: the middle of the band", func() (int, error) { return 12, nil }, md(), 120, true},
		{"20 replicas: the bottom of bucket 12", func() (int, error) { return 20, nil }, md(), 110.1, true},
		{"source fails: the guarded value", func() (int, error) { return 0, errors.New("apiserver down") }, md(), 113.3, false},
		// Inside a 30% band the smallest step from 10 is to 14; the load
		// expected at 103 (a certain 0.3 replica short, about 0.5 with the
		// spread) is worth it at 0.9's price of 10 per replica short.
		{"hpaTolerance 0.3 at 10 replicas: the smallest step out", func() (int, error) { return 10, nil }, md(KeyHPATolerance, "0.3"), 139.9, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, func(o *Options) {
				if tc.replicas != nil {
					o.Replicas = ReplicasFunc(func(context.Context, string, string) (int, error) { return tc.replicas() })
				}
			})
			r.fc.mean, r.fc.lift = func(t time.Time) float64 { return 100 + t.Sub(t0).Minutes() }, 0.1
			dec, err := r.s.Evaluate(context.Background(), "shop", "frontend", tc.meta)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(dec.Guarded-113.3) > 1e-9 || math.Abs(dec.Value-tc.value) > 1e-9 || slices.Contains(dec.Guards, GuardDeadBand) != tc.dead {
				t.Fatalf("decision %+v, want guarded 113.3 served as %g (dead band %v)", dec, tc.value, tc.dead)
			}
			if got := metric(t, r.reg, "vigil_kedascaler_served_value", "namespace", "shop", "name", "frontend"); got != dec.Value {
				t.Fatalf("served gauge %g, want %g", got, dec.Value)
			}
		})
	}
}

// TestEffectiveHorizon: an unset horizon is the lead time plus a step for
// an object whose replica count the scaler knows, 15m otherwise; a set one
// is kept.
func TestEffectiveHorizon(t *testing.T) {
	src := ReplicasFunc(func(context.Context, string, string) (int, error) { return 3, nil })
	for _, tc := range []struct {
		name     string
		replicas Replicas
		meta     map[string]string
		want     time.Duration
	}{
		{"count unknown", nil, md(), 15 * time.Minute},
		{"Options.Replicas", src, md(), 3 * time.Minute},
		{"replicasQuery", nil, md(KeyReplicasQuery, "kube_deployment_spec_replicas"), 3 * time.Minute},
		{"longer lead, finer step", src, md(KeyLeadTime, "5m", KeyStep, "30s"), 5*time.Minute + 30*time.Second},
		{"set horizon kept", src, md(KeyHorizon, "10m"), 10 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, func(o *Options) { o.Replicas = tc.replicas })
			if _, err := r.s.Evaluate(context.Background(), "shop", "frontend", tc.meta); err != nil {
				t.Fatal(err)
			}
			if got := r.fc.reqs[0].Horizon; got != tc.want {
				t.Fatalf("forecast asked for %s, want %s", got, tc.want)
			}
		})
	}
}

// TestEvaluateReplicasQuery reads the replica count through History when
// no Replicas source is set, and ignores a stale or absent one.
func TestEvaluateReplicasQuery(t *testing.T) {
	const rq = `kube_deployment_spec_replicas{namespace="shop",deployment="frontend"}`
	for _, tc := range []struct {
		name  string
		age   time.Duration // of the newest replica point
		value float64
	}{
		{"fresh count: placed for the band", 15 * time.Second, 119.9},
		{"stale count: as guarded", 2 * time.Minute, 113.3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			r.fc.mean, r.fc.lift = func(t time.Time) float64 { return 100 + t.Sub(t0).Minutes() }, 0.1
			load := r.hist
			var asked []Query
			r.s.opts.History = HistoryFunc(func(ctx context.Context, q Query, from, to time.Time, step time.Duration) ([]telemetry.Point, error) {
				if q.Expr != rq {
					return load.Range(ctx, q, from, to, step)
				}
				asked = append(asked, q)
				if last := to.Add(-tc.age); !last.Before(from) {
					return []telemetry.Point{{T: last.UnixMilli(), V: 10}}, nil
				}
				return nil, nil
			})
			dec, err := r.s.Evaluate(context.Background(), "shop", "frontend", md(KeyReplicasQuery, rq))
			if err != nil {
				t.Fatal(err)
			}
			if len(asked) != 1 || asked[0].Kind != QueryPromQL || math.Abs(dec.Value-tc.value) > 1e-9 {
				t.Fatalf("decision %+v after %d replica queries, want value %g", dec, len(asked), tc.value)
			}
		})
	}
}

// TestEvaluateActiveOnGuardedValue: shaping for the HPA's band must not
// change the activation verdict, which is about the load, not replicas.
func TestEvaluateActiveOnGuardedValue(t *testing.T) {
	r := newRig(t, func(o *Options) {
		o.Replicas = ReplicasFunc(func(context.Context, string, string) (int, error) { return 30, nil })
	})
	r.hist.value, r.fc.mean = constant(5), constant(5)
	// Guarded 5.x asks for 1 replica of 10: shaped to 0.1, below the
	// threshold of 1, while the load itself is above it.
	dec, err := r.s.Evaluate(context.Background(), "shop", "frontend", md(KeyActivationThreshold, "1"))
	if err != nil {
		t.Fatal(err)
	}
	if !(dec.Value < 1) || !dec.Active {
		t.Fatalf("decision %+v: want a shaped value below 1 and still active", dec)
	}
}

// TestEvaluateRampOnlyOnSurprise: a rise the forecast of one lead time ago
// expected is left to the model; the same rise unforecast is extrapolated.
func TestEvaluateRampOnlyOnSurprise(t *testing.T) {
	// 40 more a minute from two minutes before t0 until it levels off at
	// 220, a minute after t0: at t0+45s the observed 210 extrapolates to
	// 290, far above the level.
	load := func(t time.Time) float64 {
		d := t.Sub(t0.Add(-2 * time.Minute))
		return min(100+40*max(d.Minutes(), 0), 220)
	}
	for _, tc := range []struct {
		name     string
		forecast func(time.Time) float64
		ramp     bool
	}{
		{"forecast knew the rise and its level", load, false},
		{"forecast flat", constant(100), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			r.hist.value, r.fc.mean, r.fc.lift = load, tc.forecast, 0.02
			// Evaluate every 15 s from well before the rise, so that there
			// is a forecast one lead time old at the end.
			var dec Decision
			for now := t0.Add(-5 * time.Minute); !now.After(t0.Add(45 * time.Second)); now = now.Add(15 * time.Second) {
				r.clk.Set(now)
				var err error
				if dec, err = r.s.Evaluate(context.Background(), "shop", "frontend", md()); err != nil {
					t.Fatal(err)
				}
			}
			if got := slices.Contains(dec.Guards, GuardRamp); got != tc.ramp || (tc.ramp && !(dec.Value > 280)) || (!tc.ramp && dec.Value > 230) {
				t.Fatalf("decision %+v: ramp %v, want %v", dec, got, tc.ramp)
			}
		})
	}
}

// TestEffectiveTolerance checks that the scaler's own hysteresis is off by
// default only where the served value is placed for the HPA's band (the
// replica count is known), and that an explicit tolerance is kept.
func TestEffectiveTolerance(t *testing.T) {
	replicas := ReplicasFunc(func(context.Context, string, string) (int, error) { return 10, nil })
	tests := []struct {
		name     string
		replicas Replicas
		meta     map[string]string
		want     float64
	}{
		{"count unknown: default hysteresis", nil, md(), 0.05},
		{"count from Options.Replicas: none", replicas, md(), 0},
		{"count from replicasQuery: none", nil, md(KeyReplicasQuery, `kube_deployment_spec_replicas{deployment="frontend"}`), 0},
		{"explicit tolerance kept with the count known", replicas, md(KeyTolerance, "0.05"), 0.05},
		{"explicit tolerance kept without the count", nil, md(KeyTolerance, "0.2"), 0.2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sp, err := ParseMetadata(tc.meta, 50000)
			if err != nil {
				t.Fatal(err)
			}
			s := &Scaler{opts: Options{Replicas: tc.replicas}}
			if got := s.effectiveSpec(sp).Tolerance; got != tc.want {
				t.Fatalf("tolerance %g, want %g", got, tc.want)
			}
		})
	}
}
