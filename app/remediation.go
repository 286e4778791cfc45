package app

import (
	"context"

	"github.com/vigilops/vigil/api"
	"github.com/vigilops/vigil/config"
)

// startDiagnosisAndAct starts the remediation stage and the diagnosis
// stage that feeds it. Both hang off the correlator, so neither runs when
// incidents are off. They mount their routes before the API listens; the
// act stage's cleanup is registered first, so that at Stop the diagnosis
// stage stops before it, and both stop after the API and before the
// correlator (registered earlier, with alerting) and the store.
func (a *App) startDiagnosisAndAct(ctx context.Context, srv *api.Server, cfg config.Config) error {
	al := a.alerting
	if al == nil || al.corr == nil || a.anomalies == nil {
		return nil
	}
	firing, alerts := storeAlertLookup(a.store, anomalyClock(a.anomalies))
	as, err := newActStage(ctx, actDeps{
		Log: a.log, Registerer: a.reg, Config: cfg.Act, DataDir: cfg.DataDir, Now: a.clock,
		AddEntry: al.corr.AddEntry,
		Notify:   a.actNotify, Escalate: a.actEscalate,
		Firing: firing, Alerts: alerts,
		Anomalies: anomalyRange(a.anomalies), Clock: anomalyClock(a.anomalies),
		Demo: cfg.Demo.Enabled, TimeScale: demoSpeed(cfg.Demo),
	})
	if err != nil {
		return err
	}
	as.Register(srv)
	a.onStop("act", as.Stop)
	a.act = as
	if !cfg.Diagnose.Enabled {
		return nil
	}
	ds, err := newDiagnosisStage(diagnosisDeps{
		Log: a.log, Registerer: a.reg, Config: cfg.Diagnose,
		Metrics: a.metrics, Store: a.store, Copilot: a.copilot,
		Logs: anomalyRange(a.anomalies), Clock: anomalyClock(a.anomalies),
		AddEntry:    al.corr.AddEntry,
		OnDiagnosis: as.OnDiagnosis,
	})
	if err != nil {
		return err
	}
	ds.Register(srv)
	ds.Start()
	a.onStop("diagnosis", ds.Stop)
	a.diagnosis.Store(ds)
	return nil
}

// demoSpeed is how fast the app clock runs against the wall clock: the
// demo's speed when it runs, else 1.
func demoSpeed(c config.Demo) float64 {
	if c.Enabled {
		return c.Speed
	}
	return 1
}
