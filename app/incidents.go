package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/bus"
	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/correlate"
	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/incident"
	"github.com/vigilops/vigil/notify"
	"github.com/vigilops/vigil/sim"
	"github.com/vigilops/vigil/telemetry"
)

// IncidentAlertName is the alertname incident notifications are routed by:
// an alertmanager.yml route matching alertname="VigilIncident" (with
// severity and service) decides who hears about incidents.
const IncidentAlertName = "VigilIncident"

// incidentNotifications counts incident notifications by outcome: sent
// (to a receiver, or held by its rate limit), failed, or dropped because
// the queue was full or Vigil was stopping.
func newIncidentNotifications(r prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_alerting_incident_notifications_total",
		Help: "Incident change notifications, by outcome (sent, failed, dropped).",
	}, []string{"outcome"})
	r.MustRegister(c)
	for _, o := range []string{"sent", "failed", "dropped"} {
		c.WithLabelValues(o)
	}
	return c
}

// buildCorrelator makes the correlator over the app's store, restoring the
// incidents that were active before a restart.
func (a *App) buildCorrelator(ctx context.Context, al *alerting, cfg config.Config) error {
	al.baseEdges = cfg.Incidents.TopologyEdges()
	al.refreshTopology()
	al.incNotes = newIncidentNotifications(a.reg)
	co := correlate.DefaultOptions()
	co.Store = a.store
	co.Topology = correlate.TopologyFunc(func(x, y string) (string, bool) { return al.topo.Load().Connected(x, y) })
	co.Sink = correlate.SinkFunc(func(ctx context.Context, c correlate.Change) error {
		if ds := a.diagnosis.Load(); ds != nil {
			ds.OnChange(ctx, c) // never blocks
		}
		switch c.Kind {
		case correlate.ChangeOpened, correlate.ChangeReopened, correlate.ChangeSeverity,
			correlate.ChangeAcknowledged, correlate.ChangeResolved:
		default:
			return nil
		}
		// The server log tells the incident's story too, for whoever reads
		// it rather than the API.
		inc := c.Incident
		a.log.Info("incident "+string(c.Kind), "incident", inc.ID, "title", inc.Title,
			"severity", inc.Severity, "urgency", inc.Urgency, "services", inc.Services, "updated", inc.UpdatedAt)
		// Never block correlation on a receiver.
		if !al.queueChange(c) {
			al.incNotes.WithLabelValues("dropped").Inc()
			a.log.Warn("incident notification dropped: queue full or stopping", "incident", c.Incident.ID, "change", c.Kind)
		}
		return nil
	})
	co.MinSignals = cfg.Incidents.MinSignals
	co.GroupWindow = time.Duration(cfg.Incidents.GroupWindow)
	co.QuietPeriod = time.Duration(cfg.Incidents.QuietPeriod)
	co.Logger, co.Registerer = a.log.With("component", "correlate"), a.reg
	c, err := correlate.New(co)
	if err != nil {
		return fmt.Errorf("correlator: %w", err)
	}
	if err := c.Restore(ctx); err != nil {
		return fmt.Errorf("restore incidents: %w", err)
	}
	al.corr = c
	return nil
}

// setDemoTopology adds the simulator's call graph to the configured edges.
func (al *alerting) setDemoTopology(cfg config.Incidents, t sim.Topology) {
	edges := cfg.TopologyEdges()
	for _, e := range t.Edges {
		edges = append(edges, [2]string{e.From, e.To})
	}
	al.edgesMtx.Lock()
	al.baseEdges = edges
	al.edgesMtx.Unlock()
	al.refreshTopology()
}

// refreshTopology rebuilds the correlator's call graph from the configured
// (and simulated) edges plus those the OTLP receiver learned from traces,
// which grow as traces arrive; it runs on every correlator tick.
func (al *alerting) refreshTopology() {
	al.edgesMtx.Lock()
	edges := append([][2]string(nil), al.baseEdges...)
	al.edgesMtx.Unlock()
	if t := al.traces.Load(); t != nil {
		for _, e := range t.Snapshot() {
			if e.CalleeKind == "" || e.CalleeKind == "service" {
				edges = append(edges, [2]string{e.Caller, e.Callee})
			}
		}
	}
	// Rebuilding is cheap (a map of a few thousand edges at most, every
	// 30s) and keeps no stale edge.
	al.topo.Store(correlate.NewGraph(edges))
}

// subscribeCorrelator feeds every alert and change event to the correlator.
// Anomalies come from the anomalies stage's hook (observeAnomalies).
func (a *App) subscribeCorrelator(al *alerting) error {
	if _, err := a.bus.Subscribe(bus.TopicAlerts, bus.SubscribeOptions{Name: "correlate"}, bus.Handle(func(ctx context.Context, _ string, as []telemetry.Alert) error {
		for i := range as {
			at := as[i].UpdatedAt
			if at.IsZero() {
				at = a.clock()
			}
			al.observe(ctx, a, correlate.AlertSignal(&as[i], at))
		}
		return nil
	})); err != nil {
		return fmt.Errorf("subscribe correlator to %s: %w", bus.TopicAlerts, err)
	}
	if _, err := a.bus.Subscribe(bus.TopicEvents, bus.SubscribeOptions{Name: "correlate"}, bus.Handle(func(ctx context.Context, _ string, evs []telemetry.Event) error {
		for i := range evs {
			al.observe(ctx, a, correlate.EventSignal(&evs[i]))
		}
		return nil
	})); err != nil {
		return fmt.Errorf("subscribe correlator to %s: %w", bus.TopicEvents, err)
	}
	return nil
}

// observeAnomalies is the anomalies stage's hook.
func (a *App) observeAnomalies(ctx context.Context, as []detect.Anomaly) {
	al := a.alerting
	if al == nil || al.corr == nil {
		return
	}
	for i := range as {
		al.observe(ctx, a, correlate.AnomalySignal(&as[i]))
	}
}

func (al *alerting) observe(ctx context.Context, a *App, s correlate.Signal) {
	if t := s.Time.UnixNano(); !s.Time.IsZero() {
		for {
			cur := al.newest.Load()
			if t <= cur || al.newest.CompareAndSwap(cur, t) {
				break
			}
		}
	}
	if err := al.corr.Observe(ctx, s); err != nil && !errors.Is(err, correlate.ErrInvalidSignal) {
		a.log.Warn("correlate", "kind", s.Kind, "name", s.Name, "err", err)
	}
}

// tickCorrelator lets evaluation time pass: the newest signal time or the
// wall clock, whichever is later, so incidents resolve after their quiet
// period whether signals arrive in replayed, live or simulated time.
func (a *App) tickCorrelator(ctx context.Context, al *alerting) {
	al.refreshTopology()
	now := a.clock()
	if n := al.newest.Load(); n > now.UnixNano() {
		now = time.Unix(0, n)
	}
	if err := al.corr.Tick(ctx, now); err != nil && ctx.Err() == nil {
		a.log.Warn("correlate tick", "err", err)
	}
}

// notifyIncidents sends queued incident changes until the queue is closed
// (at stop, after the last tick).
func (al *alerting) notifyIncidents(a *App) {
	for c := range al.changes {
		al.notifyIncident(al.deliverCtx, a, c)
	}
}

// notifyIncident routes an incident change through the routing tree as
// an alert {alertname="VigilIncident", severity, service} would go, and
// sends an incident message to those receivers.
func (al *alerting) notifyIncident(ctx context.Context, a *App, c correlate.Change) {
	inc := &c.Incident
	if inc.Expected {
		// Expected incidents (deploys, maintenance) are shown, never paged.
		return
	}
	m := incidentLabels(inc)
	ls := telemetry.LabelsFromMap(m)
	now := inc.UpdatedAt
	if now.IsZero() {
		now = a.clock()
	}
	// The incident rides along as one alert whose labels carry its
	// severity: a severity change is new content to the notification log.
	alert := telemetry.Alert{Labels: telemetry.LabelsFromMap(withID(m, inc.ID)), StartsAt: inc.OpenedAt,
		Annotations: telemetry.LabelsFromMap(map[string]string{"summary": inc.Title})}
	if inc.Status == incident.StatusResolved {
		alert.EndsAt = now
	}
	info := &notify.IncidentInfo{
		ID: inc.ID, Title: inc.Title, Severity: string(inc.Severity), Status: string(inc.Status),
		Services: inc.Services, StartedAt: inc.OpenedAt, AcknowledgedAt: inc.AcknowledgedAt, ResolvedAt: inc.ResolvedAt,
	}
	if al.externalURL != "" {
		info.URL = al.externalURL + "/api/v1/incidents/" + inc.ID
	}
	for _, name := range al.disp.ReceiversFor(ls) {
		r := al.receivers[name]
		if r == nil {
			continue
		}
		msg := notify.NewMessage(name, "incident/"+inc.ID, ls, []telemetry.Alert{alert}, al.externalURL, now)
		msg.Incident = info
		if err := r.Notify(ctx, msg); err != nil && !errors.Is(err, notify.ErrDeferred) {
			al.incNotes.WithLabelValues("failed").Inc()
			a.log.Warn("notify incident", "incident", inc.ID, "receiver", name, "err", err)
			continue
		}
		al.incNotes.WithLabelValues("sent").Inc()
	}
}

func incidentLabels(inc *incident.Incident) map[string]string {
	m := map[string]string{"alertname": IncidentAlertName, "severity": string(inc.Severity)}
	if len(inc.Services) > 0 {
		m["service"] = inc.Services[0]
	}
	return m
}

func withID(m map[string]string, id string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	out["incident"] = id
	return out
}
