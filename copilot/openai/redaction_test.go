package openai

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestRedactionAlwaysOn checks that secrets in messages never reach the
// server, with no redaction option set, and that the placeholders the model
// echoes come back as the real values.
func TestRedactionAlwaysOn(t *testing.T) {
	secrets := []string{
		"AKIAIOSFODNN7EXAMPLE",
		"jane.doe@example.com",
		"hunter2hunter2",
	}
	var placeholder string
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, body map[string]any, n int) {
		msgs := body["messages"].([]any)
		user := msgs[len(msgs)-1].(map[string]any)["content"].(string)
		// Echo the first placeholder back, as a model citing an entity would.
		if i := strings.Index(user, "<"); i >= 0 {
			if j := strings.Index(user[i:], ">"); j > 0 {
				placeholder = user[i : i+j+1]
			}
		}
		completion(w, map[string]any{"role": "assistant", "content": "check " + placeholder}, "stop")
	})
	c, _ := testClient(t, f, nil)
	text := "login failed for jane.doe@example.com with key AKIAIOSFODNN7EXAMPLE; dsn postgres://app:hunter2hunter2@db-prod-1:5432/shop"
	resp, err := c.Chat(t.Context(), userReq(text))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := f.request(0)
	raw, _ := json.Marshal(body)
	for _, s := range secrets {
		if strings.Contains(string(raw), s) {
			t.Errorf("secret %q reached the server: %s", s, raw)
		}
	}
	if !strings.Contains(string(raw), "db-prod-1:5432") {
		t.Errorf("ordinary evidence was redacted too: %s", raw)
	}
	if placeholder == "" {
		t.Fatalf("no placeholder in the request: %s", raw)
	}
	if strings.Contains(resp.Content, placeholder) || !strings.ContainsAny(resp.Content, "@A") {
		t.Errorf("answer not restored: %q (placeholder %s)", resp.Content, placeholder)
	}
}
