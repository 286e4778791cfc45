package kedascaler

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/vigilops/vigil/kedascaler/externalscaler"
	"github.com/vigilops/vigil/telemetry"
)

// Decision is the outcome of one evaluation of a scaled object.
type Decision struct {
	// Time is the evaluation time (from Options.Now).
	Time time.Time
	// Value is what KEDA is served: the forecast peak (or the current
	// value on fallback) after the guards, placed for the HPA's tolerance
	// band when the replica count is known (GuardDeadBand).
	Value float64
	// Peak is the raw forecast peak, NaN when no forecast was made.
	Peak float64
	// Current is the newest observed value: the newest point read at
	// Spec.RecentStep when that is newer than the model's grid.
	Current float64
	// Floor is the current value plus the model's quantile offset at its
	// first step (persistence at the same quantile); the served value is
	// never below it. NaN when no forecast was made.
	Floor float64
	// Ramp is the extrapolated rise when the load was ramping faster than
	// the forecast follows and it raised the value (GuardRamp), else NaN.
	Ramp float64
	// Fallback is the reason the current value replaced the forecast, or
	// "" when the forecast was used.
	Fallback string
	// Guards lists the guards that changed the value this time.
	Guards []string
	// Model names the forecaster's model, when one answered.
	Model string
	// Guarded is the value after the guards, before it was placed for the
	// HPA's tolerance band; Value equals it unless GuardDeadBand acted.
	Guarded float64
	// Replicas is the HPA's replica count when Options.Replicas or the
	// object's replicasQuery told it, else 0.
	Replicas int
	// Active is Guarded > activationThreshold.
	Active bool
}

// objState is one scaled object's memory between evaluations.
type objState struct {
	key       string
	namespace string
	name      string

	// mtx serialises evaluations of this object and protects everything
	// below it. Different objects evaluate in parallel.
	mtx      sync.Mutex
	spec     Spec
	hist     []telemetry.Point
	guard    guard
	preds    []prediction // forecasts of the last lead time, oldest first
	dec      Decision
	evalOnce bool
}

// Scaler evaluates scaled objects and serves them over gRPC. It is safe
// for concurrent use.
type Scaler struct {
	externalscaler.UnimplementedExternalScalerServer

	opts Options
	m    *metrics

	// mtx protects objects and clock (the LRU order).
	mtx     sync.Mutex
	objects map[string]*lruEntry
	clock   uint64
}

type lruEntry struct {
	st   *objState
	used uint64
}

// New returns a Scaler; it errors when opts are invalid or its metrics
// clash with collectors already registered.
func New(opts Options) (*Scaler, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	return &Scaler{opts: opts, m: m, objects: make(map[string]*lruEntry)}, nil
}

// state returns the object's state, creating it (and evicting the least
// recently used object beyond MaxObjects) when new.
func (s *Scaler) state(namespace, name string, md map[string]string, spec Spec) *objState {
	key := objectKey(namespace, name, md)
	s.mtx.Lock()
	defer s.mtx.Unlock()
	s.clock++
	if e, ok := s.objects[key]; ok {
		e.used = s.clock
		return e.st
	}
	for len(s.objects) >= s.opts.MaxObjects {
		var oldKey string
		var oldest *lruEntry
		for k, e := range s.objects {
			if oldest == nil || e.used < oldest.used {
				oldKey, oldest = k, e
			}
		}
		delete(s.objects, oldKey)
		if !s.sharesName(oldest.st) {
			s.m.peak.DeleteLabelValues(oldest.st.namespace, oldest.st.name)
			s.m.served.DeleteLabelValues(oldest.st.namespace, oldest.st.name)
		}
	}
	st := &objState{key: key, namespace: namespace, name: name, spec: spec}
	s.objects[key] = &lruEntry{st: st, used: s.clock}
	return st
}

// sharesName reports whether another state still reports under st's
// labels (the same object with older metadata). Called with s.mtx held.
func (s *Scaler) sharesName(st *objState) bool {
	for _, e := range s.objects {
		if e.st.namespace == st.namespace && e.st.name == st.name {
			return true
		}
	}
	return false
}

// Evaluate decides the value to serve for a scaled object at Options.Now.
// Bad metadata returns an error wrapping ErrInvalidMetadata (a
// *MetadataError naming the key); an empty history returns ErrNoData. A
// forecaster failure is not an error: it falls back to the current value.
func (s *Scaler) Evaluate(ctx context.Context, namespace, name string, md map[string]string) (Decision, error) {
	spec, err := ParseMetadata(md, s.opts.MaxHistoryPoints)
	if err != nil {
		return Decision{}, err
	}
	st := s.state(namespace, name, md, s.effectiveSpec(spec))
	st.mtx.Lock()
	defer st.mtx.Unlock()
	now := s.opts.Now()
	if st.evalOnce && now.Sub(st.dec.Time) < s.opts.MinEvalInterval && !now.Before(st.dec.Time) {
		return st.dec, nil
	}
	dec, err := s.evaluate(ctx, st, now)
	if err != nil {
		return Decision{}, err
	}
	st.dec, st.evalOnce = dec, true
	return dec, nil
}

// effectiveSpec settles the defaults that depend on the scaler's options.
//
// The horizon: capacity ordered now serves from one lead time on, and the
// scaler decides again at every evaluation, so a rise further ahead can
// still be ordered in time later. A longer horizon only orders it earlier,
// paying for replicas before their load (a daily surge the model knows is
// provisioned the whole horizon early) and for the horizon's widest error
// band all the time; one forecast step past the lead time keeps the step
// that contains it covered. That holds when the scaler knows the replica
// count and places its value for the HPA's tolerance band. Without the
// count, any value within the tolerance (10%) of the current capacity
// moves nothing, and the 15-minute peak's wider band is what gets replicas
// added at all in a slow rise (the replay loses up to half its gain with
// the short horizon and no placement), so the default stays 15m there.
// The choice depends on configuration only, never on one evaluation's
// success, so a model is not refitted for a flapping horizon.
//
// The hysteresis (Spec.Tolerance): with the replica count known, the
// served value is placed for the HPA's tolerance band, and a forecast that
// falls by less than the band keeps the HPA where it is on its own (see
// shapeForBand). A second dead band on falls in front of it only holds a
// higher value (a passing peak of the forecast) for longer than the
// forecast asks, which the HPA's scale-down window then holds for another
// five minutes; so the default is 0 there. An explicit tolerance is kept.
func (s *Scaler) effectiveSpec(sp Spec) Spec {
	if s.opts.Replicas != nil || sp.ReplicasQuery != "" {
		if sp.horizonUnset {
			sp.Horizon = sp.LeadTime + sp.Step
		}
		if sp.toleranceUnset {
			sp.Tolerance = 0
		}
	}
	return sp
}

// evaluate runs one evaluation; st.mtx is held.
func (s *Scaler) evaluate(ctx context.Context, st *objState, now time.Time) (Decision, error) {
	sp := st.spec
	s.m.evals.Inc()
	dec := Decision{Time: now, Peak: math.NaN(), Floor: math.NaN(), Ramp: math.NaN()}
	// expected is the load the scaler expects without any quantile margin:
	// the mean forecast's peak, the freshest value or the ramp, whichever
	// is highest; it prices the step out of the HPA's dead band.
	expected := math.NaN()
	if err := s.refresh(ctx, st, now); err != nil {
		if ctx.Err() != nil {
			return Decision{}, ctx.Err()
		}
		if len(st.hist) == 0 {
			return Decision{}, err
		}
		s.opts.Logger.Warn("kedascaler history", "object", st.key, "err", err)
		dec.Fallback = FallbackHistoryError
	}
	if len(st.hist) == 0 {
		return Decision{}, fmt.Errorf("%s %q: %w", sp.Query.Kind, sp.Query.Expr, ErrNoData)
	}
	last := st.hist[len(st.hist)-1]
	dec.Current = last.V
	if dec.Fallback == "" && now.Sub(time.UnixMilli(last.T)) > sp.MaxStaleness {
		dec.Fallback = FallbackStaleData
	}
	if dec.Fallback == "" {
		peak, floor, meanPeak, model, reason, err := s.forecastPeak(ctx, st, now)
		if err != nil {
			return Decision{}, err
		}
		if reason == "" {
			expected = meanPeak
		}
		dec.Peak, dec.Model, dec.Fallback = peak, model, reason
		dec.Floor = floor
		if !math.IsNaN(peak) {
			s.m.peak.WithLabelValues(st.namespace, st.name).Set(peak)
		}
	}
	// The freshest reading: the model's grid lags what the pipeline shows.
	fr := s.fresh(ctx, st, now)
	if n := len(fr); n > 0 && fr[n-1].T > last.T && now.Sub(time.UnixMilli(fr[n-1].T)) <= sp.MaxStaleness {
		dec.Current = fr[n-1].V
	}
	raw := dec.Current
	if dec.Fallback == "" {
		// Never provision below the load already observed: a forecast that
		// expects a fall inside the horizon (a model that reads a level
		// shift as a passing deviation) must not shed capacity in use now.
		// The floor keeps the model's quantile offset over the freshest
		// value.
		dec.Floor += dec.Current - last.V
		raw = max(dec.Peak, dec.Floor)
		// A ramp the model has not caught up with yet (its data is minutes
		// behind and it reads the first rise as a passing deviation) is
		// extrapolated over the lead time, so capacity ordered now is
		// there when the load it is for arrives.
		if len(fr) == 0 {
			fr = st.hist
		}
		// Only a surprise is extrapolated: when the freshest value is
		// within what the forecast of one lead time ago expected for it,
		// the model is following the rise on its own (a surge it has seen
		// on earlier days) and its slope on top of the model's path would
		// provision for the same rise twice (see objState.predicted).
		newest := fr[len(fr)-1]
		if pv, ok := st.predicted(now, sp.LeadTime, newest.T); !ok || newest.V > pv {
			if r := rampValue(fr, st.hist, now, sp.LeadTime, sp.LeadTime); r > raw {
				dec.Ramp, raw = r, r
				dec.Guards = append(dec.Guards, GuardRamp)
				expected = max(expected, r)
			}
		}
	} else {
		s.m.fallbacks.WithLabelValues(dec.Fallback).Inc()
	}
	v, acted := st.guard.apply(now, raw, sp)
	dec.Value, dec.Guarded, dec.Guards = v, v, append(dec.Guards, acted...)
	if dec.Replicas = s.replicas(ctx, st, now); dec.Replicas > 0 {
		if math.IsNaN(expected) { // a fallback: no forecast
			expected = dec.Current
		}
		expected = max(expected, dec.Current)
		if sv := shapeForBand(v, expected, sp.Quantile, sp.TargetValue, sp.HPATolerance, dec.Replicas); sv != v {
			dec.Value = sv
			dec.Guards = append(dec.Guards, GuardDeadBand)
		}
	}
	for _, g := range dec.Guards {
		s.m.guards.WithLabelValues(g).Inc()
	}
	dec.Active = dec.Guarded > sp.ActivationThreshold
	s.m.served.WithLabelValues(st.namespace, st.name).Set(dec.Value)
	return dec, nil
}

// replicasMaxAge is how old the newest point of Spec.ReplicasQuery may
// be: a replica count is only useful while it is the HPA's current one,
// and kube-state-metrics is scraped every 15-30 s.
const replicasMaxAge = time.Minute

// replicas returns the object's current replica count from
// Options.Replicas, else from Spec.ReplicasQuery; 0 means unknown (no
// source, an error, no recent point, or a count below one).
func (s *Scaler) replicas(ctx context.Context, st *objState, now time.Time) int {
	var n int
	var err error
	switch {
	case s.opts.Replicas != nil:
		n, err = s.opts.Replicas.Replicas(ctx, st.namespace, st.name)
	case st.spec.ReplicasQuery != "":
		var pts []telemetry.Point
		q := Query{Kind: QueryPromQL, Expr: st.spec.ReplicasQuery}
		step := min(max(st.spec.RecentStep, minStep), replicasMaxAge/2)
		pts, err = s.opts.History.Range(ctx, q, now.Add(-replicasMaxAge), now, step)
		if k := len(pts); err == nil && k > 0 && now.Sub(time.UnixMilli(pts[k-1].T)) <= replicasMaxAge && pts[k-1].V >= 1 && pts[k-1].V < 1e9 {
			n = int(math.Round(pts[k-1].V))
		}
	default:
		return 0
	}
	if err != nil {
		if ctx.Err() == nil {
			s.opts.Logger.Debug("kedascaler replicas", "object", st.key, "err", err)
		}
		return 0
	}
	return max(n, 0)
}

// forecastPeak asks the forecaster and reduces its band to the peak of the
// horizon. The peak covers every forecast step not yet observed up to
// now+horizon: the steps between the last point and now are the present,
// which no one has measured yet, and need capacity as much as the future.
// floor is the persistence forecast at the same quantile: the current
// value plus the model's own quantile offset at its first step, so that
// serving "at least the current value" keeps the model's headroom. A
// non-empty reason means the forecast must not be used; err is only the
// context's.
func (s *Scaler) forecastPeak(ctx context.Context, st *objState, now time.Time) (peak, floor, meanPeak float64, model, reason string, err error) {
	sp := st.spec
	nan := math.NaN()
	last := st.hist[len(st.hist)-1]
	band, ferr := s.opts.Forecaster.Forecast(ctx, Request{
		Key: st.key, History: st.hist, Now: now, Horizon: sp.Horizon, Quantile: sp.Quantile,
	})
	if ferr != nil {
		if ctx.Err() != nil {
			return 0, 0, 0, "", "", ctx.Err()
		}
		s.opts.Logger.Warn("kedascaler forecast", "object", st.key, "err", ferr)
		return nan, nan, nan, "", FallbackFitError, nil
	}
	if band == nil {
		return nan, nan, nan, "", FallbackFitError, nil
	}
	model = band.Model
	if !band.FittedAt.IsZero() && now.Sub(band.FittedAt) > sp.MaxFitAge {
		return nan, nan, nan, model, FallbackStaleFit, nil
	}
	n := len(band.Times)
	if len(band.Value) != n || len(band.Mean) != n || len(band.Lower) != n || len(band.Upper) != n {
		return nan, nan, nan, model, FallbackFitError, nil
	}
	end := now.Add(sp.Horizon)
	observed := time.UnixMilli(last.T)
	peak, meanPeak = math.Inf(-1), math.Inf(-1)
	width := 0.0
	seen := false
	var path []telemetry.Point // the part a lookup one lead time later can reach
	for i, t := range band.Times {
		if !t.After(observed) || t.After(end) {
			continue
		}
		v, mu := band.Value[i], band.Mean[i]
		if math.IsNaN(v) || math.IsInf(v, 0) || math.IsNaN(mu) || math.IsInf(mu, 0) {
			return nan, nan, nan, model, FallbackFitError, nil
		}
		if !seen {
			floor = last.V + max(0, v-mu)
		}
		seen = true
		peak, meanPeak = max(peak, v), max(meanPeak, mu)
		if len(path) < maxPredictionSteps && !t.After(now.Add(sp.LeadTime+sp.Step)) {
			path = append(path, telemetry.Point{T: t.UnixMilli(), V: v})
		}
		w := band.Upper[i] - band.Lower[i]
		switch {
		case math.IsNaN(w) || math.IsInf(w, 0):
			width = math.Inf(1)
		case w > 0:
			width = max(width, w/max(math.Abs(mu), 1e-12))
		}
	}
	if !seen {
		return nan, nan, nan, model, FallbackFitError, nil
	}
	if width > sp.MaxRelativeWidth {
		return peak, floor, meanPeak, model, FallbackUnsure, nil
	}
	if sp.LeadTime > 0 {
		st.remember(now, path, sp.LeadTime)
	}
	return peak, floor, meanPeak, model, "", nil
}

// refresh brings st.hist up to now, fetching only what is new when the
// cached points still reach into the lookback window.
func (s *Scaler) refresh(ctx context.Context, st *objState, now time.Time) error {
	sp := st.spec
	from := now.Add(-sp.Lookback)
	fetchFrom := from
	if n := len(st.hist); n > 0 {
		lastT := time.UnixMilli(st.hist[n-1].T)
		if !lastT.Before(from) && !lastT.After(now) {
			fetchFrom = lastT.Add(time.Millisecond)
		} else {
			st.hist = st.hist[:0]
		}
	}
	var err error
	if fetchFrom.Before(now) || fetchFrom.Equal(now) {
		var pts []telemetry.Point
		pts, err = s.opts.History.Range(ctx, sp.Query, fetchFrom, now, sp.Step)
		if err == nil {
			st.hist = appendIncreasing(st.hist, pts, now.UnixMilli())
		}
	}
	cut := from.UnixMilli()
	i := 0
	for i < len(st.hist) && st.hist[i].T < cut {
		i++
	}
	if limit := s.opts.MaxHistoryPoints; len(st.hist)-i > limit {
		i = len(st.hist) - limit
	}
	if i > 0 {
		st.hist = st.hist[:copy(st.hist, st.hist[i:])]
	}
	if err != nil {
		return fmt.Errorf("read history: %w", err)
	}
	return nil
}

// appendIncreasing appends the finite points of pts that are newer than
// the last kept point and not after limit (milliseconds); History may
// repeat the boundary point or return points out of order.
func appendIncreasing(dst, pts []telemetry.Point, limit int64) []telemetry.Point {
	for _, p := range pts {
		if math.IsNaN(p.V) || math.IsInf(p.V, 0) || p.T > limit {
			continue
		}
		if n := len(dst); n > 0 && p.T <= dst[n-1].T {
			continue
		}
		dst = append(dst, p)
	}
	return dst
}

// errIsMetadata reports whether err is the caller's fault.
func errIsMetadata(err error) bool { return errors.Is(err, ErrInvalidMetadata) }
