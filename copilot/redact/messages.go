package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Message is one chat message in the OpenAI-compatible wire format.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatRequest struct {
	Model    string    `json:"model"`
	Messages []Message `json:"messages"`
}

// JSONMessages builds the body of an OpenAI-compatible chat completion request
// with every message content redacted by r, and records that body, exactly as
// it will be sent, at time at. Building request bodies only through this
// function is what keeps unredacted text from leaving the process.
func JSONMessages(r *Redactor, at time.Time, model string, msgs []Message) ([]byte, error) {
	out := make([]Message, len(msgs))
	var all []Finding
	for i, m := range msgs {
		c, fs := r.redact(m.Content)
		out[i] = Message{Role: m.Role, Content: c}
		all = append(all, fs...)
	}
	// No HTML escaping: the model and the local record should read <EMAIL_1>,
	// not \u003cEMAIL_1\u003e.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(chatRequest{Model: model, Messages: out}); err != nil {
		return nil, fmt.Errorf("encode chat request: %w", err)
	}
	body := bytes.TrimRight(buf.Bytes(), "\n")
	r.record(at, string(body), all)
	return body, nil
}
