package bus

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// TestLoad pushes concurrent publishers through a slow subscriber with a
// small queue: everything sent must arrive, in order per publisher.
func TestLoad(t *testing.T) {
	publishers, perPublisher := 8, 50_000
	if testing.Short() {
		perPublisher = 5_000
	}
	tests := []struct {
		name    string
		queue   int
		workers int
	}{
		{"queue 8, one worker", 8, 1},
		{"queue 8, three workers", 8, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, reg, _ := testBus(t)
				var received atomic.Int64
				// A key always goes to the same worker, so each element
				// has a single writer.
				last := make([]int, publishers)
				var sink atomic.Uint64
				mustSubscribe(t, b, "t", SubscribeOptions{Name: "slow", QueueSize: tt.queue, Workers: tt.workers},
					func(_ context.Context, m Message) error {
						v := m.Value.([2]int)
						if v[1] != last[v[0]]+1 {
							return fmt.Errorf("publisher %d: got %d after %d", v[0], v[1], last[v[0]])
						}
						last[v[0]] = v[1]
						// Slow-ish: enough work to keep the queue full.
						x := uint64(v[1])
						for range 200 {
							x = x*6364136223846793005 + 1
						}
						sink.Add(x & 1)
						received.Add(1)
						return nil
					})

				var wg sync.WaitGroup
				for p := range publishers {
					wg.Go(func() {
						key := fmt.Sprintf("p%d", p)
						for i := 1; i <= perPublisher; i++ {
							if err := b.Publish(context.Background(), Message{Topic: "t", Key: key, Value: [2]int{p, i}}); err != nil {
								t.Errorf("publisher %d message %d: %v", p, i, err)
								return
							}
						}
					})
				}
				wg.Wait()
				mustClose(t, b)

				sent := int64(publishers * perPublisher)
				if got := received.Load(); got != sent {
					t.Errorf("received %d of %d", got, sent)
				}
				checkMetrics(t, reg, map[string]float64{
					`vigil_bus_published_total{topic="t"}`:                        float64(sent),
					`vigil_bus_delivered_total{subscriber="slow",topic="t"}`:      float64(sent),
					`vigil_bus_handler_errors_total{subscriber="slow",topic="t"}`: 0,
				})
			})
		})
	}
}

// TestChurn publishes while subscriptions come and go; it is mostly for the
// race detector and for deadlocks between waiting publishers.
func TestChurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _, _ := testBus(t)
		const publishers, perPublisher = 4, 2_000
		stay := &recorder{}
		mustSubscribe(t, b, "t", SubscribeOptions{Name: "stay", QueueSize: 1}, stay.handle)
		mustSubscribe(t, b, "t", SubscribeOptions{Name: "stay2", QueueSize: 1, Workers: 2}, func(context.Context, Message) error { return nil })

		stop := make(chan struct{})
		var churn sync.WaitGroup
		churn.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s := mustSubscribe(t, b, "t", SubscribeOptions{Name: "churn", QueueSize: 1 + i%3}, func(context.Context, Message) error { return nil })
				_ = s.Close()
			}
		})
		var wg sync.WaitGroup
		for p := range publishers {
			wg.Go(func() {
				for i := range perPublisher {
					m := Message{Topic: "t", Key: fmt.Sprint(p), Value: p*perPublisher + i}
					for {
						var err error
						if i%2 == 0 {
							err = b.Publish(context.Background(), m)
						} else {
							err = b.TryPublish(m)
						}
						if err == nil {
							break
						}
						if !errors.Is(err, ErrFull) {
							t.Errorf("publish: %v", err)
							return
						}
						runtime.Gosched()
					}
				}
			})
		}
		wg.Wait()
		close(stop)
		churn.Wait()
		mustClose(t, b)
		checkKeyOrder(t, stay.messages(), publishers*perPublisher)
	})
}
