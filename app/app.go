// Package app wires Vigil's pipeline steps together and runs them: it is the
// only package that imports all the others. App.Start brings the parts up in
// dependency order and registers a cleanup for each; App.Stop runs the
// cleanups in reverse, so nothing is torn down while something still uses it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vigilops/vigil/api"
	"github.com/vigilops/vigil/bus"
	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/copilot"
	"github.com/vigilops/vigil/ingest/amapi"
	"github.com/vigilops/vigil/metricstore"
	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/store/sqlite"
	"github.com/vigilops/vigil/telemetry"
)

// Options configure an App.
type Options struct {
	Config  config.Config
	Logger  *slog.Logger
	Version string
	// Now is the wall clock; tests replace it. The app's own clock (see
	// App.clock) is this one except in the demo, where it is the
	// simulator's.
	Now func() time.Time
}

// App is one running Vigil process.
type App struct {
	opts Options
	log  *slog.Logger
	reg  *prometheus.Registry
	// now is the wall clock (Options.Now). Only what measures the process
	// or talks to the outside world in real time reads it directly (the
	// demo's pacing, caches, external sources); everything that stamps or
	// judges data reads clock.
	now func() time.Time

	// Set during Start, read-only afterwards.
	store   store.Store
	bus     bus.Bus
	api     *api.Server
	demo    *demo
	recv    receivers
	metrics *metricstore.Store
	// alertState is the Alertmanager API's view of firing alerts (nil when
	// that receiver is disabled).
	alertState *amapi.State
	// copilot explains and judges: the configured model or the analyst.
	copilot *copilot.Copilot
	// alerting routes, silences and notifies alerts and folds signals
	// into incidents (see alerting.go).
	alerting *alerting
	// anomalies is the log anomalies stage; act and diagnosis the
	// remediation and root-cause stages (nil when incidents are off).
	anomalies *anomalyStage
	act       *actStage
	// metricDetect watches every received series; kedaScaler serves
	// forecasts to KEDA (nil when off).
	metricDetect *metricDetectStage
	kedaScaler   *kedaScalerStage
	// diagnosis is read by the correlator's sink, which may run before
	// Start has stored it.
	diagnosis atomic.Pointer[diagnosisStage]
	// demoClock is the demo once it runs, for loops started before it:
	// clock reads it.
	demoClock atomic.Pointer[demo]

	mtx      sync.Mutex // protects cleanups and started
	cleanups []cleanup
	started  bool
	wg       sync.WaitGroup // background loops started by Start
}

type cleanup struct {
	name string
	fn   func(ctx context.Context) error
}

// New validates the options and builds an App without starting anything.
func New(o Options) (*App, error) {
	if ps := o.Config.Validate(); len(ps) > 0 {
		return nil, fmt.Errorf("new app: %s: %s", ps[0].Key, ps[0].Msg)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "vigil_build_info",
		Help:        "Always 1; the version label names the running build.",
		ConstLabels: prometheus.Labels{"version": o.Version},
	}, func() float64 { return 1 }))
	return &App{opts: o, log: o.Logger, reg: reg, now: o.Now}, nil
}

// clock is the app's one notion of "now": the simulator's clock in the demo
// (simulated telemetry, and so incidents and alerts, carry simulated times
// that run ahead of the wall clock), else the wall clock. Everything that
// stamps or judges data by the current time uses it (operator actions on
// incidents, approvals and the audit, the alert APIs' firing judgement,
// receive times of records that carry none, retention), so that an
// acknowledgement never lands before the incident it acknowledges. Before
// the demo starts it is the wall clock, which the demo's clock starts at.
func (a *App) clock() time.Time {
	if d := a.demoClock.Load(); d != nil {
		return d.now()
	}
	return a.now()
}

// Registry returns the registry holding Vigil's own metrics.
func (a *App) Registry() *prometheus.Registry { return a.reg }

// Addr returns the API server's listening address once started.
func (a *App) Addr() net.Addr {
	if a.api == nil {
		return nil
	}
	return a.api.Addr()
}

// Start brings every part up. On error, what was already started is stopped.
func (a *App) Start(ctx context.Context) (err error) {
	a.mtx.Lock()
	if a.started {
		a.mtx.Unlock()
		return errors.New("app already started")
	}
	a.started = true
	a.mtx.Unlock()
	defer func() {
		if err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = a.Stop(sctx)
		}
	}()
	runCtx, cancel := context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			cancel()
		}
	}()

	cfg := a.opts.Config
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if a.copilot, err = NewCopilot(cfg.Copilot, a.log, a.reg); err != nil {
		return err
	}
	if err := a.startStore(ctx, cfg); err != nil {
		return err
	}
	// Registered before the bus, so it runs after the bus has drained the
	// last alerts into the dispatcher and before the store closes.
	a.onStop("alerting", a.stopAlerting)
	a.startBus(cfg)
	if err := a.startPipeline(); err != nil {
		return err
	}
	if err := a.startMetricStore(cfg); err != nil {
		return err
	}
	if err := a.startAlerting(ctx, cfg); err != nil {
		return err
	}
	if err := a.startAPI(ctx, cfg); err != nil {
		return err
	}
	if cfg.KEDAScaler.Enabled() {
		// The demo-aware clock, so that the demo's simulated series count
		// as current.
		ks, err := newKEDAScalerStage(kedaScalerDeps{
			Config: cfg.KEDAScaler, Metrics: a.metrics, Now: a.clock,
			Logger: a.log.With("component", "kedascaler"), Registerer: a.reg,
		})
		if err != nil {
			return err
		}
		if err := ks.start(); err != nil {
			return err
		}
		a.kedaScaler = ks
		a.onStop("kedascaler", ks.Stop)
	}
	if err := a.ensureAdminToken(ctx, filepath.Join(cfg.DataDir, AdminTokenFile)); err != nil {
		return err
	}
	// Registered after the API, bus and store, so it runs before them: the
	// loops publish to the bus and write to the store.
	a.onStop("background loops", func(context.Context) error { cancel(); a.wg.Wait(); return nil })
	if a.alertState != nil {
		a.loop("alert state gc", alertStateGCInterval, func() { a.alertState.GC(a.clock()) }, runCtx)
	}
	a.loop("metricstore prune", metricsPruneInterval, func() { a.metrics.Prune(a.clock()) }, runCtx)
	if err := a.startSources(ctx, cfg); err != nil {
		return err
	}
	a.loop("prune", time.Duration(cfg.Store.PruneInterval), func() {
		n, err := a.store.Prune(runCtx, a.clock())
		if err != nil {
			a.log.Warn("prune store", "err", err)
		} else if n > 0 {
			a.log.Info("pruned store", "rows", n)
		}
	}, runCtx)
	if cfg.Demo.Enabled {
		if err := a.startDemo(runCtx, cfg.Demo); err != nil {
			return err
		}
	}
	a.log.Info("vigil started", "version", a.opts.Version, "api", a.api.Addr().String(), "data_dir", cfg.DataDir, "demo", cfg.Demo.Enabled)
	return nil
}

func (a *App) startStore(ctx context.Context, cfg config.Config) error {
	so := sqlite.DefaultOptions()
	so.Dir = cfg.DataDir
	so.Retention = time.Duration(cfg.Store.Retention)
	so.Logger = a.log.With("component", "store")
	so.Registerer = a.reg
	db, err := sqlite.Open(ctx, so)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	a.store = db
	a.onStop("store", func(context.Context) error { return db.Close() })
	return nil
}

func (a *App) startBus(cfg config.Config) {
	bo := bus.DefaultLocalOptions()
	bo.Logger = a.log.With("component", "bus")
	bo.Registerer = a.reg
	bo.DefaultQueueSize = cfg.Bus.QueueSize
	b := bus.NewLocal(bo)
	a.bus = b
	a.onStop("bus", b.Close)
}

func (a *App) startAPI(ctx context.Context, cfg config.Config) error {
	ao := api.DefaultOptions()
	ao.Listen = cfg.API.Listen
	ao.Tokens = a.store
	ao.Events = a.store
	ao.Alerts = a.store
	ao.PublishEvents = func(ctx context.Context, evs []telemetry.Event) error {
		return a.bus.Publish(ctx, bus.Message{Topic: bus.TopicEvents, Value: evs})
	}
	ao.Ready = a.ready
	ao.Gatherer = a.reg
	ao.Registerer = a.reg
	ao.Logger = a.log.With("component", "api")
	ao.MaxBodyBytes = int64(cfg.API.MaxBodyBytes)
	ao.AnonymousRole = cfg.API.AnonymousRole
	ao.Version = a.opts.Version
	// Incident actions, event receive times and the firing judgement are
	// on the data's clock (the simulator's in the demo); uptime and token
	// expiry on the wall clock, so a token made to last an hour lasts one.
	ao.Now = a.clock
	ao.Wall = a.now
	ao.ShutdownTimeout = time.Duration(cfg.API.ShutdownTimeout)
	srv, err := api.New(ao)
	if err != nil {
		return fmt.Errorf("new api: %w", err)
	}
	a.api = srv
	a.registerRoutes(srv)
	a.registerAlertingRoutes(srv)
	// The anomalies stage subscribes to parsed logs before the logs stage
	// publishes any, and its cleanup (a last tick) runs after the logs
	// stage's final flush, before the bus closes.
	if err := a.startAnomalies(srv); err != nil {
		return err
	}
	// Metric detection subscribes to samples like the series store; the
	// bus drains into it at Close, so it needs no cleanup of its own.
	if cfg.Detect.Metrics.Enabled {
		md, err := newMetricDetectStage(metricDetectDeps{
			Config: cfg.Detect.Metrics, Bus: a.bus, Logger: a.log, Registerer: a.reg,
			OnAnomalies: a.observeAnomalies,
		})
		if err != nil {
			return err
		}
		if err := md.subscribe(); err != nil {
			return err
		}
		md.Register(srv)
		a.metricDetect = md
	}
	// The logs stage subscribes before the receivers start, and its
	// cleanup (final flush and save) runs after theirs, before the bus's.
	if err := a.startLogs(ctx, srv); err != nil {
		return err
	}
	// Receivers mount their routes before the server listens, and their
	// cleanups, registered before the server's, run after it stopped.
	if err := a.startIngest(ctx, srv, cfg); err != nil {
		return err
	}
	if err := a.startDiagnosisAndAct(ctx, srv, cfg); err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("start api: %w", err)
	}
	a.onStop("api", srv.Stop)
	return nil
}

func (a *App) ready(ctx context.Context) error {
	a.mtx.Lock()
	started := a.started
	a.mtx.Unlock()
	if !started {
		return errors.New("starting")
	}
	if err := a.store.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// onStop registers a cleanup to run, in reverse registration order, by Stop.
func (a *App) onStop(name string, fn func(ctx context.Context) error) {
	a.mtx.Lock()
	a.cleanups = append(a.cleanups, cleanup{name, fn})
	a.mtx.Unlock()
}

// loop runs fn every interval until ctx is done.
func (a *App) loop(name string, every time.Duration, fn func(), ctx context.Context) {
	runEvery(ctx, &a.wg, every, fn)
}

// runEvery runs fn every interval in a goroutine counted by wg until ctx
// is done.
func runEvery(ctx context.Context, wg *sync.WaitGroup, interval time.Duration, fn func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				fn()
			}
		}
	}()
}

// Stop runs every cleanup in reverse order, continuing past failures, and
// returns them joined. The API goes first so no request arrives at a
// closed store; the store goes last.
func (a *App) Stop(ctx context.Context) error {
	a.mtx.Lock()
	cs := a.cleanups
	a.cleanups = nil
	a.mtx.Unlock()
	var errs []error
	for i := len(cs) - 1; i >= 0; i-- {
		if err := cs[i].fn(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", cs[i].name, err))
		}
	}
	return errors.Join(errs...)
}

// Run starts the app, waits for ctx to be done, then stops it within the
// configured shutdown timeout.
func (a *App) Run(ctx context.Context) error {
	if err := a.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	a.log.Info("shutting down")
	start := a.now()
	sctx, cancel := context.WithTimeout(context.Background(), time.Duration(a.opts.Config.API.ShutdownTimeout)+5*time.Second)
	defer cancel()
	if err := a.Stop(sctx); err != nil {
		a.log.Error("stopped with an error", "err", err, "took", a.now().Sub(start).Round(time.Millisecond))
		return err
	}
	a.log.Info("stopped", "took", a.now().Sub(start).Round(time.Millisecond))
	return nil
}
