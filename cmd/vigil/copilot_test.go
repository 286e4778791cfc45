package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// chatServer is a local OpenAI-compatible endpoint that answers every
// request with content and keeps the bodies it received.
func chatServer(t *testing.T, content string) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		c, _ := json.Marshal(content)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":`+string(c)+`}}],"usage":{"prompt_tokens":10,"completion_tokens":10,"total_tokens":20}}`)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), bodies...)
	}
}

func writeCopilotConfig(t *testing.T, baseURL string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vigil.yml")
	cfg := "copilot:\n  provider: openai\n  base_url: " + baseURL + "/v1\n  model: test-model\n  api_key_env: \"\"\n  max_retries: 0\n"
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLogsAnalyzeWithModel: with a model configured, the summary is the
// model's, the analyst's findings stay as evidence, and what was sent holds
// no secret from the log.
func TestLogsAnalyzeWithModel(t *testing.T) {
	srv, sent := chatServer(t, `{"summary":"Postgres on db-prod-1 refuses connections.","cause":"the database is down","next_steps":["pg_isready -h db-prod-1 -p 5432"],"confidence":0.7}`)
	cfg := writeCopilotConfig(t, srv.URL)
	log := filepath.Join(t.TempDir(), "app.log")
	in := "2023-10-27 10:00:01 [INFO] Starting server...\n" +
		"2023-10-27 10:00:05 [ERROR] ConnectionRefusedError: [Errno 111] Connection refused: 'db-prod-1:5432' dsn=postgres://app:S3cretPassw0rd@db-prod-1:5432/shop\n" +
		"2023-10-27 10:00:06 [CRITICAL] Database health check failed. Retrying in 5s... user=jane.doe@example.com\n"
	if err := os.WriteFile(log, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runVigil(t, "", "logs", "analyze", "--config", cfg, log)
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	for _, want := range []string{"Summary (model test-model)", "Postgres on db-prod-1 refuses connections.", "pg_isready -h db-prod-1 -p 5432", "line 2:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	bodies := sent()
	if len(bodies) == 0 {
		t.Fatal("the model was not asked")
	}
	for _, b := range bodies {
		for _, secret := range []string{"S3cretPassw0rd", "jane.doe@example.com"} {
			if strings.Contains(b, secret) {
				t.Errorf("%q was sent to the model", secret)
			}
		}
		if !strings.Contains(b, "db-prod-1") {
			t.Errorf("the evidence itself was redacted away: %s", b)
		}
	}

	// An unreachable model: the analyst answers and says why.
	srv.Close()
	out, _, err = runVigil(t, "", "explain", "--config", cfg, "--json", log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "The service cannot reach its database at db-prod-1:5432") {
		t.Errorf("no analyst fallback:\n%s", out)
	}
}

func TestExplainWithModelJSON(t *testing.T) {
	srv, _ := chatServer(t, `{"summary":"The database refused.","cause":"db down","next_steps":[],"confidence":0.6}`)
	out, stderr, err := runVigil(t, "", "explain", "--config", writeCopilotConfig(t, srv.URL), "--json", "--line", "dial tcp 10.0.0.5:5432: connect: connection refused")
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	var ex struct {
		Source   string `json:"source"`
		Cause    string `json:"cause"`
		Analysis struct {
			Findings []json.RawMessage `json:"findings"`
		} `json:"analysis"`
	}
	if err := json.Unmarshal([]byte(out), &ex); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if ex.Source != "model test-model" || ex.Cause != "db down" || len(ex.Analysis.Findings) == 0 {
		t.Errorf("explain %s", out)
	}
}

func TestCopilotConfigErrors(t *testing.T) {
	p := filepath.Join(t.TempDir(), "vigil.yml")
	os.WriteFile(p, []byte("copilot:\n  provider: openai\n  base_url: http://x/v1/chat/completions\n"), 0o600)
	_, _, err := runVigil(t, "", "explain", "--config", p, "--line", "x")
	if err == nil || !strings.Contains(err.Error(), "copilot.base_url") || !strings.Contains(err.Error(), "copilot.model") {
		t.Errorf("err %v, want copilot.base_url and copilot.model named", err)
	}
}
