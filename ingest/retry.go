package ingest

import (
	"context"
	"errors"
	"time"
)

// DeliverWithRetry calls deliver until it returns nil or an error other
// than ErrBackpressure, which it returns at once. After each
// ErrBackpressure it calls onBackpressure (when not nil) and waits, first
// minBackoff, then twice the previous wait up to maxBackoff, before calling
// deliver again. If ctx is done during a wait it returns the backpressure
// error joined with ctx.Err(), so the result matches both.
//
// It is how stream receivers (syslog, file, ndjson streams) wait while the
// pipeline is full: they stop reading rather than drop records.
func DeliverWithRetry(ctx context.Context, deliver func(context.Context) error, minBackoff, maxBackoff time.Duration, onBackpressure func()) error {
	return deliverWithRetry(ctx, deliver, minBackoff, maxBackoff, onBackpressure, time.After)
}

// deliverWithRetry is DeliverWithRetry with the clock's after passed in,
// so that tests can see the waits.
func deliverWithRetry(ctx context.Context, deliver func(context.Context) error, minBackoff, maxBackoff time.Duration, onBackpressure func(), after func(time.Duration) <-chan time.Time) error {
	backoff := minBackoff
	for {
		err := deliver(ctx)
		if err == nil || !errors.Is(err, ErrBackpressure) {
			return err
		}
		if onBackpressure != nil {
			onBackpressure()
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-after(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}
