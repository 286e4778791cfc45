package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilops/vigil/notify"
)

// TestReceiverOverWebhookOnceAcrossRestart drives the full pipeline: the
// endpoint answers 503 three times (once with Retry-After), then accepts;
// the receiver delivers exactly once, and after a restart over the same
// persisted notification log an identical notification is not re-sent.
func TestReceiverOverWebhookOnceAcrossRestart(t *testing.T) {
	var requests, delivered atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := requests.Add(1)
		if n <= 3 {
			if n == 2 {
				w.Header().Set("Retry-After", "0")
			}
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var p map[string]any
		if err := json.Unmarshal(b, &p); err != nil || p["version"] != "4" {
			t.Errorf("bad payload %s", b)
		}
		delivered.Add(1)
	}))
	defer srv.Close()
	state := &notify.MemStateStore{}
	build := func() *notify.Receiver {
		wo := DefaultOptions()
		wo.URL = srv.URL
		wh, err := New(wo)
		if err != nil {
			t.Fatal(err)
		}
		lo := notify.DefaultLogOptions()
		lo.Store = state
		log, err := notify.NewLog(lo)
		if err != nil {
			t.Fatal(err)
		}
		ro := notify.DefaultReceiverOptions()
		ro.Log = log
		ro.Retry.InitialBackoff = time.Millisecond
		ro.Retry.MaxBackoff = 5 * time.Millisecond
		r, err := notify.NewReceiver("hooks", []notify.Notifier{wh}, ro)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	ctx := context.Background()
	r := build()
	if err := r.Notify(ctx, message(2)); err != nil {
		t.Fatal(err)
	}
	if requests.Load() != 4 || delivered.Load() != 1 {
		t.Fatalf("requests %d delivered %d; want 4 and 1", requests.Load(), delivered.Load())
	}
	r = build() // restart
	m := message(2)
	m.Now = m.Now.Add(5 * time.Minute)
	if err := r.Notify(ctx, m); err != nil {
		t.Fatal(err)
	}
	if requests.Load() != 4 || delivered.Load() != 1 {
		t.Fatalf("after restart requests %d delivered %d; want 4 and 1", requests.Load(), delivered.Load())
	}
}
