package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/store"
)

const validEvent = `{"kind":"deploy","service":"checkout","time":"2024-05-01T11:00:00Z"}`

// TestMutationNeedsOperator: no token → 401, viewer → 403, operator and
// admin → success.
func TestMutationNeedsOperator(t *testing.T) {
	env := newTestEnv(t, nil)
	tests := []struct {
		name   string
		secret string
		status int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"viewer", env.secrets[store.RoleViewer], http.StatusForbidden},
		{"operator", env.secrets[store.RoleOperator], http.StatusOK},
		{"admin", env.secrets[store.RoleAdmin], http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := env.do(t, "POST", "/api/v1/events", validEvent, tt.secret)
			if tt.status == http.StatusOK {
				wantStatus(t, rec, tt.status)
				return
			}
			e := wantError(t, rec, tt.status)
			if !strings.Contains(e.Message, "operator") {
				t.Errorf("message %q does not name the needed role", e.Message)
			}
			if got := rec.Header().Get("WWW-Authenticate"); (tt.status == 401) != strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate = %q on a %d", got, tt.status)
			}
		})
	}
	if n := len(env.events.stored()); n != 2 {
		t.Errorf("stored %d events, want 2", n)
	}
}

func TestAuthHeader(t *testing.T) {
	env := newTestEnv(t, nil)
	viewer := env.secrets[store.RoleViewer]
	tests := []struct {
		name    string
		headers []string
		status  int
		message string
	}{
		{"bearer", []string{"Bearer " + viewer}, 200, ""},
		{"scheme is case-insensitive", []string{"bEARER " + viewer}, 200, ""},
		{"extra spaces", []string{"Bearer   " + viewer + " "}, 200, ""},
		{"no header", nil, 401, "needs a token"},
		{"basic", []string{"Basic dXNlcjpwYXNz"}, 401, "malformed"},
		{"token scheme", []string{"Token " + viewer}, 401, "malformed"},
		{"scheme only", []string{"Bearer"}, 401, "malformed"},
		{"empty secret", []string{"Bearer   "}, 401, "malformed"},
		{"two words", []string{"Bearer " + viewer + " extra"}, 401, "malformed"},
		{"two headers", []string{"Bearer " + viewer, "Bearer " + viewer}, 401, "malformed"},
		{"too long", []string{"Bearer " + strings.Repeat("a", maxSecretLen+1)}, 401, "malformed"},
		{"unknown token", []string{"Bearer vgl_nope"}, 401, "invalid token"},
		{"secret case matters", []string{"Bearer " + strings.ToUpper(viewer)}, 401, "invalid token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/api/v1/status", nil)
			for _, h := range tt.headers {
				req.Header.Add("Authorization", h)
			}
			rec := httptest.NewRecorder()
			env.s.Handler().ServeHTTP(rec, req)
			if tt.status == 200 {
				wantStatus(t, rec, 200)
				return
			}
			if e := wantError(t, rec, tt.status); !strings.Contains(e.Message, tt.message) {
				t.Errorf("message %q does not contain %q", e.Message, tt.message)
			}
		})
	}
}

func TestAnonymousRole(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.AnonymousRole = store.RoleViewer })
	rec := env.do(t, "GET", "/api/v1/status", "", "")
	wantStatus(t, rec, http.StatusOK)
	var st statusView
	mustJSON(t, rec, &st)
	if st.Role != store.RoleViewer {
		t.Errorf("anonymous role = %q, want viewer", st.Role)
	}
	wantStatus(t, env.do(t, "GET", "/api/v1/events", "", ""), http.StatusOK)
	// Not enough for a mutation, and no token at all is a 401, not a 403.
	wantError(t, env.do(t, "POST", "/api/v1/events", validEvent, ""), http.StatusUnauthorized)
	wantError(t, env.do(t, "GET", "/api/v1/tokens", "", ""), http.StatusUnauthorized)
	// A wrong token is refused rather than downgraded to anonymous.
	wantError(t, env.do(t, "GET", "/api/v1/status", "", "vgl_wrong"), http.StatusUnauthorized)
	// A token still works on top.
	wantStatus(t, env.do(t, "POST", "/api/v1/events", validEvent, env.secrets[store.RoleOperator]), http.StatusOK)
}

func TestAnonymousRoleIsAFloor(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.AnonymousRole = store.RoleOperator })
	wantStatus(t, env.do(t, "POST", "/api/v1/events", validEvent, ""), http.StatusOK)
	wantStatus(t, env.do(t, "POST", "/api/v1/events", validEvent, env.secrets[store.RoleViewer]), http.StatusOK)
}

func TestExpiredToken(t *testing.T) {
	env := newTestEnv(t, nil)
	gone := env.addToken(t, "gone", store.RoleAdmin, testStart.Add(-time.Second))
	e := wantError(t, env.do(t, "GET", "/api/v1/status", "", gone), http.StatusUnauthorized)
	if !strings.Contains(e.Message, "expired") {
		t.Errorf("message = %q", e.Message)
	}

	// A token that expires while cached stops working at its expiry, not
	// at the end of the cache TTL.
	soon := env.addToken(t, "soon", store.RoleViewer, testStart.Add(5*time.Second))
	wantStatus(t, env.do(t, "GET", "/api/v1/status", "", soon), http.StatusOK)
	env.clock.Advance(5 * time.Second)
	wantError(t, env.do(t, "GET", "/api/v1/status", "", soon), http.StatusUnauthorized)
}

// TestDeletedTokenCacheTTL: a token deleted behind the server's back (in the
// store, by another process) works until the cache TTL has passed.
func TestDeletedTokenCacheTTL(t *testing.T) {
	env := newTestEnv(t, nil)
	secret := env.secrets[store.RoleViewer]
	wantStatus(t, env.do(t, "GET", "/api/v1/status", "", secret), http.StatusOK)
	if err := env.tokens.DeleteToken(context.Background(), "id-viewer"); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(DefaultTokenCacheTTL - time.Second)
	wantStatus(t, env.do(t, "GET", "/api/v1/status", "", secret), http.StatusOK) // documented staleness
	env.clock.Advance(time.Second)
	wantError(t, env.do(t, "GET", "/api/v1/status", "", secret), http.StatusUnauthorized)
}

func TestTokenCache(t *testing.T) {
	tests := []struct {
		name        string
		ttl         time.Duration
		wantLookups int
	}{
		{"cached", DefaultTokenCacheTTL, 1},
		{"disabled", -1, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, func(o *Options) { o.TokenCacheTTL = tt.ttl })
			for range 5 {
				wantStatus(t, env.do(t, "GET", "/api/v1/status", "", env.secrets[store.RoleViewer]), http.StatusOK)
			}
			if lookups, _ := env.tokens.counts(); lookups != tt.wantLookups {
				t.Errorf("store lookups = %d, want %d", lookups, tt.wantLookups)
			}
		})
	}
}

func TestTokenCacheIsBounded(t *testing.T) {
	env := newTestEnv(t, nil)
	a := env.s.auth
	for i := range maxCachedTokens * 2 {
		var h [32]byte
		h[0], h[1] = byte(i), byte(i>>8)
		a.mtx.Lock()
		a.evictLocked(env.clock.Now())
		a.cache[h] = cachedToken{fetched: env.clock.Now()}
		a.mtx.Unlock()
	}
	if n := len(a.cache); n > maxCachedTokens {
		t.Errorf("cache holds %d entries, bound is %d", n, maxCachedTokens)
	}
}

func TestStoreErrorIsInternal(t *testing.T) {
	env := newTestEnv(t, nil)
	env.tokens.TokenByHashFunc = func(context.Context, []byte) (store.Token, error) {
		return store.Token{}, errors.New("database is locked")
	}
	e := wantError(t, env.do(t, "GET", "/api/v1/status", "", "vgl_x"), http.StatusInternalServerError)
	if strings.Contains(e.Message, "locked") {
		t.Errorf("store error leaked: %q", e.Message)
	}
}

func TestStoreReturningWrongTokenIsRefused(t *testing.T) {
	env := newTestEnv(t, nil)
	env.tokens.TokenByHashFunc = func(context.Context, []byte) (store.Token, error) {
		return store.Token{ID: "x", Role: store.RoleAdmin, Hash: HashToken("something else")}, nil
	}
	wantError(t, env.do(t, "GET", "/api/v1/status", "", "vgl_guess"), http.StatusUnauthorized)
}

func TestTouchToken(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.TokenCacheTTL = time.Hour })
	secret := env.secrets[store.RoleViewer]
	get := func() {
		t.Helper()
		wantStatus(t, env.do(t, "GET", "/api/v1/status", "", secret), http.StatusOK)
		env.s.bg.Wait() // touches run in the background
	}
	get()
	get()
	env.clock.Advance(59 * time.Second)
	get()
	env.clock.Advance(time.Second)
	get()
	get()
	if _, touches := env.tokens.counts(); !slices.Equal(touches, []string{"id-viewer", "id-viewer"}) {
		t.Errorf("touches = %v, want two (at 0s and 60s)", touches)
	}

	// A failing or slow touch does not fail the request.
	env.tokens.TouchTokenFunc = func(context.Context, string, time.Time) error { return errors.New("read-only") }
	env.clock.Advance(time.Minute)
	get()
}

func TestAuthContext(t *testing.T) {
	env := newTestEnv(t, nil)
	var gotRole store.Role
	var gotTok store.Token
	var hasTok bool
	env.s.Handle("GET /api/v1/test/whoami", store.RoleViewer, func(_ http.ResponseWriter, r *http.Request) error {
		gotRole = RoleFrom(r.Context())
		gotTok, hasTok = TokenFrom(r.Context())
		return nil
	})
	wantStatus(t, env.do(t, "GET", "/api/v1/test/whoami", "", env.secrets[store.RoleOperator]), http.StatusOK)
	if gotRole != store.RoleOperator || !hasTok || gotTok.ID != "id-operator" {
		t.Errorf("RoleFrom = %q, TokenFrom = %v %v", gotRole, gotTok.ID, hasTok)
	}
	if RoleFrom(context.Background()) != "" {
		t.Error("RoleFrom(empty context) is not empty")
	}
	if _, ok := TokenFrom(context.Background()); ok {
		t.Error("TokenFrom(empty context) reports a token")
	}
}
