package notify

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestRetrySchedule(t *testing.T) {
	opts := RetryOptions{InitialBackoff: time.Second, MaxBackoff: 5 * time.Second, MaxAttempts: 6}
	errTransient := Retryable(errors.New("transient"))
	tests := []struct {
		name      string
		errs      []error // returned by attempts in order; nil after the list
		wantCalls int
		wantWaits []time.Duration
		wantErr   bool
	}{
		{"first try", nil, 1, nil, false},
		{"fails three times then recovers", []error{errTransient, errTransient, errTransient}, 4, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, false},
		{"capped backoff, runs out", []error{errTransient, errTransient, errTransient, errTransient, errTransient, errTransient}, 6, []time.Duration{1, 2, 4, 5, 5}, true},
		{"retry-after honoured", []error{&DeliveryError{StatusCode: 429, Retryable: true, RetryAfter: 7 * time.Second, Err: errors.New("slow down")}}, 2, []time.Duration{7 * time.Second}, false},
		{"permanent stops", []error{&DeliveryError{StatusCode: 400, Err: errors.New("bad")}}, 1, nil, true},
		{"invalid message stops", []error{ErrInvalidMessage}, 1, nil, true},
		{"network error retried", []error{errors.New("connection refused")}, 2, []time.Duration{time.Second}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Waits given as small integers are seconds.
			for i, w := range tt.wantWaits {
				if w < time.Millisecond {
					tt.wantWaits[i] = w * time.Second
				}
			}
			synctest.Test(t, func(t *testing.T) {
				calls := 0
				var waits []time.Duration
				last := time.Now()
				err := opts.retry(context.Background(), func(context.Context) error {
					if calls > 0 {
						waits = append(waits, time.Since(last))
					}
					last = time.Now()
					calls++
					if calls <= len(tt.errs) {
						return tt.errs[calls-1]
					}
					return nil
				}, nil)
				if (err != nil) != tt.wantErr {
					t.Fatalf("err = %v, want error %v", err, tt.wantErr)
				}
				if calls != tt.wantCalls {
					t.Errorf("calls = %d, want %d", calls, tt.wantCalls)
				}
				if len(waits) != len(tt.wantWaits) {
					t.Fatalf("waits = %v, want %v", waits, tt.wantWaits)
				}
				for i := range waits {
					if waits[i] != tt.wantWaits[i] {
						t.Errorf("wait %d = %v, want %v", i, waits[i], tt.wantWaits[i])
					}
				}
			})
		})
	}
}

func TestRetryJitterBounds(t *testing.T) {
	opts := RetryOptions{InitialBackoff: time.Second, MaxBackoff: time.Minute, MaxAttempts: 5, Jitter: 0.2}
	for _, r := range []float64{0, 0.25, 0.5, 0.999} {
		w := opts.wait(3, 0, func() float64 { return r })
		if w < 3200*time.Millisecond || w > 4800*time.Millisecond {
			t.Errorf("rand %v: wait %v outside 4s±20%%", r, w)
		}
	}
	if a, b := opts.wait(1, 0, func() float64 { return 0 }), opts.wait(1, 0, func() float64 { return 0.99 }); a == b {
		t.Errorf("jitter has no effect: %v == %v", a, b)
	}
}

func TestRetryStopsOnContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opts := RetryOptions{InitialBackoff: time.Minute, MaxBackoff: time.Minute, MaxAttempts: 10}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		calls := 0
		err := opts.retry(ctx, func(context.Context) error { calls++; return Retryable(errors.New("down")) }, nil)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
		if calls != 2 {
			t.Errorf("calls = %d, want 2 (t=0 and t=60s)", calls)
		}
	})
}
