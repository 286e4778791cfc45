package kedascaler

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/vigilops/vigil/forecast"
)

// maxForecastSteps bounds one forecast's length: a horizon of a day at the
// finest step the metadata allows stays far below it, a model whose state
// lags now by months does not.
const maxForecastSteps = 100_000

// DefaultMaxModels bounds the fitted models a ModelForecaster keeps.
const DefaultMaxModels = 1000

// ModelForecaster is the Forecaster over package forecast: one fitted
// model per scaled object, refitted when forecast.Model.NeedsRefit says so
// (Options.RefitEvery after its fit, or after a gap Update cannot bridge),
// brought up to date with Update between refits, so an evaluation costs an
// O(1) update and a forecast of the horizon, not a fit. It is safe for
// concurrent use.
type ModelForecaster struct {
	opts      forecast.Options
	maxModels int

	// mtx protects models and clock.
	mtx    sync.Mutex
	models map[string]*fittedModel
	clock  uint64
}

type fittedModel struct {
	m       *forecast.Model
	horizon time.Duration
	used    uint64
}

// NewModelForecaster returns a ModelForecaster fitting with opts; the
// backtest horizon (opts.Horizon) is set per object to its requested
// horizon.
func NewModelForecaster(opts forecast.Options) *ModelForecaster {
	return &ModelForecaster{opts: opts, maxModels: DefaultMaxModels, models: make(map[string]*fittedModel)}
}

var _ Forecaster = (*ModelForecaster)(nil)

// Forecast implements Forecaster.
func (f *ModelForecaster) Forecast(ctx context.Context, req Request) (*Band, error) {
	if len(req.History) == 0 {
		return nil, fmt.Errorf("forecast %s: %w", req.Key, forecast.ErrShortHistory)
	}
	fm := f.get(req.Key)
	if fm == nil || fm.horizon != req.Horizon || fm.m.NeedsRefit(req.Now) || fm.m.End().After(time.UnixMilli(req.History[len(req.History)-1].T)) {
		o := f.opts
		o.Horizon = req.Horizon
		m, err := forecast.Fit(ctx, req.History, o)
		if err != nil {
			return nil, fmt.Errorf("fit %s: %w", req.Key, err)
		}
		fm = &fittedModel{m: m, horizon: req.Horizon}
		f.put(req.Key, fm)
	} else {
		end := fm.m.End().UnixMilli()
		for _, p := range req.History {
			if p.T > end {
				fm.m.Update(p)
			}
		}
	}
	m := fm.m
	step := m.Step()
	if step <= 0 {
		return nil, fmt.Errorf("forecast %s: model %s has step %s", req.Key, m.Name(), step)
	}
	ahead := req.Now.Add(req.Horizon).Sub(m.End())
	steps := int((ahead + step - 1) / step)
	if steps < 1 {
		steps = 1
	}
	if steps > maxForecastSteps {
		return nil, fmt.Errorf("forecast %s: %d steps from %s to %s is too many", req.Key, steps, m.End().Format(time.RFC3339), req.Now.Add(req.Horizon).Format(time.RFC3339))
	}
	fc := m.Forecast(steps)
	return &Band{
		Times:    fc.Times(),
		Mean:     fc.Mean,
		Value:    fc.Quantile(req.Quantile),
		Lower:    fc.Quantile(0.1),
		Upper:    fc.Quantile(0.9),
		FittedAt: m.End(),
		Model:    m.Name(),
	}, nil
}

func (f *ModelForecaster) get(key string) *fittedModel {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	f.clock++
	fm := f.models[key]
	if fm != nil {
		fm.used = f.clock
	}
	return fm
}

func (f *ModelForecaster) put(key string, fm *fittedModel) {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	f.clock++
	fm.used = f.clock
	if _, ok := f.models[key]; !ok {
		for len(f.models) >= f.maxModels {
			var oldKey string
			var oldest uint64
			for k, e := range f.models {
				if oldKey == "" || e.used < oldest {
					oldKey, oldest = k, e.used
				}
			}
			delete(f.models, oldKey)
		}
	}
	f.models[key] = fm
}
