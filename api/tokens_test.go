package api

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/store"
)

func TestGenerateToken(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		secret, hash, err := GenerateToken()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(secret, TokenPrefix))
		if !strings.HasPrefix(secret, TokenPrefix) || err != nil || len(raw) != 32 {
			t.Fatalf("secret %q is not vgl_ + 32 bytes base64url (%v)", secret, err)
		}
		if string(hash) != string(HashToken(secret)) || len(hash) != 32 {
			t.Fatalf("hash is not SHA-256 of the secret")
		}
		if seen[secret] {
			t.Fatalf("secret repeated")
		}
		seen[secret] = true
	}
}

func TestTokenRoutesAdminOnly(t *testing.T) {
	env := newTestEnv(t, nil)
	routes := []struct{ method, path, body string }{
		{"POST", "/api/v1/tokens", `{"name":"ci","role":"viewer"}`},
		{"GET", "/api/v1/tokens", ""},
		{"DELETE", "/api/v1/tokens/id-viewer", ""},
	}
	for _, rt := range routes {
		t.Run(rt.method, func(t *testing.T) {
			wantError(t, env.do(t, rt.method, rt.path, rt.body, ""), http.StatusUnauthorized)
			for _, role := range []store.Role{store.RoleViewer, store.RoleOperator} {
				e := wantError(t, env.do(t, rt.method, rt.path, rt.body, env.secrets[role]), http.StatusForbidden)
				if !strings.Contains(e.Message, "admin") {
					t.Errorf("message %q does not name admin", e.Message)
				}
			}
		})
	}
}

func TestTokenLifecycle(t *testing.T) {
	env := newTestEnv(t, nil)
	admin := env.secrets[store.RoleAdmin]

	rec := env.do(t, "POST", "/api/v1/tokens", `{"name":" ci ","role":"operator","expires_in":"1h"}`, admin)
	wantStatus(t, rec, http.StatusCreated)
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Error("creation answer may be cached")
	}
	var created tokenView
	mustJSON(t, rec, &created)
	if created.Name != "ci" || created.Role != store.RoleOperator || !strings.HasPrefix(created.Secret, TokenPrefix) ||
		!created.ExpiresAt.Equal(testStart.Add(time.Hour)) || created.ID == "" {
		t.Fatalf("created = %+v", created)
	}
	if strings.Contains(rec.Body.String(), "hash") {
		t.Errorf("creation answer shows a hash: %s", rec.Body)
	}
	wantStatus(t, env.do(t, "POST", "/api/v1/events", validEvent, created.Secret), http.StatusOK)

	rec = env.do(t, "GET", "/api/v1/tokens", "", admin)
	wantStatus(t, rec, http.StatusOK)
	var list struct{ Tokens []map[string]any }
	mustJSON(t, rec, &list)
	if len(list.Tokens) != 4 {
		t.Fatalf("listed %d tokens, want 4", len(list.Tokens))
	}
	for _, tok := range list.Tokens {
		if _, ok := tok["secret"]; ok {
			t.Errorf("listing shows a secret: %v", tok)
		}
		if _, ok := tok["hash"]; ok {
			t.Errorf("listing shows a hash: %v", tok)
		}
	}

	// Deleting through the API takes effect at once, cache or not.
	wantStatus(t, env.do(t, "DELETE", "/api/v1/tokens/"+created.ID, "", admin), http.StatusNoContent)
	wantError(t, env.do(t, "POST", "/api/v1/events", validEvent, created.Secret), http.StatusUnauthorized)
	wantError(t, env.do(t, "DELETE", "/api/v1/tokens/"+created.ID, "", admin), http.StatusNotFound)

	// An admin may delete the token it is using; the next request fails.
	wantStatus(t, env.do(t, "DELETE", "/api/v1/tokens/id-admin", "", admin), http.StatusNoContent)
	wantError(t, env.do(t, "GET", "/api/v1/tokens", "", admin), http.StatusUnauthorized)
}

func TestCreatedTokenExpires(t *testing.T) {
	env := newTestEnv(t, nil)
	rec := env.do(t, "POST", "/api/v1/tokens", `{"name":"short","role":"viewer","expires_in":"90s"}`, env.secrets[store.RoleAdmin])
	wantStatus(t, rec, http.StatusCreated)
	var created tokenView
	mustJSON(t, rec, &created)
	wantStatus(t, env.do(t, "GET", "/api/v1/status", "", created.Secret), http.StatusOK)
	env.clock.Advance(90 * time.Second)
	wantError(t, env.do(t, "GET", "/api/v1/status", "", created.Secret), http.StatusUnauthorized)

	rec = env.do(t, "GET", "/api/v1/tokens", "", env.secrets[store.RoleAdmin])
	if !strings.Contains(rec.Body.String(), `"expired":true`) {
		t.Errorf("listing does not mark the expired token: %s", rec.Body)
	}
}

func TestCreateTokenValidation(t *testing.T) {
	env := newTestEnv(t, nil)
	tests := []struct {
		name, body, message string
	}{
		{"no name", `{"role":"viewer"}`, `"name" is required`},
		{"blank name", `{"name":"  ","role":"viewer"}`, `"name" is required`},
		{"long name", `{"name":"` + strings.Repeat("n", 101) + `","role":"viewer"}`, `at most 100 bytes`},
		{"no role", `{"name":"x"}`, `"role"`},
		{"bad role", `{"name":"x","role":"root"}`, `"root"`},
		{"bad duration", `{"name":"x","role":"viewer","expires_in":"30 days"}`, `"expires_in"`},
		{"negative duration", `{"name":"x","role":"viewer","expires_in":"-1h"}`, `positive`},
		{"unknown field", `{"name":"x","role":"viewer","ttl":"1h"}`, `unknown field "ttl"`},
		{"wrong type", `{"name":"x","role":"viewer","expires_in":3600}`, `field "expires_in": want a string, got number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := wantError(t, env.do(t, "POST", "/api/v1/tokens", tt.body, env.secrets[store.RoleAdmin]), http.StatusBadRequest)
			if !strings.Contains(e.Message, tt.message) {
				t.Errorf("message %q does not contain %q", e.Message, tt.message)
			}
		})
	}
}
