package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilops/vigil/bus"
	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/ingest/loki"
	"github.com/vigilops/vigil/telemetry"
)

// TestLoadUnderBackpressure pushes a bounded load through a real HTTP
// receiver (Loki push over loopback) into a bus whose only consumer is slow
// and whose queue is tiny, so most requests first get 429. Senders retry as
// Promtail does. Every line sent must arrive exactly once.
func TestLoadUnderBackpressure(t *testing.T) {
	const (
		senders        = 8
		batchesEach    = 40
		linesPerBatch  = 250
		wantLines      = senders * batchesEach * linesPerBatch
		consumerPauses = 200 * time.Microsecond
	)
	b := bus.NewLocal(bus.DefaultLocalOptions())
	var (
		mu   sync.Mutex
		seen = make(map[string]int, wantLines)
	)
	_, err := b.Subscribe(bus.TopicLogs, bus.SubscribeOptions{Name: "slow", QueueSize: 2}, bus.Handle(func(_ context.Context, _ string, recs []telemetry.LogRecord) error {
		time.Sleep(consumerPauses)
		mu.Lock()
		for _, r := range recs {
			seen[r.Raw]++
		}
		mu.Unlock()
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	o := loki.DefaultOptions()
	o.Sink, o.Registerer = ingest.NewBusSink(b, false), nil
	rcv, err := loki.New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, rt := range rcv.Routes() {
		mux.Handle(rt.Pattern, rt.Handler)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	var throttled, sentLines atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(2 * time.Minute)
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			for bt := 0; bt < batchesEach; bt++ {
				var body bytes.Buffer
				body.WriteString(`{"streams":[{"stream":{"service":"load"},"values":[`)
				for l := 0; l < linesPerBatch; l++ {
					if l > 0 {
						body.WriteByte(',')
					}
					fmt.Fprintf(&body, `["%d","sender=%d batch=%d line=%d"]`, time.Unix(1700000000, 0).UnixNano()+int64(l), s, bt, l)
				}
				body.WriteString(`]}]}`)
				payload := body.Bytes()
				for {
					if time.Now().After(deadline) {
						t.Errorf("sender %d gave up: load test took over 2 minutes", s)
						return
					}
					resp, err := http.Post(srv.URL+loki.PushPath, "application/json", bytes.NewReader(payload))
					if err != nil {
						t.Errorf("post: %v", err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode == http.StatusNoContent {
						sentLines.Add(linesPerBatch)
						break
					}
					if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
						t.Errorf("status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
						return
					}
					throttled.Add(1)
					// Retry-After says seconds; back off briefly instead so
					// the test stays fast while still exercising the path.
					time.Sleep(time.Millisecond)
				}
			}
		}(s)
	}
	wg.Wait()
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if int(sentLines.Load()) != wantLines || len(seen) != wantLines {
		t.Fatalf("sent %d lines, received %d distinct, want %d", sentLines.Load(), len(seen), wantLines)
	}
	for line, n := range seen {
		if n != 1 {
			t.Fatalf("line %q received %d times", line, n)
		}
	}
	if throttled.Load() == 0 {
		t.Fatal("no request was throttled: the test did not exercise backpressure")
	}
	t.Logf("sent = received = %d lines; %d requests answered 429 and retried", wantLines, throttled.Load())
}
