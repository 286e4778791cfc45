package amapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

type webhookFixture struct {
	wh    *Webhook
	sink  *recSink
	clock *clock
	mux   *http.ServeMux
	reg   *prometheus.Registry
}

func newWebhookFixture(t *testing.T, edit func(*WebhookOptions)) *webhookFixture {
	t.Helper()
	f := &webhookFixture{sink: &recSink{}, clock: newClock(), mux: http.NewServeMux(), reg: prometheus.NewRegistry()}
	opts := DefaultWebhookOptions()
	opts.Sink = f.sink.sink()
	opts.Now = f.clock.Now
	opts.Registerer = f.reg
	if edit != nil {
		edit(&opts)
	}
	wh, err := NewWebhook(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.wh = wh
	for _, rt := range wh.Routes() {
		f.mux.Handle(rt.Pattern, rt.Handler)
	}
	return f
}

func (f *webhookFixture) post(t *testing.T, path, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", path, bytes.NewReader([]byte(body)))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, req)
	return w
}

func webhookBody(version string, alerts ...string) string {
	return `{"version":"` + version + `","groupKey":"{}:{}","truncatedAlerts":0,"status":"firing","receiver":"vigil",` +
		`"groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://am:9093","alerts":[` + strings.Join(alerts, ",") + `]}`
}

func TestWebhookFixture(t *testing.T) {
	body, err := os.ReadFile("testdata/webhook_v4.json")
	if err != nil {
		t.Fatal(err)
	}
	f := newWebhookFixture(t, nil)
	w := f.post(t, DefaultWebhookPath, string(body))
	if w.Code != 200 || w.Body.Len() != 0 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	got := f.sink.got()
	if len(got) != 2 {
		t.Fatalf("sink got %d alerts", len(got))
	}
	firing, resolved := got[0], got[1]
	if firing.Name() != "HighLatency" || !firing.EndsAt.IsZero() || firing.Resolved(t0) ||
		!firing.StartsAt.Equal(time.Date(2024, 5, 1, 10, 0, 0, 123e6, time.UTC)) || !firing.UpdatedAt.Equal(t0) ||
		firing.Annotations.Get("summary") != "p99 latency above 500ms" || !strings.HasPrefix(firing.GeneratorURL, "http://prometheus:9090/graph") {
		t.Errorf("firing alert %+v", firing)
	}
	if want := time.Date(2024, 5, 1, 9, 58, 30, 0, time.UTC); resolved.Name() != "HighErrorRate" || !resolved.EndsAt.Equal(want) || !resolved.Resolved(t0) {
		t.Errorf("resolved alert %+v", resolved)
	}
	if got := metricValue(t, f.reg, "vigil_ingest_amwebhook_received_total", "kind", "alert"); got != 2 {
		t.Errorf("received_total %v", got)
	}
}

func TestWebhook(t *testing.T) {
	firing := `{"status":"firing","labels":{"alertname":"A"},"startsAt":"2024-05-01T09:00:00Z","endsAt":"0001-01-01T00:00:00Z"}`
	resolved := `{"status":"resolved","labels":{"alertname":"B"},"startsAt":"2024-05-01T09:00:00Z","endsAt":"2024-05-01T09:30:00Z"}`
	tests := []struct {
		name     string
		path     string
		body     string
		edit     func(*WebhookOptions)
		status   int
		accepted int
		rejected []int
		reason   string
	}{
		{name: "good", body: webhookBody("4", firing, resolved), status: 200, accepted: 2},
		{name: "no alerts", body: webhookBody("4"), status: 200},
		{name: "custom path", path: "/hooks/am", edit: func(o *WebhookOptions) { o.Path = "/hooks/am" }, body: webhookBody("4", firing), status: 200, accepted: 1},
		{name: "unknown version", body: webhookBody("5", firing), status: 400, reason: `version "5"`},
		{name: "missing version", body: `{"alerts":[` + firing + `]}`, status: 400, reason: `version ""`},
		{name: "unknown version, bad alerts", body: webhookBody("3", `42`), status: 400, reason: `version "3"`},
		{name: "not an object", body: `[` + firing + `]`, status: 400, reason: "webhook payload"},
		{name: "empty body", body: ``, status: 400},
		{name: "bad status", body: webhookBody("4", firing, `{"status":"pending","labels":{"alertname":"C"}}`, resolved), status: 400, accepted: 2, rejected: []int{1}, reason: `status "pending"`},
		{name: "no labels", body: webhookBody("4", `{"status":"firing","labels":{}}`, firing), status: 400, accepted: 1, rejected: []int{0}, reason: "at least one label pair"},
		{name: "bad label name", body: webhookBody("4", firing, `{"status":"firing","labels":{"":"x"}}`), status: 400, accepted: 1, rejected: []int{1}, reason: "invalid name"},
		{name: "legacy label name", body: webhookBody("4", `{"status":"firing","labels":{"a.b":"x"}}`), edit: func(o *WebhookOptions) { o.LegacyLabelNames = true }, status: 400, rejected: []int{0}},
		{name: "bad annotation", body: webhookBody("4", `{"status":"firing","labels":{"a":"b"},"annotations":{"":"x"}}`), status: 400, rejected: []int{0}, reason: "invalid annotations"},
		{name: "element not object", body: webhookBody("4", firing, `"x"`, resolved), status: 400, accepted: 2, rejected: []int{1}, reason: "decode alert"},
		{name: "bad time", body: webhookBody("4", `{"status":"firing","labels":{"a":"b"},"startsAt":"noon"}`, firing), status: 400, accepted: 1, rejected: []int{0}, reason: "RFC 3339"},
		{name: "resolved before start", body: webhookBody("4", `{"status":"resolved","labels":{"a":"b"},"startsAt":"2024-05-01T09:00:00Z","endsAt":"2024-05-01T08:00:00Z"}`), status: 400, rejected: []int{0}, reason: "start time must be before end time"},
		{name: "group labels odd", body: `{"version":"4","groupLabels":{"a":1},"alerts":[` + firing + `]}`, status: 200, accepted: 1},
		{name: "too large", body: webhookBody("4", firing), edit: func(o *WebhookOptions) { o.Limits.MaxBodyBytes = 16 }, status: 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newWebhookFixture(t, tc.edit)
			path := tc.path
			if path == "" {
				path = DefaultWebhookPath
			}
			w := f.post(t, path, tc.body)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if n := len(f.sink.got()); n != tc.accepted {
				t.Fatalf("sink got %d, want %d", n, tc.accepted)
			}
			if tc.reason != "" && !strings.Contains(w.Body.String(), strings.ReplaceAll(tc.reason, `"`, `\"`)) {
				t.Errorf("answer %s lacks %q", w.Body, tc.reason)
			}
			if tc.rejected == nil {
				return
			}
			res := decodeResult(t, w)
			if res.Accepted != tc.accepted || res.RejectedCount != len(tc.rejected) {
				t.Fatalf("result %+v", res)
			}
			for i, idx := range tc.rejected {
				if res.Rejected[i].Index != idx {
					t.Errorf("rejection %d index %d, want %d", i, res.Rejected[i].Index, idx)
				}
			}
		})
	}
}

func TestWebhookTimes(t *testing.T) {
	tests := []struct {
		name       string
		alert      string
		wantStarts time.Time
		wantEnds   time.Time
	}{
		{"firing, zero end", `{"status":"firing","labels":{"a":"b"},"startsAt":"2024-05-01T09:00:00Z","endsAt":"0001-01-01T00:00:00Z"}`, t0.Add(-time.Hour), time.Time{}},
		{"firing, end ahead kept", `{"status":"firing","labels":{"a":"b"},"startsAt":"2024-05-01T09:00:00Z","endsAt":"2024-05-01T10:05:00Z"}`, t0.Add(-time.Hour), t0.Add(5 * time.Minute)},
		{"firing, end passed dropped", `{"status":"firing","labels":{"a":"b"},"startsAt":"2024-05-01T09:00:00Z","endsAt":"2024-05-01T09:05:00Z"}`, t0.Add(-time.Hour), time.Time{}},
		{"firing, no start", `{"status":"firing","labels":{"a":"b"}}`, t0, time.Time{}},
		{"resolved keeps end", `{"status":"resolved","labels":{"a":"b"},"startsAt":"2024-05-01T09:00:00Z","endsAt":"2024-05-01T09:30:00Z"}`, t0.Add(-time.Hour), t0.Add(-30 * time.Minute)},
		{"resolved without end", `{"status":"resolved","labels":{"a":"b"},"startsAt":"2024-05-01T09:00:00Z"}`, t0.Add(-time.Hour), t0},
		{"resolved, end ahead", `{"status":"resolved","labels":{"a":"b"},"startsAt":"2024-05-01T09:00:00Z","endsAt":"2024-05-01T10:00:05Z"}`, t0.Add(-time.Hour), t0},
		{"resolved, no start", `{"status":"resolved","labels":{"a":"b"},"endsAt":"2024-05-01T09:30:00Z"}`, t0.Add(-30 * time.Minute), t0.Add(-30 * time.Minute)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newWebhookFixture(t, nil)
			if w := f.post(t, DefaultWebhookPath, webhookBody("4", tc.alert)); w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			a := f.sink.got()[0]
			if !a.StartsAt.Equal(tc.wantStarts) || !a.EndsAt.Equal(tc.wantEnds) {
				t.Fatalf("starts %v ends %v, want %v %v", a.StartsAt, a.EndsAt, tc.wantStarts, tc.wantEnds)
			}
		})
	}
}

func TestWebhookTruncatedAndBackpressure(t *testing.T) {
	f := newWebhookFixture(t, nil)
	body := `{"version":"4","truncatedAlerts":7,"alerts":[{"status":"firing","labels":{"a":"b"}}]}`
	if w := f.post(t, DefaultWebhookPath, body); w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if got := metricValue(t, f.reg, "vigil_ingest_amwebhook_truncated_total"); got != 7 {
		t.Errorf("truncated_total %v, want 7", got)
	}
	f.sink.setErr(ingest.ErrBackpressure)
	w := f.post(t, DefaultWebhookPath, body)
	if w.Code != 429 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("backpressure: %d %v", w.Code, w.Header())
	}
	if got := metricValue(t, f.reg, "vigil_ingest_amwebhook_requests_total", "code", "429"); got != 1 {
		t.Errorf("requests_total{code=429} %v", got)
	}
}

// TestWebhookFeedsState checks the wiring the app does: webhook alerts reach
// the Sink, the bus hands them to State.Update, and amtool sees them.
func TestWebhookFeedsState(t *testing.T) {
	api := newFixture(t, nil)
	f := newWebhookFixture(t, func(o *WebhookOptions) { o.Now = api.clock.Now })
	f.sink.Then = func(as []telemetry.Alert) {
		if err := api.r.State().Update(as, api.clock.Now()); err != nil {
			t.Error(err)
		}
	}
	body, err := os.ReadFile("testdata/webhook_v4.json")
	if err != nil {
		t.Fatal(err)
	}
	if w := f.post(t, DefaultWebhookPath, string(body)); w.Code != 200 {
		t.Fatalf("webhook: %d %s", w.Code, w.Body)
	}
	got := api.list(t, "")
	if len(got) != 1 || got[0].Labels["alertname"] != "HighLatency" || got[0].EndsAt != "0001-01-01T00:00:00.000Z" {
		t.Fatalf("listed %+v", got)
	}
	// The resolution notification takes it off the list.
	res := strings.Replace(string(body), `"status": "firing",
      "labels": {
        "alertname": "HighLatency"`, `"status": "resolved",
      "labels": {
        "alertname": "HighLatency"`, 1)
	if res == string(body) {
		t.Fatal("fixture edit did not apply")
	}
	api.clock.Advance(time.Minute)
	if w := f.post(t, DefaultWebhookPath, res); w.Code != 200 {
		t.Fatalf("webhook: %d %s", w.Code, w.Body)
	}
	if got := api.list(t, ""); len(got) != 0 {
		t.Fatalf("after resolution: %v", names(got))
	}
}
