package app

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/api"
	"github.com/vigilops/vigil/bus"
	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/sim"
	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
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

	simTime prometheus.Gauge
}

func (a *App) startDemo(ctx context.Context, c config.Demo) error {
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
	d.simTime = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "vigil_demo_simulated_time_seconds",
		Help: "The demo simulator's clock, as a Unix timestamp.",
	})
	a.reg.MustRegister(d.simTime)
	a.demo = d
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
	d.mtx.Unlock()
	d.simTime.Set(float64(to.Unix()))
	return publishBatch(ctx, b, batch)
}

// publishBatch publishes a simulator batch, one message per topic and
// service, so per-service order holds when consumers shard by key.
func publishBatch(ctx context.Context, b bus.Bus, batch sim.Batch) error {
	if err := publishByService(ctx, b, bus.TopicEvents, batch.Events, func(e *telemetry.Event) string { return e.Service }); err != nil {
		return err
	}
	if err := publishByService(ctx, b, bus.TopicSamples, batch.Samples, func(s *telemetry.Sample) string { return s.Labels.Get("service") }); err != nil {
		return err
	}
	if err := publishByService(ctx, b, bus.TopicLogs, batch.Logs, func(l *telemetry.LogRecord) string { return l.Service }); err != nil {
		return err
	}
	return publishByService(ctx, b, bus.TopicAlerts, batch.Alerts, func(a *telemetry.Alert) string { return a.Labels.Get("service") })
}

func publishByService[T any](ctx context.Context, b bus.Bus, topic string, items []T, service func(*T) string) error {
	if len(items) == 0 {
		return nil
	}
	groups := map[string][]T{}
	var order []string
	for i := range items {
		k := service(&items[i])
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], items[i])
	}
	for _, k := range order {
		if err := b.Publish(ctx, bus.Message{Topic: topic, Key: k, Value: groups[k]}); err != nil {
			return fmt.Errorf("publish %s: %w", topic, err)
		}
	}
	return nil
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
