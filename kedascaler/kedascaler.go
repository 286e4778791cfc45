// Package kedascaler serves KEDA's external-scaler protocol over Vigil's
// load forecasts: a ScaledObject names a query, a horizon, a quantile and
// a target per replica in its trigger metadata, and the scaler answers
// GetMetrics with the forecast peak (the largest q-quantile of the
// forecast over the horizon, by default the lead time new capacity needs
// plus one forecast step), so the HPA that KEDA drives adds replicas
// before the load arrives instead of after.
//
// The forecast alone is minutes behind an unannounced rise (its grid is a
// minute coarse and the model reads the first rise as a passing deviation),
// so every evaluation also re-reads the last minutes at a finer step: the
// freshest value is the floor, and a rise that stands out of the recent
// noise, and that the forecast made one lead time earlier did not expect,
// is extrapolated over the lead time new replicas need. A rise the model
// expected (a surge it has learnt) is left to the model.
//
// The HPA ignores any value within its tolerance (10%) of what its current
// replicas carry, and it can only add whole replicas. When Options.Replicas
// says how many replicas the HPA has, the served value is placed inside the
// bucket of values that ask for the wanted replica count so that the HPA
// acts on it: the top of the bucket on a rise, the bottom on a fall, the
// middle when the count already fits; a rise inside the dead band takes the
// smallest step out of it only when the shortfall it avoids is worth the
// extra replicas (see shapeForBand).
//
// Key invariant: the value handed to KEDA never jumps on noise and never
// falls early. Every raw value passes the flapping guards (hysteresis, a
// cap on change per step, and a scale-down stabilisation window on top of
// the HPA's own when one is configured) and, when the model is unsure or
// stale, is replaced by the current observed value, so a bad forecast
// degrades to reactive scaling rather than to a wrong one; the placement
// for the HPA's band never asks for fewer replicas than the guarded value.
// Evaluation time comes from Options.Now, never from the wall clock deep
// inside, so replays and tests are deterministic.
package kedascaler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/telemetry"
)

// Errors callers can branch on.
var (
	// ErrInvalidMetadata is wrapped by every error about a ScaledObject's
	// scalerMetadata; the gRPC layer maps it to InvalidArgument.
	ErrInvalidMetadata = errors.New("invalid scaler metadata")
	// ErrNoData is returned when the history holds no point at all, so
	// there is neither a forecast nor a current value to fall back to. KEDA
	// then applies the ScaledObject's own fallback replicas.
	ErrNoData = errors.New("no data for query")
	// ErrInvalidOptions is returned by New for options it cannot run with.
	ErrInvalidOptions = errors.New("invalid options")
)

// QueryKind says how History must read a Query.
type QueryKind int

const (
	// QueryPromQL is a PromQL expression evaluated as a range query.
	QueryPromQL QueryKind = iota
	// QuerySelector is a series selector (`name{label="value"}`) matched
	// against the series Vigil holds itself.
	QuerySelector
)

// String returns the metadata key that produces the kind.
func (k QueryKind) String() string {
	if k == QuerySelector {
		return KeySelector
	}
	return KeyQuery
}

// Query is what a ScaledObject asks to be forecast.
type Query struct {
	Kind QueryKind
	Expr string
}

// History reads the past of a query. The app wires it to Prometheus'
// query_range API or to the metric store. Implementations return points in
// increasing time order within [from, to] at roughly step spacing; an
// empty result with a nil error means the query matched nothing.
type History interface {
	Range(ctx context.Context, q Query, from, to time.Time, step time.Duration) ([]telemetry.Point, error)
}

// HistoryFunc adapts a function to History.
type HistoryFunc func(ctx context.Context, q Query, from, to time.Time, step time.Duration) ([]telemetry.Point, error)

// Range calls f.
func (f HistoryFunc) Range(ctx context.Context, q Query, from, to time.Time, step time.Duration) ([]telemetry.Point, error) {
	return f(ctx, q, from, to, step)
}

// Request is one forecast asked of a Forecaster.
type Request struct {
	// Key identifies the scaled object, so a Forecaster can keep one
	// fitted model per object and refit it on its own cadence.
	Key string
	// History is the recent past, oldest first. It is the scaler's own
	// cache, valid only during the call: do not modify or retain it.
	History []telemetry.Point
	// Now is the evaluation time; the forecast must cover (Now, Now+Horizon].
	Now     time.Time
	Horizon time.Duration
	// Quantile is the level of Band.Value, in (0,1).
	Quantile float64
}

// Band is a forecast over the horizon, one entry per forecast step.
type Band struct {
	Times []time.Time
	// Mean is the point forecast; Value its Request.Quantile quantile;
	// Lower and Upper the 10% and 90% quantiles, which the scaler uses to
	// judge how sure the model is.
	Mean, Value, Lower, Upper []float64
	// FittedAt is the time of the last point the model was fitted on; a
	// fit much older than Now is stale.
	FittedAt time.Time
	// Model names the model, for logs and the decision record.
	Model string
}

// Forecaster turns history into a forecast band.
type Forecaster interface {
	Forecast(ctx context.Context, req Request) (*Band, error)
}

// ForecastFunc adapts a function to Forecaster.
type ForecastFunc func(ctx context.Context, req Request) (*Band, error)

// Forecast calls f.
func (f ForecastFunc) Forecast(ctx context.Context, req Request) (*Band, error) { return f(ctx, req) }

// Options configures a Scaler. Per-object behaviour (horizon, quantile,
// guards) comes from each ScaledObject's metadata; these are process-wide.
type Options struct {
	// History reads series history; required.
	History History
	// Forecaster forecasts; required (the app passes
	// NewModelForecaster(forecast.DefaultOptions())).
	Forecaster Forecaster
	// Replicas, when set, tells the scaler how many replicas each object's
	// HPA has now, so the served value can clear the HPA's tolerance band
	// exactly when the forecast needs a different replica count (see
	// Spec.HPATolerance). Nil falls back to each object's replicasQuery
	// metadata; with neither, or on an error, the guarded forecast is
	// served as it is.
	Replicas Replicas
	// Now is the clock; evaluation time is read from it once per request.
	Now func() time.Time
	// MinEvalInterval: a request for an object evaluated less than this
	// long ago gets the previous decision. KEDA's operator and its metrics
	// adapter both call the scaler, and the guards count steps, so the
	// step must not depend on how many callers there are.
	MinEvalInterval time.Duration
	// StreamInterval is how often StreamIsActive re-evaluates.
	StreamInterval time.Duration
	// MaxObjects bounds the per-object state kept (least recently used
	// objects are forgotten first).
	MaxObjects int
	// MaxHistoryPoints bounds the points kept per object; lookback/step
	// above it is refused as bad metadata.
	MaxHistoryPoints int
	// Logger and Registerer follow the house style.
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// DefaultOptions returns a 10 s evaluation interval, a 15 s stream
// interval, 1,000 objects and 50,000 points per object; History and
// Forecaster must still be set.
func DefaultOptions() Options {
	return Options{
		Now:              time.Now,
		MinEvalInterval:  10 * time.Second,
		StreamInterval:   15 * time.Second,
		MaxObjects:       1000,
		MaxHistoryPoints: 50000,
		Logger:           slog.Default(),
		Registerer:       prometheus.DefaultRegisterer,
	}
}

func (o *Options) validate() error {
	switch {
	case o.History == nil:
		return fmt.Errorf("%w: history is nil", ErrInvalidOptions)
	case o.Forecaster == nil:
		return fmt.Errorf("%w: forecaster is nil", ErrInvalidOptions)
	case o.Now == nil:
		return fmt.Errorf("%w: clock is nil", ErrInvalidOptions)
	case o.MinEvalInterval < 0:
		return fmt.Errorf("%w: min eval interval %s is negative", ErrInvalidOptions, o.MinEvalInterval)
	case o.StreamInterval <= 0:
		return fmt.Errorf("%w: stream interval %s is not positive", ErrInvalidOptions, o.StreamInterval)
	case o.MaxObjects <= 0:
		return fmt.Errorf("%w: max objects %d is not positive", ErrInvalidOptions, o.MaxObjects)
	case o.MaxHistoryPoints < 16:
		return fmt.Errorf("%w: max history points %d is below 16", ErrInvalidOptions, o.MaxHistoryPoints)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
