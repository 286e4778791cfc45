package app

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/bus"
	"github.com/vigilops/vigil/telemetry"
)

// pipelineMetrics counts what reached the end of the pipeline spine. Later
// steps (parsing, detection, correlation) subscribe beside these sinks.
type pipelineMetrics struct {
	records *prometheus.CounterVec
	lastTS  *prometheus.GaugeVec
}

func newPipelineMetrics(r prometheus.Registerer) *pipelineMetrics {
	m := &pipelineMetrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_pipeline_records_total",
			Help: "Telemetry records that reached the pipeline, by kind.",
		}, []string{"kind"}),
		lastTS: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_pipeline_last_record_timestamp_seconds",
			Help: "Timestamp carried by the newest record seen, by kind (simulated time in the demo).",
		}, []string{"kind"}),
	}
	r.MustRegister(m.records, m.lastTS)
	return m
}

// startPipeline subscribes the sinks of the spine: alerts and events are
// kept in the store; logs and samples are counted until the parsing and
// detection steps consume them.
func (a *App) startPipeline() error {
	m := newPipelineMetrics(a.reg)
	subs := []struct {
		topic string
		opts  bus.SubscribeOptions
		h     bus.Handler
	}{
		{bus.TopicAlerts, bus.SubscribeOptions{Name: "store"}, bus.Handle(func(ctx context.Context, _ string, as []telemetry.Alert) error {
			m.records.WithLabelValues("alert").Add(float64(len(as)))
			// The batch is shared with every other subscriber: stamp a copy.
			now := a.clock()
			stamped := make([]telemetry.Alert, len(as))
			for i, al := range as {
				if al.UpdatedAt.IsZero() {
					al.UpdatedAt = now
				}
				stamped[i] = al
				m.lastTS.WithLabelValues("alert").Set(float64(al.StartsAt.Unix()))
			}
			return a.store.UpsertAlerts(ctx, stamped)
		})},
		{bus.TopicEvents, bus.SubscribeOptions{Name: "store"}, bus.Handle(func(ctx context.Context, _ string, evs []telemetry.Event) error {
			m.records.WithLabelValues("event").Add(float64(len(evs)))
			if len(evs) > 0 {
				m.lastTS.WithLabelValues("event").Set(float64(evs[len(evs)-1].Time.Unix()))
			}
			// Events posted through the API were stored before publishing;
			// appending is idempotent by ID, so storing again is harmless.
			return a.store.AppendEvents(ctx, evs)
		})},
		{bus.TopicLogs, bus.SubscribeOptions{Name: "count"}, bus.Handle(func(_ context.Context, _ string, ls []telemetry.LogRecord) error {
			m.records.WithLabelValues("log").Add(float64(len(ls)))
			if len(ls) > 0 {
				m.lastTS.WithLabelValues("log").Set(float64(ls[len(ls)-1].Time.Unix()))
			}
			return nil
		})},
		{bus.TopicSamples, bus.SubscribeOptions{Name: "count"}, bus.Handle(func(_ context.Context, _ string, ss []telemetry.Sample) error {
			m.records.WithLabelValues("sample").Add(float64(len(ss)))
			if len(ss) > 0 {
				m.lastTS.WithLabelValues("sample").Set(float64(ss[len(ss)-1].T) / 1000)
			}
			return nil
		})},
	}
	for _, s := range subs {
		// Bus.Close drains queued messages into these subscriptions and
		// then stops them, so they need no cleanup of their own.
		if _, err := a.bus.Subscribe(s.topic, s.opts, s.h); err != nil {
			return fmt.Errorf("subscribe %s to %s: %w", s.opts.Name, s.topic, err)
		}
	}
	return nil
}
