package ndjson

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// recorder is a Sink that keeps what it is given. fail, when set, is
// consulted before each call and may refuse it.
type recorder struct {
	mu      sync.Mutex
	batches [][]telemetry.LogRecord
	calls   int
	fail    func(call int) error
}

func (r *recorder) Logs(_ context.Context, recs []telemetry.LogRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.fail != nil {
		if err := r.fail(r.calls); err != nil {
			return err
		}
	}
	r.batches = append(r.batches, recs)
	return nil
}

func (r *recorder) sink() ingest.Sink { return ingest.SinkFuncs{LogsFunc: r.Logs} }

func (r *recorder) records() []telemetry.LogRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []telemetry.LogRecord
	for _, b := range r.batches {
		out = append(out, b...)
	}
	return out
}

func raws(recs []telemetry.LogRecord) []string {
	out := []string{}
	for _, r := range recs {
		out = append(out, r.Raw)
	}
	return out
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

type answer struct {
	code int
	hdr  http.Header
	body struct {
		Accepted      int                `json:"accepted"`
		RejectedCount int                `json:"rejected_count"`
		Rejected      []ingest.Rejection `json:"rejected"`
	}
}

func post(t *testing.T, h http.Handler, contentType, encoding string, body []byte, header ...string) answer {
	t.Helper()
	req := httptest.NewRequest("POST", Path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	a := answer{code: w.Code, hdr: w.Header()}
	if w.Body.Len() > 0 {
		if err := json.Unmarshal(w.Body.Bytes(), &a.body); err != nil {
			t.Fatalf("answer %d: %q", w.Code, w.Body)
		}
	}
	return a
}

func handler(t *testing.T, o Options) (http.Handler, *Receiver) {
	t.Helper()
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, rt := range r.Routes() {
		mux.Handle(rt.Pattern, rt.Handler)
	}
	return mux, r
}

func TestReceiver(t *testing.T) {
	long := `{"msg":"` + strings.Repeat("x", 200) + `"}`
	body := "{\"msg\":\"one\",\"service\":\"api\"}\n" +
		"\n" + // 2: blank, skipped
		"plain text line\r\n" + // 3
		long + "\n" + // 4: too long
		"   \t\n" + // 5: blank
		"{\"msg\":\"broken\"\n" + // 6: not JSON, kept plain
		long + "\n" + // 7: too long
		"{\"msg\":\"last\"}" // 8: no final newline
	tests := []struct {
		name        string
		contentType string
		encoding    string
		body        []byte
		opts        Options
		code        int
		raws        []string
		rejected    []ingest.Rejection
	}{
		{
			name: "clean", contentType: "application/x-ndjson", body: []byte("{\"msg\":\"a\"}\n{\"msg\":\"b\"}\n"),
			code: 204, raws: []string{`{"msg":"a"}`, `{"msg":"b"}`},
		},
		{
			name: "json lines, gzip", contentType: "application/json-lines; charset=utf-8", encoding: "gzip",
			body: gzipBytes([]byte("{\"msg\":\"a\"}\n")), code: 204, raws: []string{`{"msg":"a"}`},
		},
		{
			name: "curl's default content type", contentType: "application/x-www-form-urlencoded",
			body: []byte("x\n"), code: 204, raws: []string{"x"},
		},
		{name: "empty body", contentType: "application/x-ndjson", code: 204, raws: []string{}},
		{
			name: "bad lines rejected by number, the rest kept", contentType: "application/x-ndjson",
			body: []byte(body), opts: Options{Limits: ingest.Limits{MaxLineBytes: 100}},
			code: 400,
			raws: []string{`{"msg":"one","service":"api"}`, "plain text line", `{"msg":"broken"`, `{"msg":"last"}`},
			rejected: []ingest.Rejection{
				{Index: 4, Reason: "line is 210 bytes, limit 100"},
				{Index: 7, Reason: "line is 210 bytes, limit 100"},
			},
		},
		{
			name: "lines past MaxLines", contentType: "application/x-ndjson",
			body: []byte("a\n\nb\nc\nd\n"), opts: Options{MaxLines: 2},
			code: 400, raws: []string{"a", "b"},
			rejected: []ingest.Rejection{
				{Index: 4, Reason: "request has more than 2 lines"},
				{Index: 5, Reason: "request has more than 2 lines"},
			},
		},
		{name: "protobuf is not ndjson", contentType: "application/x-protobuf", body: []byte("x"), code: 415, raws: []string{}},
		{name: "body too large", body: []byte("xxxxxxxxxxxx"), opts: Options{Limits: ingest.Limits{MaxBodyBytes: 4}}, code: 413, raws: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rec recorder
			tc.opts.Sink = rec.sink()
			tc.opts.Now = func() time.Time { return now }
			h, _ := handler(t, tc.opts)
			a := post(t, h, tc.contentType, tc.encoding, tc.body)
			if a.code != tc.code {
				t.Fatalf("status %d, want %d", a.code, tc.code)
			}
			if got := raws(rec.records()); !reflect.DeepEqual(got, tc.raws) {
				t.Errorf("delivered %q, want %q", got, tc.raws)
			}
			if rec.calls > 1 {
				t.Errorf("sink called %d times, want one call per request", rec.calls)
			}
			if !reflect.DeepEqual(a.body.Rejected, tc.rejected) {
				t.Errorf("rejected %+v, want %+v", a.body.Rejected, tc.rejected)
			}
			if tc.code == 400 && a.body.Accepted != len(tc.raws) {
				t.Errorf("accepted %d", a.body.Accepted)
			}
		})
	}
}

func TestReceiverRecords(t *testing.T) {
	var rec recorder
	labels := telemetry.LabelsFromStrings("source", "http")
	h, _ := handler(t, Options{Sink: rec.sink(), DefaultService: "unknown", Labels: labels, Now: func() time.Time { return now }})
	a := post(t, h, "", "", []byte(`{"ts":"2024-01-01T00:00:00Z","app":"web","message":"hello","user":{"id":7}}`+"\nplain\n"))
	if a.code != 204 {
		t.Fatalf("status %d", a.code)
	}
	got := rec.records()
	want := []telemetry.LogRecord{
		{Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Service: "web", Labels: labels, Raw: `{"ts":"2024-01-01T00:00:00Z","app":"web","message":"hello","user":{"id":7}}`,
			Format: "json", Message: "hello", Fields: map[string]string{"user.id": "7"}},
		{Time: now, Service: "unknown", Labels: labels, Raw: "plain"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestReceiverSinkErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code int
	}{
		{"backpressure", ingest.ErrBackpressure, 429},
		{"stopping", errors.New("bus: closed"), 503},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := recorder{fail: func(int) error { return tc.err }}
			h, r := handler(t, Options{Sink: rec.sink(), Registerer: prometheus.NewRegistry()})
			a := post(t, h, "application/x-ndjson", "", []byte("a\nb\n"))
			if a.code != tc.code {
				t.Fatalf("status %d, want %d", a.code, tc.code)
			}
			if tc.code == 429 {
				if a.hdr.Get("Retry-After") == "" {
					t.Error("no Retry-After")
				}
				if got := counterValue(r.m.backpressure); got != 2 {
					t.Errorf("backpressure counted %v lines", got)
				}
			}
		})
	}
}

func TestReceiverAuth(t *testing.T) {
	var rec recorder
	h, _ := handler(t, Options{Sink: rec.sink(), Auth: ingest.Auth{BasicUsername: "u", BasicPassword: "p"}})
	if a := post(t, h, "", "", []byte("x\n")); a.code != 401 {
		t.Fatalf("no credentials: %d", a.code)
	}
	if a := post(t, h, "", "", []byte("x\n"), "Authorization", "Basic dTpw"); a.code != 204 {
		t.Fatalf("with credentials: %d", a.code)
	}
}

func TestOptions(t *testing.T) {
	if _, err := New(Options{}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("no sink: %v", err)
	}
	unsorted := telemetry.Labels{{Name: "b", Value: "1"}, {Name: "a", Value: "2"}}
	if _, err := New(Options{Sink: ingest.SinkFuncs{}, Labels: unsorted}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("unsorted labels: %v", err)
	}
	if _, err := ReadStream(context.Background(), strings.NewReader(""), nil, StreamOptions{}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("stream without sink: %v", err)
	}
	if _, err := ReadStream(context.Background(), strings.NewReader(""), ingest.SinkFuncs{}, StreamOptions{RetryBackoff: time.Second, MaxRetryBackoff: time.Millisecond}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("backoff: %v", err)
	}
	reg := prometheus.NewRegistry()
	o := DefaultOptions()
	o.Sink, o.Registerer = ingest.SinkFuncs{}, reg
	r1, err1 := New(o)
	r2, err2 := New(o)
	if err1 != nil || err2 != nil || r1.m.received != r2.m.received || r1.Name() != "ndjson" {
		t.Fatal("receivers on one registry must share metrics", err1, err2)
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
