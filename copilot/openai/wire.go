package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/vigilops/vigil/copilot"
)

// The chat completions wire format.

type wireRequest struct {
	Model          string          `json:"model"`
	Messages       []wireMessage   `json:"messages"`
	Tools          []wireTool      `json:"tools,omitempty"`
	ToolChoice     any             `json:"tool_choice,omitempty"`
	Temperature    *float64        `json:"temperature,omitempty"`
	MaxTokens      int             `json:"max_tokens,omitempty"`
	ResponseFormat *wireRespFormat `json:"response_format,omitempty"`
	Stream         bool            `json:"stream,omitempty"`
	StreamOptions  *streamOptions  `json:"stream_options,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type wireMessage struct {
	Role       string         `json:"role"`
	Content    *string        `json:"content"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
	ToolCalls  []wireToolCall `json:"tool_calls,omitempty"`
}

type wireTool struct {
	Type     string       `json:"type"`
	Function wireFunction `json:"function"`
}

type wireFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

type wireToolCall struct {
	Index    *int         `json:"index,omitempty"` // streaming only
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function wireCallFunc `json:"function"`
}

type wireCallFunc struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

type wireRespFormat struct {
	Type       string          `json:"type"`
	JSONSchema *wireJSONSchema `json:"json_schema,omitempty"`
}

type wireJSONSchema struct {
	Name   string          `json:"name"`
	Schema json.RawMessage `json:"schema"`
	Strict bool            `json:"strict,omitempty"`
}

type wireResponse struct {
	Choices []struct {
		Message      wireMessage `json:"message"`
		Delta        wireMessage `json:"delta"`
		FinishReason *string     `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		Prompt     int `json:"prompt_tokens"`
		Completion int `json:"completion_tokens"`
		Total      int `json:"total_tokens"`
	} `json:"usage"`
	Error *wireError `json:"error"`
}

type wireError struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    any    `json:"code"`
}

func encodeRequest(req copilot.Request, stream, usage bool) ([]byte, error) {
	w := wireRequest{
		Model:       req.Model,
		Messages:    make([]wireMessage, len(req.Messages)),
		Temperature: req.Temperature,
		MaxTokens:   req.MaxTokens,
		Stream:      stream,
	}
	if usage {
		w.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	for i, m := range req.Messages {
		wm := wireMessage{Role: m.Role, ToolCallID: m.ToolCallID}
		if m.Content != "" || len(m.ToolCalls) == 0 {
			wm.Content = &m.Content
		}
		for _, tc := range m.ToolCalls {
			args := string(tc.Arguments)
			if args == "" {
				args = "{}"
			}
			wm.ToolCalls = append(wm.ToolCalls, wireToolCall{ID: tc.ID, Type: "function", Function: wireCallFunc{Name: tc.Name, Arguments: args}})
		}
		w.Messages[i] = wm
	}
	for _, t := range req.Tools {
		w.Tools = append(w.Tools, wireTool{Type: "function", Function: wireFunction{Name: t.Name, Description: t.Description, Parameters: t.Parameters}})
	}
	switch req.ToolChoice {
	case "":
	case "auto", "none", "required":
		w.ToolChoice = req.ToolChoice
	default:
		w.ToolChoice = map[string]any{"type": "function", "function": map[string]string{"name": req.ToolChoice}}
	}
	if f := req.ResponseFormat; f != nil {
		name := f.Name
		if name == "" {
			name = "response"
		}
		w.ResponseFormat = &wireRespFormat{Type: "json_schema", JSONSchema: &wireJSONSchema{Name: name, Schema: f.Schema, Strict: f.Strict}}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, fmt.Errorf("encode chat request: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// decodeResponse decodes a non-streamed reply.
func decodeResponse(data []byte) (copilot.Response, error) {
	var w wireResponse
	if err := json.Unmarshal(data, &w); err != nil {
		return copilot.Response{}, fmt.Errorf("%w: reply is not chat completion JSON: %v (starts %q)", copilot.ErrBadResponse, err, snippet(data))
	}
	if w.Error != nil && w.Error.Message != "" {
		return copilot.Response{}, fmt.Errorf("%w: server error in body: %s", copilot.ErrServer, w.Error.Message)
	}
	if len(w.Choices) == 0 {
		return copilot.Response{}, fmt.Errorf("%w: reply has no choices", copilot.ErrBadResponse)
	}
	ch := w.Choices[0]
	var out copilot.Response
	if ch.Message.Content != nil {
		out.Content = *ch.Message.Content
	}
	if ch.FinishReason != nil {
		out.FinishReason = *ch.FinishReason
	}
	for i, tc := range ch.Message.ToolCalls {
		call, err := toolCall(tc.ID, tc.Function.Name, tc.Function.Arguments)
		if err != nil {
			return copilot.Response{}, fmt.Errorf("tool call %d: %w", i, err)
		}
		out.ToolCalls = append(out.ToolCalls, call)
	}
	if w.Usage != nil {
		out.Usage = copilot.Usage{Prompt: w.Usage.Prompt, Completion: w.Usage.Completion, Total: w.Usage.Total}
	}
	return out, nil
}

func toolCall(id, name, args string) (copilot.ToolCall, error) {
	if name == "" {
		return copilot.ToolCall{}, fmt.Errorf("%w: tool call %q has no function name", copilot.ErrBadResponse, id)
	}
	a := strings.TrimSpace(args)
	if a == "" {
		a = "{}"
	}
	if !json.Valid([]byte(a)) {
		return copilot.ToolCall{}, fmt.Errorf("%w: arguments of tool call %s are not valid JSON: %q", copilot.ErrBadResponse, name, snippet([]byte(a)))
	}
	return copilot.ToolCall{ID: id, Name: name, Arguments: json.RawMessage(a)}, nil
}

// serverMessage extracts the message of an error body: OpenAI's
// {"error":{"message":...}}, Ollama's {"error":"..."}, or the text itself.
func serverMessage(data []byte) string {
	var obj struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  string          `json:"detail"`
	}
	if json.Unmarshal(data, &obj) == nil {
		var e wireError
		var s string
		switch {
		case json.Unmarshal(obj.Error, &e) == nil && e.Message != "":
			return e.Message
		case json.Unmarshal(obj.Error, &s) == nil && s != "":
			return s
		case obj.Message != "":
			return obj.Message
		case obj.Detail != "":
			return obj.Detail
		}
	}
	return snippet(bytes.TrimSpace(data))
}

func snippet(b []byte) string {
	const n = 200
	if len(b) > n {
		return strings.ToValidUTF8(string(b[:n]), "") + "…"
	}
	return string(b)
}
