package api

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilops/vigil/store"
)

func TestNewInvalidOptions(t *testing.T) {
	tokens := &fakeTokens{}
	tests := []struct {
		name   string
		mutate func(*Options)
	}{
		{"no token store", func(o *Options) { o.Tokens = nil }},
		{"negative body limit", func(o *Options) { o.MaxBodyBytes = -1 }},
		{"unknown anonymous role", func(o *Options) { o.AnonymousRole = "root" }},
		{"anonymous admin", func(o *Options) { o.AnonymousRole = store.RoleAdmin }},
		{"negative timeout", func(o *Options) { o.ShutdownTimeout = -time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Tokens: tokens}
			tt.mutate(&o)
			if _, err := New(o); !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("New = %v, want ErrInvalidOptions", err)
			}
		})
	}
	if _, err := New(Options{Tokens: tokens}); err != nil {
		t.Errorf("New with only Tokens set: %v", err)
	}
}

func TestDuplicateMetricsRegistration(t *testing.T) {
	env := newTestEnv(t, nil)
	if _, err := New(Options{Tokens: env.tokens, Registerer: env.reg}); err == nil {
		t.Error("second server on the same registry: want a registration error")
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	env := newTestEnv(t, nil)
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/api/v1/nope", 404, ""},
		{"POST", "/api/v2/events", 404, ""},
		{"GET", "/nope", 404, ""},
		{"DELETE", "/api/v1/events", 405, "GET, HEAD, POST"},
		{"POST", "/healthz", 405, "GET, HEAD"},
		{"GET", "/api/v1/tokens/abc", 405, "DELETE"},
		{"BREW", "/api/v1/status", 405, "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := env.do(t, tt.method, tt.path, "", "")
			e := wantError(t, rec, tt.status)
			if got := rec.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			if !strings.Contains(e.Message, tt.path) {
				t.Errorf("message %q does not name the path", e.Message)
			}
		})
	}
}

func TestHandleRefusesMutatingRoutesBelowOperator(t *testing.T) {
	tests := []struct {
		pattern string
		min     store.Role
		panics  bool
	}{
		{"GET /api/v1/x", "", false},
		{"GET /api/v1/x", store.RoleViewer, false},
		{"HEAD /api/v1/x", "", false},
		{"OPTIONS /api/v1/x", "", false},
		{"POST /api/v1/x", store.RoleOperator, false},
		{"DELETE /api/v1/x", store.RoleAdmin, false},
		{"POST /api/v1/x", "", true},
		{"POST /api/v1/x", store.RoleViewer, true},
		{"PUT /api/v1/x", store.RoleViewer, true},
		{"PATCH /api/v1/x", "", true},
		{"DELETE /api/v1/x", store.RoleViewer, true},
		{"PURGE /api/v1/x", store.RoleViewer, true},
		{"/api/v1/x", store.RoleViewer, true}, // no method: matches POST too
		{"/api/v1/x", store.RoleOperator, false},
		{"GET /api/v1/x", "root", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+string(tt.min), func(t *testing.T) {
			env := newTestEnv(t, nil)
			defer func() {
				if got := recover() != nil; got != tt.panics {
					t.Errorf("panicked = %v, want %v", got, tt.panics)
				}
			}()
			env.s.Handle(tt.pattern, tt.min, func(http.ResponseWriter, *http.Request) error { return nil })
		})
	}
}

func TestPanicRecovery(t *testing.T) {
	env := newTestEnv(t, nil)
	env.s.Handle("GET /api/v1/test/panic", "", func(http.ResponseWriter, *http.Request) error {
		panic("nil map somewhere")
	})
	env.s.Handle("GET /api/v1/test/halfpanic", "", func(w http.ResponseWriter, _ *http.Request) error {
		_, _ = io.WriteString(w, "partial")
		panic("after writing")
	})
	for range 3 {
		e := wantError(t, env.do(t, "GET", "/api/v1/test/panic", "", ""), http.StatusInternalServerError)
		if strings.Contains(e.Message, "nil map") {
			t.Errorf("panic value leaked: %q", e.Message)
		}
		wantStatus(t, env.do(t, "GET", "/healthz", "", ""), http.StatusOK)
	}
	if got := metricSum(t, env, "vigil_api_panics_total"); got != 3 {
		t.Errorf("panics counter = %v, want 3", got)
	}

	// Through a real server: a panic after the response started aborts the
	// connection, and the server keeps serving.
	srv := httptestServer(t, env)
	if resp, err := http.Get(srv + "/api/v1/test/halfpanic"); err == nil {
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("half-written response completed: %d %q", resp.StatusCode, b)
		}
	}
	resp, err := http.Get(srv + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz after panic = %d", resp.StatusCode)
	}
}

// httptestServer starts env's server on a loopback port and returns its URL.
func httptestServer(t *testing.T, env *testEnv) string {
	t.Helper()
	if err := env.s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return "http://" + env.s.Addr().String()
}

func TestHealthAndReady(t *testing.T) {
	var ready atomic.Pointer[error]
	notReady := errors.New("migrating")
	ready.Store(&notReady)
	env := newTestEnv(t, func(o *Options) {
		o.Ready = func(context.Context) error {
			if p := ready.Load(); p != nil {
				return *p
			}
			return nil
		}
	})
	rec := env.do(t, "GET", "/healthz", "", "")
	wantStatus(t, rec, http.StatusOK)
	if got := strings.TrimSpace(rec.Body.String()); got != `{"status":"ok"}` {
		t.Errorf("healthz body = %s", got)
	}
	e := wantError(t, env.do(t, "GET", "/readyz", "", ""), http.StatusServiceUnavailable)
	if !strings.Contains(e.Message, "migrating") {
		t.Errorf("readyz message = %q, want the reason", e.Message)
	}
	ready.Store(nil)
	wantStatus(t, env.do(t, "GET", "/readyz", "", ""), http.StatusOK)
	wantStatus(t, env.do(t, "HEAD", "/healthz", "", ""), http.StatusOK)
}

func TestStatus(t *testing.T) {
	env := newTestEnv(t, nil)
	env.clock.Advance(90 * time.Second)
	rec := env.do(t, "GET", "/api/v1/status", "", env.secrets[store.RoleViewer])
	wantStatus(t, rec, http.StatusOK)
	var got statusView
	mustJSON(t, rec, &got)
	if got.Version != "test" || !got.StartTime.Equal(testStart) || got.UptimeSeconds != 90 || got.Uptime != "1m30s" || got.Role != store.RoleViewer {
		t.Errorf("status = %+v", got)
	}
	wantError(t, env.do(t, "GET", "/api/v1/status", "", ""), http.StatusUnauthorized)
}

func TestMetrics(t *testing.T) {
	env := newTestEnv(t, nil)
	env.do(t, "GET", "/healthz", "", "")
	env.do(t, "GET", "/api/v1/tokens/x/y/secret-path", "", "")
	env.do(t, "BREW", "/healthz", "", "")
	env.do(t, "GET", "/api/v1/status", "", "")
	rec := env.do(t, "GET", "/metrics", "", "")
	wantStatus(t, rec, http.StatusOK)
	body := rec.Body.String()
	for _, want := range []string{
		`vigil_api_requests_total{code="200",method="GET",route="GET /healthz"} 1`,
		`vigil_api_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`vigil_api_requests_total{code="405",method="other",route="unmatched"} 1`,
		`vigil_api_requests_total{code="401",method="GET",route="GET /api/v1/status"} 1`,
		`vigil_api_request_duration_seconds_count{route="GET /healthz"} 1`,
		`vigil_api_auth_failures_total{reason="missing"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "secret-path") || strings.Contains(body, "BREW") {
		t.Error("a raw path or method became a label value")
	}
}

func TestStartStopGraceful(t *testing.T) {
	env := newTestEnv(t, nil)
	entered, release := make(chan struct{}), make(chan struct{})
	env.s.Handle("GET /api/v1/test/slow", "", func(w http.ResponseWriter, _ *http.Request) error {
		close(entered)
		<-release
		WriteJSON(w, http.StatusOK, map[string]string{"done": "yes"})
		return nil
	})
	url := httptestServer(t, env)
	addr := env.s.Addr().String()

	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get(url + "/api/v1/test/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{resp.StatusCode, string(b), err}
	}()
	<-entered

	stopped := make(chan error, 1)
	go func() { stopped <- env.s.Stop(context.Background()) }()
	// Stop closes the listener first; wait for that, so the request below
	// is known to be in flight while Stop runs.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still open after Stop began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a request was in flight", err)
	default:
	}
	close(release)
	r := <-got
	if r.err != nil || r.status != http.StatusOK || !strings.Contains(r.body, `"done":"yes"`) {
		t.Errorf("in-flight request = %d %q %v, want 200 done", r.status, r.body, r.err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Stop = %v", err)
	}
	if err := env.s.Stop(context.Background()); err != nil {
		t.Errorf("second Stop = %v", err)
	}
	if err := env.s.Start(context.Background()); !errors.Is(err, ErrStopped) {
		t.Errorf("Start after Stop = %v, want ErrStopped", err)
	}
}

func TestStopDeadline(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.ShutdownTimeout = 50 * time.Millisecond })
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	env.s.Handle("GET /api/v1/test/stuck", "", func(http.ResponseWriter, *http.Request) error {
		close(entered)
		<-release
		return nil
	})
	url := httptestServer(t, env)
	go func() {
		if resp, err := http.Get(url + "/api/v1/test/stuck"); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	if err := env.s.Stop(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop = %v, want a deadline error", err)
	}
}

func TestStartErrors(t *testing.T) {
	env := newTestEnv(t, nil)
	if env.s.Addr() != nil {
		t.Error("Addr before Start is not nil")
	}
	httptestServer(t, env)
	if err := env.s.Start(context.Background()); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start = %v, want ErrStarted", err)
	}
	busy := env.s.Addr().String()
	other := newTestEnv(t, func(o *Options) { o.Listen = busy })
	if err := other.s.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Errorf("Start on a busy address = %v, want a listen error", err)
	}
}

func TestMountReceiverBypassesRolesAndBodyLimit(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.MaxBodyBytes = 16 })
	var got int
	env.s.Mount("POST /loki/api/v1/push", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = len(b)
		w.WriteHeader(http.StatusNoContent)
	}))
	w := httptest.NewRecorder()
	env.s.Handler().ServeHTTP(w, httptest.NewRequest("POST", "/loki/api/v1/push", strings.NewReader(strings.Repeat("x", 1000))))
	if w.Code != http.StatusNoContent || got != 1000 {
		t.Fatalf("mounted receiver: status %d, read %d bytes", w.Code, got)
	}
}
