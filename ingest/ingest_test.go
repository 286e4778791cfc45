package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/golang/snappy"

	"github.com/vigilops/vigil/bus"
	"github.com/vigilops/vigil/telemetry"
)

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestReadBody(t *testing.T) {
	payload := []byte(strings.Repeat("hello ", 100))
	bomb := gz(bytes.Repeat([]byte{0}, 10<<20))
	tests := []struct {
		name     string
		body     []byte
		encoding string
		snappy   bool
		limits   Limits
		want     []byte
		status   int
	}{
		{"identity", payload, "", false, Limits{}, payload, 0},
		{"gzip", gz(payload), "gzip", false, Limits{}, payload, 0},
		{"snappy header", snappy.Encode(nil, payload), "snappy", false, Limits{}, payload, 0},
		{"snappy forced", snappy.Encode(nil, payload), "", true, Limits{}, payload, 0},
		{"too large sent", payload, "", false, Limits{MaxBodyBytes: 10}, nil, 413},
		{"gzip bomb", bomb, "gzip", false, Limits{MaxDecodedBytes: 1 << 20}, nil, 413},
		{"snappy bomb", snappy.Encode(nil, make([]byte, 2<<20)), "snappy", false, Limits{MaxDecodedBytes: 1 << 20}, nil, 413},
		{"bad gzip", []byte("not gzip"), "gzip", false, Limits{}, nil, 400},
		{"bad snappy", []byte{0xff, 0xff, 0xff}, "snappy", false, Limits{}, nil, 400},
		{"unknown encoding", payload, "br", false, Limits{}, nil, 415},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", bytes.NewReader(tc.body))
			if tc.encoding != "" {
				r.Header.Set("Content-Encoding", tc.encoding)
			}
			got, err := ReadBody(r, tc.limits, tc.snappy)
			if tc.status != 0 {
				var be *BodyError
				if !errors.As(err, &be) || be.Status != tc.status {
					t.Fatalf("err = %v, want status %d", err, tc.status)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("got %d bytes, %v", len(got), err)
			}
		})
	}
}

func TestWriteResult(t *testing.T) {
	w := httptest.NewRecorder()
	WriteResult(w, Result{Accepted: 3}, http.StatusNoContent)
	if w.Code != 204 {
		t.Fatalf("clean batch: %d", w.Code)
	}
	var res Result
	res.Accepted = 2
	for i := 0; i < MaxReportedRejections+50; i++ {
		res.Reject(i, "bad")
	}
	w = httptest.NewRecorder()
	WriteResult(w, res, http.StatusNoContent)
	var body resultBody
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if w.Code != 400 || body.Accepted != 2 || body.RejectedCount != MaxReportedRejections+50 || len(body.Rejected) != MaxReportedRejections {
		t.Fatalf("partial batch: %d %+v", w.Code, body)
	}
}

func TestWriteErrorBackpressure(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, errors.Join(errors.New("publish"), ErrBackpressure), 500)
	if w.Code != 429 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("got %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
}

func TestBusSinkBackpressure(t *testing.T) {
	b := bus.NewLocal(bus.DefaultLocalOptions())
	defer b.Close(context.Background())
	release := make(chan struct{})
	var mu sync.Mutex
	var got []telemetry.LogRecord
	_, err := b.Subscribe(bus.TopicLogs, bus.SubscribeOptions{Name: "slow", QueueSize: 1}, bus.Handle(func(_ context.Context, _ string, rs []telemetry.LogRecord) error {
		<-release
		mu.Lock()
		got = append(got, rs...)
		mu.Unlock()
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	s := NewBusSink(b, false)
	rec := []telemetry.LogRecord{{Service: "a", Raw: "x"}, {Service: "b", Raw: "y"}}
	// One in the handler, one queued, then full.
	var sent int
	for i := 0; i < 5; i++ {
		err := s.Logs(context.Background(), rec)
		if errors.Is(err, ErrBackpressure) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sent++
	}
	if sent < 1 || sent > 2 {
		t.Fatalf("sent %d batches before backpressure, want 1 or 2", sent)
	}
	close(release)
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2*sent {
		t.Fatalf("delivered %d records, want %d: a refused batch must not be partly delivered", len(got), 2*sent)
	}
}

func TestAuth(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })
	tests := []struct {
		name   string
		auth   Auth
		header func(r *http.Request)
		want   int
	}{
		{"open", Auth{}, func(*http.Request) {}, 204},
		{"bearer ok", Auth{BearerToken: "s3cret"}, func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret") }, 204},
		{"bearer wrong", Auth{BearerToken: "s3cret"}, func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, 401},
		{"bearer missing", Auth{BearerToken: "s3cret"}, func(*http.Request) {}, 401},
		{"basic ok", Auth{BasicUsername: "prom", BasicPassword: "pw"}, func(r *http.Request) { r.SetBasicAuth("prom", "pw") }, 204},
		{"basic wrong password", Auth{BasicUsername: "prom", BasicPassword: "pw"}, func(r *http.Request) { r.SetBasicAuth("prom", "px") }, 401},
		{"basic when only bearer", Auth{BearerToken: "pw"}, func(r *http.Request) { r.SetBasicAuth("x", "pw") }, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", nil)
			tc.header(r)
			w := httptest.NewRecorder()
			tc.auth.Wrap(ok).ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("got %d, want %d", w.Code, tc.want)
			}
			if w.Code == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Fatal("401 without a challenge")
			}
		})
	}
}
