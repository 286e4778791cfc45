package redact

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestNothingLeavesUnredacted stands a fake OpenAI-compatible endpoint in for
// the model and checks that no seeded value reaches it in any request body.
func TestNothingLeavesUnredacted(t *testing.T) {
	var mtx sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		mtx.Lock()
		bodies = append(bodies, string(b))
		mtx.Unlock()
		// Echo the user content back as the answer, as a model quoting its input would.
		var cr chatRequest
		if err := json.Unmarshal(b, &cr); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"choices": []any{map[string]any{"message": cr.Messages[len(cr.Messages)-1]}}})
	}))
	defer srv.Close()

	g := gen{rand.New(rand.NewPCG(99, 1))}
	r := newTest(t, nil)
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	var seeded []string
	for i := 0; i < 52; i += 2 {
		a, va, _ := g.seeded(i)
		b, vb, _ := g.seeded(i + 1)
		seeded = append(append(seeded, va...), vb...)
		ctx := a + "\n" + g.ordinary(i) + "\n" + b
		body, err := JSONMessages(r, at, "gpt-4o-mini", []Message{
			{Role: "system", Content: "You are an SRE assistant."},
			{Role: "user", Content: "Why is checkout failing?\n" + ctx},
		})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		var ans struct {
			Choices []struct{ Message Message } `json:"choices"`
		}
		json.NewDecoder(resp.Body).Decode(&ans)
		resp.Body.Close()
		// Locally, the answer points back at the real entities.
		if got := r.Restore(ans.Choices[0].Message.Content); got != "Why is checkout failing?\n"+ctx {
			t.Errorf("restored answer differs:\n%q", got)
		}
	}
	if len(bodies) != 26 {
		t.Fatalf("server saw %d bodies", len(bodies))
	}
	for _, b := range bodies {
		for _, v := range seeded {
			// The body is JSON: compare against the encoded form too.
			enc, _ := json.Marshal(v)
			if strings.Contains(b, v) || strings.Contains(b, strings.Trim(string(enc), `"`)) {
				t.Errorf("seeded value %q left the process", v)
			}
		}
	}
	log := r.Log()
	if len(log) != 26 || log[0].Text != bodies[0] || !log[0].Time.Equal(at) {
		t.Errorf("log does not match what was sent: %d records", len(log))
	}
}
