package promwrite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// now is the receiver clock in tests; sample timestamps sit just before it.
var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

var nowMs = now.UnixMilli()

// capture is a Sink that records sample batches.
type capture struct {
	mu      sync.Mutex
	batches [][]telemetry.Sample
	err     error
}

func (c *capture) sink() ingest.Sink {
	return ingest.SinkFuncs{SamplesFunc: func(_ context.Context, s []telemetry.Sample) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.err != nil {
			return c.err
		}
		c.batches = append(c.batches, s)
		return nil
	}}
}

func (c *capture) samples() []telemetry.Sample {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []telemetry.Sample
	for _, b := range c.batches {
		out = append(out, b...)
	}
	return out
}

func newTestReceiver(t testing.TB, c *capture, mod func(*Options)) (*Receiver, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts := DefaultOptions()
	opts.Sink = c.sink()
	opts.Now = func() time.Time { return now }
	opts.Registerer = reg
	if mod != nil {
		mod(&opts)
	}
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r, reg
}

func lbls(nv ...string) []prompb.Label {
	out := make([]prompb.Label, 0, len(nv)/2)
	for i := 0; i < len(nv); i += 2 {
		out = append(out, prompb.Label{Name: nv[i], Value: nv[i+1]})
	}
	return out
}

func marshalV1(t testing.TB, req *prompb.WriteRequest) []byte {
	t.Helper()
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// post sends body snappy-compressed with Prometheus' remote write 1.0
// headers unless header overrides them.
func post(h http.Handler, raw []byte, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", Path, bytes.NewReader(snappy.Encode(nil, raw)))
	r.Header.Set("Content-Encoding", "snappy")
	r.Header.Set("Content-Type", "application/x-protobuf")
	r.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// counterValue reads a counter or gauge.
func counterValue(c prometheus.Collector) float64 {
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		panic(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// gatherCount returns the number of series of the named metric in reg.
func gatherCount(reg *prometheus.Registry, name string) (int, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric()), nil
		}
	}
	return 0, nil
}

type answer struct {
	Accepted      int                `json:"accepted"`
	RejectedCount int                `json:"rejected_count"`
	Rejected      []ingest.Rejection `json:"rejected"`
	Error         string             `json:"error"`
}

func decodeAnswer(t *testing.T, w *httptest.ResponseRecorder) answer {
	t.Helper()
	var a answer
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		t.Fatalf("answer %q: %v", w.Body.String(), err)
	}
	return a
}

func TestRoundTripV1(t *testing.T) {
	var c capture
	r, reg := newTestReceiver(t, &c, nil)
	req := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		{
			Labels:  lbls("__name__", "http_requests_total", "code", "200", "instance", "10.0.0.1:8080", "job", "api"),
			Samples: []prompb.Sample{{Value: 1, Timestamp: nowMs - 30000}, {Value: 2.5, Timestamp: nowMs - 15000}},
		},
		{
			Labels:  lbls("__name__", "up", "instance", "db:9100", "job", "node", "service", "postgres"),
			Samples: []prompb.Sample{{Value: 1, Timestamp: nowMs}},
		},
		{
			// An empty value is absent, as in Prometheus.
			Labels:  lbls("__name__", "temp", "room", "", "zone", "b"),
			Samples: []prompb.Sample{{Value: math.Float64frombits(0x7ff0000000000002), Timestamp: nowMs}}, // Prometheus' stale marker
		},
	}}
	w := post(r.Routes()[0].Handler, marshalV1(t, req))
	if w.Code != http.StatusNoContent {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	got := c.samples()
	want := []struct {
		labels string
		t      int64
		v      float64
	}{
		{`{__name__="http_requests_total", code="200", instance="10.0.0.1:8080", job="api", service="api"}`, nowMs - 30000, 1},
		{`{__name__="http_requests_total", code="200", instance="10.0.0.1:8080", job="api", service="api"}`, nowMs - 15000, 2.5},
		{`{__name__="up", instance="db:9100", job="node", service="postgres"}`, nowMs, 1},
		{`{__name__="temp", zone="b"}`, nowMs, math.NaN()},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d samples, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Labels.String() != w.labels || g.T != w.t || !(g.V == w.v || math.IsNaN(g.V) && math.IsNaN(w.v)) {
			t.Errorf("sample %d: got %s %d %v, want %s %d %v", i, g.Labels, g.T, g.V, w.labels, w.t, w.v)
		}
		if !g.Labels.Valid() {
			t.Errorf("sample %d: labels not sorted: %s", i, g.Labels)
		}
	}
	if math.Float64bits(got[3].V) != 0x7ff0000000000002 {
		t.Errorf("stale marker bits changed: %x", math.Float64bits(got[3].V))
	}
	if n := counterValue(r.metrics.recvSamples); n != 4 {
		t.Errorf("received samples metric = %v", n)
	}
	if n, err := gatherCount(reg, "vigil_ingest_promwrite_requests_total"); err != nil || n != 1 {
		t.Errorf("requests metric: %d series, %v", n, err)
	}

	// The same request again is served from the series cache, with the
	// same result.
	c.batches = nil
	if w := post(r.Routes()[0].Handler, marshalV1(t, req)); w.Code != http.StatusNoContent {
		t.Fatalf("second request: %d", w.Code)
	}
	if g := c.samples(); len(g) != 4 || g[0].Labels.String() != want[0].labels {
		t.Fatalf("second request: %v", g)
	}
	if hits := counterValue(r.metrics.cacheHits); hits != 3 {
		t.Errorf("cache hits = %v, want 3", hits)
	}
}

func TestRoundTripV2(t *testing.T) {
	var c capture
	r, _ := newTestReceiver(t, &c, nil)
	req := &writev2.Request{
		Symbols: []string{"", "__name__", "cpu_seconds_total", "job", "worker", "mode", "idle", "up"},
		Timeseries: []writev2.TimeSeries{
			{LabelsRefs: []uint32{1, 2, 3, 4, 5, 6}, Samples: []writev2.Sample{{Value: 10, Timestamp: nowMs - 1000}, {Value: 11, Timestamp: nowMs}}},
			{LabelsRefs: []uint32{1, 7, 3, 4}, Samples: []writev2.Sample{{Value: 1, Timestamp: nowMs, StartTimestamp: nowMs - 60000}}},
			{LabelsRefs: []uint32{1, 7, 3, 4}, Histograms: []writev2.Histogram{{Timestamp: nowMs}}},
		},
	}
	raw, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	w := post(r.Routes()[0].Handler, raw, "Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request",
		"X-Prometheus-Remote-Write-Version", "2.0.0")
	if w.Code != http.StatusNoContent {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if h := w.Header().Get(headerSamplesWritten); h != "3" {
		t.Errorf("%s = %q, want 3", headerSamplesWritten, h)
	}
	if h := w.Header().Get(headerHistogramsWritten); h != "0" {
		t.Errorf("%s = %q, want 0", headerHistogramsWritten, h)
	}
	got := c.samples()
	if len(got) != 3 {
		t.Fatalf("got %d samples: %v", len(got), got)
	}
	if s := got[0].Labels.String(); s != `{__name__="cpu_seconds_total", job="worker", mode="idle", service="worker"}` || got[1].V != 11 {
		t.Errorf("got %s %v", s, got[1])
	}
	if s := got[2].Labels.String(); s != `{__name__="up", job="worker", service="worker"}` {
		t.Errorf("got %s", s)
	}
	if n := counterValue(r.metrics.skipHistograms); n != 1 {
		t.Errorf("skipped histograms = %v", n)
	}
}

func TestPartialRejection(t *testing.T) {
	tests := []struct {
		name    string
		legacy  bool
		series  prompb.TimeSeries
		reason  string // metric reason; "" means accepted
		message string // substring of the listed reason
	}{
		{"good", false, prompb.TimeSeries{Labels: lbls("__name__", "ok", "job", "a"), Samples: []prompb.Sample{{Value: 1, Timestamp: nowMs}}}, "", ""},
		{"no name", false, prompb.TimeSeries{Labels: lbls("job", "a"), Samples: []prompb.Sample{{Value: 1, Timestamp: nowMs}}}, reasonMissingName, "no __name__"},
		{"empty name value", false, prompb.TimeSeries{Labels: lbls("__name__", "", "job", "a"), Samples: []prompb.Sample{{Value: 1, Timestamp: nowMs}}}, reasonMissingName, "no __name__"},
		{"empty label name", false, prompb.TimeSeries{Labels: lbls("", "x", "__name__", "m"), Samples: []prompb.Sample{{Value: 1, Timestamp: nowMs}}}, reasonInvalidName, "invalid label name"},
		{"invalid utf8 name", false, prompb.TimeSeries{Labels: lbls("__name__", "m", "b\xffad", "x"), Samples: []prompb.Sample{{Value: 1, Timestamp: nowMs}}}, reasonInvalidName, "invalid label name"},
		{"utf8 name ok", false, prompb.TimeSeries{Labels: lbls("__name__", "m", "dotted.name", "x"), Samples: []prompb.Sample{{Value: 1, Timestamp: nowMs}}}, "", ""},
		{"legacy dotted name", true, prompb.TimeSeries{Labels: lbls("__name__", "m", "dotted.name", "x"), Samples: []prompb.Sample{{Value: 1, Timestamp: nowMs}}}, reasonInvalidName, `"dotted.name"`},
		{"legacy metric name", true, prompb.TimeSeries{Labels: lbls("__name__", "1m"), Samples: []prompb.Sample{{Value: 1, Timestamp: nowMs}}}, reasonInvalidName, "invalid metric name"},
		{"invalid value", false, prompb.TimeSeries{Labels: lbls("__name__", "m", "a", "\xc3\x28"), Samples: []prompb.Sample{{Value: 1, Timestamp: nowMs}}}, reasonInvalidValue, "not valid UTF-8"},
		{"unsorted", false, prompb.TimeSeries{Labels: lbls("__name__", "m", "b", "1", "a", "2"), Samples: []prompb.Sample{{Value: 1, Timestamp: nowMs}}}, reasonUnsorted, "not sorted"},
		{"duplicate", false, prompb.TimeSeries{Labels: lbls("__name__", "m", "a", "1", "a", "2"), Samples: []prompb.Sample{{Value: 1, Timestamp: nowMs}}}, reasonDuplicate, `duplicate label "a"`},
		{"future", false, prompb.TimeSeries{Labels: lbls("__name__", "m"), Samples: []prompb.Sample{{Value: 1, Timestamp: nowMs}, {Value: 2, Timestamp: nowMs + int64(time.Hour/time.Millisecond)}}}, reasonFutureTimestamp, "1 of 2 samples"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c capture
			r, _ := newTestReceiver(t, &c, func(o *Options) { o.LegacyNameValidation = tc.legacy })
			good := prompb.TimeSeries{Labels: lbls("__name__", "before"), Samples: []prompb.Sample{{Value: 7, Timestamp: nowMs}}}
			after := prompb.TimeSeries{Labels: lbls("__name__", "after"), Samples: []prompb.Sample{{Value: 8, Timestamp: nowMs}}}
			req := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{good, tc.series, after}}
			w := post(r.Routes()[0].Handler, marshalV1(t, req))
			names := map[string]bool{}
			for _, s := range c.samples() {
				names[s.Labels.Get("__name__")] = true
			}
			if !names["before"] || !names["after"] {
				t.Fatalf("good series around the bad one lost: %v", names)
			}
			if tc.reason == "" {
				if w.Code != http.StatusNoContent {
					t.Fatalf("status %d: %s", w.Code, w.Body)
				}
				return
			}
			if w.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", w.Code)
			}
			a := decodeAnswer(t, w)
			if a.Accepted != 2 || a.RejectedCount != 1 || len(a.Rejected) != 1 || a.Rejected[0].Index != 1 {
				t.Fatalf("answer %+v", a)
			}
			if !strings.Contains(a.Rejected[0].Reason, tc.message) {
				t.Errorf("reason %q does not mention %q", a.Rejected[0].Reason, tc.message)
			}
			if n := counterValue(r.metrics.rejected[reasonOf(tc.reason)]); n != 1 {
				t.Errorf("rejected{reason=%s} = %v", tc.reason, n)
			}
		})
	}
}

func TestWholeRequestErrors(t *testing.T) {
	good := marshalV1(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{Labels: lbls("__name__", "m"), Samples: []prompb.Sample{{Value: 1, Timestamp: nowMs}}}}})
	send := func(body []byte, header ...string) func(http.Handler) *httptest.ResponseRecorder {
		return func(h http.Handler) *httptest.ResponseRecorder {
			r := httptest.NewRequest("POST", Path, bytes.NewReader(body))
			for i := 0; i+1 < len(header); i += 2 {
				r.Header.Set(header[i], header[i+1])
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w
		}
	}
	tests := []struct {
		name    string
		limits  ingest.Limits
		do      func(http.Handler) *httptest.ResponseRecorder
		status  int
		message string
	}{
		{"snappy garbage", ingest.Limits{}, send([]byte{0xff, 0xff, 0xff, 0xff}), 400, "snappy"},
		{"not snappy at all", ingest.Limits{}, send(good, "Content-Type", "application/x-protobuf"), 400, "snappy"},
		{"body too large", ingest.Limits{MaxBodyBytes: 8}, send(snappy.Encode(nil, good)), 413, "too large"},
		{"decodes too large", ingest.Limits{MaxDecodedBytes: 1024}, send(snappy.Encode(nil, make([]byte, 4096))), 413, "too large"},
		{"truncated protobuf", ingest.Limits{}, send(snappy.Encode(nil, good[:len(good)-3])), 400, "malformed protobuf"},
		{"wrong proto", ingest.Limits{}, send(snappy.Encode(nil, good), "Content-Type", "application/x-protobuf;proto=io.prometheus.write.v3.Request"), 415, "io.prometheus.write.v2.Request"},
		{"json", ingest.Limits{}, send([]byte(`{}`), "Content-Type", "application/json"), 415, "application/x-protobuf"},
		{"gzip encoding", ingest.Limits{}, send([]byte("x"), "Content-Encoding", "br"), 415, "not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c capture
			r, _ := newTestReceiver(t, &c, func(o *Options) { o.Limits = tc.limits })
			w := tc.do(r.Routes()[0].Handler)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if !strings.Contains(w.Body.String(), tc.message) {
				t.Errorf("body %q does not mention %q", w.Body, tc.message)
			}
			if len(c.samples()) != 0 {
				t.Errorf("delivered %d samples from a refused request", len(c.samples()))
			}
		})
	}
}

func TestSinkFailures(t *testing.T) {
	req := marshalV1(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{Labels: lbls("__name__", "m"), Samples: []prompb.Sample{{Value: 1, Timestamp: nowMs}}}}})
	tests := []struct {
		name       string
		err        error
		status     int
		retryAfter bool
	}{
		{"backpressure", ingest.ErrBackpressure, 429, true},
		{"wrapped backpressure", errors.Join(errors.New("publish telemetry.samples"), ingest.ErrBackpressure), 429, true},
		{"other", errors.New("bus closed"), 500, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := capture{err: tc.err}
			r, reg := newTestReceiver(t, &c, nil)
			w := post(r.Routes()[0].Handler, req)
			if w.Code != tc.status || (w.Header().Get("Retry-After") != "") != tc.retryAfter {
				t.Fatalf("status %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
			}
			n, err := gatherCount(reg, "vigil_ingest_promwrite_requests_total")
			if err != nil || n != 1 {
				t.Fatalf("requests metric: %d, %v", n, err)
			}
		})
	}
}

func TestBatching(t *testing.T) {
	var c capture
	r, _ := newTestReceiver(t, &c, func(o *Options) { o.BatchSize = 3 })
	var ts []prompb.TimeSeries
	for i := range 10 {
		ts = append(ts, prompb.TimeSeries{Labels: lbls("__name__", "m", "i", string(rune('a'+i))), Samples: []prompb.Sample{{Value: float64(i), Timestamp: nowMs}}})
	}
	if w := post(r.Routes()[0].Handler, marshalV1(t, &prompb.WriteRequest{Timeseries: ts})); w.Code != 204 {
		t.Fatalf("status %d", w.Code)
	}
	if len(c.batches) != 4 || len(c.batches[3]) != 1 {
		t.Fatalf("batches %d (last %d), want 4 with 1 left over", len(c.batches), len(c.batches[len(c.batches)-1]))
	}
	for i, s := range c.samples() {
		if s.V != float64(i) {
			t.Fatalf("order lost at %d: %v", i, s)
		}
	}
}

func TestAuth(t *testing.T) {
	var c capture
	r, _ := newTestReceiver(t, &c, func(o *Options) { o.Auth = ingest.Auth{BearerToken: "s3cret"} })
	req := marshalV1(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{Labels: lbls("__name__", "m"), Samples: []prompb.Sample{{Value: 1, Timestamp: nowMs}}}}})
	if w := post(r.Routes()[0].Handler, req); w.Code != 401 {
		t.Fatalf("without token: %d", w.Code)
	}
	if w := post(r.Routes()[0].Handler, req, "Authorization", "Bearer s3cret"); w.Code != 204 {
		t.Fatalf("with token: %d", w.Code)
	}
	if got := r.Routes()[0].Pattern; got != "POST /api/v1/write" {
		t.Fatalf("pattern %q", got)
	}
}

func TestSkippedPayload(t *testing.T) {
	var c capture
	r, _ := newTestReceiver(t, &c, nil)
	req := &prompb.WriteRequest{
		Timeseries: []prompb.TimeSeries{{
			Labels:     lbls("__name__", "latency_seconds"),
			Histograms: []prompb.Histogram{{Timestamp: nowMs, Sum: 3}},
			Exemplars:  []prompb.Exemplar{{Labels: lbls("trace_id", "abc"), Value: 1, Timestamp: nowMs}},
			Samples:    []prompb.Sample{{Value: 4, Timestamp: nowMs}},
		}},
		Metadata: []prompb.MetricMetadata{{MetricFamilyName: "latency_seconds", Help: "h"}},
	}
	if w := post(r.Routes()[0].Handler, marshalV1(t, req)); w.Code != 204 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if s := c.samples(); len(s) != 1 || s[0].V != 4 {
		t.Fatalf("samples %v", s)
	}
	for name, m := range map[string]prometheus.Counter{"histogram": r.metrics.skipHistograms, "exemplar": r.metrics.skipExemplars, "metadata": r.metrics.skipMetadata} {
		if n := counterValue(m); n != 1 {
			t.Errorf("skipped %s = %v", name, n)
		}
	}
}

func TestEmptyRequest(t *testing.T) {
	var c capture
	r, _ := newTestReceiver(t, &c, nil)
	if w := post(r.Routes()[0].Handler, nil); w.Code != 204 {
		t.Fatalf("status %d", w.Code)
	}
	if len(c.batches) != 0 {
		t.Fatal("empty request delivered a batch")
	}
}
