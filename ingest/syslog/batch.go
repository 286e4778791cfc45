package syslog

import (
	"context"
	"log/slog"
	"time"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// Backoff between deliveries the Sink refused with ErrBackpressure: short
// at first, so a brief stall costs little latency, and capped, so a long
// one does not turn into a busy loop.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = 500 * time.Millisecond
)

// batcher gathers records from every connection into batches for the Sink.
// Its input channel holds at most one batch; while a delivery waits on
// backpressure the channel fills and the readers block in add, so they stop
// reading their sockets. That is the receiver's whole backpressure path.
type batcher struct {
	sink ingest.Sink
	size int
	wait time.Duration
	log  *slog.Logger
	m    *metrics
	in   chan telemetry.LogRecord
	// ctx is cancelled when Stop runs out of time: deliveries give up and
	// records still arriving are dropped (and counted).
	ctx  context.Context
	done chan struct{} // closed when run returns
}

func newBatcher(ctx context.Context, o Options, m *metrics) *batcher {
	return &batcher{
		sink: o.Sink,
		size: o.BatchSize,
		wait: o.BatchWait,
		log:  o.Logger,
		m:    m,
		in:   make(chan telemetry.LogRecord, o.BatchSize),
		ctx:  ctx,
		done: make(chan struct{}),
	}
}

// add queues rec, blocking while the pipeline is full.
func (b *batcher) add(rec telemetry.LogRecord) {
	select {
	case b.in <- rec:
	case <-b.ctx.Done():
		b.m.dropped.WithLabelValues(dropShutdown).Inc()
	}
}

// run batches until in is closed, then delivers the last batch.
func (b *batcher) run() {
	defer close(b.done)
	batch := make([]telemetry.LogRecord, 0, b.size)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var due <-chan time.Time // timer.C while a batch is open
	for {
		select {
		case rec, ok := <-b.in:
			if !ok {
				b.flush(batch)
				return
			}
			batch = append(batch, rec)
			if len(batch) == 1 {
				timer.Reset(b.wait)
				due = timer.C
			}
			if len(batch) < b.size {
				continue
			}
			timer.Stop()
		case <-due:
		}
		due = nil
		b.flush(batch)
		// The Sink may keep the slice (the bus hands it to subscribers),
		// so every batch gets a fresh one.
		batch = make([]telemetry.LogRecord, 0, b.size)
	}
}

func (b *batcher) flush(batch []telemetry.LogRecord) {
	if len(batch) == 0 {
		return
	}
	start := time.Now()
	// Retried on ErrBackpressure with a growing backoff until ctx is done.
	// Other errors are returned at once: the records cannot be re-read from
	// a socket, so retrying a failing sink would only stall every sender
	// behind it.
	err := ingest.DeliverWithRetry(b.ctx, func(ctx context.Context) error {
		return b.sink.Logs(ctx, batch)
	}, minBackoff, maxBackoff, b.m.backpressure.Inc)
	b.m.flush.Observe(time.Since(start).Seconds())
	if err == nil {
		b.m.delivered.Add(float64(len(batch)))
		return
	}
	reason := dropSinkError
	if b.ctx.Err() != nil {
		reason = dropShutdown
	}
	b.m.dropped.WithLabelValues(reason).Add(float64(len(batch)))
	b.log.Warn("syslog records dropped", "records", len(batch), "reason", reason, "err", err)
}
