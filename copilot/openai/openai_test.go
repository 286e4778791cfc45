package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilops/vigil/copilot"
)

// fakeServer is a chat-completions server scripted per test: reply is
// called for each request with its decoded body and the attempt number.
type fakeServer struct {
	*httptest.Server
	mtx   sync.Mutex // protects reqs, hdrs and reply
	reqs  []map[string]any
	hdrs  []http.Header
	reply func(w http.ResponseWriter, r *http.Request, body map[string]any, n int)
}

func newFake(t *testing.T, reply func(w http.ResponseWriter, r *http.Request, body map[string]any, n int)) *fakeServer {
	t.Helper()
	f := &fakeServer{reply: reply}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
			http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			http.Error(w, "bad content type "+ct, http.StatusBadRequest)
			return
		}
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, `{"error":{"message":"bad json"}}`, http.StatusBadRequest)
			return
		}
		if _, ok := body["model"].(string); !ok {
			http.Error(w, `{"error":{"message":"model required"}}`, http.StatusBadRequest)
			return
		}
		if _, ok := body["messages"].([]any); !ok {
			http.Error(w, `{"error":{"message":"messages required"}}`, http.StatusBadRequest)
			return
		}
		f.mtx.Lock()
		f.reqs = append(f.reqs, body)
		f.hdrs = append(f.hdrs, r.Header.Clone())
		n := len(f.reqs)
		reply := f.reply
		f.mtx.Unlock()
		reply(w, r, body, n)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) setReply(reply func(w http.ResponseWriter, r *http.Request, body map[string]any, n int)) {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	f.reply = reply
}

func (f *fakeServer) calls() int {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	return len(f.reqs)
}

func (f *fakeServer) request(i int) (map[string]any, http.Header) {
	f.mtx.Lock()
	defer f.mtx.Unlock()
	return f.reqs[i], f.hdrs[i]
}

// completion writes a chat.completion object.
func completion(w http.ResponseWriter, message map[string]any, finish string) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "m",
		"choices": []any{map[string]any{"index": 0, "message": message, "finish_reason": finish}},
		"usage":   map[string]any{"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
	})
}

func say(text string) func(w http.ResponseWriter, r *http.Request, body map[string]any, n int) {
	return func(w http.ResponseWriter, r *http.Request, body map[string]any, n int) {
		completion(w, map[string]any{"role": "assistant", "content": text}, "stop")
	}
}

// testClient builds a client for f with a recorded, instant Sleep.
func testClient(t *testing.T, f *fakeServer, edit func(*Options)) (*Client, *[]time.Duration) {
	t.Helper()
	var slept []time.Duration
	var mtx sync.Mutex
	o := DefaultOptions()
	o.BaseURL = f.URL + "/v1"
	o.Model = "test-model"
	o.APIKey = "sk-test"
	o.Sleep = func(ctx context.Context, d time.Duration) error {
		mtx.Lock()
		slept = append(slept, d)
		mtx.Unlock()
		return ctx.Err()
	}
	o.Now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	if edit != nil {
		edit(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, &slept
}

func userReq(text string) copilot.Request {
	return copilot.Request{Messages: []copilot.Message{
		{Role: copilot.RoleSystem, Content: "You are an SRE assistant."},
		{Role: copilot.RoleUser, Content: text},
	}}
}

func TestChatPlain(t *testing.T) {
	f := newFake(t, say("The database refused connections."))
	c, _ := testClient(t, f, nil)
	temp := 0.2
	req := userReq("why is checkout failing?")
	req.Temperature = &temp
	req.MaxTokens = 100
	resp, err := c.Chat(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "The database refused connections." || resp.FinishReason != "stop" {
		t.Errorf("reply %+v", resp)
	}
	if resp.Usage != (copilot.Usage{Prompt: 11, Completion: 7, Total: 18}) {
		t.Errorf("usage %+v", resp.Usage)
	}
	body, h := f.request(0)
	if got := h.Get("Authorization"); got != "Bearer sk-test" {
		t.Errorf("Authorization %q", got)
	}
	if body["model"] != "test-model" || body["temperature"] != 0.2 || body["max_tokens"] != 100.0 {
		t.Errorf("body %v", body)
	}
	if _, ok := body["stream"]; ok {
		t.Errorf("stream sent on Chat: %v", body)
	}
	msgs := body["messages"].([]any)
	if len(msgs) != 2 || msgs[1].(map[string]any)["content"] != "why is checkout failing?" {
		t.Errorf("messages %v", msgs)
	}
}

func TestToolCallRoundTrip(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, body map[string]any, n int) {
		msgs := body["messages"].([]any)
		last := msgs[len(msgs)-1].(map[string]any)
		if last["role"] != "tool" {
			completion(w, map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{
				"id": "call_1", "type": "function",
				"function": map[string]any{"name": "get_pod_status", "arguments": `{"pod":"checkout-7f9"}`},
			}}}, "tool_calls")
			return
		}
		if last["tool_call_id"] != "call_1" {
			http.Error(w, `{"error":{"message":"tool_call_id mismatch"}}`, http.StatusBadRequest)
			return
		}
		asst := msgs[len(msgs)-2].(map[string]any)
		calls, _ := asst["tool_calls"].([]any)
		if len(calls) != 1 {
			http.Error(w, `{"error":{"message":"assistant tool_calls missing"}}`, http.StatusBadRequest)
			return
		}
		fn := calls[0].(map[string]any)["function"].(map[string]any)
		if fn["arguments"] != `{"pod":"checkout-7f9"}` {
			http.Error(w, `{"error":{"message":"arguments must be a JSON string"}}`, http.StatusBadRequest)
			return
		}
		completion(w, map[string]any{"role": "assistant", "content": "The pod is CrashLoopBackOff: " + last["content"].(string)}, "stop")
	})
	c, _ := testClient(t, f, nil)
	req := userReq("is checkout healthy?")
	req.Tools = []copilot.Tool{{Name: "get_pod_status", Description: "Status of a pod", Parameters: json.RawMessage(`{"type":"object","properties":{"pod":{"type":"string"}},"required":["pod"]}`)}}
	req.ToolChoice = "auto"
	resp, err := c.Chat(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.FinishReason != "tool_calls" || len(resp.ToolCalls) != 1 {
		t.Fatalf("reply %+v", resp)
	}
	tc := resp.ToolCalls[0]
	if tc.ID != "call_1" || tc.Name != "get_pod_status" || string(tc.Arguments) != `{"pod":"checkout-7f9"}` {
		t.Fatalf("tool call %+v", tc)
	}
	body, _ := f.request(0)
	tools := body["tools"].([]any)
	if fn := tools[0].(map[string]any)["function"].(map[string]any); fn["name"] != "get_pod_status" || fn["parameters"] == nil {
		t.Errorf("tools %v", tools)
	}
	if body["tool_choice"] != "auto" {
		t.Errorf("tool_choice %v", body["tool_choice"])
	}
	req.Messages = append(req.Messages,
		copilot.Message{Role: copilot.RoleAssistant, ToolCalls: resp.ToolCalls},
		copilot.Message{Role: copilot.RoleTool, ToolCallID: tc.ID, Content: "restarts=14 reason=OOMKilled"})
	resp, err = c.Chat(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "The pod is CrashLoopBackOff: restarts=14 reason=OOMKilled" {
		t.Errorf("final answer %q", resp.Content)
	}
}

func TestToolChoiceNamed(t *testing.T) {
	f := newFake(t, say("ok"))
	c, _ := testClient(t, f, nil)
	req := userReq("x")
	req.ToolChoice = "get_logs"
	if _, err := c.Chat(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	body, _ := f.request(0)
	got, _ := json.Marshal(body["tool_choice"])
	if string(got) != `{"function":{"name":"get_logs"},"type":"function"}` {
		t.Errorf("tool_choice %s", got)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name    string
		reply   func(w http.ResponseWriter, r *http.Request, body map[string]any, n int)
		timeout time.Duration
		want    error
		mention []string
		calls   int
		sleeps  int
	}{
		{"401 unauthorized", func(w http.ResponseWriter, r *http.Request, _ map[string]any, _ int) {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"message":"Incorrect API key provided: sk-te***","type":"invalid_request_error","code":"invalid_api_key"}}`)
		}, 0, copilot.ErrUnauthorized, []string{"Incorrect API key provided", "401"}, 1, 0},
		{"429 forever", func(w http.ResponseWriter, r *http.Request, _ map[string]any, _ int) {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"message":"Rate limit reached for requests"}}`)
		}, 0, copilot.ErrRateLimited, []string{"Retry-After 2s", "Rate limit reached", "after 4 attempts"}, 4, 3},
		{"500 after retries", func(w http.ResponseWriter, r *http.Request, _ map[string]any, _ int) {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":{"message":"The server had an error while processing your request"}}`)
		}, 0, copilot.ErrServer, []string{"HTTP 500", "server had an error"}, 4, 3},
		{"ollama error string", func(w http.ResponseWriter, r *http.Request, _ map[string]any, _ int) {
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, `{"error":"model 'llama9' not found"}`)
		}, 0, copilot.ErrServer, []string{"model 'llama9' not found"}, 4, 3},
		{"timeout", func(w http.ResponseWriter, r *http.Request, _ map[string]any, _ int) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, 50 * time.Millisecond, copilot.ErrTimeout, []string{"within 50ms"}, 4, 3},
		{"malformed JSON", func(w http.ResponseWriter, r *http.Request, _ map[string]any, _ int) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"choices":[{"message":{"content":"hi"`)
		}, 0, copilot.ErrBadResponse, []string{"not chat completion JSON", "unexpected end"}, 1, 0},
		{"no choices", func(w http.ResponseWriter, r *http.Request, _ map[string]any, _ int) {
			io.WriteString(w, `{"choices":[]}`)
		}, 0, copilot.ErrBadResponse, []string{"no choices"}, 1, 0},
		{"bad tool arguments", func(w http.ResponseWriter, r *http.Request, _ map[string]any, _ int) {
			completion(w, map[string]any{"role": "assistant", "tool_calls": []any{map[string]any{"id": "c", "type": "function", "function": map[string]any{"name": "f", "arguments": `{"a":`}}}}, "tool_calls")
		}, 0, copilot.ErrBadResponse, []string{"not valid JSON"}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.reply)
			c, slept := testClient(t, f, func(o *Options) {
				if tt.timeout > 0 {
					o.Timeout = tt.timeout
				}
			})
			_, err := c.Chat(t.Context(), userReq("hello"))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			if got := f.calls(); got != tt.calls {
				t.Errorf("%d calls, want %d", got, tt.calls)
			}
			if len(*slept) != tt.sleeps {
				t.Errorf("slept %v, want %d sleeps", *slept, tt.sleeps)
			}
		})
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   time.Duration
	}{
		{"seconds", "7", 7 * time.Second},
		// testClient's clock is 2026-01-02 03:04:05 UTC.
		{"HTTP date", "Fri, 02 Jan 2026 03:04:35 GMT", 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, body map[string]any, n int) {
				if n == 1 {
					w.Header().Set("Retry-After", tt.header)
					w.WriteHeader(http.StatusTooManyRequests)
					io.WriteString(w, `{"error":{"message":"slow down"}}`)
					return
				}
				completion(w, map[string]any{"role": "assistant", "content": "fine"}, "stop")
			})
			c, slept := testClient(t, f, nil)
			resp, err := c.Chat(t.Context(), userReq("hi"))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Content != "fine" || f.calls() != 2 {
				t.Errorf("reply %q after %d calls", resp.Content, f.calls())
			}
			if len(*slept) != 1 || (*slept)[0] != tt.want {
				t.Errorf("slept %v, want [%v]", *slept, tt.want)
			}
		})
	}
}

func TestRetryAfterTooLong(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, body map[string]any, n int) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	c, slept := testClient(t, f, nil)
	_, err := c.Chat(t.Context(), userReq("hi"))
	if !errors.Is(err, copilot.ErrRateLimited) || !strings.Contains(err.Error(), "1h0m0s") {
		t.Fatalf("err %v", err)
	}
	if f.calls() != 1 || len(*slept) != 0 {
		t.Errorf("%d calls, slept %v; want to give up at once", f.calls(), *slept)
	}
}

func TestBackoffGrowsWithJitter(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, body map[string]any, n int) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	c, slept := testClient(t, f, func(o *Options) {
		o.MaxRetries = 5
		o.BackoffBase = 100 * time.Millisecond
		o.BackoffMax = time.Second
	})
	if _, err := c.Chat(t.Context(), userReq("hi")); !errors.Is(err, copilot.ErrServer) {
		t.Fatalf("err %v", err)
	}
	for i, d := range *slept {
		full := min(100*time.Millisecond<<i, time.Second)
		if d < full/2 || d > full {
			t.Errorf("sleep %d = %v, want in [%v, %v]", i, d, full/2, full)
		}
	}
}

func TestParentCancelNotRetried(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, body map[string]any, n int) {
		cancel()
		<-r.Context().Done()
	})
	c, _ := testClient(t, f, nil)
	_, err := c.Chat(ctx, userReq("hi"))
	if !errors.Is(err, context.Canceled) || f.calls() != 1 {
		t.Fatalf("err %v after %d calls", err, f.calls())
	}
}

func TestHeadersAndKeyFile(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("sk-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFake(t, say("ok"))
	c, _ := testClient(t, f, func(o *Options) {
		o.APIKey = ""
		o.APIKeyFile = keyFile
		o.Headers = map[string]string{"X-Gateway-Team": "sre", "OpenAI-Organization": "org-1"}
	})
	if _, err := c.Chat(t.Context(), userReq("hi")); err != nil {
		t.Fatal(err)
	}
	_, h := f.request(0)
	if h.Get("Authorization") != "Bearer sk-from-file" || h.Get("X-Gateway-Team") != "sre" || h.Get("OpenAI-Organization") != "org-1" {
		t.Errorf("headers %v", h)
	}
	// A rotated key is picked up on the next call (cache off by new content).
	os.WriteFile(keyFile, []byte("sk-rotated"), 0o600)
	if _, err := c.Chat(t.Context(), userReq("hi again")); err != nil {
		t.Fatal(err)
	}
	if _, h := f.request(1); h.Get("Authorization") != "Bearer sk-rotated" {
		t.Errorf("Authorization after rotation %q", h.Get("Authorization"))
	}
}

func TestNoKeyNoAuthorization(t *testing.T) {
	f := newFake(t, say("ok"))
	c, _ := testClient(t, f, func(o *Options) { o.APIKey = "" })
	if _, err := c.Chat(t.Context(), userReq("hi")); err != nil {
		t.Fatal(err)
	}
	if _, h := f.request(0); h.Get("Authorization") != "" {
		t.Errorf("Authorization %q sent without a key", h.Get("Authorization"))
	}
}

func TestProxy(t *testing.T) {
	var mtx sync.Mutex
	var seen []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mtx.Lock()
		seen = append(seen, r.Method+" "+r.URL.String()+" "+r.Header.Get("Authorization"))
		mtx.Unlock()
		completion(w, map[string]any{"role": "assistant", "content": "via proxy"}, "stop")
	}))
	defer proxy.Close()
	o := DefaultOptions()
	o.BaseURL = "http://llm.internal.example/v1"
	o.Model = "m"
	o.APIKey = "k"
	o.ProxyURL = proxy.URL
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Chat(t.Context(), userReq("hi"))
	if err != nil {
		t.Fatal(err)
	}
	mtx.Lock()
	defer mtx.Unlock()
	if resp.Content != "via proxy" || len(seen) != 1 || seen[0] != "POST http://llm.internal.example/v1/chat/completions Bearer k" {
		t.Errorf("reply %q, proxy saw %q", resp.Content, seen)
	}
}

func TestCache(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, body map[string]any, n int) {
		completion(w, map[string]any{"role": "assistant", "content": fmt.Sprintf("reply %d", n)}, "stop")
	})
	c, _ := testClient(t, f, func(o *Options) { o.CacheSize = 2 })
	ask := func(q string) string {
		t.Helper()
		r, err := c.Chat(t.Context(), userReq(q))
		if err != nil {
			t.Fatal(err)
		}
		return r.Content
	}
	steps := []struct{ q, want string }{
		{"a", "reply 1"}, {"a", "reply 1"}, {"b", "reply 2"}, {"a", "reply 1"},
		{"c", "reply 3"}, // evicts b, the least recently used
		{"a", "reply 1"}, {"b", "reply 4"},
	}
	for i, s := range steps {
		if got := ask(s.q); got != s.want {
			t.Errorf("step %d ask %q = %q, want %q", i, s.q, got, s.want)
		}
	}
	if c.cache.len() != 2 {
		t.Errorf("cache holds %d, want 2", c.cache.len())
	}
	// Streaming bypasses the cache.
	f.setReply(sseReply([]string{`{"choices":[{"index":0,"delta":{"content":"fresh"}}]}`}))
	r, err := c.ChatStream(t.Context(), userReq("a"), nil)
	if err != nil || r.Content != "fresh" {
		t.Errorf("stream %q %v", r.Content, err)
	}
}

func TestBudget(t *testing.T) {
	f := newFake(t, say("ok"))
	c, _ := testClient(t, f, func(o *Options) { o.MaxPromptTokens = 200 })
	big := strings.Repeat("2024-03-11 ERROR connection refused db:5432\n", 200)
	if _, err := c.Chat(t.Context(), userReq(big)); err != nil {
		t.Fatal(err)
	}
	body, _ := f.request(0)
	msgs := body["messages"].([]any)
	sent := msgs[1].(map[string]any)["content"].(string)
	if !strings.Contains(sent, "bytes truncated") || len(sent) > 800 {
		t.Errorf("sent %d bytes: %.100q", len(sent), sent)
	}
	if msgs[0].(map[string]any)["content"] != "You are an SRE assistant." {
		t.Errorf("system prompt changed")
	}
	// A system prompt alone over budget cannot be fitted.
	req := copilot.Request{Messages: []copilot.Message{{Role: copilot.RoleSystem, Content: big}, {Role: copilot.RoleUser, Content: "hi"}}}
	if _, err := c.Chat(t.Context(), req); !errors.Is(err, copilot.ErrBudget) || !strings.Contains(err.Error(), "budget 200") {
		t.Errorf("err %v, want ErrBudget", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Options)
		ok   bool
	}{
		{"defaults", func(*Options) {}, true},
		{"ollama", func(o *Options) { o.BaseURL = "http://localhost:11434/v1" }, true},
		{"endpoint not root", func(o *Options) { o.BaseURL = "https://api.openai.com/v1/chat/completions" }, false},
		{"not http", func(o *Options) { o.BaseURL = "ftp://x/v1" }, false},
		{"key and file", func(o *Options) { o.APIKey, o.APIKeyFile = "a", "b" }, false},
		{"client and proxy", func(o *Options) { o.HTTPClient, o.ProxyURL = http.DefaultClient, "http://p:3128" }, false},
		{"zero timeout", func(o *Options) { o.Timeout = 0 }, false},
		{"negative retries", func(o *Options) { o.MaxRetries = -1 }, false},
		{"backoff max < base", func(o *Options) { o.BackoffMax = time.Millisecond }, false},
		{"bad header", func(o *Options) { o.Headers = map[string]string{"X Bad": "v"} }, false},
		{"bad proxy", func(o *Options) { o.ProxyURL = "::" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			tt.edit(&o)
			_, err := New(o)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalidOptions)) {
				t.Errorf("err %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestNoModel(t *testing.T) {
	f := newFake(t, say("ok"))
	c, _ := testClient(t, f, func(o *Options) { o.Model = "" })
	if _, err := c.Chat(t.Context(), userReq("x")); !errors.Is(err, ErrInvalidOptions) || f.calls() != 0 {
		t.Errorf("err %v after %d calls", err, f.calls())
	}
}
