package bus

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
)

// benchBus subscribes n no-op handlers; the bus is closed (drained) when
// the benchmark ends, so the figures include delivery.
func benchBus(b *testing.B, n int) *Local {
	b.Helper()
	l := NewLocal(DefaultLocalOptions())
	for i := range n {
		if _, err := l.Subscribe("t", SubscribeOptions{Name: fmt.Sprint("s", i)}, func(context.Context, Message) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() {
		if err := l.Close(context.Background()); err != nil {
			b.Error(err)
		}
	})
	return l
}

func benchPublish(b *testing.B, subscribers int) {
	l := benchBus(b, subscribers)
	ctx := context.Background()
	m := Message{Topic: "t", Key: "checkout", Value: []int{1, 2, 3}}
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Publish(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPublish(b *testing.B)        { benchPublish(b, 1) }
func BenchmarkPublishFanout4(b *testing.B) { benchPublish(b, 4) }

// BenchmarkPublishParallel is the receivers' shape: many goroutines
// publishing into one subscriber.
func BenchmarkPublishParallel(b *testing.B) {
	l := benchBus(b, 1)
	m := Message{Topic: "t", Key: "checkout", Value: []int{1, 2, 3}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if err := l.Publish(ctx, m); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkTryPublish retries on ErrFull, as a receiver's client would;
// full/op says how often the queue was found full.
func BenchmarkTryPublish(b *testing.B) {
	l := benchBus(b, 1)
	m := Message{Topic: "t", Key: "checkout", Value: []int{1, 2, 3}}
	full := 0
	b.ReportAllocs()
	for b.Loop() {
		for {
			err := l.TryPublish(m)
			if err == nil {
				break
			}
			if !errors.Is(err, ErrFull) {
				b.Fatal(err)
			}
			full++
			runtime.Gosched()
		}
	}
	b.ReportMetric(float64(full)/float64(b.N), "full/op")
}
