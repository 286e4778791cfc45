package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/store"
)

func TestSilenceAuth(t *testing.T) {
	cases := []struct {
		name   string
		listen string
		remote string
		header string
		want   int
	}{
		{"loopback open", "127.0.0.1:9380", "127.0.0.1:5555", "", 200},
		{"remote peer without token", "127.0.0.1:9380", "10.0.0.2:5555", "", 401},
		{"exposed listen without token", "0.0.0.0:9380", "127.0.0.1:5555", "", 401},
		{"unknown bearer on exposed listen", "0.0.0.0:9380", "10.0.0.2:5555", "Bearer nope", 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := silenceAuth(fakeTokens{}, c.listen, time.Now)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }))
			r := httptest.NewRequest("POST", "/api/v2/silences", nil)
			r.RemoteAddr = c.remote
			if c.header != "" {
				r.Header.Set("Authorization", c.header)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != c.want {
				t.Fatalf("got %d, want %d: %s", w.Code, c.want, w.Body)
			}
		})
	}
}

// fakeTokens is a token store that knows no tokens.
type fakeTokens struct{ store.TokenStore }

func (fakeTokens) TokenByHash(context.Context, []byte) (store.Token, error) {
	return store.Token{}, store.ErrNotFound
}

// TestSilenceNeedsOperatorToken: a Vigil API token sent with a silence
// change must have the operator role, even on loopback.
func TestSilenceNeedsOperatorToken(t *testing.T) {
	cfg := testConfig(t)
	a := startApp(t, cfg)
	base := "http://" + a.Addr().String()
	adminB, err := os.ReadFile(filepath.Join(cfg.DataDir, AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	admin := strings.TrimSpace(string(adminB))
	do := func(token, body string) (int, []byte) {
		t.Helper()
		return send(t, "POST", base+"/api/v2/silences", body, token)
	}
	req, _ := http.NewRequest("POST", base+"/api/v1/tokens", strings.NewReader(`{"name":"ro","role":"viewer"}`))
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Secret string `json:"secret"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.Secret == "" {
		t.Fatalf("create viewer token: %d %v", resp.StatusCode, err)
	}
	now := time.Now().UTC()
	sil := `{"matchers":[{"name":"alertname","value":"X","isRegex":false}],"startsAt":"` + now.Format(time.RFC3339) +
		`","endsAt":"` + now.Add(time.Hour).Format(time.RFC3339) + `","createdBy":"t","comment":"c"}`
	for _, c := range []struct {
		name  string
		token string
		want  int
	}{
		{"viewer token", tok.Secret, http.StatusForbidden},
		{"admin token", admin, http.StatusOK},
		{"no token on loopback", "", http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			if code, body := do(c.token, sil); code != c.want {
				t.Fatalf("got %d, want %d: %s", code, c.want, body)
			}
		})
	}
}
