package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// instant is an after that fires at once and records the waits asked for.
func instant(waits *[]time.Duration) func(time.Duration) <-chan time.Time {
	return func(d time.Duration) <-chan time.Time {
		*waits = append(*waits, d)
		c := make(chan time.Time, 1)
		c <- time.Time{}
		return c
	}
}

func TestDeliverWithRetry(t *testing.T) {
	errSink := errors.New("sink broken")
	wrappedBP := fmt.Errorf("bus: %w", ErrBackpressure)
	tests := []struct {
		name      string
		answers   []error // deliver's answers, in order; nil ends
		wantErr   error
		wantCalls int
		wantWaits []time.Duration
	}{
		{name: "accepted at once", answers: []error{nil}, wantCalls: 1},
		{name: "other error at once", answers: []error{errSink}, wantErr: errSink, wantCalls: 1},
		{
			name:      "backpressure then accepted",
			answers:   []error{ErrBackpressure, wrappedBP, ErrBackpressure, ErrBackpressure, ErrBackpressure, nil},
			wantCalls: 6,
			wantWaits: []time.Duration{5, 10, 20, 40, 40}, // doubling, capped at max
		},
		{
			name:      "backpressure then other error",
			answers:   []error{ErrBackpressure, errSink},
			wantErr:   errSink,
			wantCalls: 2,
			wantWaits: []time.Duration{5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls, bp int
			var waits []time.Duration
			err := deliverWithRetry(context.Background(), func(context.Context) error {
				calls++
				return tt.answers[calls-1]
			}, 5, 40, func() { bp++ }, instant(&waits))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if calls != tt.wantCalls {
				t.Errorf("deliver called %d times, want %d", calls, tt.wantCalls)
			}
			if bp != len(tt.wantWaits) {
				t.Errorf("onBackpressure called %d times, want %d", bp, len(tt.wantWaits))
			}
			if !slices.Equal(waits, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", waits, tt.wantWaits)
			}
		})
	}
}

func TestDeliverWithRetryCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	// A real clock and a long backoff: only the cancellation ends the wait.
	err := DeliverWithRetry(ctx, func(context.Context) error {
		calls++
		cancel()
		return ErrBackpressure
	}, time.Hour, time.Hour, nil)
	if !errors.Is(err, ErrBackpressure) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrBackpressure joined with context.Canceled", err)
	}
	if calls != 1 {
		t.Fatalf("deliver called %d times after cancellation, want 1", calls)
	}
}
