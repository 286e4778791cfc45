package loki

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// recorder is a Sink that keeps what it is given; err, when set, is
// returned instead.
type recorder struct {
	mu    sync.Mutex
	recs  []telemetry.LogRecord
	calls int
	err   error
}

func (r *recorder) sink() ingest.Sink {
	return ingest.SinkFuncs{LogsFunc: func(_ context.Context, recs []telemetry.LogRecord) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls++
		if r.err != nil {
			return r.err
		}
		r.recs = append(r.recs, recs...)
		return nil
	}}
}

func (r *recorder) records() []telemetry.LogRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]telemetry.LogRecord(nil), r.recs...)
}

func newReceiver(t testing.TB, o Options) *Receiver {
	t.Helper()
	if o.Sink == nil {
		o.Sink = ingest.SinkFuncs{}
	}
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// handler returns a mux serving the receiver's routes.
func handler(r *Receiver) http.Handler {
	mux := http.NewServeMux()
	for _, rt := range r.Routes() {
		mux.Handle(rt.Pattern, rt.Handler)
	}
	return mux
}

type answer struct {
	code int
	hdr  http.Header
	body struct {
		Accepted      int                `json:"accepted"`
		RejectedCount int                `json:"rejected_count"`
		Rejected      []ingest.Rejection `json:"rejected"`
		Error         string             `json:"error"`
	}
}

func post(t testing.TB, h http.Handler, path, contentType, encoding string, body []byte) answer {
	t.Helper()
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	a := answer{code: w.Code, hdr: w.Header()}
	if w.Body.Len() > 0 {
		if err := json.Unmarshal(w.Body.Bytes(), &a.body); err != nil {
			t.Fatalf("answer %d is not JSON: %q", w.Code, w.Body.String())
		}
	}
	return a
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// jsonPush builds a JSON push body with encoding/json, as Vector and
// Fluent Bit would send it.
type jsonPush struct {
	Streams []jsonStream `json:"streams"`
}

type jsonStream struct {
	Stream map[string]string `json:"stream"`
	Values [][]any           `json:"values"`
}

func (p jsonPush) bytes() []byte {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err)
	}
	return b
}

func ns(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }

// protoPush encodes streams as Promtail does: protobuf, snappy block format.
func protoPush(streams ...Stream) []byte {
	return snappy.Encode(nil, AppendPushRequest(nil, streams))
}

var t0 = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

// benchLine is a realistic log line of about 150 bytes.
func benchLine(i int) string {
	return fmt.Sprintf(`level=info ts=2024-05-06T07:08:09.%06dZ caller=handler.go:142 msg="request served" method=GET path=/api/v1/items/%d status=200 duration=%dms`, i%1000000, i, i%997)
}

// benchStreams builds nStreams streams of nLines lines each.
func benchStreams(nStreams, nLines int) []Stream {
	streams := make([]Stream, nStreams)
	for s := range streams {
		ls := telemetry.LabelsFromStrings("job", "default/api", "namespace", "default", "pod", fmt.Sprintf("api-%d", s), "container", "api", "service_name", "api")
		streams[s].Labels = ls.String()
		streams[s].Entries = make([]Entry, nLines)
		for i := range streams[s].Entries {
			streams[s].Entries[i] = Entry{Time: t0.Add(time.Duration(s*nLines+i) * time.Millisecond), Line: benchLine(s*nLines + i)}
		}
	}
	return streams
}

func benchJSON(streams []Stream) []byte {
	var p jsonPush
	for _, s := range streams {
		ls, err := ParseLabels(s.Labels)
		if err != nil {
			panic(err)
		}
		js := jsonStream{Stream: ls.Map()}
		for _, e := range s.Entries {
			js.Values = append(js.Values, []any{ns(e.Time), e.Line})
		}
		p.Streams = append(p.Streams, js)
	}
	return p.bytes()
}

func drain(r io.Reader) { io.Copy(io.Discard, r) }

func newRequest(path string, body []byte) *http.Request {
	return httptest.NewRequest("POST", path, bytes.NewReader(body))
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// counterValue reads a counter without prometheus/testutil, whose
// dependencies the module does not carry.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
