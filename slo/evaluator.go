package slo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/vigilops/vigil/telemetry"
)

// AlertName is the alertname of every burn-rate alert, in Vigil and in the
// exported Prometheus rules alike, so that routes and silences written for
// one match the other.
const AlertName = "SLOBurnRate"

// Options configure an Evaluator.
type Options struct {
	// Windows are the alert conditions. Default DefaultWindows().
	Windows []BurnWindow
	// Logger receives evaluation failures. Default slog.Default().
	Logger *slog.Logger
	// Registerer receives the metrics. Nil leaves them unregistered.
	Registerer prometheus.Registerer
}

// DefaultOptions returns the workbook's windows and the default logger.
func DefaultOptions() Options {
	return Options{Windows: DefaultWindows(), Logger: slog.Default()}
}

func (o Options) validate() error {
	if err := validateWindows(o.Windows); err != nil {
		return fmt.Errorf("slo options: %w", err)
	}
	return nil
}

// Evaluator judges a set of SLOs at evaluation times the caller passes in
// and turns their burn rates into alerts. It is safe for concurrent use;
// evaluations are serialised.
type Evaluator struct {
	src     Source
	opts    Options
	windows []time.Duration // the distinct windows the conditions need
	metrics *metrics

	// mtx protects defs and active, and serialises Evaluate so that alert
	// transitions are decided in evaluation order.
	mtx  sync.Mutex
	defs []Definition
	// active maps a firing alert's key to when it started.
	active map[alertKey]time.Time
}

type alertKey struct {
	slo  string
	long time.Duration
}

// New returns an Evaluator of defs reading counts from src.
func New(defs []Definition, src Source, opts Options) (*Evaluator, error) {
	if opts.Windows == nil {
		opts.Windows = DefaultWindows()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if src == nil {
		return nil, errors.New("slo: nil Source")
	}
	e := &Evaluator{src: src, opts: opts, active: map[alertKey]time.Time{}}
	set := map[time.Duration]bool{}
	for _, w := range opts.Windows {
		set[w.Long], set[w.Short] = true, true
	}
	e.windows = slices.Sorted(maps.Keys(set))
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("slo metrics: %w", err)
	}
	e.metrics = m
	if err := e.SetDefinitions(defs); err != nil {
		return nil, err
	}
	return e, nil
}

// SetDefinitions replaces the SLOs, as on a configuration reload. Alerts of
// SLOs that remain keep their state; those of removed SLOs are forgotten
// without a resolution (their rules are gone, not their problem).
func (e *Evaluator) SetDefinitions(defs []Definition) error {
	var errs []error
	seen := map[string]bool{}
	for i := range defs {
		if err := defs[i].Validate(); err != nil {
			errs = append(errs, fmt.Errorf("slo %d (%s): %w", i, defs[i].Name, err))
		}
		if seen[defs[i].Name] {
			errs = append(errs, fmt.Errorf("%w: slo %d: name %q used twice", ErrInvalid, i, defs[i].Name))
		}
		seen[defs[i].Name] = true
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	e.mtx.Lock()
	defer e.mtx.Unlock()
	e.defs = slices.Clone(defs)
	for k := range e.active {
		if !seen[k.slo] {
			delete(e.active, k)
		}
	}
	e.metrics.forget(seen)
	return nil
}

// Result is what one evaluation found.
type Result struct {
	// Alerts are the burn-rate alerts firing now, with the StartsAt of
	// their first firing evaluation, followed by those that stopped firing
	// at this evaluation (EndsAt = now), each reported once.
	Alerts []telemetry.Alert
	// Status has one entry per SLO, in definition order.
	Status []Status
}

// Status is an SLO's state at one evaluation. Readings without events
// are NaN; MarshalJSON writes them as null.
type Status struct {
	SLO       string
	Service   string
	Objective float64
	// Window is the budget window; ErrorRatio, Good and Total are over it
	// (over what history the source holds of it).
	Window     time.Duration
	Good       float64
	Total      float64
	ErrorRatio float64
	// BudgetRemaining is 1 for an untouched budget, 0 for a spent one,
	// negative when overspent.
	BudgetRemaining float64
	// Burns has one entry per alert condition, in Options.Windows order.
	Burns []Burn
	// Err is set when the counts could not be read; the rest is then empty.
	Err error
}

// Burn is one condition's reading.
type Burn struct {
	BurnWindow
	LongRate, ShortRate float64
	Firing              bool
}

// MarshalJSON renders the status for APIs: durations as Prometheus text,
// NaN as null, the error as its message.
func (s Status) MarshalJSON() ([]byte, error) {
	type burn struct {
		Severity  Severity `json:"severity"`
		Long      string   `json:"long_window"`
		Short     string   `json:"short_window"`
		Factor    float64  `json:"factor"`
		LongRate  *float64 `json:"long_burn_rate"`
		ShortRate *float64 `json:"short_burn_rate"`
		Firing    bool     `json:"firing"`
	}
	out := struct {
		SLO             string   `json:"slo"`
		Service         string   `json:"service"`
		Objective       float64  `json:"objective"`
		Window          string   `json:"window"`
		Good            float64  `json:"good"`
		Total           float64  `json:"total"`
		ErrorRatio      *float64 `json:"error_ratio"`
		BudgetRemaining *float64 `json:"budget_remaining"`
		Burns           []burn   `json:"burns"`
		Error           string   `json:"error,omitempty"`
	}{
		SLO: s.SLO, Service: s.Service, Objective: s.Objective, Window: FormatDuration(s.Window),
		Good: s.Good, Total: s.Total, ErrorRatio: finite(s.ErrorRatio), BudgetRemaining: finite(s.BudgetRemaining),
		Burns: make([]burn, 0, len(s.Burns)),
	}
	if s.Err != nil {
		out.Error = s.Err.Error()
	}
	for _, b := range s.Burns {
		out.Burns = append(out.Burns, burn{b.Severity, FormatDuration(b.Long), FormatDuration(b.Short), b.Factor,
			finite(b.LongRate), finite(b.ShortRate), b.Firing})
	}
	return json.Marshal(out)
}

// finite returns nil for NaN and infinities, which JSON cannot carry.
func finite(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

// Evaluate judges every SLO at now. A failing source for one SLO leaves
// that SLO's alerts as they were and is reported in the joined error; the
// others are still judged.
func (e *Evaluator) Evaluate(ctx context.Context, now time.Time) (Result, error) {
	e.mtx.Lock()
	defer e.mtx.Unlock()
	e.metrics.evaluations.Inc()
	var res Result
	var resolved []telemetry.Alert
	var errs []error
	wins := append(slices.Clone(e.windows), 0)
	for i := range e.defs {
		d := &e.defs[i]
		wins[len(wins)-1] = d.BudgetWindow()
		counts, err := e.src.Counts(ctx, d, now, wins)
		if err == nil && len(counts) != len(wins) {
			err = fmt.Errorf("source returned %d counts for %d windows", len(counts), len(wins))
		}
		if err != nil {
			e.metrics.sourceErrors.Inc()
			e.opts.Logger.Warn("slo evaluation failed", "slo", d.Name, "err", err)
			errs = append(errs, fmt.Errorf("slo %s: %w", d.Name, err))
			res.Status = append(res.Status, Status{SLO: d.Name, Service: d.Service, Objective: d.Objective, Window: d.BudgetWindow(), Err: err})
			// Keep reporting what was firing: a source outage is not a recovery.
			for _, w := range e.opts.Windows {
				if start, ok := e.active[alertKey{d.Name, w.Long}]; ok {
					res.Alerts = append(res.Alerts, e.alert(d, w, Burn{BurnWindow: w, LongRate: math.NaN(), ShortRate: math.NaN()}, Status{BudgetRemaining: math.NaN()}, start, time.Time{}))
				}
			}
			continue
		}
		st := e.status(d, counts, wins)
		for _, b := range st.Burns {
			key := alertKey{d.Name, b.Long}
			start, was := e.active[key]
			switch {
			case b.Firing && !was:
				start = now
				e.active[key] = now
				fallthrough
			case b.Firing:
				res.Alerts = append(res.Alerts, e.alert(d, b.BurnWindow, b, st, start, time.Time{}))
			case was:
				delete(e.active, key)
				resolved = append(resolved, e.alert(d, b.BurnWindow, b, st, start, now))
			}
		}
		res.Status = append(res.Status, st)
		e.metrics.observe(d, st)
	}
	res.Alerts = append(res.Alerts, resolved...)
	e.metrics.firing.Set(float64(len(e.active)))
	return res, errors.Join(errs...)
}

// status derives an SLO's readings from the counts of wins (whose last
// entry is the budget window).
func (e *Evaluator) status(d *Definition, counts []Counts, wins []time.Duration) Status {
	byWin := make(map[time.Duration]Counts, len(wins))
	for i, w := range wins[:len(wins)-1] {
		byWin[w] = counts[i]
	}
	budget := counts[len(counts)-1]
	st := Status{
		SLO: d.Name, Service: d.Service, Objective: d.Objective, Window: d.BudgetWindow(),
		Good: budget.Good, Total: budget.Total, ErrorRatio: budget.ErrorRatio(),
		BudgetRemaining: d.BudgetRemaining(budget),
	}
	for _, w := range e.opts.Windows {
		b := Burn{BurnWindow: w, LongRate: d.BurnRate(byWin[w.Long]), ShortRate: d.BurnRate(byWin[w.Short])}
		// NaN (no events) compares false: no traffic never pages.
		b.Firing = b.LongRate > w.Factor && b.ShortRate > w.Factor
		st.Burns = append(st.Burns, b)
	}
	return st
}

// FormatDuration renders d the way Prometheus writes durations (1h, 1d,
// 3d, 30m), which is how the window label reads in Vigil's alerts and in
// the exported rules alike.
func FormatDuration(d time.Duration) string { return model.Duration(d).String() }

func (e *Evaluator) alert(d *Definition, w BurnWindow, b Burn, st Status, start, end time.Time) telemetry.Alert {
	m := make(map[string]string, len(d.Labels)+5)
	maps.Copy(m, d.Labels)
	m[telemetry.AlertNameLabel] = AlertName
	m["slo"] = d.Name
	m["service"] = d.Service
	m["severity"] = string(w.Severity)
	m["window"] = FormatDuration(w.Long)
	return telemetry.Alert{
		Labels:      telemetry.LabelsFromMap(m),
		Annotations: telemetry.LabelsFromMap(annotations(d, b, st)),
		StartsAt:    start,
		EndsAt:      end,
	}
}

func annotations(d *Definition, b Burn, st Status) map[string]string {
	long, short := FormatDuration(b.Long), FormatDuration(b.Short)
	a := map[string]string{
		"summary": fmt.Sprintf("SLO %s of %s is burning its error budget over %s and %s (threshold %sx)",
			d.Name, d.Service, long, short, strconv.FormatFloat(b.Factor, 'g', -1, 64)),
	}
	if !math.IsNaN(b.LongRate) {
		desc := fmt.Sprintf("Burn rate %.1fx over %s and %.1fx over %s against an objective of %s%% over %s; at %.1fx the whole budget lasts %s.",
			b.LongRate, long, b.ShortRate, short, strconv.FormatFloat(d.Objective, 'g', -1, 64),
			FormatDuration(d.BudgetWindow()), b.LongRate, FormatDuration(d.TimeToExhaustion(b.LongRate).Round(time.Minute)))
		if !math.IsNaN(st.BudgetRemaining) {
			desc += fmt.Sprintf(" Budget remaining: %.1f%%.", 100*st.BudgetRemaining)
		}
		a["description"] = desc
	}
	if d.Description != "" {
		a["slo_description"] = d.Description
	}
	return a
}
