package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

func TestPostEvents(t *testing.T) {
	type rejected struct {
		index  int
		reason string
	}
	tests := []struct {
		name     string
		body     string
		accepted int
		rejected []rejected
	}{
		{"one object", validEvent, 1, nil},
		{"array", `[` + validEvent + `,{"kind":"scaling","service":"cart"}]`, 2, nil},
		{"partial", `[{"kind":"deploy"},{"kind":"reboot"},{"kind":"deploy","time":1714560000},{"kind":"scaling"},7]`, 2, []rejected{
			{1, `kind "reboot" is not one of`},
			{2, `field "time": want an RFC 3339 time string, got number`},
			{4, "want an object, got number"},
		}},
		{"bad time string", `[{"kind":"deploy","time":"yesterday"},{"kind":"deploy"}]`, 1, []rejected{
			{0, `field "time": want an RFC 3339 time string, got string "yesterday"`},
		}},
		{"unknown field", `[{"kind":"deploy","sevice":"x"},{"kind":"deploy"}]`, 1, []rejected{{0, `unknown field "sevice"`}}},
		{"wrong label type", `[{"kind":"deploy","labels":{"a":1}},{"kind":"deploy"}]`, 1, []rejected{{0, `field "labels": want a string`}}},
		{"long id", `[{"kind":"deploy","id":"` + strings.Repeat("i", 129) + `"},{"kind":"deploy"}]`, 1, []rejected{{0, `field "id"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, nil)
			rec := env.do(t, "POST", "/api/v1/events", tt.body, env.secrets[store.RoleOperator])
			wantStatus(t, rec, http.StatusOK)
			var got eventsAccepted
			mustJSON(t, rec, &got)
			if got.Accepted != tt.accepted || len(got.IDs) != tt.accepted || len(got.Rejected) != len(tt.rejected) {
				t.Fatalf("answer = %+v, want %d accepted, %d rejected", got, tt.accepted, len(tt.rejected))
			}
			for i, want := range tt.rejected {
				if r := got.Rejected[i]; r.Index != want.index || !strings.Contains(r.Reason, want.reason) {
					t.Errorf("rejected[%d] = %+v, want index %d reason containing %q", i, r, want.index, want.reason)
				}
			}
			if !strings.Contains(rec.Body.String(), `"rejected":[`) {
				t.Errorf("rejected is not an array: %s", rec.Body)
			}
			stored := env.events.stored()
			if len(stored) != tt.accepted {
				t.Fatalf("stored %d events, want %d", len(stored), tt.accepted)
			}
			for i, ev := range stored {
				if ev.ID != got.IDs[i] {
					t.Errorf("stored ID %q, answered %q", ev.ID, got.IDs[i])
				}
			}
			if got := metricSum(t, env, "vigil_api_events_rejected_total"); got != float64(len(tt.rejected)) {
				t.Errorf("rejected counter = %v", got)
			}
		})
	}
}

func TestPostEventsDefaults(t *testing.T) {
	env := newTestEnv(t, nil)
	body := `[{"kind":"deploy","summary":"v2"},{"kind":"deploy","id":"mine","time":"2024-04-30T10:00:00.5+02:00","labels":{"env":"prod"}}]`
	wantStatus(t, env.do(t, "POST", "/api/v1/events", body, env.secrets[store.RoleOperator]), http.StatusOK)
	evs := env.events.stored()
	if len(evs) != 2 {
		t.Fatalf("stored %d events", len(evs))
	}
	if len(evs[0].ID) != 32 || !evs[0].Time.Equal(testStart) || evs[0].Summary != "v2" {
		t.Errorf("defaults not applied: %+v", evs[0])
	}
	want := time.Date(2024, 4, 30, 8, 0, 0, 5e8, time.UTC)
	if evs[1].ID != "mine" || !evs[1].Time.Equal(want) || evs[1].Labels.Get("env") != "prod" {
		t.Errorf("sent values not kept: %+v", evs[1])
	}
}

func TestPostEventsRefused(t *testing.T) {
	tests := []struct {
		name, body, contentType string
		status                  int
		message                 string
		details                 []string
	}{
		{"empty", "", "", 400, "empty", nil},
		{"malformed", `[{"kind":"deploy"},]`, "", 400, "invalid character ']'", nil},
		{"empty array", `[]`, "", 400, "no events", nil},
		{"scalar", `"deploy"`, "", 400, "want an event object or an array of them, got string", nil},
		{"trailing", `{"kind":"deploy"} {}`, "", 400, "unexpected data", nil},
		{"none valid", `[{"kind":"x"},{}]`, "", 400, "no valid events", []string{`index 0: kind "x"`, `index 1: kind ""`}},
		{"single invalid", `{"kind":"x"}`, "", 400, "no valid events", []string{`index 0: kind "x"`}},
		{"not json", `{}`, "application/xml", 415, "application/xml", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, nil)
			req := httptest.NewRequest("POST", "/api/v1/events", strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+env.secrets[store.RoleOperator])
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			rec := httptest.NewRecorder()
			env.s.Handler().ServeHTTP(rec, req)
			e := wantError(t, rec, tt.status)
			if !strings.Contains(e.Message, tt.message) {
				t.Errorf("message %q does not contain %q", e.Message, tt.message)
			}
			if len(e.Details) != len(tt.details) {
				t.Fatalf("details = %q, want %q", e.Details, tt.details)
			}
			for i, d := range tt.details {
				if !strings.HasPrefix(e.Details[i], d) {
					t.Errorf("details[%d] = %q, want prefix %q", i, e.Details[i], d)
				}
			}
			if n := len(env.events.stored()); n != 0 {
				t.Errorf("stored %d events", n)
			}
		})
	}
}

func TestPostEventsDetailsBounded(t *testing.T) {
	env := newTestEnv(t, nil)
	body := "[" + strings.TrimSuffix(strings.Repeat(`{"kind":"x"},`, 150), ",") + "]"
	e := wantError(t, env.do(t, "POST", "/api/v1/events", body, env.secrets[store.RoleOperator]), 400)
	if len(e.Details) != maxErrorDetails+1 || e.Details[maxErrorDetails] != "and 50 more" {
		t.Errorf("%d details, last %q", len(e.Details), e.Details[len(e.Details)-1])
	}
}

// TestPostEventsStoreThenPublish: the answer follows the store write, and
// publishing follows storing; a publish failure does not fail the request.
func TestPostEventsStoreThenPublish(t *testing.T) {
	var mtx sync.Mutex
	var steps []string
	var published []telemetry.Event
	publishErr := errors.New("bus full")
	env := newTestEnv(t, func(o *Options) {
		o.PublishEvents = func(ctx context.Context, evs []telemetry.Event) error {
			mtx.Lock()
			defer mtx.Unlock()
			steps = append(steps, "publish")
			published = append(published, evs...)
			if _, ok := ctx.Deadline(); !ok {
				t.Error("publish context has no deadline")
			}
			return publishErr
		}
	})
	var storeErr error
	env.events.AppendEventsFunc = func(_ context.Context, evs []telemetry.Event) error {
		mtx.Lock()
		defer mtx.Unlock()
		steps = append(steps, "store")
		return storeErr
	}
	op := env.secrets[store.RoleOperator]

	wantStatus(t, env.do(t, "POST", "/api/v1/events", validEvent, op), http.StatusOK)
	if strings.Join(steps, ",") != "store,publish" || len(published) != 1 || published[0].Service != "checkout" {
		t.Errorf("steps = %v, published = %v", steps, published)
	}

	steps = nil
	storeErr = errors.New("disk full")
	wantError(t, env.do(t, "POST", "/api/v1/events", validEvent, op), http.StatusInternalServerError)
	if strings.Join(steps, ",") != "store" {
		t.Errorf("steps after a failed store = %v, want no publish", steps)
	}
}

// TestOversizedBody through a real server, with and without Content-Length.
func TestOversizedBody(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.MaxBodyBytes = 1024 })
	url := httptestServer(t, env) + "/api/v1/events"
	big := "[" + strings.Repeat(validEvent+",", 40) + validEvent + "]"
	tests := []struct {
		name    string
		body    func() io.Reader
		chunked bool
	}{
		{"content-length", func() io.Reader { return strings.NewReader(big) }, false},
		// Hiding the length makes the client send the body chunked.
		{"chunked", func() io.Reader { return struct{ io.Reader }{strings.NewReader(big)} }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", url, tt.body())
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+env.secrets[store.RoleOperator])
			if (req.ContentLength <= 0) != tt.chunked {
				t.Fatalf("ContentLength = %d, chunked = %v", req.ContentLength, tt.chunked)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			wantError(t, recorded(t, resp), http.StatusRequestEntityTooLarge)
		})
	}
	if n := len(env.events.stored()); n != 0 {
		t.Errorf("stored %d events from oversized bodies", n)
	}
}

func TestGetEvents(t *testing.T) {
	env := newTestEnv(t, nil)
	for i, kind := range []telemetry.EventKind{"deploy", "scaling", "deploy"} {
		_ = env.events.AppendEvents(context.Background(), []telemetry.Event{{
			ID: string(rune('a' + i)), Kind: kind, Service: "checkout", Time: testStart.Add(time.Duration(i) * time.Hour),
		}})
	}
	viewer := env.secrets[store.RoleViewer]
	rec := env.do(t, "GET", "/api/v1/events?service=checkout&kind=deploy&from=2024-05-01T12:00:00Z&to=2024-05-01T15:00:00%2B00:00&limit=10", "", viewer)
	wantStatus(t, rec, http.StatusOK)
	var got struct{ Events []telemetry.Event }
	mustJSON(t, rec, &got)
	if len(got.Events) != 2 || got.Events[0].ID != "c" {
		t.Errorf("events = %+v", got.Events)
	}
	q := env.events.query
	if q.Service != "checkout" || q.Kind != "deploy" || !q.From.Equal(testStart) || !q.To.Equal(testStart.Add(3*time.Hour)) || q.Limit != 10 {
		t.Errorf("query = %+v", q)
	}

	rec = env.do(t, "GET", "/api/v1/events?service=none", "", viewer)
	if got := strings.TrimSpace(rec.Body.String()); got != `{"events":[]}` {
		t.Errorf("no events = %s, want an empty array", got)
	}
	env.do(t, "GET", "/api/v1/events", "", viewer)
	if env.events.query.Limit != defaultListLimit {
		t.Errorf("default limit = %d", env.events.query.Limit)
	}
}

func TestGetEventsBadQuery(t *testing.T) {
	env := newTestEnv(t, nil)
	tests := []struct{ query, param string }{
		{"kind=reboot", `"kind"`},
		{"from=yesterday", `"from"`},
		{"to=2024-05-01", `"to"`},
		{"from=2024-05-02T00:00:00Z&to=2024-05-01T00:00:00Z", `"from" must be before "to"`},
		{"limit=0", `"limit"`},
		{"limit=1001", `"limit"`},
		{"limit=ten", `"limit"`},
		{"sevice=checkout", `unknown query parameter "sevice"`},
		{"kind=deploy&kind=scaling", `"kind" is given more than once`},
		{"service=%zz", "malformed query string"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			e := wantError(t, env.do(t, "GET", "/api/v1/events?"+tt.query, "", env.secrets[store.RoleViewer]), 400)
			if !strings.Contains(e.Message, tt.param) {
				t.Errorf("message %q does not name %s", e.Message, tt.param)
			}
		})
	}
}

func TestEventRoutesNeedAnEventStore(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.Events, o.Alerts = nil, nil })
	wantError(t, env.do(t, "POST", "/api/v1/events", validEvent, env.secrets[store.RoleOperator]), http.StatusNotFound)
	wantError(t, env.do(t, "GET", "/api/v1/events", "", env.secrets[store.RoleViewer]), http.StatusNotFound)
	wantError(t, env.do(t, "GET", "/api/v1/alerts", "", env.secrets[store.RoleViewer]), http.StatusNotFound)
}
