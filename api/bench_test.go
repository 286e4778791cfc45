package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// BenchmarkAuthCached measures authentication of a cached token: the cost
// every protected request pays.
func BenchmarkAuthCached(b *testing.B) {
	env := newTestEnv(b, nil)
	req := httptest.NewRequest("GET", "/api/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+env.secrets[store.RoleViewer])
	if _, err := env.s.auth.authorize(req, store.RoleViewer); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := env.s.auth.authorize(req, store.RoleViewer); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthCachedParallel is the same under contention on the cache lock.
func BenchmarkAuthCachedParallel(b *testing.B) {
	env := newTestEnv(b, nil)
	secret := env.secrets[store.RoleViewer]
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", "/api/v1/status", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		for pb.Next() {
			if _, err := env.s.auth.authorize(req, store.RoleViewer); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkStatusRequest is a whole protected GET through the handler:
// mux, auth, metrics, JSON.
func BenchmarkStatusRequest(b *testing.B) {
	env := newTestEnv(b, nil)
	h := env.s.Handler()
	req := httptest.NewRequest("GET", "/api/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+env.secrets[store.RoleViewer])
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkPostEvents is the events POST handler end to end over an
// in-memory store, by batch size.
func BenchmarkPostEvents(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run("events="+strconv.Itoa(n), func(b *testing.B) {
			env := newTestEnv(b, nil)
			env.events.AppendEventsFunc = func(_ context.Context, _ []telemetry.Event) error { return nil }
			h := env.s.Handler()
			ev := `{"kind":"deploy","service":"checkout","summary":"checkout v1.4.2 rolled out","time":"2024-05-01T11:00:00Z","labels":{"env":"prod","team":"shop"}}`
			body := ev
			if n > 1 {
				body = "[" + strings.TrimSuffix(strings.Repeat(ev+",", n), ",") + "]"
			}
			auth := "Bearer " + env.secrets[store.RoleOperator]
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("POST", "/api/v1/events", strings.NewReader(body))
				req.Header.Set("Authorization", auth)
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code, rec.Body)
				}
			}
			b.ReportMetric(float64(n), "events/op")
		})
	}
}
