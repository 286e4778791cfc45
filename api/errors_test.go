package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vigilops/vigil/store"
)

// TestErrorFormat drives one request to each error status and checks that
// every one answers in the same format.
func TestErrorFormat(t *testing.T) {
	env := newTestEnv(t, func(o *Options) {
		o.MaxBodyBytes = 64
		o.Ready = func(context.Context) error { return errors.New("store unreachable") }
	})
	env.s.Handle("GET /api/v1/test/throttled", store.RoleViewer, func(w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("Retry-After", "7")
		return Errorf(http.StatusTooManyRequests, "", "slow down")
	})
	env.s.Handle("GET /api/v1/test/broken", store.RoleViewer, func(http.ResponseWriter, *http.Request) error {
		return fmt.Errorf("query: %w", errors.New("disk on fire at /var/lib/vigil"))
	})
	op, viewer := env.secrets[store.RoleOperator], env.secrets[store.RoleViewer]
	tests := []struct {
		name        string
		method      string
		path        string
		body        string
		contentType string
		secret      string
		status      int
		code        string
		message     string // a substring the message must hold
		header      [2]string
	}{
		{"bad request", "POST", "/api/v1/events", `{"kind":`, "", op, 400, CodeBadRequest, "malformed JSON", [2]string{}},
		{"unauthorized", "POST", "/api/v1/events", `{}`, "", "", 401, CodeUnauthorized, "operator", [2]string{"WWW-Authenticate", `Bearer realm="vigil"`}},
		{"forbidden", "POST", "/api/v1/events", `{}`, "", viewer, 403, CodeForbidden, "operator", [2]string{}},
		{"not found", "GET", "/api/v1/nope", "", "", "", 404, CodeNotFound, "/api/v1/nope", [2]string{}},
		{"method not allowed", "PUT", "/api/v1/events", "", "", "", 405, CodeMethodNotAllowed, "PUT", [2]string{"Allow", "GET, HEAD, POST"}},
		{"payload too large", "POST", "/api/v1/events", strings.Repeat(" ", 65) + "{}", "", op, 413, CodePayloadTooLarge, "64 bytes", [2]string{}},
		{"unsupported media type", "POST", "/api/v1/events", `{}`, "text/plain", op, 415, CodeUnsupportedMediaType, "text/plain", [2]string{}},
		{"too many requests", "GET", "/api/v1/test/throttled", "", "", viewer, 429, CodeTooManyRequests, "slow down", [2]string{"Retry-After", "7"}},
		{"internal", "GET", "/api/v1/test/broken", "", "", viewer, 500, CodeInternal, "internal server error", [2]string{}},
		{"unavailable", "GET", "/readyz", "", "", "", 503, CodeUnavailable, "store unreachable", [2]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.secret != "" {
				req.Header.Set("Authorization", "Bearer "+tt.secret)
			}
			rec := httptest.NewRecorder()
			env.s.Handler().ServeHTTP(rec, req)
			e := wantError(t, rec, tt.status)
			if e.Code != tt.code {
				t.Errorf("code = %q, want %q", e.Code, tt.code)
			}
			if !strings.Contains(e.Message, tt.message) {
				t.Errorf("message %q does not contain %q", e.Message, tt.message)
			}
			if h := tt.header; h[0] != "" && rec.Header().Get(h[0]) != h[1] {
				t.Errorf("%s = %q, want %q", h[0], rec.Header().Get(h[0]), h[1])
			}
			if strings.Contains(rec.Body.String(), "disk on fire") {
				t.Errorf("internal cause leaked to the client: %s", rec.Body)
			}
		})
	}
}

func TestErrorf(t *testing.T) {
	tests := []struct {
		status int
		code   string
		want   string
	}{
		{400, "", CodeBadRequest},
		{401, "", CodeUnauthorized},
		{403, "", CodeForbidden},
		{404, "", CodeNotFound},
		{405, "", CodeMethodNotAllowed},
		{413, "", CodePayloadTooLarge},
		{415, "", CodeUnsupportedMediaType},
		{429, "", CodeTooManyRequests},
		{500, "", CodeInternal},
		{503, "", CodeUnavailable},
		{409, "", CodeBadRequest},
		{502, "", CodeInternal},
		{400, "silence_expired", "silence_expired"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status, tt.code), func(t *testing.T) {
			e := Errorf(tt.status, tt.code, "n=%d", 3)
			if e.Code != tt.want || e.Message != "n=3" || e.Status != tt.status {
				t.Errorf("Errorf = %+v, want code %q", e, tt.want)
			}
		})
	}
	e := Errorf(400, "", "bad").WithDetails("a", "b")
	if got := e.Error(); got != "400 bad_request: bad" || len(e.Details) != 2 {
		t.Errorf("Error() = %q, details %v", got, e.Details)
	}
}

func TestWrappedErrorIsRendered(t *testing.T) {
	env := newTestEnv(t, nil)
	env.s.Handle("GET /api/v1/test/wrapped", "", func(http.ResponseWriter, *http.Request) error {
		return fmt.Errorf("lookup: %w", Errorf(http.StatusNotFound, "", "no such incident"))
	})
	e := wantError(t, env.do(t, "GET", "/api/v1/test/wrapped", "", ""), 404)
	if e.Message != "no such incident" {
		t.Errorf("message = %q", e.Message)
	}
}

func TestWriteJSONUnencodable(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteJSON(rec, http.StatusOK, map[string]any{"c": make(chan int)})
	e := wantError(t, rec, http.StatusInternalServerError)
	if e.Code != CodeInternal {
		t.Errorf("code = %q", e.Code)
	}
}

func TestErrorAfterWriteIsNotRendered(t *testing.T) {
	env := newTestEnv(t, nil)
	env.s.Handle("GET /api/v1/test/late", "", func(w http.ResponseWriter, _ *http.Request) error {
		WriteJSON(w, http.StatusOK, map[string]int{"n": 1})
		return errors.New("too late")
	})
	rec := env.do(t, "GET", "/api/v1/test/late", "", "")
	wantStatus(t, rec, http.StatusOK)
	if strings.Contains(rec.Body.String(), "error") {
		t.Errorf("error appended to a written response: %s", rec.Body)
	}
}
