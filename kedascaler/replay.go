package kedascaler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/vigilops/vigil/sim"
	"github.com/vigilops/vigil/telemetry"
)

// ReplayOptions configures Replay.
type ReplayOptions struct {
	// Seed of the simulation.
	Seed int64
	// HistoryDays of normal traffic are simulated before the day of the
	// surge, so the forecaster can learn the daily pattern.
	HistoryDays int
	// OnsetHour is the hour of the surge day at which the surge starts.
	OnsetHour int
	// Recurring also injects the same surge at OnsetHour on every history
	// day: a surge with a daily precursor (a daily campaign, a batch
	// window) that a seasonal model can learn, as opposed to the default
	// unannounced one.
	Recurring bool
	// Service whose request rate is the load.
	Service string
	// TargetPerReplica is the request rate one replica carries (the
	// ScaledObject's targetValue); a replica's capacity is this rate.
	TargetPerReplica float64
	// Around is how much time before the onset and after the surge's end
	// the surge window covers.
	Around time.Duration
	// Metadata is the predictive scaler's trigger metadata (query and
	// targetValue are filled in); nil means the defaults (15m horizon,
	// quantile 0.9, all guards at their defaults).
	Metadata map[string]string
	// HPA is the autoscaler model both policies run under.
	HPA HPAModel
	// PredictiveHPA, when set, replaces HPA for the predictive policy only
	// (e.g. the shorter scale-down window deploy/kubernetes recommends,
	// since the scaler already stabilises falls itself).
	PredictiveHPA *HPAModel
	// NoReplicas hides the predictive HPA's replica count from the scaler
	// (Options.Replicas unset), so it serves the guarded forecast without
	// placing it for the HPA's tolerance band.
	NoReplicas bool
	// Forecaster is the predictive scaler's forecaster; required.
	Forecaster Forecaster
	// Trace, when set, receives every step of the surge day.
	Trace  func(ReplayStep)
	Logger *slog.Logger
}

// ReplayStep is one HPA sync of the replay, for tracing.
type ReplayStep struct {
	Time time.Time
	// Load is the true request rate of the step; Observed what the
	// reactive HPA reads (delayed 1-minute rate).
	Load, Observed float64
	// Decision is the predictive scaler's evaluation.
	Decision Decision
	// Ready and total pods of each policy.
	ReactiveReady, ReactiveTotal     int
	PredictiveReady, PredictiveTotal int
}

// DefaultReplayOptions returns seed 1, four days of history (Monday to
// Thursday) before a Friday surge at 10:00, the frontend's request rate,
// 10 requests/s per replica and one hour either side of the surge. The
// Forecaster must still be set.
func DefaultReplayOptions() ReplayOptions {
	return ReplayOptions{
		Seed:             1,
		HistoryDays:      4,
		OnsetHour:        10,
		Service:          "frontend",
		TargetPerReplica: 10,
		Around:           time.Hour,
		HPA:              DefaultHPAModel(),
	}
}

// PolicyResult is one autoscaling policy's outcome over a window.
type PolicyResult struct {
	// UnderMinutes is the time during which ready capacity was below the
	// load.
	UnderMinutes float64 `json:"under_minutes"`
	// ReplicaMinutes counts every pod from its creation (starting pods
	// cost too) until its removal.
	ReplicaMinutes float64 `json:"replica_minutes"`
	// PeakReplicas is the largest replica count.
	PeakReplicas int `json:"peak_replicas"`
	// LoadShortfall is the total load above capacity, in request-minutes
	// per second (the area between load and capacity where load is higher).
	LoadShortfall float64 `json:"load_shortfall"`
}

// ReplayWindow is both policies' outcome over one window.
type ReplayWindow struct {
	From       time.Time    `json:"from"`
	To         time.Time    `json:"to"`
	Reactive   PolicyResult `json:"reactive"`
	Predictive PolicyResult `json:"predictive"`
}

// ReplayResult is Replay's outcome: the surge window (onset − Around to the
// surge's end + Around) and the whole surge day.
type ReplayResult struct {
	Onset time.Time    `json:"onset"`
	Surge ReplayWindow `json:"surge"`
	Day   ReplayWindow `json:"day"`
	// Fallbacks counts the predictive scaler's fallbacks by reason.
	Fallbacks map[string]int `json:"fallbacks"`
	// Model is the forecaster's model at the onset.
	Model string `json:"model"`
}

// Replay simulates the shop with a traffic surge and runs two autoscalers
// on the service's request rate over the surge day: a reactive HPA on the
// observed rate, and the same HPA on this package's served value (the
// guarded forecast peak), evaluated through a real Scaler. Both see the
// same delayed metrics and the same pod start-up.
func Replay(ctx context.Context, o ReplayOptions) (ReplayResult, error) {
	switch {
	case o.Forecaster == nil:
		return ReplayResult{}, errors.New("replay: forecaster is nil")
	case o.HistoryDays < 1 || o.HistoryDays > 28:
		return ReplayResult{}, fmt.Errorf("replay: history days %d outside [1, 28]", o.HistoryDays)
	case o.OnsetHour < 0 || o.OnsetHour > 21:
		return ReplayResult{}, fmt.Errorf("replay: onset hour %d outside [0, 21]", o.OnsetHour)
	case !(o.TargetPerReplica > 0):
		return ReplayResult{}, fmt.Errorf("replay: target per replica %g is not positive", o.TargetPerReplica)
	}
	for _, h := range []*HPAModel{&o.HPA, o.PredictiveHPA} {
		if h != nil && (h.SyncPeriod <= 0 || h.MinReplicas < 1 || h.MaxReplicas < h.MinReplicas || h.SyncPeriod != o.HPA.SyncPeriod) {
			return ReplayResult{}, fmt.Errorf("replay: bad HPA model %+v (sync periods must match)", *h)
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	so := sim.DefaultOptions()
	so.Seed, so.Step, so.LogScale = o.Seed, o.HPA.SyncPeriod, 0
	dayStart := so.Start.Add(time.Duration(o.HistoryDays) * 24 * time.Hour)
	onset := dayStart.Add(time.Duration(o.OnsetHour) * time.Hour)
	so.Faults = []sim.Fault{{Scenario: sim.ScenarioTrafficSurge, Onset: onset}}
	if o.Recurring {
		for d := 1; d <= o.HistoryDays; d++ {
			so.Faults = append(so.Faults, sim.Fault{Scenario: sim.ScenarioTrafficSurge, Onset: onset.Add(-time.Duration(d) * 24 * time.Hour)})
		}
	}
	s, err := sim.New(so)
	if err != nil {
		return ReplayResult{}, fmt.Errorf("replay: %w", err)
	}
	var surgeEnd time.Time
	for _, tr := range s.Truth() {
		if tr.Onset.Equal(onset) {
			surgeEnd = tr.End
		}
	}
	if surgeEnd.IsZero() {
		return ReplayResult{}, errors.New("replay: the simulator reported no surge at the onset")
	}
	end := dayStart.Add(24 * time.Hour)
	load, err := serviceLoad(ctx, s, o.Service, end)
	if err != nil {
		return ReplayResult{}, err
	}

	lt := &loadTrace{start: so.Start, step: so.Step, load: load, delay: o.HPA.MetricsDelay}
	meta := map[string]string{}
	for k, v := range o.Metadata {
		meta[k] = v
	}
	meta[KeySelector] = fmt.Sprintf(`http_requests_total{service=%q}`, o.Service)
	meta[KeyTargetValue] = fmt.Sprint(o.TargetPerReplica)
	clock := &replayClock{}
	so2 := DefaultOptions()
	so2.History, so2.Forecaster, so2.Now, so2.Registerer, so2.Logger = lt, o.Forecaster, clock.now, nil, o.Logger
	var predictive *hpaSim
	if !o.NoReplicas {
		so2.Replicas = ReplicasFunc(func(context.Context, string, string) (int, error) { return predictive.replicas, nil })
	}
	sc, err := New(so2)
	if err != nil {
		return ReplayResult{}, fmt.Errorf("replay: %w", err)
	}

	res := ReplayResult{
		Onset:     onset,
		Surge:     ReplayWindow{From: onset.Add(-o.Around), To: surgeEnd.Add(o.Around)},
		Day:       ReplayWindow{From: dayStart, To: end},
		Fallbacks: map[string]int{},
	}
	reactive := newHPASim(o.HPA, o.TargetPerReplica)
	ph := o.HPA
	if o.PredictiveHPA != nil {
		ph = *o.PredictiveHPA
	}
	predictive = newHPASim(ph, o.TargetPerReplica)
	first := lt.index(dayStart)
	init := int(math.Ceil(load[first] / o.TargetPerReplica))
	reactive.start(dayStart, init)
	predictive.start(dayStart, init)
	for k := first; k < len(load); k++ {
		if k%240 == 0 && ctx.Err() != nil {
			return ReplayResult{}, ctx.Err()
		}
		t := lt.at(k)
		clock.t = t
		reactive.sync(t, lt.observed(t))
		dec, err := sc.Evaluate(ctx, "replay", o.Service, meta)
		if err != nil {
			return ReplayResult{}, fmt.Errorf("replay: evaluate at %s: %w", t.Format(time.RFC3339), err)
		}
		if dec.Fallback != "" {
			res.Fallbacks[dec.Fallback]++
		}
		if !t.Before(onset) && res.Model == "" {
			res.Model = dec.Model
		}
		predictive.sync(t, dec.Value)
		if o.Trace != nil {
			rr, rt := reactive.pods(t)
			pr, pt := predictive.pods(t)
			o.Trace(ReplayStep{Time: t, Load: load[k], Observed: lt.observed(t), Decision: dec,
				ReactiveReady: rr, ReactiveTotal: rt, PredictiveReady: pr, PredictiveTotal: pt})
		}
		dt := o.HPA.SyncPeriod.Minutes()
		for _, w := range []*ReplayWindow{&res.Surge, &res.Day} {
			if t.Before(w.From) || !t.Before(w.To) {
				continue
			}
			w.Reactive.account(reactive, t, load[k], dt)
			w.Predictive.account(predictive, t, load[k], dt)
		}
	}
	return res, nil
}

func (p *PolicyResult) account(h *hpaSim, t time.Time, load, dt float64) {
	ready, total := h.pods(t)
	capacity := float64(ready) * h.target
	if capacity < load {
		p.UnderMinutes += dt
		p.LoadShortfall += (load - capacity) * dt
	}
	p.ReplicaMinutes += float64(total) * dt
	p.PeakReplicas = max(p.PeakReplicas, total)
}

type replayClock struct{ t time.Time }

func (c *replayClock) now() time.Time { return c.t }

// serviceLoad runs the simulation to end and returns the service's request
// rate per simulation step: the increase of the sum of its
// http_requests_total counters over each step, per second.
func serviceLoad(ctx context.Context, s *sim.Sim, service string, end time.Time) ([]float64, error) {
	step := s.Options().Step
	start := s.Options().Start
	n := int(end.Sub(start) / step)
	totals := make([]float64, n+1)
	seen := make([]bool, n+1)
	prev := map[telemetry.Fingerprint]float64{} // last value per series, for resets
	sum := 0.0                                  // running total of increases
	lastT := int64(math.MinInt64)
	for t := start; t.Before(end.Add(step)); {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		next := t.Add(6 * time.Hour)
		if next.After(end.Add(step)) {
			next = end.Add(step)
		}
		b := s.Advance(next)
		for _, smp := range b.Samples {
			if smp.Labels.Get(telemetry.MetricNameLabel) != "http_requests_total" || smp.Labels.Get("service") != service {
				continue
			}
			fp := smp.Labels.Fingerprint()
			if p, ok := prev[fp]; ok {
				inc := smp.V - p
				if inc < 0 { // counter reset: the new value is the increase
					inc = smp.V
				}
				sum += inc
			}
			prev[fp] = smp.V
			i := int(time.UnixMilli(smp.T).Sub(start) / step)
			if i >= 0 && i <= n {
				totals[i] = sum
				seen[i] = true
			}
			lastT = max(lastT, smp.T)
		}
		t = next
	}
	if lastT == math.MinInt64 {
		return nil, fmt.Errorf("replay: no http_requests_total series for service %q", service)
	}
	load := make([]float64, n)
	for i := 0; i < n; i++ {
		if !seen[i] || !seen[i+1] {
			if i > 0 {
				load[i] = load[i-1]
			}
			continue
		}
		load[i] = (totals[i+1] - totals[i]) / step.Seconds()
	}
	return load, nil
}

// loadTrace is the load as the metrics pipeline shows it: 1-minute rates,
// the newest of them delay old. It is the History of the predictive
// scaler and the metric source of the reactive HPA.
type loadTrace struct {
	start time.Time
	step  time.Duration
	load  []float64 // per step, from start
	delay time.Duration
}

func (l *loadTrace) index(t time.Time) int { return int(t.Sub(l.start) / l.step) }
func (l *loadTrace) at(k int) time.Time    { return l.start.Add(time.Duration(k) * l.step) }

// rate is the mean load over [t-1m, t).
func (l *loadTrace) rate(t time.Time) (float64, bool) {
	hi := l.index(t)
	lo := l.index(t.Add(-time.Minute))
	if lo < 0 || hi > len(l.load) || hi <= lo {
		return 0, false
	}
	sum := 0.0
	for _, v := range l.load[lo:hi] {
		sum += v
	}
	return sum / float64(hi-lo), true
}

// observed is what an HPA reading the metric at t sees.
func (l *loadTrace) observed(t time.Time) float64 {
	v, _ := l.rate(t.Add(-l.delay))
	return v
}

// Range implements History: 1-minute rates on the step grid in [from, to],
// none newer than the metrics delay allows.
func (l *loadTrace) Range(_ context.Context, _ Query, from, to time.Time, step time.Duration) ([]telemetry.Point, error) {
	if lim := l.latest(to); lim.Before(to) {
		to = lim
	}
	first := from.Truncate(step)
	if first.Before(from) {
		first = first.Add(step)
	}
	var out []telemetry.Point
	for t := first; !t.After(to); t = t.Add(step) {
		if v, ok := l.rate(t); ok {
			out = append(out, telemetry.Point{T: t.UnixMilli(), V: v})
		}
	}
	return out, nil
}

// latest is the newest instant whose rate is visible at now.
func (l *loadTrace) latest(now time.Time) time.Time { return now.Add(-l.delay) }
