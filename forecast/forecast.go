// Package forecast predicts where a metric is going, with honest bands.
//
// Fit takes one series' history, puts it on a regular grid, finds daily and
// weekly seasonality, and chooses among a few fast models by a
// rolling-origin backtest over the last days of the history: the last
// value; Holt-Winters additive and multiplicative (daily or weekly season,
// optionally with a damped trend); a multi-seasonal exponential smoothing
// with daily and weekly components; and a decomposition in the spirit of
// Prophet (piecewise-linear trend plus daily and weekly Fourier terms,
// fitted by ridge least squares); seasonal naive on request. The smoothing
// models and the decomposition are also tried with an AR(1) correction of
// their one-step errors. Every model runs as a recursive filter, so fitting
// is one pass per candidate over the last few seasons, Update is O(1), and
// the backtest that chooses the model costs nothing beyond that pass.
// Prediction bands come from the backtest's own errors at one step, at the
// scored horizon and at twice it.
//
// Key invariant: a Model only ever sees the history it was fitted on and
// the points given to Update; no model reads the clock, so forecasts are
// reproducible from the same points.
package forecast

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/telemetry"
)

// ErrShortHistory is returned by Fit when the history has fewer points
// than any model needs.
var ErrShortHistory = errors.New("history too short")

// ErrBadHistory is returned by Fit when the history cannot be put on a
// time grid: timestamps out of order, or values that are not finite.
var ErrBadHistory = errors.New("bad history")

// Model families that Options.Models may name.
const (
	FamilyNaive          = "naive"
	FamilySeasonalNaive  = "seasonal-naive"
	FamilyHWAdditive     = "holt-winters-additive"
	FamilyHWMultiplicate = "holt-winters-multiplicative"
	FamilyMultiSeasonal  = "multi-seasonal"
	FamilyDecomposition  = "decomposition"
)

// Quantile methods for Options.QuantileMethod.
const (
	// QuantileNormal spreads Gaussian quantiles by the backtest's error
	// scale at each horizon.
	QuantileNormal = "normal"
	// QuantileEmpirical uses the distribution of the backtest's own
	// standardised errors, so skewed or heavy-tailed errors give skewed or
	// wider bands.
	QuantileEmpirical = "empirical"
)

// Options configures Fit. The zero value is not usable; start from
// DefaultOptions.
type Options struct {
	// Seasonalities are the candidate season lengths (default 24h and
	// 168h). A season is used only when the history holds at least
	// MinSeasonCycles of it and the autocorrelation at its lag reaches
	// MinSeasonACF; a season shorter than two steps is ignored.
	Seasonalities []time.Duration
	// MinSeasonCycles is how many full seasons of history a seasonal model
	// needs (default 2: weekly seasonality needs 14 days).
	MinSeasonCycles int
	// MinSeasonACF is the autocorrelation at the season's lag below which
	// the season is not tried (default 0.1). Kept low: the backtest is the
	// real judge, this only saves the cost of hopeless candidates.
	MinSeasonACF float64
	// Models lists the candidate families (default: naive, both
	// Holt-Winters, multi-seasonal and decomposition). The backtest picks one model among
	// the candidates of these families. Seasonal naive is not a default
	// candidate: it copies a whole season's noise into its forecast, and
	// Holt-Winters with a high seasonal gain covers the series it suits;
	// on NAB it won short backtests on spiky series and then lost.
	Models []string
	// ARCorrection also tries each smoothing candidate (Holt-Winters,
	// multi-seasonal and decomposition) with an AR(1) correction of its one-step errors, the
	// coefficient estimated in closed form from the same pass (default
	// true): short-horizon forecasts gain when a deviation from the
	// seasonal shape persists for a while.
	ARCorrection bool
	// FineGrid tries Holt-Winters additive over a fine grid of smoothing
	// parameters (alpha 0.05..1 by 0.1, gamma 0..0.5 of 1-alpha, with and
	// without trend: 154 settings) instead of the default 10. Slow; meant
	// for reference runs.
	FineGrid bool
	// Horizon is the lead time the backtest scores candidates at (default
	// 15m; at least one step). Set it to the lead time you act on.
	Horizon time.Duration
	// Backtest is how much of the end of the history the rolling-origin
	// backtest scores over (default 72h; at most half the history).
	Backtest time.Duration
	// SimplerMargin is how much better (relative MAE) a candidate must be
	// than the last-value forecast to be chosen over it (default 0.03); it
	// must also beat it in each third of the backtest window. With dozens
	// of candidates the best one's backtest flatters it: on noise, ties go
	// to the model that cannot overfit.
	SimplerMargin float64
	// QuantileMethod is QuantileEmpirical (default) or QuantileNormal.
	QuantileMethod string
	// MinPoints is the fewest points Fit accepts (default 16): the backtest
	// needs a few forecasts to score and to measure the spread from.
	MinPoints int
	// MaxHistory bounds the history used, counted back from the last point
	// (default 8 weeks); MaxPoints bounds it in points (default 200,000),
	// which bounds memory and cost for fine steps.
	MaxHistory time.Duration
	MaxPoints  int
	// MaxGap is the longest run of missing steps filled by linear
	// interpolation (default 60 steps). History before a longer gap is
	// dropped, with a warning, unless fewer than 8*MinPoints steps follow
	// the gap: then the gap is filled too (also with a warning).
	MaxGap int
	// Guard is the memory of the online check that falls back to the last
	// value while the chosen model has lately forecast worse than it at
	// the scored horizon (default 6h; 0 turns the check off). A refit
	// chooses from the last days only, so between refits this is what
	// catches a series that has stopped looking like its past.
	Guard time.Duration
	// RefitEvery is the refit cadence for callers that keep a Model and
	// Update it (default 24h): Model.NeedsRefit reports when it has passed.
	// Update keeps the state current cheaply but does not re-choose the
	// model or its smoothing parameters.
	RefitEvery time.Duration
	// Logger receives debug lines about the choice (default: discard).
	Logger *slog.Logger
	// Registerer, when set, receives the fit metrics
	// (vigil_forecast_fits_total, vigil_forecast_fit_duration_seconds,
	// vigil_forecast_fit_points).
	Registerer prometheus.Registerer

	// fullPass runs every candidate from the start of the history rather
	// than from a few seasons before the backtest window.
	fullPass bool
}

// DefaultOptions returns the options used everywhere unless a caller has a
// reason to differ.
func DefaultOptions() Options {
	return Options{
		Seasonalities:   []time.Duration{24 * time.Hour, 7 * 24 * time.Hour},
		MinSeasonCycles: 2,
		MinSeasonACF:    0.1,
		Models:          []string{FamilyNaive, FamilyHWAdditive, FamilyHWMultiplicate, FamilyMultiSeasonal, FamilyDecomposition},
		ARCorrection:    true,
		Horizon:         15 * time.Minute,
		Backtest:        72 * time.Hour,
		SimplerMargin:   0.03,
		QuantileMethod:  QuantileEmpirical,
		MinPoints:       16,
		MaxHistory:      8 * 7 * 24 * time.Hour,
		MaxPoints:       200_000,
		MaxGap:          60,
		RefitEvery:      24 * time.Hour,
		Guard:           6 * time.Hour,
	}
}

// ReferenceHoltWinters returns options for a plain additive Holt-Winters
// with a daily season, its parameters chosen from the fine grid by
// one-step error over (up to) half its history, no error correction and no
// fallback: close to what statsmodels' ExponentialSmoothing fitted by
// least squares gives, for checking evaluation conventions against
// published figures.
func ReferenceHoltWinters() Options {
	o := DefaultOptions()
	o.Models = []string{FamilyHWAdditive}
	o.Seasonalities = []time.Duration{24 * time.Hour}
	o.ARCorrection = false
	o.Guard = 0
	o.FineGrid = true
	o.Horizon = 0
	o.Backtest = o.MaxHistory
	o.fullPass = true
	return o
}

func (o Options) validate() error {
	switch {
	case o.MinSeasonCycles < 1:
		return fmt.Errorf("MinSeasonCycles %d: must be at least 1", o.MinSeasonCycles)
	case len(o.Models) == 0:
		return errors.New("no candidate models")
	case o.Horizon < 0:
		return fmt.Errorf("Horizon %v: must not be negative", o.Horizon)
	case o.Backtest <= 0:
		return fmt.Errorf("Backtest %v: must be positive", o.Backtest)
	case o.MinPoints < 8:
		return fmt.Errorf("MinPoints %d: must be at least 8", o.MinPoints)
	case o.MaxPoints < o.MinPoints:
		return fmt.Errorf("MaxPoints %d: must be at least MinPoints", o.MaxPoints)
	case o.MaxHistory <= 0:
		return fmt.Errorf("MaxHistory %v: must be positive", o.MaxHistory)
	case o.Guard < 0:
		return fmt.Errorf("Guard %v: must not be negative", o.Guard)
	case o.MaxGap < 0:
		return fmt.Errorf("MaxGap %d: must not be negative", o.MaxGap)
	case o.SimplerMargin < 0 || o.SimplerMargin >= 1:
		return fmt.Errorf("SimplerMargin %v: must be in [0,1)", o.SimplerMargin)
	case o.QuantileMethod != QuantileEmpirical && o.QuantileMethod != QuantileNormal:
		return fmt.Errorf("QuantileMethod %q: want %q or %q", o.QuantileMethod, QuantileEmpirical, QuantileNormal)
	}
	for _, s := range o.Seasonalities {
		if s <= 0 {
			return fmt.Errorf("seasonality %v: must be positive", s)
		}
	}
	for _, m := range o.Models {
		switch m {
		case FamilyNaive, FamilySeasonalNaive, FamilyHWAdditive, FamilyHWMultiplicate, FamilyMultiSeasonal, FamilyDecomposition:
		default:
			return fmt.Errorf("unknown model family %q", m)
		}
	}
	return nil
}

// Model is a fitted forecaster for one series. Its methods are safe for
// concurrent use.
type Model struct {
	step     time.Duration
	fittedAt int64 // ms of the last point at fit time
	refit    time.Duration
	maxGap   int
	method   string

	// mtx protects st, g, end, warnings and stale.
	mtx      sync.Mutex
	st       *state
	g        *guard // nil: no fallback check
	end      int64  // ms of the last point seen (fit or Update)
	warnings []string
	stale    bool // a gap too long to bridge was seen by Update

	// spread is fixed at fit time: errScale[h-1] for the horizons the
	// backtest measured, and z, the standardised error quantiles.
	spread spread
	score  Score
}

// Score is what the backtest measured for the chosen model.
type Score struct {
	// Horizon is the lead time in steps the candidates were scored at.
	Horizon int
	// MAE is the chosen model's mean absolute error at Horizon over the
	// backtest window; NaiveMAE the last-value forecast's.
	MAE, NaiveMAE float64
	// Points is how many forecasts were scored.
	Points int
	// Candidates is how many models were tried.
	Candidates int
}

// Name returns the chosen model, e.g. "holt-winters-additive(1440)".
func (m *Model) Name() string { return m.st.name() }

// Step returns the time between points of the fitted grid.
func (m *Model) Step() time.Duration { return m.step }

// End returns the time of the last point the model has seen.
func (m *Model) End() time.Time {
	m.mtx.Lock()
	defer m.mtx.Unlock()
	return time.UnixMilli(m.end).UTC()
}

// Warnings returns what the caller should know about the fit, e.g. that
// the history was too short for weekly seasonality.
func (m *Model) Warnings() []string {
	m.mtx.Lock()
	defer m.mtx.Unlock()
	return append([]string(nil), m.warnings...)
}

// Score returns the backtest figures behind the choice.
func (m *Model) Score() Score { return m.score }

// NeedsRefit reports whether the model should be fitted again at time now:
// Options.RefitEvery has passed since the history it was fitted on ended,
// or Update saw a gap it could not bridge.
func (m *Model) NeedsRefit(now time.Time) bool {
	m.mtx.Lock()
	defer m.mtx.Unlock()
	return m.stale || now.UnixMilli()-m.fittedAt >= m.refit.Milliseconds()
}

// Update feeds one new point to the model without refitting: the state
// (level, trend, seasons) moves, the parameters and the model choice stay.
// Points at or before End are ignored; short gaps are filled by linear
// interpolation; a gap longer than Options.MaxGap steps is not bridged and
// makes NeedsRefit true. Points off the grid are placed on the nearest step.
func (m *Model) Update(p telemetry.Point) {
	if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
		return
	}
	m.mtx.Lock()
	defer m.mtx.Unlock()
	stepMs := m.step.Milliseconds()
	k := (p.T - m.end + stepMs/2) / stepMs // steps ahead, rounded
	if k < 1 {
		return
	}
	if k-1 > int64(m.maxGap) {
		if !m.stale {
			m.warnings = append(m.warnings, fmt.Sprintf("gap of %v at %s: refit needed",
				time.Duration(k)*m.step, time.UnixMilli(p.T).UTC().Format(time.RFC3339)))
		}
		m.stale = true
		return
	}
	last := m.st.last
	for i := int64(1); i < k; i++ {
		m.observe(last + (p.V-last)*float64(i)/float64(k))
	}
	m.observe(p.V)
	m.end += k * stepMs
}

// observe feeds one grid value to the state and the guard; m.mtx is held.
func (m *Model) observe(y float64) {
	if m.g != nil {
		m.g.check(y)
	}
	m.st.update(y)
	if m.g != nil {
		m.g.record(m.st.forecast(m.g.h), y)
	}
}

// Fallback reports whether forecasts currently fall back to the last
// value because the chosen model has lately done worse than it (see
// Options.Guard).
func (m *Model) Fallback() bool {
	m.mtx.Lock()
	defer m.mtx.Unlock()
	return m.g != nil && m.g.tripped()
}

// MaxForecastSteps bounds Model.Forecast, and so its memory.
const MaxForecastSteps = 100_000

// Forecast returns the next steps forecasts, from End+Step on. steps
// below 1 give an empty forecast; more than MaxForecastSteps are cut to it.
// While Fallback is true the mean is the last value; the spread stays the
// chosen model's.
func (m *Model) Forecast(steps int) *Forecast {
	steps = min(max(steps, 0), MaxForecastSteps)
	m.mtx.Lock()
	mean := make([]float64, steps)
	fallback := m.g != nil && m.g.tripped()
	for h := 1; h <= steps; h++ {
		if fallback {
			mean[h-1] = m.st.last
			continue
		}
		mean[h-1] = m.st.forecast(h)
	}
	end := m.end
	m.mtx.Unlock()
	return &Forecast{
		Start:  time.UnixMilli(end).UTC().Add(m.step),
		Step:   m.step,
		Mean:   mean,
		Spread: m.spread.scales(steps),
		z:      m.spread.z,
		normal: m.method == QuantileNormal,
	}
}

// Fit infers the step (median spacing, snapped to a usual scrape or query
// step such as 15s, 1m or 5m when within 5% of one) from history (T in ms,
// increasing), places points on that grid ending at the last point, fills
// small gaps, detects seasonality, chooses the model by
// rolling-origin backtest and fits it. It fails with ErrShortHistory when
// there are fewer than Options.MinPoints points, and with ErrBadHistory
// when timestamps decrease or repeat or a value is not finite.
func Fit(ctx context.Context, history []telemetry.Point, opts Options) (*Model, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("forecast options: %w", err)
	}
	met := metricsFor(opts.Registerer)
	start := time.Now() // for the duration metric only
	m, n, err := fit(ctx, history, opts)
	if met != nil {
		if err != nil {
			met.fits.WithLabelValues("error").Inc()
		} else {
			met.fits.WithLabelValues(family(m.Name())).Inc()
			met.duration.Observe(time.Since(start).Seconds())
			met.points.Observe(float64(n))
		}
	}
	return m, err
}

// fit is Fit without the metrics; it also returns the grid's length.
func fit(ctx context.Context, history []telemetry.Point, opts Options) (*Model, int, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	g, err := regularize(history, opts)
	if err != nil {
		return nil, 0, err
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	ch, err := choose(ctx, g, opts)
	if err != nil {
		return nil, 0, err
	}
	opts.Logger.Debug("forecast model chosen", "model", ch.st.name(), "step", g.step,
		"points", len(g.v), "mae", ch.score.MAE, "naive_mae", ch.score.NaiveMAE)
	var gd *guard
	if opts.Guard > 0 && !math.IsNaN(ch.score.NaiveMAE) {
		gd = newGuard(ch.score, max(1/(float64(opts.Guard)/float64(g.step)), 1e-4), ch.st, g.v)
	}
	return &Model{
		g:        gd,
		step:     g.step,
		fittedAt: g.end,
		refit:    opts.RefitEvery,
		maxGap:   opts.MaxGap,
		method:   opts.QuantileMethod,
		st:       ch.st,
		end:      g.end,
		warnings: append(g.warnings, ch.warnings...),
		spread:   ch.spread,
		score:    ch.score,
	}, len(g.v), nil
}
