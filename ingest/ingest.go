// Package ingest takes telemetry in the wire formats people already emit and
// delivers it into Vigil's pipeline. Each protocol is a subpackage that turns
// its payloads into telemetry values and hands them to a Sink; this package
// owns what they share: the Receiver interface, the bus-backed Sink,
// receiver authentication, body limits and decompression, and the one way
// every HTTP receiver reports partial acceptance and backpressure.
//
// Invariant: a receiver never drops good records silently. A record is
// either delivered to the Sink, or the sender is told why not: rejected
// with a reason (bad record), or asked to retry (429 with Retry-After, or a
// stream that stops reading while the pipeline is full).
package ingest

import (
	"context"
	"errors"
	"net/http"

	"github.com/vigilops/vigil/telemetry"
)

// Receiver is one source of telemetry: a protocol listener or a file tailer.
type Receiver interface {
	// Name identifies the receiver in logs and metrics ("loki", "syslog-udp").
	Name() string
	// Start begins receiving. Receivers that only serve HTTP routes return
	// nil at once. Start returns listen errors synchronously.
	Start(ctx context.Context) error
	// Stop ends receiving and flushes what was accepted into the Sink.
	Stop(ctx context.Context) error
}

// Route is one HTTP endpoint a receiver serves on Vigil's listener.
type Route struct {
	// Pattern is a net/http ServeMux pattern with a method: "POST /loki/api/v1/push".
	Pattern string
	Handler http.Handler
}

// HTTPReceiver is a Receiver that also serves HTTP routes.
type HTTPReceiver interface {
	Receiver
	Routes() []Route
}

// Sink delivers decoded telemetry into the pipeline.
type Sink interface {
	Logs(ctx context.Context, recs []telemetry.LogRecord) error
	Samples(ctx context.Context, samples []telemetry.Sample) error
	Alerts(ctx context.Context, alerts []telemetry.Alert) error
	Events(ctx context.Context, events []telemetry.Event) error
}

// ErrBackpressure is returned by a Sink that cannot take more now. HTTP
// receivers answer 429 with Retry-After; stream receivers wait and retry.
var ErrBackpressure = errors.New("ingest: pipeline full, retry later")

// SinkFuncs adapts functions to a Sink; nil fields accept and discard. It is
// meant for tests and for wiring small consumers.
type SinkFuncs struct {
	LogsFunc    func(ctx context.Context, recs []telemetry.LogRecord) error
	SamplesFunc func(ctx context.Context, samples []telemetry.Sample) error
	AlertsFunc  func(ctx context.Context, alerts []telemetry.Alert) error
	EventsFunc  func(ctx context.Context, events []telemetry.Event) error
}

var _ Sink = SinkFuncs{}

// Logs implements Sink.
func (s SinkFuncs) Logs(ctx context.Context, recs []telemetry.LogRecord) error {
	if s.LogsFunc == nil {
		return nil
	}
	return s.LogsFunc(ctx, recs)
}

// Samples implements Sink.
func (s SinkFuncs) Samples(ctx context.Context, samples []telemetry.Sample) error {
	if s.SamplesFunc == nil {
		return nil
	}
	return s.SamplesFunc(ctx, samples)
}

// Alerts implements Sink.
func (s SinkFuncs) Alerts(ctx context.Context, alerts []telemetry.Alert) error {
	if s.AlertsFunc == nil {
		return nil
	}
	return s.AlertsFunc(ctx, alerts)
}

// Events implements Sink.
func (s SinkFuncs) Events(ctx context.Context, events []telemetry.Event) error {
	if s.EventsFunc == nil {
		return nil
	}
	return s.EventsFunc(ctx, events)
}
