package amapi

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/ingest"
)

func gzipBytes(s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.Bytes()
}

func TestPostAlerts(t *testing.T) {
	good := `{"labels":{"alertname":"A","severity":"page"},"annotations":{"summary":"s"},"startsAt":"2024-05-01T09:59:00Z","generatorURL":"http://prom/graph"}`
	good2 := `{"labels":{"alertname":"B"}}`
	tests := []struct {
		name     string
		path     string
		body     []byte
		hdr      []string
		edit     func(*Options)
		status   int
		accepted int   // alerts that reached the Sink
		rejected []int // indices reported back
		reason   string
		respBody string // exact body, when set
	}{
		{name: "all good", body: []byte("[" + good + "," + good2 + "]"), status: 200, accepted: 2, respBody: ""},
		{name: "empty batch", body: []byte(`[]`), status: 200},
		{name: "leading space", body: []byte(" \n[" + good + "]"), status: 200, accepted: 1},
		{name: "v1 path", path: "/api/v1/alerts", body: []byte("[" + good + "]"), status: 200, accepted: 1, respBody: `{"status":"success"}`},
		{name: "v1 path partial", path: "/api/v1/alerts", body: []byte(`[` + good + `,{"labels":{}}]`), status: 400, accepted: 1, rejected: []int{1}},
		{name: "gzip", body: gzipBytes("[" + good + "]"), hdr: []string{"Content-Encoding", "gzip"}, status: 200, accepted: 1},
		{name: "empty body", body: nil, status: 400},
		{name: "object", body: []byte(`{"labels":{"a":"b"}}`), status: 400},
		{name: "null", body: []byte(`null`), status: 400},
		{name: "syntax error", body: []byte(`[{"labels":`), status: 400},
		{name: "too large", body: []byte("[" + good + "]"), edit: func(o *Options) { o.Limits.MaxBodyBytes = 10 }, status: 413},
		{name: "unknown encoding", body: []byte("[]"), hdr: []string{"Content-Encoding", "br"}, status: 415},
		{name: "no labels", body: []byte(`[` + good + `,{"labels":{}},` + good2 + `]`), status: 400, accepted: 2, rejected: []int{1}, reason: "at least one label pair required"},
		{name: "labels missing", body: []byte(`[{"annotations":{"a":"b"}},` + good + `]`), status: 400, accepted: 1, rejected: []int{0}, reason: "at least one label pair required"},
		{name: "only empty values", body: []byte(`[{"labels":{"a":""}}]`), status: 400, rejected: []int{0}, reason: "at least one label pair required"},
		{name: "empty values dropped", body: []byte(`[{"labels":{"a":"","b":"x"}}]`), status: 200, accepted: 1},
		{name: "empty label name", body: []byte(`[{"labels":{"":"x","a":"b"}},` + good + `]`), status: 400, accepted: 1, rejected: []int{0}, reason: `invalid label set: invalid name ""`},
		{name: "utf8 label name", body: []byte(`[{"labels":{"a-b.c":"x","zürich":"y"}}]`), status: 200, accepted: 1},
		{name: "legacy label name", body: []byte(`[{"labels":{"a-b":"x"}},` + good + `]`), edit: func(o *Options) { o.LegacyLabelNames = true }, status: 400, accepted: 1, rejected: []int{0}, reason: `invalid name "a-b"`},
		{name: "legacy leading digit", body: []byte(`[{"labels":{"1a":"x"}}]`), edit: func(o *Options) { o.LegacyLabelNames = true }, status: 400, rejected: []int{0}},
		{name: "bad annotation name", body: []byte(`[{"labels":{"a":"b"},"annotations":{"":"x"}}]`), status: 400, rejected: []int{0}, reason: "invalid annotations"},
		{name: "ends before starts", body: []byte(`[{"labels":{"a":"b"},"startsAt":"2024-05-01T10:00:00Z","endsAt":"2024-05-01T09:00:00Z"},` + good + `]`), status: 400, accepted: 1, rejected: []int{0}, reason: "start time must be before end time"},
		{name: "starts after default end", body: []byte(`[{"labels":{"a":"b"},"startsAt":"2024-05-01T11:00:00Z"}]`), status: 400, rejected: []int{0}, reason: "start time must be before end time"},
		{name: "label value not string", body: []byte(`[` + good + `,{"labels":{"a":1}},` + good2 + `]`), status: 400, accepted: 2, rejected: []int{1}, reason: "decode alert"},
		{name: "element not object", body: []byte(`[42,` + good + `,"x"]`), status: 400, accepted: 1, rejected: []int{0, 2}},
		{name: "bad time", body: []byte(`[{"labels":{"a":"b"},"startsAt":"yesterday"},` + good + `]`), status: 400, accepted: 1, rejected: []int{0}, reason: "not RFC 3339"},
		{name: "time not string", body: []byte(`[{"labels":{"a":"b"},"endsAt":12}]`), status: 400, rejected: []int{0}, reason: "time must be a string"},
		{name: "null element", body: []byte(`[null,` + good + `]`), status: 400, accepted: 1, rejected: []int{0}},
		{name: "times null and zero", body: []byte(`[{"labels":{"a":"b"},"startsAt":null,"endsAt":"0001-01-01T00:00:00Z"}]`), status: 200, accepted: 1},
		{name: "offset without colon", body: []byte(`[{"labels":{"a":"b"},"startsAt":"2024-05-01T11:59:00+0200"}]`), status: 200, accepted: 1},
		{name: "escaped time", body: []byte(`[{"labels":{"a":"b"},"startsAt":"2024-05-01T09:59:00\u005a"}]`), status: 200, accepted: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.edit)
			path := tc.path
			if path == "" {
				path = "/api/v2/alerts"
			}
			w := f.do(t, "POST", path, tc.body, tc.hdr...)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if got := len(f.sink.got()); got != tc.accepted {
				t.Fatalf("sink got %d alerts, want %d", got, tc.accepted)
			}
			if got := f.r.State().Len(); got != tc.accepted {
				t.Errorf("state holds %d alerts, want %d", got, tc.accepted)
			}
			if tc.status == 200 && tc.respBody != "" || tc.name == "all good" {
				if w.Body.String() != tc.respBody {
					t.Errorf("body %q, want %q", w.Body, tc.respBody)
				}
			}
			if tc.rejected == nil {
				return
			}
			res := decodeResult(t, w)
			if res.Accepted != tc.accepted || res.RejectedCount != len(tc.rejected) {
				t.Fatalf("result %+v, want accepted %d rejected %v", res, tc.accepted, tc.rejected)
			}
			for i, idx := range tc.rejected {
				if res.Rejected[i].Index != idx {
					t.Errorf("rejection %d has index %d, want %d", i, res.Rejected[i].Index, idx)
				}
			}
			if tc.reason != "" && !strings.Contains(res.Rejected[0].Reason, tc.reason) {
				t.Errorf("reason %q, want it to contain %q", res.Rejected[0].Reason, tc.reason)
			}
		})
	}
}

func TestPostAlertsCompletesTimes(t *testing.T) {
	tests := []struct {
		name           string
		startsAt       string
		endsAt         string
		resolveTimeout time.Duration
		wantStarts     time.Time
		wantEnds       time.Time
	}{
		{"neither", "", "", 0, t0, t0.Add(DefaultResolveTimeout)},
		{"neither, custom timeout", "", "", time.Hour, t0, t0.Add(time.Hour)},
		{"only startsAt", ts(t0.Add(-time.Hour)), "", 0, t0.Add(-time.Hour), t0.Add(DefaultResolveTimeout)},
		// As Alertmanager: an alert with only endsAt starts when it ends.
		{"only endsAt", "", ts(t0.Add(-time.Minute)), 0, t0.Add(-time.Minute), t0.Add(-time.Minute)},
		{"both", ts(t0.Add(-time.Hour)), ts(t0.Add(time.Hour)), 0, t0.Add(-time.Hour), t0.Add(time.Hour)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) { o.ResolveTimeout = tc.resolveTimeout })
			body := `[{"labels":{"alertname":"X"}`
			if tc.startsAt != "" {
				body += `,"startsAt":"` + tc.startsAt + `"`
			}
			if tc.endsAt != "" {
				body += `,"endsAt":"` + tc.endsAt + `"`
			}
			if w := f.post(t, body+"}]"); w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			got := f.sink.got()[0]
			if !got.StartsAt.Equal(tc.wantStarts) || !got.EndsAt.Equal(tc.wantEnds) || !got.UpdatedAt.Equal(t0) {
				t.Fatalf("starts %v ends %v updated %v; want %v %v %v", got.StartsAt, got.EndsAt, got.UpdatedAt, tc.wantStarts, tc.wantEnds, t0)
			}
		})
	}
}

func TestPostAlertsSinkErrors(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
	}{
		{"backpressure", ingest.ErrBackpressure, 429},
		{"wrapped backpressure", fmt.Errorf("publish: %w", ingest.ErrBackpressure), 429},
		{"other", errors.New("bus closed"), 503},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) {
				o.State = newState(t, func(so *StateOptions) { so.MaxAlerts = 1 })
			})
			f.sink.setErr(tc.err)
			w := f.post(t, `[{"labels":{"alertname":"A"}}]`)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.status == 429 && w.Header().Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			if n := f.r.State().Len(); n != 0 {
				t.Fatalf("state holds %d alerts after the sink refused them", n)
			}
			// The refused batch's reservation was released: the one slot
			// is free for the retry.
			f.sink.setErr(nil)
			if w := f.post(t, `[{"labels":{"alertname":"A"}}]`); w.Code != 200 {
				t.Fatalf("retry: status %d: %s", w.Code, w.Body)
			}
		})
	}
}

func TestPostAlertsStateFull(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.State = newState(t, func(so *StateOptions) { so.MaxAlerts = 2 })
	})
	if w := f.post(t, `[{"labels":{"alertname":"A"}},{"labels":{"alertname":"B"}}]`); w.Code != 200 {
		t.Fatalf("fill: %d %s", w.Code, w.Body)
	}
	// Updates to held alerts and new resolved alerts still pass; new firing
	// ones are refused with the reason, and not delivered either.
	body := `[{"labels":{"alertname":"C"}},{"labels":{"alertname":"A"},"annotations":{"x":"y"}},` +
		`{"labels":{"alertname":"D"},"startsAt":"2024-05-01T09:00:00Z","endsAt":"2024-05-01T09:30:00Z"},{"labels":{"alertname":"E"}}]`
	w := f.post(t, body)
	if w.Code != 400 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	res := decodeResult(t, w)
	if res.Accepted != 2 || res.RejectedCount != 2 || res.Rejected[0].Index != 0 || res.Rejected[1].Index != 3 {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(res.Rejected[0].Reason, "alert state full") {
		t.Errorf("reason %q", res.Rejected[0].Reason)
	}
	if n := len(f.sink.got()); n != 4 {
		t.Errorf("sink got %d alerts, want 2+2", n)
	}
	// Once A resolves, its slot is reclaimed early for a new alert.
	if w := f.post(t, `[{"labels":{"alertname":"A"},"endsAt":"2024-05-01T09:59:00Z"}]`); w.Code != 200 {
		t.Fatalf("resolve: %d %s", w.Code, w.Body)
	}
	f.clock.Advance(2 * sweepInterval)
	if w := f.post(t, `[{"labels":{"alertname":"C"}}]`); w.Code != 200 {
		t.Fatalf("after resolution: %d %s", w.Code, w.Body)
	}
	if got := names(f.list(t, "")); strings.Join(got, ",") != "B,C" && strings.Join(got, ",") != "C,B" {
		t.Fatalf("listed %v, want B and C", got)
	}
}

func TestAuth(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Auth = ingest.Auth{BearerToken: "s3cret"} })
	tests := []struct {
		method, path string
		token        string
		want         int
	}{
		{"POST", "/api/v2/alerts", "", 401},
		{"POST", "/api/v2/alerts", "wrong", 401},
		{"POST", "/api/v2/alerts", "s3cret", 200},
		{"GET", "/api/v2/alerts", "", 401},
		{"GET", "/api/v2/alerts", "s3cret", 200},
		{"GET", "/api/v2/status", "", 401},
		{"GET", "/api/v2/receivers", "", 401},
		{"GET", "/-/healthy", "", 200},
		{"GET", "/-/ready", "", 200},
	}
	for _, tc := range tests {
		t.Run(tc.method+tc.path+tc.token, func(t *testing.T) {
			var hdr []string
			if tc.token != "" {
				hdr = []string{"Authorization", "Bearer " + tc.token}
			}
			body := []byte(`[{"labels":{"alertname":"A"}}]`)
			if w := f.do(t, tc.method, tc.path, body, hdr...); w.Code != tc.want {
				t.Fatalf("status %d, want %d", w.Code, tc.want)
			}
		})
	}
}
