package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/vigilops/vigil/ingest"
)

// parseStatus decodes a google.rpc.Status body in either encoding.
func parseStatus(t *testing.T, enc encoding, body []byte) (int32, string) {
	t.Helper()
	if enc == encJSON {
		var st statusJSON
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatalf("status body %q: %v", body, err)
		}
		return st.Code, st.Message
	}
	var code int32
	var msg string
	for len(body) > 0 {
		num, typ, n := protowire.ConsumeTag(body)
		if n < 0 {
			t.Fatalf("status body: bad tag")
		}
		body = body[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(body)
			code, body = int32(v), body[n:]
		case num == 2 && typ == protowire.BytesType:
			v, n := protowire.ConsumeString(body)
			msg, body = v, body[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, body)
			if n < 0 {
				t.Fatalf("status body: bad field %d", num)
			}
			body = body[n:]
		}
	}
	return code, msg
}

// partial decodes an Export*ServiceResponse and returns its partial_success.
func partial(t *testing.T, path string, enc encoding, body []byte) (int64, string) {
	t.Helper()
	un := func(proto, js func([]byte) error) {
		f := proto
		if enc == encJSON {
			f = js
		}
		if err := f(body); err != nil {
			t.Fatalf("response %q: %v", body, err)
		}
	}
	switch path {
	case "/v1/logs":
		r := plogotlp.NewExportResponse()
		un(r.UnmarshalProto, r.UnmarshalJSON)
		return r.PartialSuccess().RejectedLogRecords(), r.PartialSuccess().ErrorMessage()
	case "/v1/metrics":
		r := pmetricotlp.NewExportResponse()
		un(r.UnmarshalProto, r.UnmarshalJSON)
		return r.PartialSuccess().RejectedDataPoints(), r.PartialSuccess().ErrorMessage()
	default:
		r := ptraceotlp.NewExportResponse()
		un(r.UnmarshalProto, r.UnmarshalJSON)
		return r.PartialSuccess().RejectedSpans(), r.PartialSuccess().ErrorMessage()
	}
}

func TestExportEachSignal(t *testing.T) {
	for _, enc := range []encoding{encProto, encJSON} {
		for _, gz := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s gzip=%v", contentType(enc), gz), func(t *testing.T) {
				rc, rs, reg := newTestReceiver(t, nil)
				h := mux(rc)
				o := reqOpts{contentType: contentType(enc), gzip: gz}
				for _, tc := range []struct {
					path string
					body []byte
				}{
					{"/v1/logs", logsBody(t, enc, sampleLogs())},
					{"/v1/metrics", metricsBody(t, enc, sampleMetrics())},
					{"/v1/traces", tracesBody(t, enc, traces(call{trace: 1, client: 1, server: 2, caller: "web", callee: "checkout", start: t0, dur: 10e6}))},
				} {
					w := post(t, h, tc.path, tc.body, o)
					if w.Code != http.StatusOK {
						t.Fatalf("%s: %d %q", tc.path, w.Code, w.Body.Bytes())
					}
					if got := w.Header().Get("Content-Type"); got != contentType(enc) {
						t.Fatalf("%s: Content-Type %q, want the request's", tc.path, got)
					}
					if n, msg := partial(t, tc.path, enc, w.Body.Bytes()); n != 0 || msg != "" {
						t.Fatalf("%s: partial_success %d %q on a clean batch", tc.path, n, msg)
					}
				}
				if len(rs.logs) != 2 {
					t.Fatalf("got %d log records, want 2", len(rs.logs))
				}
				// gauge 1 + counter 1 + histogram 3 buckets + sum + count
				if len(rs.samples) != 7 {
					t.Fatalf("got %d samples, want 7: %v", len(rs.samples), rs.samples)
				}
				if e := rc.Topology().Snapshot(); len(e) != 1 || e[0].Caller != "web" || e[0].Callee != "checkout" {
					t.Fatalf("edges %+v", e)
				}
				got := gather(t, reg)
				for kind, want := range map[string]float64{kindLogRecords: 2, kindDataPoints: 3, kindSpans: 2} {
					if v := got[`vigil_ingest_otlp_accepted_total{kind="`+kind+`"}`]; v != want {
						t.Errorf("accepted %s = %v, want %v", kind, v, want)
					}
				}
				for _, sig := range []string{"logs", "metrics", "traces"} {
					if v := got[`vigil_ingest_otlp_requests_total{code="200",signal="`+sig+`"}`]; v != 1 {
						t.Errorf("requests %s = %v", sig, v)
					}
				}
			})
		}
	}
}

// TestOTLPJSONQuirks feeds OTLP/JSON as the spec writes it rather than as
// pdata writes it: hex ids in upper case, int64 as strings, enums as ints,
// an unknown field.
func TestOTLPJSONQuirks(t *testing.T) {
	rc, rs, _ := newTestReceiver(t, nil)
	body := `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"cart"}}]},
	 "scopeLogs":[{"scope":{"name":"x"},"logRecords":[{
	   "timeUnixNano":"1700000000000000000","severityNumber":13,"severityText":"W",
	   "body":{"kvlistValue":{"values":[{"key":"msg","value":{"stringValue":"slow <db>"}},{"key":"ms","value":{"intValue":"250"}}]}},
	   "attributes":[{"key":"retries","value":{"intValue":"3"}},{"key":"nested","value":{"kvlistValue":{"values":[{"key":"a","value":{"boolValue":true}}]}}}],
	   "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","futureField":{"x":1}}]}]}]}`
	w := post(t, mux(rc), "/v1/logs", []byte(body), reqOpts{contentType: "application/json; charset=utf-8"})
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if len(rs.logs) != 1 {
		t.Fatalf("records %v", rs.logs)
	}
	r := rs.logs[0]
	want := map[string]string{"retries": "3", "nested.a": "true", "trace_id": "5b8efff798038103d269b633813fc60c", "span_id": "eee19b7ec3c1b174"}
	for k, v := range want {
		if r.Fields[k] != v {
			t.Errorf("field %s = %q, want %q", k, r.Fields[k], v)
		}
	}
	if r.Raw != `{"msg":"slow <db>","ms":250}` || r.Level.String() != "warn" || r.Time.UnixNano() != 1700000000000000000 || r.Service != "cart" {
		t.Fatalf("record %+v", r)
	}
}

func TestPartialSuccess(t *testing.T) {
	bigLogs := sampleLogs()
	lrs := bigLogs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	lrs.At(1).Body().SetStr(strings.Repeat("x", 2000))

	badMetrics := sampleMetrics()
	ms := badMetrics.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	d := ms.AppendEmpty()
	d.SetName("delta.requests")
	ds := d.SetEmptySum()
	ds.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	ds.SetIsMonotonic(true)
	ds.DataPoints().AppendEmpty().SetIntValue(3)
	e := ms.AppendEmpty()
	e.SetName("latency")
	e.SetEmptyExponentialHistogram().DataPoints().AppendEmpty().SetCount(4)

	badTraces := traces(call{trace: 1, client: 1, server: 2, caller: "web", callee: "api", start: t0, dur: 1e6})
	badTraces.ResourceSpans().At(0).ScopeSpans().At(0).Spans().AppendEmpty().SetName("no ids")

	tests := []struct {
		path     string
		body     func(encoding) []byte
		rejected int64
		reason   string
		kind     string
	}{
		{"/v1/logs", func(e encoding) []byte { return logsBody(t, e, bigLogs) }, 1, "record_too_large", kindLogRecords},
		{"/v1/metrics", func(e encoding) []byte { return metricsBody(t, e, badMetrics) }, 2, "delta_temporality", kindDataPoints},
		{"/v1/traces", func(e encoding) []byte { return tracesBody(t, e, badTraces) }, 1, "invalid_ids", kindSpans},
	}
	for _, enc := range []encoding{encProto, encJSON} {
		for _, tc := range tests {
			t.Run(tc.path+" "+contentType(enc), func(t *testing.T) {
				rc, rs, reg := newTestReceiver(t, func(o *Options) { o.Limits.MaxLineBytes = 1000 })
				w := post(t, mux(rc), tc.path, tc.body(enc), reqOpts{contentType: contentType(enc)})
				// OTLP reports partial acceptance with 200, not
				// ingest.WriteResult's 400: exporters must not retry it.
				if w.Code != http.StatusOK {
					t.Fatalf("%d %q", w.Code, w.Body)
				}
				n, msg := partial(t, tc.path, enc, w.Body.Bytes())
				if n != tc.rejected || !strings.Contains(msg, "rejected") {
					t.Fatalf("partial_success %d %q, want %d", n, msg, tc.rejected)
				}
				if got := gather(t, reg)[`vigil_ingest_otlp_rejected_total{kind="`+tc.kind+`",reason="`+tc.reason+`"}`]; got < 1 {
					t.Fatalf("rejected_total{%s} = %v", tc.reason, got)
				}
				// The good items around the bad ones were kept.
				switch tc.path {
				case "/v1/logs":
					if len(rs.logs) != 1 || rs.logs[0].Raw != "payment declined" {
						t.Fatalf("logs %v", rs.logs)
					}
				case "/v1/metrics":
					if len(rs.samples) != 7 {
						t.Fatalf("samples %d", len(rs.samples))
					}
				case "/v1/traces":
					if len(rc.Topology().Snapshot()) != 1 {
						t.Fatal("good spans were not kept")
					}
				}
			})
		}
	}
}

func TestRequestFailures(t *testing.T) {
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	_, _ = zw.Write(make([]byte, 4<<20))
	_ = zw.Close()

	tests := []struct {
		name     string
		ct       string
		body     []byte
		header   map[string]string
		sinkErr  error
		limits   ingest.Limits
		want     int
		code     int32
		retry    bool
		respType string
	}{
		{name: "garbage protobuf", ct: typeProto, body: []byte{0x0a, 0xff, 0xff, 0xff, 0x01}, want: 400, code: codeInvalidArgument, respType: typeProto},
		{name: "garbage json", ct: typeJSON, body: []byte(`{"resourceLogs":[{]`), want: 400, code: codeInvalidArgument, respType: typeJSON},
		{name: "bad gzip", ct: typeJSON, body: []byte("not gzip"), header: map[string]string{"Content-Encoding": "gzip"}, want: 400, code: codeInvalidArgument, respType: typeJSON},
		{name: "unknown content type", ct: "text/plain", body: []byte("hi"), want: 415, code: codeInvalidArgument, respType: typeProto},
		{name: "no content type", ct: "", body: []byte("hi"), want: 415, code: codeInvalidArgument, respType: typeProto},
		{name: "unknown encoding", ct: typeJSON, body: []byte("{}"), header: map[string]string{"Content-Encoding": "br"}, want: 415, code: codeInvalidArgument, respType: typeJSON},
		{name: "too large", ct: typeProto, body: make([]byte, 2048), limits: ingest.Limits{MaxBodyBytes: 1024}, want: 413, code: codeResourceExhausted, respType: typeProto},
		{name: "gzip bomb", ct: typeProto, body: bomb.Bytes(), header: map[string]string{"Content-Encoding": "gzip"}, limits: ingest.Limits{MaxDecodedBytes: 1 << 20}, want: 413, code: codeResourceExhausted, respType: typeProto},
		{name: "backpressure proto", ct: typeProto, sinkErr: fmt.Errorf("publish: %w", ingest.ErrBackpressure), want: 429, code: codeUnavailable, retry: true, respType: typeProto},
		{name: "backpressure json", ct: typeJSON, sinkErr: ingest.ErrBackpressure, want: 429, code: codeUnavailable, retry: true, respType: typeJSON},
		{name: "sink closed", ct: typeProto, sinkErr: errors.New("bus: closed"), want: 503, code: codeUnavailable, retry: true, respType: typeProto},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, rs, _ := newTestReceiver(t, func(o *Options) { o.Limits = tc.limits })
			rs.err = tc.sinkErr
			body := tc.body
			if body == nil {
				enc, _, _ := parseContentType(tc.ct)
				body = logsBody(t, enc, sampleLogs())
			}
			w := post(t, mux(rc), "/v1/logs", body, reqOpts{contentType: tc.ct, header: tc.header})
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %q", w.Code, tc.want, w.Body)
			}
			if got := w.Header().Get("Content-Type"); got != tc.respType {
				t.Fatalf("Content-Type %q, want %q", got, tc.respType)
			}
			enc, _, _ := parseContentType(tc.respType)
			code, msg := parseStatus(t, enc, w.Body.Bytes())
			if code != tc.code || msg == "" {
				t.Fatalf("Status{code %d, message %q}, want code %d and a message", code, msg, tc.code)
			}
			if ra := w.Header().Get("Retry-After"); (ra != "") != tc.retry {
				t.Fatalf("Retry-After %q", ra)
			}
		})
	}
}

func TestEmptyRequest(t *testing.T) {
	rc, rs, _ := newTestReceiver(t, nil)
	for _, path := range []string{"/v1/logs", "/v1/metrics", "/v1/traces"} {
		for _, ct := range []string{typeProto, typeJSON} {
			w := post(t, mux(rc), path, nil, reqOpts{contentType: ct})
			if w.Code != 200 {
				t.Fatalf("%s %s: %d", path, ct, w.Code)
			}
		}
	}
	if rs.calls != 0 {
		t.Fatalf("sink called %d times for empty requests", rs.calls)
	}
}

func TestAuthAndRoutes(t *testing.T) {
	rc, _, _ := newTestReceiver(t, func(o *Options) { o.Auth = ingest.Auth{BearerToken: "s3cret"} })
	var patterns []string
	for _, r := range rc.Routes() {
		patterns = append(patterns, r.Pattern)
	}
	if strings.Join(patterns, ",") != "POST /v1/logs,POST /v1/metrics,POST /v1/traces" {
		t.Fatalf("routes %v", patterns)
	}
	body := logsBody(t, encProto, sampleLogs())
	if w := post(t, mux(rc), "/v1/logs", body, reqOpts{contentType: typeProto}); w.Code != 401 {
		t.Fatalf("no token: %d", w.Code)
	}
	w := post(t, mux(rc), "/v1/logs", body, reqOpts{contentType: typeProto, header: map[string]string{"Authorization": "Bearer s3cret"}})
	if w.Code != 200 {
		t.Fatalf("token: %d", w.Code)
	}
}

func TestTracesPairAcrossRequests(t *testing.T) {
	rc, _, _ := newTestReceiver(t, nil)
	h := mux(rc)
	c := call{trace: 9, client: 1, server: 2, caller: "web", callee: "cart", start: t0, dur: 20e6, sErr: true}
	for _, side := range []string{"server", "client"} { // server side first
		c.side = side
		if w := post(t, h, "/v1/traces", tracesBody(t, encProto, traces(c)), reqOpts{contentType: typeProto}); w.Code != 200 {
			t.Fatalf("%s: %d", side, w.Code)
		}
		if side == "server" && len(rc.Topology().Snapshot()) != 0 {
			t.Fatal("edge before its client side arrived")
		}
	}
	e := rc.Topology().Snapshot()
	if len(e) != 1 || e[0].Caller != "web" || e[0].Callee != "cart" || e[0].Calls != 1 || e[0].Errors != 1 || e[0].P50Seconds != 0.02 {
		t.Fatalf("edges %+v", e)
	}
	if rc.Topology().Pending() != 0 {
		t.Fatalf("%d spans still pending", rc.Topology().Pending())
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Options{}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("no sink: %v", err)
	}
	o := DefaultOptions()
	o.Sink = ingest.SinkFuncs{}
	o.MaxFields = -1
	if _, err := New(o); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("negative bound: %v", err)
	}
	// Zero fields take their defaults.
	rc, err := New(Options{Sink: ingest.SinkFuncs{}})
	if err != nil || rc.conv.maxFields != DefaultMaxFields || !rc.conv.unitSuffix || rc.topo.opts.MaxEdges != DefaultMaxEdges {
		t.Fatalf("defaults: %v %+v", err, rc.conv)
	}
}

func TestPartialMessage(t *testing.T) {
	var rej rejections
	for i := range 12 {
		rej.add(i*2, reasonDelta, "delta")
	}
	got := partialMessage(&rej, 30, kindDataPoints)
	want := "12 of 30 data points rejected: #0 delta; #2 delta; #4 delta; #6 delta; #8 delta; #10 delta; #12 delta; #14 delta; #16 delta; #18 delta; and 2 more"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestStartStopImmediately(t *testing.T) {
	o := DefaultOptions()
	o.Sink = ingest.SinkFuncs{}
	rc, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := rc.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := rc.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}
