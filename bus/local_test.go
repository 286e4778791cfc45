package bus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Most tests run inside a synctest bubble: synctest.Test fails when a
// goroutine started in the bubble is still blocked at the end, so every
// test that closes its bus also checks that no worker leaked.

// testBus returns a Local with its own registry and a log buffer. Read the
// buffer only after Close, which orders it after every handler.
func testBus(t *testing.T) (*Local, *prometheus.Registry, *bytes.Buffer) {
	t.Helper()
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	b := NewLocal(LocalOptions{
		Logger:     slog.New(slog.NewJSONHandler(&logs, nil)),
		Registerer: reg,
	})
	return b, reg, &logs
}

// recorder is a Handler that keeps what it is given.
type recorder struct {
	mu  sync.Mutex
	got []Message
}

func (r *recorder) handle(_ context.Context, m Message) error {
	r.mu.Lock()
	r.got = append(r.got, m)
	r.mu.Unlock()
	return nil
}

func (r *recorder) messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.got...)
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// ints returns the int Values received, in delivery order.
func (r *recorder) ints() []int {
	var out []int
	for _, m := range r.messages() {
		out = append(out, m.Value.(int))
	}
	return out
}

// checkKeyOrder fails unless msgs holds want messages with distinct int
// Values that increase within each key.
func checkKeyOrder(t *testing.T, msgs []Message, want int) {
	t.Helper()
	if len(msgs) != want {
		t.Fatalf("got %d messages, want %d", len(msgs), want)
	}
	last := make(map[string]int)
	for _, m := range msgs {
		v := m.Value.(int)
		if prev, ok := last[m.Key]; ok && v <= prev {
			t.Fatalf("key %q: value %d delivered after %d", m.Key, v, prev)
		}
		last[m.Key] = v
	}
}

// gather flattens reg into "name{label=\"value\",...}" → value; histograms
// give name_count and name_sum. prometheus/testutil is not used because it
// needs a module go.mod does not list.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := make(map[string]float64)
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(ls)
			labels := ""
			if len(ls) > 0 {
				labels = "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case m.GetCounter() != nil:
				out[mf.GetName()+labels] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[mf.GetName()+labels] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				out[mf.GetName()+"_count"+labels] = float64(m.GetHistogram().GetSampleCount())
				out[mf.GetName()+"_sum"+labels] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

// checkMetrics compares the wanted series; an absent series reads as 0.
func checkMetrics(t *testing.T, reg *prometheus.Registry, want map[string]float64) {
	t.Helper()
	got := gather(t, reg)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func mustSubscribe(t *testing.T, b *Local, topic string, opts SubscribeOptions, h Handler) Subscription {
	t.Helper()
	s, err := b.Subscribe(topic, opts, h)
	if err != nil {
		t.Fatalf("subscribe %q: %v", opts.Name, err)
	}
	return s
}

func mustClose(t *testing.T, b *Local) {
	t.Helper()
	if err := b.Close(context.Background()); err != nil {
		t.Fatalf("close: %v", err)
	}
}

func TestFanout(t *testing.T) {
	tests := []struct {
		name    string
		subs    int
		workers int
		msgs    int
	}{
		{"one subscriber", 1, 1, 100},
		{"three subscribers", 3, 1, 100},
		{"eight subscribers with four workers", 8, 4, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, reg, _ := testBus(t)
				ctx := context.Background()
				recs := make([]*recorder, tt.subs)
				for i := range recs {
					recs[i] = &recorder{}
					mustSubscribe(t, b, "t", SubscribeOptions{Name: fmt.Sprintf("s%d", i), Workers: tt.workers}, recs[i].handle)
				}
				other := &recorder{}
				mustSubscribe(t, b, "other", SubscribeOptions{Name: "other"}, other.handle)

				for i := range tt.msgs {
					if err := b.Publish(ctx, Message{Topic: "t", Key: fmt.Sprintf("k%d", i%7), Value: i}); err != nil {
						t.Fatalf("publish %d: %v", i, err)
					}
				}
				mustClose(t, b)

				want := map[string]float64{
					`vigil_bus_published_total{topic="t"}`: float64(tt.msgs),
					`vigil_bus_publish_wait_seconds_count`: float64(tt.msgs),
				}
				for i, r := range recs {
					checkKeyOrder(t, r.messages(), tt.msgs)
					want[fmt.Sprintf(`vigil_bus_delivered_total{subscriber="s%d",topic="t"}`, i)] = float64(tt.msgs)
				}
				if n := other.len(); n != 0 {
					t.Errorf("subscriber of another topic got %d messages", n)
				}
				checkMetrics(t, reg, want)
			})
		})
	}
}

func TestPerKeyOrder(t *testing.T) {
	const msgs, keys, workers = 10_000, 64, 4
	tests := []struct {
		name  string
		queue int
	}{
		{"small queue", 16},
		{"large queue", 1024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, _, _ := testBus(t)
				rec := &recorder{}
				mustSubscribe(t, b, "t", SubscribeOptions{Name: "s", QueueSize: tt.queue, Workers: workers}, rec.handle)
				for i := range msgs {
					if err := b.Publish(context.Background(), Message{Topic: "t", Key: fmt.Sprintf("svc-%d", i%keys), Value: i}); err != nil {
						t.Fatalf("publish %d: %v", i, err)
					}
				}
				mustClose(t, b)
				checkKeyOrder(t, rec.messages(), msgs)
			})
		})
	}

	// Order with one worker is trivial; make sure the keys above really
	// were spread over every worker.
	used := make(map[int]bool)
	for k := range keys {
		used[workerIndex(fmt.Sprintf("svc-%d", k), workers)] = true
	}
	if len(used) != workers {
		t.Errorf("%d keys hashed to %d of %d workers", keys, len(used), workers)
	}
}

func TestBackpressure(t *testing.T) {
	tests := []struct {
		name    string
		queue   int
		workers int
	}{
		{"queue of one", 1, 1},
		{"queue of four", 4, 1},
		{"queue of four, three workers", 4, 3}, // one key: one worker holds it all
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, reg, _ := testBus(t)
				ctx := context.Background()
				q := tt.queue
				msg := func(i int) Message { return Message{Topic: "t", Key: "k", Value: i} }

				// fast subscribes first so that a Publish waiting on slow
				// holds room in fast, which it must give back.
				fast := &recorder{}
				fastSub := mustSubscribe(t, b, "t", SubscribeOptions{Name: "fast"}, fast.handle)
				slow := &recorder{}
				started, unblock := make(chan struct{}), make(chan struct{})
				slowSub := mustSubscribe(t, b, "t", SubscribeOptions{Name: "slow", QueueSize: q, Workers: tt.workers},
					func(ctx context.Context, m Message) error {
						if m.Value == 0 {
							close(started)
							<-unblock
						}
						return slow.handle(ctx, m)
					})

				if err := b.Publish(ctx, msg(0)); err != nil {
					t.Fatal(err)
				}
				<-started // slow's queue is empty again, its worker busy
				for i := 1; i <= q; i++ {
					if err := b.TryPublish(msg(i)); err != nil {
						t.Fatalf("TryPublish %d of %d: %v", i, q, err)
					}
				}
				synctest.Wait()
				checkMetrics(t, reg, map[string]float64{
					`vigil_bus_queue_depth{subscriber="slow",topic="t"}`: float64(q),
					`vigil_bus_queue_depth{subscriber="fast",topic="t"}`: 0,
				})

				if err := b.TryPublish(msg(q + 1)); !errors.Is(err, ErrFull) {
					t.Fatalf("TryPublish on a full queue: %v, want ErrFull", err)
				}
				synctest.Wait()
				if n := fast.len(); n != q+1 {
					t.Fatalf("after ErrFull fast got %d messages, want %d: not all-or-nothing", n, q+1)
				}

				tctx, cancel := context.WithTimeout(ctx, time.Second)
				start := time.Now()
				err := b.Publish(tctx, msg(q+1))
				cancel()
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Publish on a full queue: %v, want DeadlineExceeded", err)
				}
				if d := time.Since(start); d != time.Second {
					t.Errorf("Publish gave up after %v, want 1s", d)
				}
				synctest.Wait()
				if n := fast.len(); n != q+1 {
					t.Fatalf("after timeout fast got %d messages, want %d: not all-or-nothing", n, q+1)
				}
				// The room the timed-out Publish took in fast is given back.
				if n := len(fastSub.(*subscription).slots); n != 0 {
					t.Errorf("fast has %d slots taken with an empty queue", n)
				}
				if n := len(slowSub.(*subscription).slots); n != q {
					t.Errorf("slow has %d slots taken, want %d (its queue)", n, q)
				}

				done := make(chan error, 1)
				go func() { done <- b.Publish(ctx, msg(q+1)) }()
				synctest.Wait()
				select {
				case err := <-done:
					t.Fatalf("Publish returned %v while the queue was full", err)
				default:
				}
				close(unblock)
				if err := <-done; err != nil {
					t.Fatalf("Publish after room: %v", err)
				}
				mustClose(t, b)

				for name, r := range map[string]*recorder{"fast": fast, "slow": slow} {
					got := r.ints()
					if len(got) != q+2 {
						t.Fatalf("%s got %v, want 0..%d", name, got, q+1)
					}
					for i, v := range got {
						if v != i {
							t.Fatalf("%s got %v, want 0..%d in order", name, got, q+1)
						}
					}
				}
				checkMetrics(t, reg, map[string]float64{
					`vigil_bus_published_total{topic="t"}`:                        float64(q + 2),
					`vigil_bus_rejected_total{topic="t"}`:                         1,
					`vigil_bus_delivered_total{subscriber="slow",topic="t"}`:      float64(q + 2),
					`vigil_bus_delivered_total{subscriber="fast",topic="t"}`:      float64(q + 2),
					`vigil_bus_handler_errors_total{subscriber="slow",topic="t"}`: 0,
					`vigil_bus_publish_wait_seconds_count`:                        3,
					`vigil_bus_publish_wait_seconds_sum`:                          1, // fake clock: only the timeout took time
				})
			})
		})
	}
}

func TestPublishWithoutSubscribers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, reg, _ := testBus(t)
		if err := b.Publish(context.Background(), Message{Topic: "nobody"}); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		if err := b.TryPublish(Message{Topic: "nobody"}); err != nil {
			t.Fatalf("TryPublish: %v", err)
		}
		mustClose(t, b)
		checkMetrics(t, reg, map[string]float64{`vigil_bus_published_total{topic="nobody"}`: 2})
	})
}

func TestSubscribeInvalid(t *testing.T) {
	ok := func(context.Context, Message) error { return nil }
	tests := []struct {
		name  string
		topic string
		opts  SubscribeOptions
		h     Handler
		want  string
	}{
		{"empty topic", "", SubscribeOptions{}, ok, "empty topic"},
		{"nil handler", "t", SubscribeOptions{}, nil, "nil handler"},
		{"negative queue", "t", SubscribeOptions{QueueSize: -1}, ok, "negative queue size"},
		{"negative workers", "t", SubscribeOptions{Workers: -2}, ok, "negative workers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewLocal(DefaultLocalOptions())
			defer mustClose(t, b)
			_, err := b.Subscribe(tt.topic, tt.opts, tt.h)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Subscribe: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestNewLocalInvalid(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("NewLocal with a negative DefaultQueueSize did not panic")
		}
	}()
	NewLocal(LocalOptions{DefaultQueueSize: -1})
}

func TestDefaultQueueSize(t *testing.T) {
	tests := []struct {
		name    string
		opts    LocalOptions
		sub     SubscribeOptions
		wantCap int
	}{
		{"zero options", LocalOptions{}, SubscribeOptions{}, 1024},
		{"bus default", LocalOptions{DefaultQueueSize: 7}, SubscribeOptions{}, 7},
		{"subscription wins", LocalOptions{DefaultQueueSize: 7}, SubscribeOptions{QueueSize: 3}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewLocal(tt.opts)
			defer mustClose(t, b)
			s := mustSubscribe(t, b, "t", tt.sub, func(context.Context, Message) error { return nil })
			if got := cap(s.(*subscription).slots); got != tt.wantCap {
				t.Errorf("queue size %d, want %d", got, tt.wantCap)
			}
		})
	}
}
