package slo

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/metricstore"
	"github.com/vigilops/vigil/telemetry"
)

// world scripts the request counters of one service into a real metric
// store, one scrape a minute.
type world struct {
	t        testing.TB
	st       *metricstore.Store
	now      time.Time
	ok, errs float64 // cumulative counter values
	okLs     telemetry.Labels
	errLs    telemetry.Labels
}

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func newWorld(t testing.TB) *world {
	st, err := metricstore.New(metricstore.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return &world{
		t: t, st: st, now: t0,
		okLs:  telemetry.LabelsFromStrings("__name__", "http_requests_total", "service", "checkout", "code", "200"),
		errLs: telemetry.LabelsFromStrings("__name__", "http_requests_total", "service", "checkout", "code", "503"),
	}
}

// run advances the clock by d a minute at a time, with reqs requests a
// minute of which the share errRatio fail, and calls each (if not nil)
// after every scrape.
func (w *world) run(d time.Duration, reqs, errRatio float64, each func(now time.Time)) {
	for end := w.now.Add(d); w.now.Before(end); {
		w.now = w.now.Add(time.Minute)
		w.errs += reqs * errRatio
		w.ok += reqs * (1 - errRatio)
		w.st.Append([]telemetry.Sample{
			{Labels: w.okLs, T: w.now.UnixMilli(), V: w.ok},
			{Labels: w.errLs, T: w.now.UnixMilli(), V: w.errs},
		})
		if each != nil {
			each(w.now)
		}
	}
}

func newEval(t testing.TB, w *world, defs ...Definition) (*Evaluator, *prometheus.Registry) {
	t.Helper()
	if len(defs) == 0 {
		defs = []Definition{checkoutSLO(t)}
	}
	reg := prometheus.NewRegistry()
	opts := DefaultOptions()
	opts.Registerer = reg
	e, err := New(defs, NewStoreSource(w.st), opts)
	if err != nil {
		t.Fatal(err)
	}
	return e, reg
}

// transition records when an alert of one window first fired and resolved.
type transitions struct {
	fired, resolved map[string]time.Time
	severity        map[string]string
}

func (tr *transitions) observe(t testing.TB, res Result, now time.Time) {
	if tr.fired == nil {
		tr.fired, tr.resolved, tr.severity = map[string]time.Time{}, map[string]time.Time{}, map[string]string{}
	}
	for _, a := range res.Alerts {
		win := a.Labels.Get("window")
		tr.severity[win] = a.Labels.Get("severity")
		if a.Name() != AlertName || a.Labels.Get("slo") != "checkout-availability" || a.Labels.Get("service") != "checkout" {
			t.Fatalf("alert labels %v", a.Labels)
		}
		switch {
		case a.EndsAt.IsZero():
			if _, ok := tr.fired[win]; !ok {
				tr.fired[win] = a.StartsAt
				if !a.StartsAt.Equal(now) {
					t.Errorf("window %s: new alert StartsAt %v, want the evaluation time %v", win, a.StartsAt, now)
				}
			}
		default:
			if !a.EndsAt.Equal(now) {
				t.Errorf("window %s: resolved alert EndsAt %v, want %v", win, a.EndsAt, now)
			}
			if _, dup := tr.resolved[win]; dup {
				t.Errorf("window %s resolved twice", win)
			}
			tr.resolved[win] = now
		}
	}
}

func TestEvaluatorFastBurnPages(t *testing.T) {
	w := newWorld(t)
	// Three clean days fill every window, the 3d one included.
	w.run(72*time.Hour, 1000, 0, nil)
	e, reg := newEval(t, w)
	start := w.now
	var tr transitions
	// 2% errors is a 20x burn of a 99.9% objective: the 5m window crosses
	// 14.4x within minutes, the 1h window once errors fill 14.4/20 of it.
	w.run(100*time.Minute, 1000, 0.02, func(now time.Time) {
		res, err := e.Evaluate(context.Background(), now)
		if err != nil {
			t.Fatal(err)
		}
		tr.observe(t, res, now)
	})
	fired, ok := tr.fired["1h"]
	if !ok {
		t.Fatalf("no 1h/5m page within 100m of a 20x burn; fired: %v", tr.fired)
	}
	after := fired.Sub(start)
	// The 1h error ratio passes 1.44% after 0.72h = 43.2m of errors.
	if after < 40*time.Minute || after > 50*time.Minute {
		t.Errorf("1h/5m page fired after %v, want between 40m and 50m", after)
	}
	if tr.severity["1h"] != "page" {
		t.Errorf("1h alert severity %q, want page", tr.severity["1h"])
	}
	// 6x over 6h needs 6/20 of 6h = 108m of errors; 1d and 3d far longer.
	for _, win := range []string{"6h", "1d", "3d"} {
		if at, ok := tr.fired[win]; ok {
			t.Errorf("window %s fired at %v, after %v of a 20x burn", win, at, at.Sub(start))
		}
	}

	// Recovery: once errors stop, the 5m window clears within minutes and
	// the page resolves though the 1h window still burns.
	stop := w.now
	w.run(15*time.Minute, 1000, 0, func(now time.Time) {
		res, err := e.Evaluate(context.Background(), now)
		if err != nil {
			t.Fatal(err)
		}
		tr.observe(t, res, now)
	})
	resolved, ok := tr.resolved["1h"]
	if !ok {
		t.Fatal("1h page not resolved within 15m of recovery")
	}
	if d := resolved.Sub(stop); d > 7*time.Minute {
		t.Errorf("resolved %v after recovery, want within 7m", d)
	}

	// After resolution nothing more is reported about it.
	res, err := e.Evaluate(context.Background(), w.now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Alerts) != 0 {
		t.Errorf("alerts after recovery: %v", res.Alerts)
	}
	if n := gatherValue(t, reg, "vigil_slo_evaluations_total", nil); n < 100 {
		t.Errorf("vigil_slo_evaluations_total = %v, want >= 100", n)
	}
}

func TestEvaluatorSlowBurnDoesNotPage(t *testing.T) {
	w := newWorld(t)
	w.run(72*time.Hour, 1000, 0, nil)
	e, reg := newEval(t, w)
	var tr transitions
	var last Result
	// A 1x burn spends the budget exactly over 30 days: worth no page.
	w.run(36*time.Hour, 1000, 0.001, func(now time.Time) {
		if now.Minute()%10 != 0 {
			return
		}
		res, err := e.Evaluate(context.Background(), now)
		if err != nil {
			t.Fatal(err)
		}
		tr.observe(t, res, now)
		last = res
	})
	for win, sev := range tr.severity {
		if sev == "page" {
			t.Errorf("a 1x burn paged on window %s at %v", win, tr.fired[win])
		}
	}
	st := last.Status[0]
	for _, b := range st.Burns {
		if b.Long <= 6*time.Hour && math.Abs(b.ShortRate-1) > 0.01 {
			t.Errorf("burn over %v = %v, want 1", b.Short, b.ShortRate)
		}
	}
	// 36h of 1x burn over the 30-day window (of which the store holds
	// 108h) spends 36/108 of the budget measured over what it holds.
	if want := 1 - 36.0/108; math.Abs(st.BudgetRemaining-want) > 0.01 {
		t.Errorf("budget remaining %v, want about %v", st.BudgetRemaining, want)
	}
	if got := gatherValue(t, reg, "vigil_slo_error_budget_remaining_ratio", map[string]string{"slo": "checkout-availability"}); math.Abs(got-st.BudgetRemaining) > 1e-9 {
		t.Errorf("remaining gauge %v, status %v", got, st.BudgetRemaining)
	}
}

func TestEvaluatorGoodSelectorAndSlowTicket(t *testing.T) {
	w := newWorld(t)
	w.run(6*time.Hour, 1000, 0, nil)
	d := checkoutSLO(t)
	d.Good, d.Bad = mustSel(t, `http_requests_total{service="checkout",code!~"5.."}`), Selector{}
	d.Labels = map[string]string{"team": "payments"}
	e, _ := newEval(t, w, d)
	// 0.5% errors is a 5x burn: under both page factors (14.4x, 6x) but
	// past the 3x of the 1d/2h pair, which is a ticket. After 20h the 1d
	// window holds 20h of it: 4.2x.
	var tr transitions
	var alerts []telemetry.Alert
	w.run(20*time.Hour, 1000, 0.005, func(now time.Time) {
		if now.Minute()%5 != 0 {
			return
		}
		res, err := e.Evaluate(context.Background(), now)
		if err != nil {
			t.Fatal(err)
		}
		tr.observe(t, res, now)
		alerts = append(alerts, res.Alerts...)
	})
	if _, ok := tr.fired["1d"]; !ok {
		t.Fatalf("no 1d/2h ticket after 20h of a 5x burn; fired %v", tr.fired)
	}
	if tr.severity["1d"] != "ticket" {
		t.Errorf("1d severity %q, want ticket", tr.severity["1d"])
	}
	for _, win := range []string{"1h", "6h"} {
		if _, ok := tr.fired[win]; ok {
			t.Errorf("a 5x burn paged on window %s", win)
		}
	}
	var a telemetry.Alert
	for _, x := range alerts {
		if x.Labels.Get("window") == "1d" {
			a = x
		}
	}
	if a.Labels.Get("team") != "payments" {
		t.Errorf("extra label missing: %v", a.Labels)
	}
	if desc := a.Annotations.Get("description"); !strings.Contains(desc, "4.2x over 1d and 5.0x over 2h") {
		t.Errorf("description %q does not give the burn rate", desc)
	}
}

func TestEvaluatorSourceErrorsAndNoTraffic(t *testing.T) {
	d := checkoutSLO(t)
	var fail bool
	var counts Counts
	src := SourceFunc(func(_ context.Context, _ *Definition, _ time.Time, wins []time.Duration) ([]Counts, error) {
		if fail {
			return nil, errors.New("store down")
		}
		out := make([]Counts, len(wins))
		for i := range out {
			out[i] = counts
		}
		return out, nil
	})
	opts := DefaultOptions()
	opts.Registerer = prometheus.NewRegistry()
	e, err := New([]Definition{d}, src, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := t0

	counts = Counts{Good: 500, Total: 1000} // 500x everywhere: all four fire
	res, err := e.Evaluate(ctx, now)
	if err != nil || len(res.Alerts) != 4 {
		t.Fatalf("all-window burn: %d alerts, %v; want 4", len(res.Alerts), err)
	}

	fail = true
	e.opts.Logger = slog.New(slog.DiscardHandler)
	now = now.Add(time.Minute)
	res, err = e.Evaluate(ctx, now)
	if err == nil || !strings.Contains(err.Error(), "store down") {
		t.Fatalf("Evaluate error = %v, want the source's", err)
	}
	if len(res.Alerts) != 4 {
		t.Errorf("source outage changed firing alerts to %d, want 4 kept", len(res.Alerts))
	}
	for _, a := range res.Alerts {
		if !a.EndsAt.IsZero() || !a.StartsAt.Equal(t0) {
			t.Errorf("alert during outage %v..%v, want firing since %v", a.StartsAt, a.EndsAt, t0)
		}
	}

	// No traffic is no evidence: what fired resolves, nothing new fires.
	fail, counts = false, Counts{}
	now = now.Add(time.Minute)
	res, err = e.Evaluate(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Alerts) != 4 {
		t.Fatalf("got %d alerts, want 4 resolutions", len(res.Alerts))
	}
	for _, a := range res.Alerts {
		if !a.Resolved(now) {
			t.Errorf("alert %v not resolved at %v", a.Labels, now)
		}
	}
	if st := res.Status[0]; !math.IsNaN(st.BudgetRemaining) {
		t.Errorf("budget remaining without traffic %v, want NaN", st.BudgetRemaining)
	}
}

func TestEvaluatorSetDefinitions(t *testing.T) {
	w := newWorld(t)
	d := checkoutSLO(t)
	e, _ := newEval(t, w, d)
	dup := []Definition{d, d}
	if err := e.SetDefinitions(dup); !errors.Is(err, ErrInvalid) {
		t.Errorf("duplicate names: %v, want ErrInvalid", err)
	}
	bad := d
	bad.Objective = 120
	if _, err := New([]Definition{bad}, NewStoreSource(w.st), DefaultOptions()); !errors.Is(err, ErrInvalid) {
		t.Errorf("New with objective 120: %v, want ErrInvalid", err)
	}
	if _, err := New(nil, nil, DefaultOptions()); err == nil {
		t.Error("New with a nil source succeeded")
	}
	opts := DefaultOptions()
	opts.Windows = []BurnWindow{{Long: time.Minute, Short: time.Hour, Factor: 1, Severity: SeverityPage}}
	if _, err := New(nil, NewStoreSource(w.st), opts); err == nil {
		t.Error("New with short > long succeeded")
	}
}

func TestCounterIncrease(t *testing.T) {
	pts := func(vs ...float64) []telemetry.Point {
		out := make([]telemetry.Point, len(vs))
		for i, v := range vs {
			out[i] = telemetry.Point{T: int64(i) * 60000, V: v}
		}
		return out
	}
	tests := []struct {
		name            string
		pts             []telemetry.Point
		start, earliest int64
		want            float64
	}{
		{"anchored before start", pts(0, 10, 20, 30), 60000, 0, 20},
		{"anchor too old: from first inside", pts(0, 10, 20, 30), 90000, 70000, 10},
		{"whole series", pts(5, 10, 20), -1, -1, 15},
		{"reset counts the new value", pts(0, 10, 3, 8), -1, -1, 10 + 3 + 5},
		{"NaN skipped", pts(0, math.NaN(), 10), -1, -1, 10},
		{"nothing after start", pts(0, 10), 60000, 0, 0},
		{"empty", nil, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := counterIncrease(tt.pts, tt.start, tt.earliest); got != tt.want {
				t.Errorf("counterIncrease = %v, want %v", got, tt.want)
			}
		})
	}
}

// gatherValue reads one sample of a metric family from reg.
func gatherValue(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	t.Fatalf("metric %s%v not gathered", name, labels)
	return 0
}

// TestEvaluatorConcurrentUse runs evaluations, reloads and metric scrapes
// at once; with -race it checks the locking contract.
func TestEvaluatorConcurrentUse(t *testing.T) {
	w := newWorld(t)
	w.run(2*time.Hour, 1000, 0.05, nil)
	e, reg := newEval(t, w)
	d := checkoutSLO(t)
	other := d
	other.Name = "other"
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 50 {
			defs := []Definition{d}
			if i%2 == 0 {
				defs = append(defs, other)
			}
			if err := e.SetDefinitions(defs); err != nil {
				t.Error(err)
				return
			}
			if _, err := reg.Gather(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := range 50 {
		if _, err := e.Evaluate(context.Background(), w.now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	<-done
}

func TestStatusJSON(t *testing.T) {
	d := checkoutSLO(t)
	src := SourceFunc(func(_ context.Context, _ *Definition, _ time.Time, wins []time.Duration) ([]Counts, error) {
		out := make([]Counts, len(wins))
		out[0] = Counts{Good: 990, Total: 1000} // the 5m window only
		return out, nil
	})
	e, err := New([]Definition{d}, src, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Evaluate(context.Background(), t0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(res.Status[0])
	if err != nil {
		t.Fatalf("marshal status with NaN readings: %v", err)
	}
	var back struct {
		Window          string   `json:"window"`
		BudgetRemaining *float64 `json:"budget_remaining"`
		Burns           []struct {
			Short     string   `json:"short_window"`
			ShortRate *float64 `json:"short_burn_rate"`
			LongRate  *float64 `json:"long_burn_rate"`
		} `json:"burns"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Window != "30d" || back.BudgetRemaining != nil || len(back.Burns) != 4 {
		t.Fatalf("status JSON %s", b)
	}
	if r := back.Burns[0].ShortRate; back.Burns[0].Short != "5m" || r == nil || math.Abs(*r-10) > 1e-9 || back.Burns[0].LongRate != nil {
		t.Errorf("first burn in %s", b)
	}
}

// TestEvaluatorAgreesWithExportedRules replays the input of the promtool
// unit test in test/integration/rules_test.go (5-minute scrapes, three
// clean days, then 100 errors a minute for 20 minutes next to 1000
// successes): Vigil must raise what the exported rules raise there, the
// 1h/5m page alone at minute 4335 and nothing at 4315 or 4345.
func TestEvaluatorAgreesWithExportedRules(t *testing.T) {
	w := newWorld(t)
	want := map[int][]string{4315: nil, 4335: {"1h"}, 4345: nil}
	for step := 0; step <= 900; step++ {
		ts := t0.Add(time.Duration(step) * 5 * time.Minute)
		errs := 0.0
		switch {
		case step >= 864 && step <= 867:
			errs = float64(step-863) * 500
		case step > 867:
			errs = 2000
		}
		w.st.Append([]telemetry.Sample{
			{Labels: w.okLs, T: ts.UnixMilli(), V: float64(step) * 5000},
			{Labels: w.errLs, T: ts.UnixMilli(), V: errs},
		})
	}
	for minute, wins := range want {
		// A fresh evaluator per instant: promtool's alert tests judge
		// each eval_time on its own.
		e, _ := newEval(t, w)
		res, err := e.Evaluate(context.Background(), t0.Add(time.Duration(minute)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range res.Alerts {
			got = append(got, a.Labels.Get("window"))
		}
		if strings.Join(got, ",") != strings.Join(wins, ",") {
			t.Errorf("minute %d: firing windows %v, want %v", minute, got, wins)
		}
		if minute == 4335 {
			b := res.Status[0].Burns[0]
			// 2000 errors in 62000 requests over 1h: 3.226%, 32.3x.
			if math.Abs(b.LongRate-2000.0/62000/0.001) > 1e-6 {
				t.Errorf("1h burn %v, want %v", b.LongRate, 2000.0/62000/0.001)
			}
		}
	}
}
