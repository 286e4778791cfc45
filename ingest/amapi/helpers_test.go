package amapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// t0 is the test clock's start: a fixed instant, so times in answers are
// predictable.
var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

// clock is a settable clock for Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// recSink records the alerts it is given; Err, when set, is returned instead.
type recSink struct {
	mu     sync.Mutex
	alerts []telemetry.Alert
	calls  int
	Err    error
	// Then, when set, is called with each accepted batch (to feed a State
	// as the bus would).
	Then func([]telemetry.Alert)
}

func (s *recSink) sink() ingest.Sink {
	return ingest.SinkFuncs{AlertsFunc: func(_ context.Context, as []telemetry.Alert) error {
		s.mu.Lock()
		if s.Err != nil {
			s.mu.Unlock()
			return s.Err
		}
		s.calls++
		s.alerts = append(s.alerts, as...)
		then := s.Then
		s.mu.Unlock()
		if then != nil {
			then(as)
		}
		return nil
	}}
}

func (s *recSink) got() []telemetry.Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]telemetry.Alert(nil), s.alerts...)
}

func (s *recSink) setErr(err error) {
	s.mu.Lock()
	s.Err = err
	s.mu.Unlock()
}

// fixture is a Receiver behind a ServeMux, as the app mounts it.
type fixture struct {
	r     *Receiver
	sink  *recSink
	clock *clock
	mux   *http.ServeMux
}

func newFixture(t testing.TB, edit func(*Options)) *fixture {
	t.Helper()
	f := &fixture{sink: &recSink{}, clock: newClock(), mux: http.NewServeMux()}
	opts := DefaultOptions()
	opts.Sink = f.sink.sink()
	opts.Now = f.clock.Now
	opts.Version = VersionInfo{Version: "test", Revision: "abc", Branch: "main", BuildUser: "ci", BuildDate: "20240501", GoVersion: "go-test"}
	if edit != nil {
		edit(&opts)
	}
	r, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.r = r
	for _, rt := range r.Routes() {
		f.mux.Handle(rt.Pattern, rt.Handler)
	}
	return f
}

func (f *fixture) do(t testing.TB, method, target string, body []byte, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, req)
	return w
}

func (f *fixture) post(t testing.TB, body string) *httptest.ResponseRecorder {
	t.Helper()
	return f.do(t, "POST", "/api/v2/alerts", []byte(body))
}

// list GETs /api/v2/alerts with the raw query and decodes the answer.
func (f *fixture) list(t testing.TB, query string) []gettableAlertJSON {
	t.Helper()
	target := "/api/v2/alerts"
	if query != "" {
		target += "?" + query
	}
	w := f.do(t, "GET", target, nil)
	if w.Code != 200 {
		t.Fatalf("GET %s: %d %s", target, w.Code, w.Body)
	}
	var out []gettableAlertJSON
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("GET %s: decode %q: %v", target, w.Body, err)
	}
	if out == nil {
		t.Fatalf("GET %s: answer %q is not an array", target, w.Body)
	}
	return out
}

// gettableAlertJSON decodes GET answers loosely, to check what a generic
// JSON client sees.
type gettableAlertJSON struct {
	Annotations  map[string]string `json:"annotations"`
	EndsAt       string            `json:"endsAt"`
	Fingerprint  string            `json:"fingerprint"`
	Receivers    []receiverRef     `json:"receivers"`
	StartsAt     string            `json:"startsAt"`
	Status       alertStatus       `json:"status"`
	UpdatedAt    string            `json:"updatedAt"`
	GeneratorURL string            `json:"generatorURL"`
	Labels       map[string]string `json:"labels"`
}

func names(as []gettableAlertJSON) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Labels["alertname"]
	}
	return out
}

// resultJSON decodes the 400 answer of ingest.WriteResult.
type resultJSON struct {
	Accepted      int                `json:"accepted"`
	RejectedCount int                `json:"rejected_count"`
	Rejected      []ingest.Rejection `json:"rejected"`
	Error         string             `json:"error"`
}

func decodeResult(t testing.TB, w *httptest.ResponseRecorder) resultJSON {
	t.Helper()
	var r resultJSON
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		t.Fatalf("decode result %q: %v", w.Body, err)
	}
	return r
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func newState(t testing.TB, edit func(*StateOptions)) *State {
	t.Helper()
	o := DefaultStateOptions()
	if edit != nil {
		edit(&o)
	}
	s, err := NewState(o)
	if err != nil {
		t.Fatalf("NewState: %v", err)
	}
	return s
}

func alert(name string, starts, ends time.Time, kv ...string) telemetry.Alert {
	return telemetry.Alert{
		Labels:   telemetry.LabelsFromStrings(append([]string{"alertname", name}, kv...)...),
		StartsAt: starts,
		EndsAt:   ends,
	}
}

// metricValue sums the counter or gauge samples of the named family whose
// labels include the given name/value pairs. prometheus/testutil is not
// used: its dependencies are not in go.mod.
func metricValue(t testing.TB, g prometheus.Gatherer, name string, kv ...string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(kv); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == kv[i] && lp.GetValue() == kv[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}
