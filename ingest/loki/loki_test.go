package loki

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

func TestPush(t *testing.T) {
	ts := func(d time.Duration) string { return ns(t0.Add(d)) }
	api := map[string]string{"job": "default/api", "app": "api"}
	long := strings.Repeat("x", 1000)
	type want struct {
		raw     string
		service string
		labels  telemetry.Labels
		time    time.Time
		fields  map[string]string
	}
	apiLabels := telemetry.LabelsFromStrings("app", "api", "job", "default/api")
	tests := []struct {
		name        string
		path        string
		contentType string
		encoding    string
		body        []byte
		limits      ingest.Limits
		code        int
		want        []want
		rejected    []ingest.Rejection // nil: none expected
	}{
		{
			name: "json", contentType: "application/json",
			body: jsonPush{Streams: []jsonStream{{Stream: api, Values: [][]any{{ts(0), "first"}, {ts(time.Second), "second"}}}}}.bytes(),
			code: 204,
			want: []want{
				{raw: "first", service: "api", labels: apiLabels, time: t0},
				{raw: "second", service: "api", labels: apiLabels, time: t0.Add(time.Second)},
			},
		},
		{
			name: "json with charset, gzip", contentType: "application/json; charset=utf-8", encoding: "gzip",
			body: gzipBytes(jsonPush{Streams: []jsonStream{{Stream: api, Values: [][]any{{ts(0), "zipped"}}}}}.bytes()),
			code: 204,
			want: []want{{raw: "zipped", service: "api", labels: apiLabels, time: t0}},
		},
		{
			name: "json structured metadata", contentType: "application/json",
			body: []byte(`{"streams":[{"stream":{"service_name":"pay"},"values":[["1","paid",{"trace_id":"abc","user":"u1"}],["2","plain",{}],["3","nulled",null]]}]}`),
			code: 204,
			want: []want{
				{raw: "paid", service: "pay", labels: telemetry.LabelsFromStrings("service_name", "pay"), time: time.Unix(0, 1).UTC(), fields: map[string]string{"trace_id": "abc", "user": "u1"}},
				{raw: "plain", service: "pay", labels: telemetry.LabelsFromStrings("service_name", "pay"), time: time.Unix(0, 2).UTC()},
				{raw: "nulled", service: "pay", labels: telemetry.LabelsFromStrings("service_name", "pay"), time: time.Unix(0, 3).UTC()},
			},
		},
		{
			name: "json unicode and escapes", contentType: "application/json",
			body: []byte(`{"streams":[{"stream":{"app":"caf\u00e9"},"values":[` +
				`["1","tab\there \"quoted\" back\\slash \/ nl\n"],` +
				`["2","\u00e9t\u00e9 \ud83d\ude00 \ud800 lone"],` +
				`["3","raw UTF-8: żółć 日本 🙂"]]}]}`),
			code: 204,
			want: []want{
				{raw: "tab\there \"quoted\" back\\slash / nl\n", service: "café", labels: telemetry.LabelsFromStrings("app", "café"), time: time.Unix(0, 1).UTC()},
				{raw: "été 😀 \uFFFD lone", service: "café", labels: telemetry.LabelsFromStrings("app", "café"), time: time.Unix(0, 2).UTC()},
				{raw: "raw UTF-8: żółć 日本 🙂", service: "café", labels: telemetry.LabelsFromStrings("app", "café"), time: time.Unix(0, 3).UTC()},
			},
		},
		{
			name: "json values before stream, integer timestamp", contentType: "application/json",
			body: []byte(`{"other":[1,{"x":null}],"streams":[{"values":[[1700000000000000000,"a"]],"stream":{"job":"j"}}]}`),
			code: 204,
			want: []want{{raw: "a", service: "j", labels: telemetry.LabelsFromStrings("job", "j"), time: time.Unix(1700000000, 0).UTC()}},
		},
		{
			name: "json partial rejection", contentType: "application/json",
			limits: ingest.Limits{MaxLineBytes: 100},
			body: []byte(`{"streams":[` +
				`{"stream":{"app":"a"},"values":[["1","ok0"],["x","bad ts"],["2",5],["3","` + long + `"],["4","ok4"],{"not":"array"},["5"],["6","l",{"k":1}],["7","l",{},"extra"]]},` +
				`{"stream":{"bad-name":"v"},"values":[["8","dropped"],["9","dropped"]]},` +
				`{"stream":{"app":"a","app":"b"},"values":[["10","dup"]]},` +
				`{"stream":{"app":"c"},"values":[["11","ok13"]]}]}`),
			code: 400,
			want: []want{
				{raw: "ok0", service: "a", labels: telemetry.LabelsFromStrings("app", "a"), time: time.Unix(0, 1).UTC()},
				{raw: "ok4", service: "a", labels: telemetry.LabelsFromStrings("app", "a"), time: time.Unix(0, 4).UTC()},
				{raw: "ok13", service: "c", labels: telemetry.LabelsFromStrings("app", "c"), time: time.Unix(0, 11).UTC()},
			},
			rejected: []ingest.Rejection{
				{Index: 1, Reason: "timestamp is not a decimal string of nanoseconds since the epoch"},
				{Index: 2, Reason: "line is not a string"},
				{Index: 3, Reason: "line is 1000 bytes, limit 100"},
				{Index: 5, Reason: "entry is not an array [timestamp, line, structured metadata?]"},
				{Index: 6, Reason: "entry needs a timestamp and a line"},
				{Index: 7, Reason: "structured metadata is not an object of strings"},
				{Index: 8, Reason: "entry has more than three elements"},
				{Index: 9, Reason: `bad label set: invalid label name "bad-name"`},
				{Index: 10, Reason: `bad label set: invalid label name "bad-name"`},
				{Index: 11, Reason: `bad label set: duplicate label name "app"`},
			},
		},
		{
			name: "json legacy shape on the legacy path", path: LegacyPushPath, contentType: "application/json",
			body:     []byte(`{"streams":[{"labels":"{job=\"legacy\"}","entries":[{"ts":"2024-05-06T07:08:09.123456789Z","line":"old"},{"ts":"yesterday","line":"bad"}]}]}`),
			code:     400,
			want:     []want{{raw: "old", service: "legacy", labels: telemetry.LabelsFromStrings("job", "legacy"), time: t0}},
			rejected: []ingest.Rejection{{Index: 1, Reason: "ts is not an RFC 3339 time"}},
		},
		{
			name: "json syntax error refuses all", contentType: "application/json",
			body: []byte(`{"streams":[{"stream":{"app":"a"},"values":[["1","ok"]]}]`),
			code: 400,
		},
		{
			name: "json wrong shape refuses all", contentType: "application/json",
			body: []byte(`{"streams":{"stream":{}}}`),
			code: 400,
		},
		{
			name: "json empty body", contentType: "application/json", code: 400,
		},
		{
			name: "protobuf as promtail sends it", contentType: "application/x-protobuf",
			body: protoPush(
				Stream{Labels: `{app="api", job="default/api"}`, Entries: []Entry{{Time: t0, Line: "first"}, {Time: t0.Add(time.Second), Line: "second"}}},
				Stream{Labels: `{container="db", namespace="prod"}`, Entries: []Entry{{Time: t0, Line: "db line", StructuredMetadata: []telemetry.Label{{Name: "trace_id", Value: "t1"}}}}},
			),
			code: 204,
			want: []want{
				{raw: "first", service: "api", labels: apiLabels, time: t0},
				{raw: "second", service: "api", labels: apiLabels, time: t0.Add(time.Second)},
				{raw: "db line", service: "db", labels: telemetry.LabelsFromStrings("container", "db", "namespace", "prod"), time: t0, fields: map[string]string{"trace_id": "t1"}},
			},
		},
		{
			name: "protobuf without content type on the legacy path", path: LegacyPushPath,
			body: protoPush(Stream{Labels: `{job="x"}`, Entries: []Entry{{Time: t0, Line: "legacy"}}}),
			code: 204,
			want: []want{{raw: "legacy", service: "x", labels: telemetry.LabelsFromStrings("job", "x"), time: t0}},
		},
		{
			name: "protobuf gzip over snappy", contentType: "application/x-protobuf", encoding: "gzip",
			body: gzipBytes(protoPush(Stream{Labels: `{job="x"}`, Entries: []Entry{{Time: t0, Line: "both"}}})),
			code: 204,
			want: []want{{raw: "both", service: "x", labels: telemetry.LabelsFromStrings("job", "x"), time: t0}},
		},
		{
			name: "protobuf escapes in labels, unicode line", contentType: "application/x-protobuf",
			body: protoPush(Stream{Labels: `{app="say \"hi\"\n", path=` + "`C:\\dir`" + `, empty=""}`, Entries: []Entry{{Time: t0, Line: "héllo 🙂\x00"}}}),
			code: 204,
			want: []want{{raw: "héllo 🙂\x00", service: "say \"hi\"\n", labels: telemetry.LabelsFromStrings("app", "say \"hi\"\n", "path", `C:\dir`), time: t0}},
		},
		{
			name: "protobuf partial rejection", contentType: "application/x-protobuf",
			limits: ingest.Limits{MaxLineBytes: 100},
			body: protoPush(
				Stream{Labels: `{app="a"}`, Entries: []Entry{{Time: t0, Line: "ok0"}, {Time: t0, Line: long}, {Time: t0, Line: "ok2"}}},
				Stream{Labels: `{app=~"a"}`, Entries: []Entry{{Time: t0, Line: "dropped"}}},
				Stream{Labels: `{app="c"}`, Entries: []Entry{{Time: t0, Line: "ok4"}}},
			),
			code: 400,
			want: []want{
				{raw: "ok0", service: "a", labels: telemetry.LabelsFromStrings("app", "a"), time: t0},
				{raw: "ok2", service: "a", labels: telemetry.LabelsFromStrings("app", "a"), time: t0},
				{raw: "ok4", service: "c", labels: telemetry.LabelsFromStrings("app", "c"), time: t0},
			},
			rejected: []ingest.Rejection{
				{Index: 1, Reason: "line is 1000 bytes, limit 100"},
				{Index: 3, Reason: "bad label set: only '=' may join a label name and value at offset 5"},
			},
		},
		{
			name: "protobuf not snappy", contentType: "application/x-protobuf",
			body: AppendPushRequest(nil, []Stream{{Labels: `{a="b"}`, Entries: []Entry{{Time: t0, Line: "x"}}}}),
			code: 400,
		},
		{
			name: "body over the limit", contentType: "application/json",
			limits: ingest.Limits{MaxBodyBytes: 10},
			body:   []byte(`{"streams":[]}                `),
			code:   413,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rec recorder
			r := newReceiver(t, Options{Sink: rec.sink(), Limits: tc.limits})
			path := tc.path
			if path == "" {
				path = PushPath
			}
			a := post(t, handler(r), path, tc.contentType, tc.encoding, tc.body)
			if a.code != tc.code {
				t.Fatalf("status %d, want %d (%+v)", a.code, tc.code, a.body)
			}
			got := rec.records()
			if len(got) != len(tc.want) {
				t.Fatalf("delivered %d records, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Raw != w.raw || g.Service != w.service || !g.Labels.Equal(w.labels) || !g.Time.Equal(w.time) || !reflect.DeepEqual(g.Fields, w.fields) {
					t.Errorf("record %d = %+v\nwant %+v", i, g, w)
				}
				if !g.Labels.Valid() {
					t.Errorf("record %d labels not sorted: %v", i, g.Labels)
				}
			}
			if tc.code == 400 && tc.rejected != nil {
				if a.body.Accepted != len(tc.want) || a.body.RejectedCount != len(tc.rejected) {
					t.Errorf("answer accepted %d rejected %d, want %d and %d", a.body.Accepted, a.body.RejectedCount, len(tc.want), len(tc.rejected))
				}
				if !reflect.DeepEqual(a.body.Rejected, tc.rejected) {
					t.Errorf("rejected:\n%+v\nwant\n%+v", a.body.Rejected, tc.rejected)
				}
			}
		})
	}
}

func TestPushSharesLabelsPerStream(t *testing.T) {
	var rec recorder
	r := newReceiver(t, Options{Sink: rec.sink()})
	for _, body := range []struct {
		ct string
		b  []byte
	}{
		{"application/json", benchJSON(benchStreams(2, 3))},
		{"application/x-protobuf", protoPush(benchStreams(2, 3)...)},
	} {
		rec.recs = nil
		if a := post(t, handler(r), PushPath, body.ct, "", body.b); a.code != 204 {
			t.Fatalf("%s: status %d %+v", body.ct, a.code, a.body)
		}
		got := rec.records()
		if len(got) != 6 {
			t.Fatalf("%s: %d records", body.ct, len(got))
		}
		if &got[0].Labels[0] != &got[2].Labels[0] || &got[0].Labels[0] == &got[3].Labels[0] {
			t.Errorf("%s: records of one stream must share one Labels value, streams must not", body.ct)
		}
	}
}

func TestPushServiceLabelOrder(t *testing.T) {
	tests := []struct {
		labels string
		opts   Options
		want   string
	}{
		{`{container="c", job="j", app="a", service="s", service_name="sn"}`, Options{}, "sn"},
		{`{container="c", job="j", app="a", service="s"}`, Options{}, "s"},
		{`{container="c", job="j", app="a"}`, Options{}, "a"},
		{`{container="c", job="j"}`, Options{}, "j"},
		{`{container="c", pod="p"}`, Options{}, "c"},
		{`{pod="p"}`, Options{}, ""},
		{`{pod="p"}`, Options{DefaultService: "unknown_service"}, "unknown_service"},
		{`{}`, Options{DefaultService: "unknown_service"}, "unknown_service"},
		{`{pod="p", job="j"}`, Options{ServiceLabels: []string{"pod", "job"}}, "p"},
	}
	for _, tc := range tests {
		t.Run(tc.labels, func(t *testing.T) {
			var rec recorder
			tc.opts.Sink = rec.sink()
			r := newReceiver(t, tc.opts)
			a := post(t, handler(r), PushPath, "", "", protoPush(Stream{Labels: tc.labels, Entries: []Entry{{Time: t0, Line: "l"}}}))
			if a.code != 204 {
				t.Fatalf("status %d %+v", a.code, a.body)
			}
			if got := rec.records()[0].Service; got != tc.want {
				t.Errorf("service %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPushSinkErrors(t *testing.T) {
	body := protoPush(Stream{Labels: `{job="x"}`, Entries: []Entry{{Time: t0, Line: "a"}, {Time: t0, Line: "b"}}})
	tests := []struct {
		name  string
		err   error
		code  int
		retry bool
	}{
		{"backpressure", ingest.ErrBackpressure, 429, true},
		{"wrapped backpressure", errors.Join(errors.New("publish"), ingest.ErrBackpressure), 429, true},
		{"pipeline stopping", errors.New("bus: closed"), 503, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := recorder{err: tc.err}
			reg := prometheus.NewRegistry()
			r := newReceiver(t, Options{Sink: rec.sink(), Registerer: reg})
			a := post(t, handler(r), PushPath, "application/x-protobuf", "", body)
			if a.code != tc.code {
				t.Fatalf("status %d, want %d", a.code, tc.code)
			}
			if got := a.hdr.Get("Retry-After") != ""; got != tc.retry {
				t.Errorf("Retry-After present %v, want %v", got, tc.retry)
			}
			if rec.calls != 1 {
				t.Errorf("sink called %d times", rec.calls)
			}
			if tc.retry {
				if got := counterValue(r.m.backpressure); got != 2 {
					t.Errorf("backpressure counted %v entries, want 2", got)
				}
				if got := counterValue(r.m.received); got != 0 {
					t.Errorf("received counted %v", got)
				}
			}
		})
	}
}

func TestPushRejectionsAreDeliveredBeforeAnswer(t *testing.T) {
	// Backpressure wins over a partial rejection: nothing was kept, so the
	// sender must retry (and will see the rejections then).
	rec := recorder{err: ingest.ErrBackpressure}
	r := newReceiver(t, Options{Sink: rec.sink(), Limits: ingest.Limits{MaxLineBytes: 2}})
	a := post(t, handler(r), PushPath, "", "", protoPush(Stream{Labels: `{job="x"}`, Entries: []Entry{{Time: t0, Line: "ok"}, {Time: t0, Line: "too long"}}}))
	if a.code != 429 {
		t.Fatalf("status %d", a.code)
	}
	// A request with only bad entries never reaches the sink.
	rec = recorder{}
	r = newReceiver(t, Options{Sink: rec.sink(), Limits: ingest.Limits{MaxLineBytes: 2}})
	a = post(t, handler(r), PushPath, "", "", protoPush(Stream{Labels: `{job="x"}`, Entries: []Entry{{Time: t0, Line: "too long"}}}))
	if a.code != 400 || rec.calls != 0 || a.body.RejectedCount != 1 {
		t.Fatalf("status %d, sink calls %d, %+v", a.code, rec.calls, a.body)
	}
}

func TestPushMaxEntries(t *testing.T) {
	var rec recorder
	r := newReceiver(t, Options{Sink: rec.sink(), MaxEntries: 3})
	a := post(t, handler(r), PushPath, "application/json", "", benchJSON(benchStreams(2, 2)))
	if a.code != 400 || len(rec.records()) != 3 || a.body.RejectedCount != 1 || a.body.Rejected[0].Index != 3 {
		t.Fatalf("status %d, kept %d, %+v", a.code, len(rec.records()), a.body)
	}
}

func TestPushAuth(t *testing.T) {
	var rec recorder
	r := newReceiver(t, Options{Sink: rec.sink(), Auth: ingest.Auth{BearerToken: "s3cret"}})
	h := handler(r)
	body := protoPush(Stream{Labels: `{job="x"}`, Entries: []Entry{{Time: t0, Line: "a"}}})
	if a := post(t, h, PushPath, "", "", body); a.code != http.StatusUnauthorized {
		t.Fatalf("without token: %d", a.code)
	}
	req := newRequest(PushPath, body)
	req.Header.Set("Authorization", "Bearer s3cret")
	w := serve(h, req)
	if w.Code != 204 || len(rec.records()) != 1 {
		t.Fatalf("with token: %d, %d records", w.Code, len(rec.records()))
	}
}

func TestOptions(t *testing.T) {
	if _, err := New(Options{}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("no sink: %v", err)
	}
	if _, err := New(Options{Sink: ingest.SinkFuncs{}, ServiceLabels: []string{"service.name"}}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("bad service label: %v", err)
	}
	if _, err := New(Options{Sink: ingest.SinkFuncs{}, MaxEntries: -1}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("negative max entries: %v", err)
	}
	// Two receivers on one registry share the series instead of failing.
	reg := prometheus.NewRegistry()
	o := DefaultOptions()
	o.Sink, o.Registerer = ingest.SinkFuncs{}, reg
	r1, err1 := New(o)
	r2, err2 := New(o)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if r1.Name() != "loki" || r1.m.received != r2.m.received {
		t.Error("second receiver did not reuse the registered metrics")
	}
	if len(r1.Routes()) != 2 {
		t.Error("routes")
	}
}

func TestPushConcurrent(t *testing.T) {
	var rec recorder
	h := handler(newReceiver(t, Options{Sink: rec.sink()}))
	jsonBody := benchJSON(benchStreams(3, 5))
	protoBody := protoPush(benchStreams(3, 5)...)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for range 10 {
				ct, body := "application/json", jsonBody
				if g%2 == 1 {
					ct, body = "application/x-protobuf", protoBody
				}
				if w := serve(h, withType(newRequest(PushPath, body), ct)); w.Code != 204 {
					t.Errorf("status %d", w.Code)
				}
			}
		})
	}
	wg.Wait()
	if got := len(rec.records()); got != 8*10*15 {
		t.Fatalf("delivered %d records", got)
	}
}

func withType(r *http.Request, ct string) *http.Request {
	r.Header.Set("Content-Type", ct)
	return r
}
