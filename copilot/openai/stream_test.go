package openai

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/vigilops/vigil/copilot"
)

// sseReply streams events as the chat completions API does, one
// "data: ..." line and a blank line each, then "data: [DONE]".
func sseReply(events []string) func(w http.ResponseWriter, r *http.Request, body map[string]any, n int) {
	return func(w http.ResponseWriter, r *http.Request, body map[string]any, n int) {
		if body["stream"] != true {
			http.Error(w, `{"error":{"message":"expected stream:true"}}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		io.WriteString(w, ": keep-alive\n\n")
		for _, e := range events {
			fmt.Fprintf(w, "data: %s\n\n", e)
			fl.Flush()
		}
		io.WriteString(w, "data: [DONE]\n\n")
	}
}

func TestChatStream(t *testing.T) {
	events := []string{
		`{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`,
		`{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Checking "},"finish_reason":null}]}`,
		`{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"the pods."},"finish_reason":null}]}`,
		`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_pod_status","arguments":""}}]},"finish_reason":null}]}`,
		`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"pod\":"}}]},"finish_reason":null}]}`,
		`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"get_logs","arguments":"{\"since\""}}]},"finish_reason":null}]}`,
		`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"checkout-7f9\"}"}}]},"finish_reason":null}]}`,
		`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":":\"5m\"}"}}]},"finish_reason":null}]}`,
		`{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
		`{"id":"c","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":12,"total_tokens":42}}`,
	}
	f := newFake(t, sseReply(events))
	c, _ := testClient(t, f, nil)
	var text strings.Builder
	var frags int
	resp, err := c.ChatStream(t.Context(), userReq("check checkout"), func(d copilot.Delta) error {
		text.WriteString(d.Content)
		frags += len(d.ToolCalls)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "Checking the pods." || text.String() != resp.Content {
		t.Errorf("content %q, streamed %q", resp.Content, text.String())
	}
	if frags != 5 {
		t.Errorf("%d tool-call fragments delivered, want 5", frags)
	}
	want := []copilot.ToolCall{
		{ID: "call_a", Name: "get_pod_status", Arguments: []byte(`{"pod":"checkout-7f9"}`)},
		{ID: "call_b", Name: "get_logs", Arguments: []byte(`{"since":"5m"}`)},
	}
	if len(resp.ToolCalls) != 2 {
		t.Fatalf("tool calls %+v", resp.ToolCalls)
	}
	for i, w := range want {
		g := resp.ToolCalls[i]
		if g.ID != w.ID || g.Name != w.Name || string(g.Arguments) != string(w.Arguments) {
			t.Errorf("tool call %d = %+v, want %+v", i, g, w)
		}
	}
	if resp.FinishReason != "tool_calls" || resp.Usage.Total != 42 {
		t.Errorf("finish %q usage %+v", resp.FinishReason, resp.Usage)
	}
	body, _ := f.request(0)
	if so, _ := body["stream_options"].(map[string]any); so["include_usage"] != true {
		t.Errorf("stream_options %v", body["stream_options"])
	}
}

func TestChatStreamErrors(t *testing.T) {
	stop := errors.New("stop")
	tests := []struct {
		name  string
		reply func(w http.ResponseWriter, r *http.Request, body map[string]any, n int)
		fn    func(copilot.Delta) error
		want  error
		calls int
	}{
		{"malformed event", sseReply([]string{`{"choices":[{"delta":{"content":"a"}}]}`, `{"choices":[`}), nil, copilot.ErrBadResponse, 1},
		{"error event", sseReply([]string{`{"error":{"message":"context length exceeded"}}`}), nil, copilot.ErrServer, 1},
		{"callback stops", sseReply([]string{`{"choices":[{"delta":{"content":"a"}}]}`}), func(copilot.Delta) error { return stop }, stop, 1},
		{"401 before stream", func(w http.ResponseWriter, r *http.Request, _ map[string]any, _ int) {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"message":"bad key"}}`)
		}, nil, copilot.ErrUnauthorized, 1},
		{"500 retried", func(w http.ResponseWriter, r *http.Request, _ map[string]any, _ int) {
			w.WriteHeader(http.StatusInternalServerError)
		}, nil, copilot.ErrServer, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.reply)
			c, _ := testClient(t, f, nil)
			_, err := c.ChatStream(t.Context(), userReq("x"), tt.fn)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			if f.calls() != tt.calls {
				t.Errorf("%d calls, want %d", f.calls(), tt.calls)
			}
		})
	}
}

// A server that ignores stream:true and answers with one JSON object.
func TestChatStreamWholeReply(t *testing.T) {
	f := newFake(t, say("all at once"))
	c, _ := testClient(t, f, nil)
	var got string
	resp, err := c.ChatStream(t.Context(), userReq("x"), func(d copilot.Delta) error { got += d.Content; return nil })
	if err != nil || resp.Content != "all at once" || got != "all at once" {
		t.Errorf("reply %q streamed %q err %v", resp.Content, got, err)
	}
}

func TestReadSSE(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"openai", "data: {\"a\":1}\n\ndata: {\"a\":2}\n\ndata: [DONE]\n\n", []string{`{"a":1}`, `{"a":2}`}},
		{"crlf and no space", "data:{\"a\":1}\r\n\r\ndata: [DONE]\r\n\r\n", []string{`{"a":1}`}},
		{"comments and fields", ": ping\nevent: message\nid: 3\ndata: x\n\n", []string{"x"}},
		{"multi-line data", "data: a\ndata: b\n\n", []string{"a\nb"}},
		{"no final blank line", "data: x", []string{"x"}},
		{"stops at DONE", "data: [DONE]\n\ndata: after\n\n", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := readSSE(strings.NewReader(tt.in), func(d []byte) error { got = append(got, string(d)); return nil })
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadSSETooLong(t *testing.T) {
	in := "data: " + strings.Repeat("x", maxEventBytes+10) + "\n\n"
	err := readSSE(strings.NewReader(in), func([]byte) error { return nil })
	if !errors.Is(err, copilot.ErrBadResponse) {
		t.Errorf("err %v", err)
	}
}

// A connection cut after fragments were delivered is not retried, so the
// callback never sees a fragment twice.
func TestChatStreamBrokenNotRetried(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ map[string]any, _ int) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Content-Length", "1000")
		io.WriteString(w, "data: {\"choices\":[{\"delta\":{\"content\":\"par\"}}]}\n\n")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	c, _ := testClient(t, f, nil)
	var got string
	_, err := c.ChatStream(t.Context(), userReq("x"), func(d copilot.Delta) error { got += d.Content; return nil })
	if !errors.Is(err, copilot.ErrServer) || !strings.Contains(err.Error(), "stream broken") {
		t.Errorf("err %v", err)
	}
	if got != "par" || f.calls() != 1 {
		t.Errorf("delivered %q over %d calls", got, f.calls())
	}
}
