package ingest

import (
	"context"
	"errors"
	"fmt"

	"github.com/vigilops/vigil/bus"
	"github.com/vigilops/vigil/telemetry"
)

// BusSink publishes telemetry onto the bus, one message per batch.
type BusSink struct {
	bus bus.Bus
	// block selects Publish (wait for room) over TryPublish (fail fast).
	block bool
}

var _ Sink = (*BusSink)(nil)

// NewBusSink returns a Sink over b. With block false, a full queue yields
// ErrBackpressure at once (for HTTP receivers, which answer 429); with block
// true, delivery waits for room until ctx is done (for streams such as
// files and syslog over TCP, whose backpressure is to stop reading).
func NewBusSink(b bus.Bus, block bool) *BusSink { return &BusSink{bus: b, block: block} }

// Logs implements Sink.
func (s *BusSink) Logs(ctx context.Context, recs []telemetry.LogRecord) error {
	return publishGrouped(ctx, s, bus.TopicLogs, recs, func(r *telemetry.LogRecord) string { return r.Service })
}

// Samples implements Sink.
func (s *BusSink) Samples(ctx context.Context, samples []telemetry.Sample) error {
	return publishGrouped(ctx, s, bus.TopicSamples, samples, func(x *telemetry.Sample) string { return x.Labels.Get("service") })
}

// Alerts implements Sink.
func (s *BusSink) Alerts(ctx context.Context, alerts []telemetry.Alert) error {
	return publishGrouped(ctx, s, bus.TopicAlerts, alerts, func(a *telemetry.Alert) string { return a.Labels.Get("service") })
}

// Events implements Sink.
func (s *BusSink) Events(ctx context.Context, events []telemetry.Event) error {
	return publishGrouped(ctx, s, bus.TopicEvents, events, func(e *telemetry.Event) string { return e.Service })
}

func (s *BusSink) publish(ctx context.Context, m bus.Message) error {
	if s.block {
		return s.bus.Publish(ctx, m)
	}
	err := s.bus.TryPublish(m)
	if errors.Is(err, bus.ErrFull) {
		return ErrBackpressure
	}
	return err
}

// publishGrouped publishes the batch as one message, so that a batch is
// accepted or refused whole (TryPublish is all-or-nothing) and a sender's
// retry after 429 never duplicates part of it. The key is the batch's
// service when all records share one, else empty; consumers that shard by
// service split mixed batches themselves.
func publishGrouped[T any](ctx context.Context, s *BusSink, topic string, items []T, service func(*T) string) error {
	if len(items) == 0 {
		return nil
	}
	key := service(&items[0])
	for i := 1; i < len(items); i++ {
		if service(&items[i]) != key {
			key = ""
			break
		}
	}
	if err := s.publish(ctx, bus.Message{Topic: topic, Key: key, Value: items}); err != nil {
		return fmt.Errorf("publish %s: %w", topic, err)
	}
	return nil
}
