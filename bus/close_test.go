package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// gate is a Handler wrapper that blocks on the message with Value 0 until
// opened, so that tests can fill a queue behind it.
type gate struct {
	rec     recorder
	started chan struct{}
	open    chan struct{}
}

func newGate() *gate {
	return &gate{started: make(chan struct{}), open: make(chan struct{})}
}

func (g *gate) handle(ctx context.Context, m Message) error {
	if m.Value == 0 {
		close(g.started)
		<-g.open
	}
	return g.rec.handle(ctx, m)
}

func TestCloseDrains(t *testing.T) {
	tests := []struct {
		name    string
		workers int
		queued  int
	}{
		{"one worker", 1, 5},
		{"four workers", 4, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, reg, _ := testBus(t)
				g := newGate()
				mustSubscribe(t, b, "t", SubscribeOptions{Name: "s", QueueSize: tt.queued, Workers: tt.workers}, g.handle)
				if err := b.Publish(context.Background(), Message{Topic: "t", Key: "k0", Value: 0}); err != nil {
					t.Fatal(err)
				}
				<-g.started
				for i := 1; i <= tt.queued; i++ {
					if err := b.TryPublish(Message{Topic: "t", Key: fmt.Sprint("k", i%5), Value: i}); err != nil {
						t.Fatalf("TryPublish %d: %v", i, err)
					}
				}

				done := make(chan error, 1)
				go func() { done <- b.Close(context.Background()) }()
				synctest.Wait()
				select {
				case err := <-done:
					t.Fatalf("Close returned %v with a handler in progress", err)
				default:
				}
				close(g.open)
				if err := <-done; err != nil {
					t.Fatalf("Close: %v", err)
				}
				checkKeyOrder(t, g.rec.messages(), tt.queued+1)
				checkMetrics(t, reg, map[string]float64{
					`vigil_bus_delivered_total{subscriber="s",topic="t"}`: float64(tt.queued + 1),
				})
			})
		})
	}
}

func TestCloseContextExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _, _ := testBus(t)
		handled := make(chan error, 10)
		mustSubscribe(t, b, "t", SubscribeOptions{Name: "s"}, func(ctx context.Context, m Message) error {
			if m.Value == 0 {
				<-ctx.Done() // a handler that honours its ctx, and only that
			}
			handled <- ctx.Err()
			return nil
		})
		for i := range 4 {
			if err := b.Publish(context.Background(), Message{Topic: "t", Value: i}); err != nil {
				t.Fatal(err)
			}
		}

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		if err := b.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Close: %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("Close took %v, want 1s", d)
		}
		close(handled)
		var got []error
		for err := range handled {
			got = append(got, err)
		}
		if len(got) != 1 || !errors.Is(got[0], context.Canceled) {
			t.Fatalf("handler results %v, want one context.Canceled (the rest dropped)", got)
		}
	})
}

func TestClosedBus(t *testing.T) {
	ok := func(context.Context, Message) error { return nil }
	tests := []struct {
		name string
		op   func(b *Local) error
	}{
		{"Publish", func(b *Local) error { return b.Publish(context.Background(), Message{Topic: "t"}) }},
		{"Publish without subscribers", func(b *Local) error { return b.Publish(context.Background(), Message{Topic: "none"}) }},
		{"TryPublish", func(b *Local) error { return b.TryPublish(Message{Topic: "t"}) }},
		{"Subscribe", func(b *Local) error { _, err := b.Subscribe("t", SubscribeOptions{}, ok); return err }},
		{"Close", func(b *Local) error { return b.Close(context.Background()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, _, _ := testBus(t)
				s := mustSubscribe(t, b, "t", SubscribeOptions{}, ok)
				mustClose(t, b)
				if err := tt.op(b); !errors.Is(err, ErrClosed) {
					t.Fatalf("%s after Close: %v, want ErrClosed", tt.name, err)
				}
				if err := s.Close(); err != nil {
					t.Fatalf("Subscription.Close after bus Close: %v", err)
				}
			})
		})
	}
}

// TestCloseWakesPublisher: a publisher waiting for room gets ErrClosed, and
// what was queued before Close is still delivered.
func TestCloseWakesPublisher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _, _ := testBus(t)
		g := newGate()
		mustSubscribe(t, b, "t", SubscribeOptions{Name: "s", QueueSize: 1}, g.handle)
		ctx := context.Background()
		for i := range 2 {
			if err := b.Publish(ctx, Message{Topic: "t", Value: i}); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				<-g.started
			}
		}
		published := make(chan error, 1)
		go func() { published <- b.Publish(ctx, Message{Topic: "t", Value: 2}) }()
		closed := make(chan error, 1)
		synctest.Wait()
		go func() { closed <- b.Close(ctx) }()
		if err := <-published; !errors.Is(err, ErrClosed) {
			t.Fatalf("waiting Publish: %v, want ErrClosed", err)
		}
		close(g.open)
		if err := <-closed; err != nil {
			t.Fatalf("Close: %v", err)
		}
		if got := g.rec.ints(); len(got) != 2 || got[0] != 0 || got[1] != 1 {
			t.Fatalf("delivered %v, want [0 1]", got)
		}
	})
}

func TestSubscriptionCloseStopsDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, reg, _ := testBus(t)
		ctx := context.Background()
		gone, stay := &recorder{}, &recorder{}
		s := mustSubscribe(t, b, "t", SubscribeOptions{Name: "gone", Workers: 2}, gone.handle)
		mustSubscribe(t, b, "t", SubscribeOptions{Name: "stay"}, stay.handle)
		for i := range 6 {
			if i == 3 {
				synctest.Wait()
				if err := s.Close(); err != nil {
					t.Fatalf("Subscription.Close: %v", err)
				}
				if err := s.Close(); err != nil {
					t.Fatalf("second Subscription.Close: %v", err)
				}
			}
			if err := b.Publish(ctx, Message{Topic: "t", Value: i}); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if got := gone.len(); got != 3 {
			t.Errorf("closed subscription got %d messages, want 3", got)
		}
		if _, ok := gather(t, reg)[`vigil_bus_queue_depth{subscriber="gone",topic="t"}`]; ok {
			t.Error("closed subscription still reports a queue depth")
		}
		mustClose(t, b)
		if got := stay.len(); got != 6 {
			t.Errorf("other subscription got %d messages, want 6", got)
		}
	})
}

// TestSubscriptionCloseDropsQueued: Close lets the message in progress
// finish, drops the queue, and releases a publisher waiting for room.
func TestSubscriptionCloseDropsQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _, _ := testBus(t)
		ctx := context.Background()
		g := newGate()
		s := mustSubscribe(t, b, "t", SubscribeOptions{Name: "s", QueueSize: 2}, g.handle)
		if err := b.Publish(ctx, Message{Topic: "t", Value: 0}); err != nil {
			t.Fatal(err)
		}
		<-g.started
		for i := 1; i <= 2; i++ {
			if err := b.TryPublish(Message{Topic: "t", Value: i}); err != nil {
				t.Fatal(err)
			}
		}
		published := make(chan error, 1)
		go func() { published <- b.Publish(ctx, Message{Topic: "t", Value: 3}) }()
		synctest.Wait()

		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		if err := <-published; err != nil {
			t.Fatalf("Publish waiting on a closed subscription: %v, want nil", err)
		}
		synctest.Wait()
		select {
		case err := <-closed:
			t.Fatalf("Subscription.Close returned %v before the handler in progress", err)
		default:
		}
		close(g.open)
		if err := <-closed; err != nil {
			t.Fatalf("Subscription.Close: %v", err)
		}
		if got := g.rec.ints(); len(got) != 1 || got[0] != 0 {
			t.Fatalf("delivered %v, want only the message in progress", got)
		}
		mustClose(t, b)
	})
}

func TestHandlerFailures(t *testing.T) {
	tests := []struct {
		name    string
		fail    func() error
		wantLog string
	}{
		{"error", func() error { return errors.New("bad batch") }, `"msg":"bus handler failed"`},
		{"panic with string", func() error { panic("boom") }, `"panic":"boom"`},
		{"panic with error", func() error { panic(errors.New("kaboom")) }, `"msg":"bus handler panicked"`},
		{"panic with nil", func() error { panic(nil) }, `"msg":"bus handler panicked"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, reg, logs := testBus(t)
				rec := &recorder{}
				mustSubscribe(t, b, "t", SubscribeOptions{Name: "fragile"}, func(ctx context.Context, m Message) error {
					if m.Key == "bad" {
						return tt.fail()
					}
					return rec.handle(ctx, m)
				})
				for _, key := range []string{"a", "bad", "b"} {
					if err := b.Publish(context.Background(), Message{Topic: "t", Key: key}); err != nil {
						t.Fatal(err)
					}
				}
				mustClose(t, b)
				if got := rec.len(); got != 2 {
					t.Errorf("handled %d good messages, want 2: a failure stopped the worker", got)
				}
				checkMetrics(t, reg, map[string]float64{
					`vigil_bus_delivered_total{subscriber="fragile",topic="t"}`:      3,
					`vigil_bus_handler_errors_total{subscriber="fragile",topic="t"}`: 1,
				})
				log := logs.String()
				for _, want := range []string{tt.wantLog, `"subscriber":"fragile"`, `"topic":"t"`, `"key":"bad"`} {
					if !strings.Contains(log, want) {
						t.Errorf("log lacks %s:\n%s", want, log)
					}
				}
			})
		})
	}
}
