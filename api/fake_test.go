package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// fakeTokens is an in-memory store.TokenStore. The Func fields, when set,
// replace the method of the same name.
type fakeTokens struct {
	TokenByHashFunc func(ctx context.Context, hash []byte) (store.Token, error)
	TouchTokenFunc  func(ctx context.Context, id string, at time.Time) error

	mtx     sync.Mutex // protects the fields below
	tokens  []store.Token
	lookups int
	touches []string // token IDs, in order
}

func (f *fakeTokens) CreateToken(_ context.Context, t store.Token) error {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	for _, o := range f.tokens {
		if o.ID == t.ID || bytes.Equal(o.Hash, t.Hash) {
			return store.ErrConflict
		}
	}
	f.tokens = append(f.tokens, t)
	return nil
}

func (f *fakeTokens) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	f.mtx.Lock()
	f.lookups++
	f.mtx.Unlock()
	if f.TokenByHashFunc != nil {
		return f.TokenByHashFunc(ctx, hash)
	}
	f.mtx.Lock()
	defer f.mtx.Unlock()
	for _, t := range f.tokens {
		if bytes.Equal(t.Hash, hash) {
			return t, nil
		}
	}
	return store.Token{}, store.ErrNotFound
}

func (f *fakeTokens) Tokens(context.Context) ([]store.Token, error) {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	return slices.Clone(f.tokens), nil
}

func (f *fakeTokens) DeleteToken(_ context.Context, id string) error {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	i := slices.IndexFunc(f.tokens, func(t store.Token) bool { return t.ID == id })
	if i < 0 {
		return store.ErrNotFound
	}
	f.tokens = slices.Delete(f.tokens, i, i+1)
	return nil
}

func (f *fakeTokens) TouchToken(ctx context.Context, id string, at time.Time) error {
	f.mtx.Lock()
	f.touches = append(f.touches, id)
	f.mtx.Unlock()
	if f.TouchTokenFunc != nil {
		return f.TouchTokenFunc(ctx, id, at)
	}
	f.mtx.Lock()
	defer f.mtx.Unlock()
	for i := range f.tokens {
		if f.tokens[i].ID == id {
			f.tokens[i].LastUsedAt = at
			return nil
		}
	}
	return store.ErrNotFound
}

func (f *fakeTokens) counts() (lookups int, touches []string) {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	return f.lookups, slices.Clone(f.touches)
}

// fakeEvents is an in-memory store.EventStore.
type fakeEvents struct {
	AppendEventsFunc func(ctx context.Context, evs []telemetry.Event) error

	mtx    sync.Mutex // protects events and query
	events []telemetry.Event
	query  store.EventQuery // the last one asked
}

func (f *fakeEvents) AppendEvents(ctx context.Context, evs []telemetry.Event) error {
	if f.AppendEventsFunc != nil {
		return f.AppendEventsFunc(ctx, evs)
	}
	f.mtx.Lock()
	defer f.mtx.Unlock()
	for _, e := range evs {
		if !slices.ContainsFunc(f.events, func(o telemetry.Event) bool { return o.ID == e.ID }) {
			f.events = append(f.events, e)
		}
	}
	return nil
}

func (f *fakeEvents) Events(_ context.Context, q store.EventQuery) ([]telemetry.Event, error) {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	f.query = q
	var out []telemetry.Event
	for i := len(f.events) - 1; i >= 0; i-- {
		e := f.events[i]
		if (q.Service == "" || e.Service == q.Service) && (q.Kind == "" || e.Kind == q.Kind) &&
			(q.From.IsZero() || !e.Time.Before(q.From)) && (q.To.IsZero() || e.Time.Before(q.To)) {
			out = append(out, e)
		}
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

func (f *fakeEvents) stored() []telemetry.Event {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	return slices.Clone(f.events)
}

// fakeAlerts is an in-memory store.AlertStore; alerts are kept most
// recently started first, as the store answers.
type fakeAlerts struct {
	mtx    sync.Mutex // protects alerts and query
	alerts []telemetry.Alert
	query  store.AlertQuery
}

func (f *fakeAlerts) UpsertAlerts(_ context.Context, as []telemetry.Alert) error {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	f.alerts = append(f.alerts, as...)
	slices.SortFunc(f.alerts, func(a, b telemetry.Alert) int { return b.StartsAt.Compare(a.StartsAt) })
	return nil
}

func (f *fakeAlerts) Alerts(_ context.Context, q store.AlertQuery) ([]telemetry.Alert, error) {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	f.query = q
	var out []telemetry.Alert
	for _, a := range f.alerts {
		if !q.ActiveAt.IsZero() && (a.StartsAt.After(q.ActiveAt) || a.Resolved(q.ActiveAt)) {
			continue
		}
		if (!q.From.IsZero() && a.StartsAt.Before(q.From)) || (!q.To.IsZero() && !a.StartsAt.Before(q.To)) {
			continue
		}
		out = append(out, a)
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mtx sync.Mutex // protects t
	t   time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mtx.Lock()
	defer c.mtx.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mtx.Lock()
	defer c.mtx.Unlock()
	c.t = c.t.Add(d)
}

// testEnv is a server over fakes, with one token per role.
type testEnv struct {
	s       *Server
	clock   *fakeClock
	tokens  *fakeTokens
	events  *fakeEvents
	alerts  *fakeAlerts
	reg     *prometheus.Registry
	secrets map[store.Role]string
}

var testStart = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// newTestEnv builds a testEnv; mutate, when set, adjusts the options first.
func newTestEnv(tb testing.TB, mutate func(*Options)) *testEnv {
	tb.Helper()
	env := &testEnv{
		clock:   &fakeClock{t: testStart},
		tokens:  &fakeTokens{},
		events:  &fakeEvents{},
		alerts:  &fakeAlerts{},
		reg:     prometheus.NewRegistry(),
		secrets: map[store.Role]string{},
	}
	for _, role := range []store.Role{store.RoleViewer, store.RoleOperator, store.RoleAdmin} {
		env.secrets[role] = env.addToken(tb, string(role), role, time.Time{})
	}
	o := DefaultOptions()
	o.Tokens, o.Events, o.Alerts = env.tokens, env.events, env.alerts
	o.Registerer, o.Gatherer = env.reg, env.reg
	o.Logger = testLogger(tb)
	o.Now = env.clock.Now
	o.Version = "test"
	o.Listen = "127.0.0.1:0"
	if mutate != nil {
		mutate(&o)
	}
	s, err := New(o)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	env.s = s
	tb.Cleanup(func() { _ = s.Stop(context.Background()) })
	return env
}

// addToken stores a token directly in the fake store and returns its secret.
func (env *testEnv) addToken(tb testing.TB, name string, role store.Role, expires time.Time) string {
	tb.Helper()
	secret, hash, err := GenerateToken()
	if err != nil {
		tb.Fatal(err)
	}
	err = env.tokens.CreateToken(context.Background(), store.Token{
		ID: "id-" + name, Name: name, Role: role, Hash: hash, CreatedAt: testStart, ExpiresAt: expires,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return secret
}

// do serves one request in-process. secret "" sends no Authorization.
func (env *testEnv) do(tb testing.TB, method, path, body, secret string) *httptest.ResponseRecorder {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	rec := httptest.NewRecorder()
	env.s.Handler().ServeHTTP(rec, req)
	return rec
}

// wantError checks that rec is an API error with this status, in the one
// format, and returns it.
func wantError(tb testing.TB, rec *httptest.ResponseRecorder, status int) *Error {
	tb.Helper()
	if rec.Code != status {
		tb.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		tb.Fatalf("Content-Type = %q, want application/json", ct)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		tb.Fatalf("body is not JSON: %v: %s", err, rec.Body)
	}
	if len(env) != 1 || env["error"] == nil {
		tb.Fatalf("body is not {\"error\":{...}}: %s", rec.Body)
	}
	var e Error
	dec := json.NewDecoder(bytes.NewReader(env["error"]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		tb.Fatalf("error object: %v: %s", err, rec.Body)
	}
	if e.Status != status || e.Code == "" || e.Message == "" {
		tb.Fatalf("error object incomplete or inconsistent: %+v", e)
	}
	return &e
}

// wantStatus fails unless rec has the status.
func wantStatus(tb testing.TB, rec *httptest.ResponseRecorder, status int) {
	tb.Helper()
	if rec.Code != status {
		tb.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
}

// testLogger logs through t when -v is set, and discards otherwise. Fuzz
// targets and benchmarks always discard: f.Log may not be called from the
// fuzz function, and benchmarks would time the logging.
func testLogger(tb testing.TB) *slog.Logger {
	if _, isT := tb.(*testing.T); !isT || !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(b []byte) (int, error) {
	w.tb.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// mustJSON decodes rec's body into v.
func mustJSON(tb testing.TB, rec *httptest.ResponseRecorder, v any) {
	tb.Helper()
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		tb.Fatalf("decode %s: %v", rec.Body, err)
	}
}

// metricSum returns the sum of a counter family's series in env's registry
// (0 when absent). It avoids prometheus/testutil, whose dependencies the
// module does not carry.
func metricSum(tb testing.TB, env *testEnv, name string) float64 {
	tb.Helper()
	mfs, err := env.reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// recorded copies a real response into a recorder, for the helpers above.
func recorded(tb testing.TB, resp *http.Response) *httptest.ResponseRecorder {
	tb.Helper()
	rec := httptest.NewRecorder()
	for k, v := range resp.Header {
		rec.Header()[k] = v
	}
	rec.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(rec.Body, resp.Body); err != nil {
		tb.Fatalf("read response: %v", err)
	}
	return rec
}
