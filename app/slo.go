package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/vigilops/vigil/bus"
	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/rules"
	"github.com/vigilops/vigil/slo"
)

// buildSLO loads the SLOs of slo.spec and evaluates them against the series
// store. Their burn-rate alerts are published on the alerts topic, so they
// are routed, notified and correlated like any received alert.
func (a *App) buildSLO(al *alerting, cfg config.Config) error {
	spec, err := rules.LoadSpec(cfg.SLO.Spec)
	if err != nil {
		return fmt.Errorf("slo.spec: %w", err)
	}
	if len(spec.SLOs) == 0 {
		return fmt.Errorf("slo.spec: %s defines no slos", cfg.SLO.Spec)
	}
	o := slo.DefaultOptions()
	o.Logger, o.Registerer = a.log.With("component", "slo"), a.reg
	ev, err := slo.New(spec.SLOs, slo.NewStoreSource(a.metrics), o)
	if err != nil {
		return fmt.Errorf("slo evaluator: %w", err)
	}
	al.slo = ev
	return nil
}

// evaluateSLO judges every SLO at the alert clock, keeps the status for
// GET /api/v1/slos and publishes the alerts.
func (a *App) evaluateSLO(ctx context.Context, al *alerting) {
	res, err := al.slo.Evaluate(ctx, a.clock())
	if err != nil && ctx.Err() == nil {
		a.log.Warn("evaluate slos", "err", err)
	}
	al.sloMtx.Lock()
	al.sloStatus = res.Status
	al.sloMtx.Unlock()
	if len(res.Alerts) == 0 {
		return
	}
	if err := a.bus.Publish(ctx, bus.Message{Topic: bus.TopicAlerts, Value: res.Alerts}); err != nil && !errors.Is(err, bus.ErrClosed) && ctx.Err() == nil {
		a.log.Warn("publish slo alerts", "alerts", len(res.Alerts), "err", err)
	}
}
