package notify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// RetryOptions configure the retry stage.
type RetryOptions struct {
	// InitialBackoff is the wait before the first retry; it doubles after
	// each failed attempt up to MaxBackoff.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// MaxAttempts bounds the attempts, the first included.
	MaxAttempts int
	// Jitter spreads each wait uniformly over ±Jitter of it (0..1), so
	// that many receivers failing together do not retry in lockstep.
	Jitter float64
}

// DefaultRetryOptions returns 1s initial backoff doubling to 1m, 6
// attempts, 20% jitter.
func DefaultRetryOptions() RetryOptions {
	return RetryOptions{InitialBackoff: time.Second, MaxBackoff: time.Minute, MaxAttempts: 6, Jitter: 0.2}
}

func (o *RetryOptions) validate() error {
	switch {
	case o.InitialBackoff <= 0:
		return fmt.Errorf("%w: retry initial backoff %v must be positive", ErrInvalidOptions, o.InitialBackoff)
	case o.MaxBackoff < o.InitialBackoff:
		return fmt.Errorf("%w: retry max backoff %v below initial %v", ErrInvalidOptions, o.MaxBackoff, o.InitialBackoff)
	case o.MaxAttempts < 1 || o.MaxAttempts > 100:
		return fmt.Errorf("%w: retry max attempts %d not in 1..100", ErrInvalidOptions, o.MaxAttempts)
	case o.Jitter < 0 || o.Jitter > 1:
		return fmt.Errorf("%w: retry jitter %v not in 0..1", ErrInvalidOptions, o.Jitter)
	}
	return nil
}

// backoff returns the wait after the given failed attempt (1-based),
// before jitter.
func (o *RetryOptions) backoff(attempt int) time.Duration {
	d := o.InitialBackoff
	for i := 1; i < attempt && d < o.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, o.MaxBackoff)
}

// wait returns the wait after the given failed attempt: the server's
// Retry-After when it gave one (it knows its own load better than our
// schedule does, so it is not shortened, only capped by ParseRetryAfter),
// else the jittered backoff.
func (o *RetryOptions) wait(attempt int, retryAfter time.Duration, rnd func() float64) time.Duration {
	if retryAfter > 0 {
		return retryAfter
	}
	d := o.backoff(attempt)
	if o.Jitter > 0 {
		f := 1 + o.Jitter*(2*rnd()-1)
		d = time.Duration(float64(d) * f)
	}
	return max(d, 0)
}

// retry calls attempt until it succeeds, fails permanently, runs out of
// attempts or ctx ends. onRetry is called before each wait.
func (o *RetryOptions) retry(ctx context.Context, attempt func(context.Context) error, onRetry func(n int, err error, wait time.Duration)) error {
	var err error
	for n := 1; ; n++ {
		err = attempt(ctx)
		if err == nil {
			return nil
		}
		ok, after := classify(err)
		if !ok {
			return err
		}
		if n >= o.MaxAttempts {
			return fmt.Errorf("after %d attempts: %w", n, err)
		}
		if ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		w := o.wait(n, after, rand.Float64)
		if onRetry != nil {
			onRetry(n, err, w)
		}
		t := time.NewTimer(w)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
}
