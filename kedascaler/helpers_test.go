package kedascaler

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/telemetry"
)

var t0 = time.Date(2026, 1, 9, 10, 0, 0, 0, time.UTC)

// fakeClock is a settable clock.
type fakeClock struct {
	mtx sync.Mutex // protects now
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mtx.Lock()
	defer c.mtx.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mtx.Lock()
	c.now = t
	c.mtx.Unlock()
}

func (c *fakeClock) Add(d time.Duration) {
	c.mtx.Lock()
	c.now = c.now.Add(d)
	c.mtx.Unlock()
}

// fnHistory serves points of value(t) on the step grid in [from, to],
// stopping at upTo when it is set, and counts calls.
type fnHistory struct {
	mtx   sync.Mutex // protects all fields
	value func(t time.Time) float64
	upTo  time.Time
	err   error
	calls int
	froms []time.Time
}

func (h *fnHistory) Range(_ context.Context, _ Query, from, to time.Time, step time.Duration) ([]telemetry.Point, error) {
	h.mtx.Lock()
	defer h.mtx.Unlock()
	h.calls++
	h.froms = append(h.froms, from)
	if h.err != nil {
		return nil, h.err
	}
	if !h.upTo.IsZero() && to.After(h.upTo) {
		to = h.upTo
	}
	var out []telemetry.Point
	start := from.Truncate(step)
	if start.Before(from) {
		start = start.Add(step)
	}
	for t := start; !t.After(to); t = t.Add(step) {
		out = append(out, telemetry.Point{T: t.UnixMilli(), V: h.value(t)})
	}
	return out, nil
}

func (h *fnHistory) set(f func(h *fnHistory)) {
	h.mtx.Lock()
	defer h.mtx.Unlock()
	f(h)
}

// bandForecaster forecasts mean(t) with a band of ±spread·mean and the
// requested quantile placed at mean·(1+lift), one point a minute.
type bandForecaster struct {
	mtx    sync.Mutex // protects all fields
	mean   func(t time.Time) float64
	spread float64
	lift   float64
	err    error
	fitted time.Time // zero: fitted at the last history point
	reqs   []Request
}

func (f *bandForecaster) Forecast(_ context.Context, req Request) (*Band, error) {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	f.reqs = append(f.reqs, Request{Key: req.Key, Now: req.Now, Horizon: req.Horizon, Quantile: req.Quantile})
	if f.err != nil {
		return nil, f.err
	}
	b := &Band{Model: "fake", FittedAt: f.fitted}
	if b.FittedAt.IsZero() && len(req.History) > 0 {
		b.FittedAt = time.UnixMilli(req.History[len(req.History)-1].T)
	}
	for t := req.Now.Truncate(time.Minute).Add(time.Minute); !t.After(req.Now.Add(req.Horizon)); t = t.Add(time.Minute) {
		m := f.mean(t)
		b.Times = append(b.Times, t)
		b.Mean = append(b.Mean, m)
		b.Value = append(b.Value, m*(1+f.lift))
		b.Lower = append(b.Lower, m*(1-f.spread))
		b.Upper = append(b.Upper, m*(1+f.spread))
	}
	return b, nil
}

func (f *bandForecaster) set(fn func(f *bandForecaster)) {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	fn(f)
}

func constant(v float64) func(time.Time) float64 { return func(time.Time) float64 { return v } }

// md returns valid metadata with overrides.
func md(kv ...string) map[string]string {
	m := map[string]string{KeyQuery: `sum(rate(http_requests_total{service="frontend"}[1m]))`, KeyTargetValue: "10"}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<delete>" {
			delete(m, kv[i])
			continue
		}
		m[kv[i]] = kv[i+1]
	}
	return m
}

type rig struct {
	s    *Scaler
	clk  *fakeClock
	hist *fnHistory
	fc   *bandForecaster
	reg  *prometheus.Registry
}

func newRig(t *testing.T, mod func(o *Options)) *rig {
	t.Helper()
	r := &rig{
		clk:  &fakeClock{now: t0},
		hist: &fnHistory{value: constant(100)},
		fc:   &bandForecaster{mean: constant(100), spread: 0.2},
		reg:  prometheus.NewRegistry(),
	}
	o := DefaultOptions()
	o.History, o.Forecaster, o.Now, o.Registerer = r.hist, r.fc, r.clk.Now, r.reg
	o.MinEvalInterval = 0
	o.Logger = nil
	if mod != nil {
		mod(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	r.s = s
	return r
}

// metric returns the value of the named metric whose labels include want.
func metric(t *testing.T, reg *prometheus.Registry, name string, want ...string) float64 {
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
			for i := 0; i+1 < len(want); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == want[i] && lp.GetValue() == want[i+1] {
						found = true
					}
				}
				if !found {
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
	return 0
}
