// Package bus moves telemetry between pipeline steps by topic, with bounded
// queues and backpressure. The in-process implementation here is the
// embedded default; a NATS JetStream implementation can satisfy the same
// interface when several Vigil processes share the work.
//
// Invariant: a message accepted by Publish is delivered to every subscription
// that existed when it was accepted, unless the bus is closed first; a full
// queue makes Publish wait (or TryPublish fail with ErrFull), never drop.
package bus

import (
	"context"
	"errors"
)

// Topics carried by the bus. Values are the telemetry types named.
const (
	TopicLogs    = "telemetry.logs"    // []telemetry.LogRecord
	TopicSamples = "telemetry.samples" // []telemetry.Sample
	TopicAlerts  = "telemetry.alerts"  // []telemetry.Alert
	TopicEvents  = "telemetry.events"  // []telemetry.Event
)

// TopicParsedLogs carries log records after the logs stage: parsed, with
// stack traces joined, and templated.
const TopicParsedLogs = "telemetry.logs.parsed" // []telemetry.LogRecord, parsed and templated

// ErrFull is returned by TryPublish when a subscriber's queue has no room.
// HTTP receivers map it to 429 with Retry-After.
var ErrFull = errors.New("bus: queue full")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("bus: closed")

// Message is one unit on the bus. Value is a batch (a slice of one telemetry
// type); batches keep per-message overhead off the hot path.
type Message struct {
	Topic string
	// Key partitions the work, usually the service name: messages with the
	// same key are delivered to a subscription in publish order.
	Key   string
	Value any
}

// Handler processes one message. An error is logged and counted by the bus;
// the message is not redelivered by the in-process bus.
type Handler func(ctx context.Context, m Message) error

// SubscribeOptions tune one subscription.
type SubscribeOptions struct {
	// Name identifies the subscriber in metrics and logs ("store", "detect").
	Name string
	// QueueSize bounds the messages waiting for this subscriber. 0 means 1024.
	QueueSize int
	// Workers is the number of concurrent handler goroutines. 0 means 1.
	// With more than one worker, per-key order is kept by hashing the key to
	// a worker.
	Workers int
}

// Bus is publish/subscribe by topic.
type Bus interface {
	// Publish enqueues m for every subscriber of its topic, waiting while a
	// queue is full until ctx is done (then it returns ctx.Err()).
	Publish(ctx context.Context, m Message) error
	// TryPublish enqueues m only if every subscriber has room now;
	// otherwise it enqueues nothing and returns ErrFull.
	TryPublish(m Message) error
	// Subscribe starts delivering messages of topic to h until the
	// subscription is closed or the bus is.
	Subscribe(topic string, opts SubscribeOptions, h Handler) (Subscription, error)
	// Close stops accepting messages, delivers what is queued (until ctx is
	// done) and stops every subscription.
	Close(ctx context.Context) error
}

// Subscription is one subscriber's registration.
type Subscription interface {
	// Close stops delivery to this subscriber after the message in progress.
	Close() error
}
