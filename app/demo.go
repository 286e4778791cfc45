package app

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/api"
	"github.com/vigilops/vigil/bus"
	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/diagnose"
	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/sim"
	"github.com/vigilops/vigil/store"
)

// demoTick is how often the demo advances the simulator in real time.
const demoTick = 250 * time.Millisecond

// demoMaxStep bounds the simulated time generated per tick, so a slow
// machine falls behind instead of building ever larger batches.
const demoMaxStep = 10 * time.Minute

// demoSpan is how far ahead the demo schedules faults.
const demoSpan = 30 * 24 * time.Hour

// demo drives the pipeline with the simulator in accelerated real time.
type demo struct {
	speed float64

	mtx sync.Mutex // protects sim and lag: the API reads while the loop advances
	sim *sim.Sim
	lag time.Duration
	// simNow mirrors sim.Now() (Unix nanoseconds), written under mtx after
	// each advance: the app clock reads it on every request and must not
	// wait for a step to finish generating.
	simNow atomic.Int64

	simTime prometheus.Gauge
}

func (a *App) startDemo(ctx context.Context, c config.Demo) error {
	// The demo is paced by the wall clock; everything else reads the
	// simulator's clock (App.clock) once it runs.
	start := a.now().UTC().Truncate(time.Minute)
	so := sim.DefaultOptions()
	so.Seed = c.Seed
	so.Start = start
	so.Step = time.Duration(c.Step)
	so.Faults = sim.DemoFaults(c.Seed, start, demoSpan)
	s, err := sim.New(so)
	if err != nil {
		return fmt.Errorf("start demo: %w", err)
	}
	d := &demo{sim: s, speed: c.Speed}
	d.simNow.Store(s.Now().UnixNano())
	d.simTime = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "vigil_demo_simulated_time_seconds",
		Help: "The demo simulator's clock, as a Unix timestamp.",
	})
	a.reg.MustRegister(d.simTime)
	a.demo = d
	a.demoClock.Store(d)
	if al := a.alerting; al != nil && al.corr != nil {
		al.setDemoTopology(a.opts.Config.Incidents, s.Topology())
	}
	if ds := a.diagnosis.Load(); ds != nil && len(a.opts.Config.Diagnose.Edges) == 0 {
		ds.SetGraph(diagnose.FromSim(s.Topology()))
	}
	realStart := a.now()
	a.loop("demo", demoTick, func() {
		target := start.Add(time.Duration(float64(a.now().Sub(realStart)) * c.Speed))
		if err := d.step(ctx, a.bus, target); err != nil && ctx.Err() == nil {
			a.log.Warn("demo step", "err", err)
		}
	}, ctx)
	a.log.Info("demo running: simulated shop", "services", len(s.Topology().Services), "speed", c.Speed, "faults", len(so.Faults))
	return nil
}

// step advances the simulator towards target and publishes what it made.
func (d *demo) step(ctx context.Context, b bus.Bus, target time.Time) error {
	d.mtx.Lock()
	now := d.sim.Now()
	if !target.After(now) {
		d.mtx.Unlock()
		return nil
	}
	to := target
	if to.Sub(now) > demoMaxStep {
		to = now.Add(demoMaxStep)
	}
	batch := d.sim.Advance(to)
	d.lag = target.Sub(to)
	d.simNow.Store(d.sim.Now().UnixNano())
	d.mtx.Unlock()
	d.simTime.Set(float64(to.Unix()))
	return publishBatch(ctx, ingest.NewBusSink(b, true), batch)
}

// now is the simulator's clock: the end of what it has generated so far.
func (d *demo) now() time.Time { return time.Unix(0, d.simNow.Load()).UTC() }

// publishBatch delivers a simulator batch as a stream receiver would:
// through a blocking sink, so a full pipeline slows the simulator down
// instead of losing its telemetry.
func publishBatch(ctx context.Context, sink ingest.Sink, batch sim.Batch) error {
	if err := sink.Events(ctx, batch.Events); err != nil {
		return err
	}
	if err := sink.Samples(ctx, batch.Samples); err != nil {
		return err
	}
	if err := sink.Logs(ctx, batch.Logs); err != nil {
		return err
	}
	return sink.Alerts(ctx, batch.Alerts)
}

// demoStatus is the body of GET /api/v1/demo.
type demoStatus struct {
	SimulatedTime time.Time    `json:"simulated_time"`
	Speed         float64      `json:"speed"`
	Lag           string       `json:"lag"`
	Topology      sim.Topology `json:"topology"`
	Faults        []sim.Truth  `json:"faults"`
}

func (a *App) registerRoutes(srv *api.Server) {
	srv.Handle("GET /api/v1/demo", store.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		if a.demo == nil {
			return api.Errorf(http.StatusNotFound, "not_found", "the demo is not running (start with vigil serve --demo)")
		}
		d := a.demo
		d.mtx.Lock()
		st := demoStatus{
			SimulatedTime: d.sim.Now(), Speed: d.speed, Lag: d.lag.String(),
			Topology: d.sim.Topology(), Faults: d.sim.Truth(),
		}
		d.mtx.Unlock()
		api.WriteJSON(w, http.StatusOK, st)
		return nil
	})
}
