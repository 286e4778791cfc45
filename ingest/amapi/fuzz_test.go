package amapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// fuzzStatuses are the only answers a body may provoke.
var fuzzStatuses = map[int]bool{200: true, 400: true, 413: true, 429: true}

// checkingSink checks what reaches it and counts it. It refuses batches
// carrying a "backpressure" label, so that the fuzzer reaches 429 too.
type checkingSink struct {
	t         *testing.T
	delivered int
}

func (s *checkingSink) sink() ingest.Sink {
	return ingest.SinkFuncs{AlertsFunc: func(_ context.Context, as []telemetry.Alert) error {
		for i := range as {
			if as[i].Labels.Has("backpressure") {
				return ingest.ErrBackpressure
			}
		}
		for i := range as {
			a := &as[i]
			if !a.Labels.Valid() || len(a.Labels) == 0 || !a.Annotations.Valid() || a.StartsAt.IsZero() || a.UpdatedAt.IsZero() ||
				(!a.EndsAt.IsZero() && a.EndsAt.Before(a.StartsAt)) {
				s.t.Fatalf("invalid alert delivered: %+v", *a)
			}
		}
		s.delivered += len(as)
		return nil
	}}
}

// checkBatchAnswer checks the invariants of a batch answer: a status from
// the allowed set, and on 200 or a partial 400 exactly the accepted alerts
// delivered.
func checkBatchAnswer(t *testing.T, w *httptest.ResponseRecorder, delivered int) {
	t.Helper()
	if !fuzzStatuses[w.Code] {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if w.Code == 400 {
		var res resultJSON
		if json.Unmarshal(w.Body.Bytes(), &res) == nil && res.RejectedCount > 0 {
			if res.Accepted != delivered || len(res.Rejected) == 0 {
				t.Fatalf("answer %s, delivered %d", w.Body, delivered)
			}
			return
		}
	}
	if w.Code != 200 && delivered != 0 {
		t.Fatalf("status %d after delivering %d alerts", w.Code, delivered)
	}
}

func FuzzPostAlerts(f *testing.F) {
	for _, s := range []string{
		`[]`,
		`[{"labels":{"alertname":"A"}}]`,
		`[{"labels":{"alertname":"A","severity":"page"},"annotations":{"s":"x"},"startsAt":"2024-05-01T09:00:00Z","endsAt":"2024-05-01T11:00:00.5+02:00","generatorURL":"http://p/g"}]`,
		`[{"labels":{"a":"b"}},{"labels":{}},{"labels":{"":"x"}},42,null,{"labels":{"a":1}}]`,
		`[{"labels":{"a":"b"},"startsAt":"2024-05-01T10:00:00Z","endsAt":"2024-05-01T09:00:00Z"}]`,
		`[{"labels":{"a":"b"},"endsAt":"2024-05-01T09:00:00Z"},{"labels":{"a":"b"},"startsAt":"2024-05-01T09:59:00+0100"}]`,
		`[{"labels":{"backpressure":"1"}}]`,
		`[{"labels":{"a":"1"}},{"labels":{"a":"2"}},{"labels":{"a":"3"}},{"labels":{"a":"4"}},{"labels":{"a":"5"}}]`,
		`[{"labels":{"a":"b"},"startsAt":"\u0032024-05-01T09:00:00Z","endsAt":null}]`,
		`{"labels":{}}`, `[`, ``, `null`, ` [ ]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		// A small cap so the fuzzer reaches the full-state path.
		st, err := NewState(StateOptions{MaxAlerts: 3})
		if err != nil {
			t.Fatal(err)
		}
		cs := &checkingSink{t: t}
		r, err := New(Options{Sink: cs.sink(), State: st, Now: func() time.Time { return t0 }, Limits: ingest.Limits{MaxBodyBytes: 64 << 10}})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		r.postAlertsV2(w, httptest.NewRequest("POST", "/api/v2/alerts", bytes.NewReader(body)))
		checkBatchAnswer(t, w, cs.delivered)
		if st.Len() > 3 || st.reserved != 0 {
			t.Fatalf("state Len %d reserved %d", st.Len(), st.reserved)
		}
		if st.Len() > cs.delivered {
			t.Fatalf("state holds %d alerts, %d delivered", st.Len(), cs.delivered)
		}
	})
}

func FuzzWebhook(f *testing.F) {
	if b, err := os.ReadFile("testdata/webhook_v4.json"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		`{"version":"4","alerts":[]}`,
		`{"version":"4","truncatedAlerts":3,"alerts":[{"status":"firing","labels":{"a":"b"}}]}`,
		`{"version":"4","alerts":[{"status":"resolved","labels":{"a":"b"},"startsAt":"2024-05-01T09:00:00Z","endsAt":"2024-05-01T09:30:00Z"},{"status":"x"},1,null]}`,
		`{"version":"4","alerts":[{"status":"firing","labels":{"backpressure":"y"}}]}`,
		`{"version":"5","alerts":[]}`,
		`{"version":4}`, `[]`, `{`, ``, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		cs := &checkingSink{t: t}
		wh, err := NewWebhook(WebhookOptions{Sink: cs.sink(), Now: func() time.Time { return t0 }, Limits: ingest.Limits{MaxBodyBytes: 64 << 10}})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		wh.serve(w, httptest.NewRequest("POST", DefaultWebhookPath, bytes.NewReader(body)))
		checkBatchAnswer(t, w, cs.delivered)
	})
}

// fuzzFilterFixture is shared by FuzzFilter's runs: listing never changes
// the state.
var fuzzFilterFixture *fixture

func FuzzFilter(f *testing.F) {
	for _, s := range [][3]string{
		{`alertname="HighLatency"`, ``, ``},
		{`severity=~"crit.*"`, `service!="cart"`, `vigil`},
		{`{a="b",c!~"d|e"}`, `alertname=Foo Bar`, `vi.*`},
		{`foo`, ``, ``},
		{`a=~"("`, `{`, `(`},
		{`team=""`, `team!=""`, ``},
		{`"quoted name"="x"`, `a=~"\\d+"`, `.*`},
	} {
		f.Add(s[0], s[1], s[2])
	}
	fuzzFilterFixture = newFixture(f, nil)
	seed(f, fuzzFilterFixture)
	f.Fuzz(func(t *testing.T, f1, f2, receiver string) {
		q := url.Values{"filter": {f1, f2}}
		if receiver != "" {
			q.Set("receiver", receiver)
		}
		req := httptest.NewRequest("GET", "/api/v2/alerts", nil)
		req.URL.RawQuery = q.Encode()
		w := httptest.NewRecorder()
		fuzzFilterFixture.r.getAlerts(w, req)
		switch w.Code {
		case http.StatusOK:
			var out []gettableAlertJSON
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out == nil || len(out) > 4 {
				t.Fatalf("answer %q: %v", w.Body, err)
			}
		case http.StatusBadRequest:
			var msg string
			if err := json.Unmarshal(w.Body.Bytes(), &msg); err != nil || msg == "" {
				t.Fatalf("400 answer %q is not a message", w.Body)
			}
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	})
}
