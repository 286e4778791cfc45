// Package copilot is Vigil's LLM side path: it owns the Provider interface
// that every model backend implements (see copilot/openai for any
// OpenAI-compatible server), the plain types a conversation is made of, and
// the sentinel errors callers branch on. Redaction lives in copilot/redact
// and the air-gapped fallback in copilot/analyst.
//
// Key invariant: these types are provider-neutral. Nothing here names a wire
// format, so an analyst, a tool loop or a test fake can speak to any backend.
package copilot

import (
	"context"
	"encoding/json"
	"errors"
)

// Sentinel errors. Providers wrap them with the detail (the server's message,
// the status, the Retry-After) so that callers can branch with errors.Is and
// still show a useful message.
var (
	// ErrUnauthorized means the server refused the credentials (HTTP 401/403).
	ErrUnauthorized = errors.New("llm: unauthorized")
	// ErrRateLimited means the server kept answering 429 after all retries.
	ErrRateLimited = errors.New("llm: rate limited")
	// ErrServer means the server failed (5xx) or could not be reached.
	ErrServer = errors.New("llm: server error")
	// ErrTimeout means a call did not finish within the provider's timeout.
	ErrTimeout = errors.New("llm: timeout")
	// ErrBadResponse means the reply could not be understood: malformed
	// JSON, no choices, invalid tool arguments, or output that does not
	// match the requested schema.
	ErrBadResponse = errors.New("llm: bad response")
	// ErrBudget means the prompt does not fit the token budget even after
	// truncation.
	ErrBudget = errors.New("llm: prompt over token budget")
)

// Roles of chat messages.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool"
)

// Provider is a chat model. Implementations are safe for concurrent use.
type Provider interface {
	// Chat sends one request and returns the whole reply.
	Chat(ctx context.Context, req Request) (Response, error)
	// ChatStream sends one request and calls fn with each fragment as it
	// arrives; it returns the assembled reply. An error from fn stops the
	// stream and is returned.
	ChatStream(ctx context.Context, req Request, fn func(Delta) error) (Response, error)
}

// Request is one chat completion request.
type Request struct {
	// Model overrides the provider's default model when set.
	Model    string
	Messages []Message
	Tools    []Tool
	// ToolChoice is "", "auto", "none", "required" or the name of one tool
	// the model must call.
	ToolChoice string
	// Temperature is nil for the server's default.
	Temperature *float64
	// MaxTokens bounds the completion; 0 is the server's default.
	MaxTokens int
	// ResponseFormat asks for JSON matching a schema (structured output).
	ResponseFormat *JSONSchema
}

// Message is one turn of a conversation.
type Message struct {
	Role    string
	Content string
	// ToolCallID links a RoleTool message to the call it answers.
	ToolCallID string
	// ToolCalls are the calls an assistant message asked for.
	ToolCalls []ToolCall
}

// Tool is a function the model may call.
type Tool struct {
	Name        string
	Description string
	// Parameters is the JSON Schema of the arguments object.
	Parameters json.RawMessage
}

// ToolCall is one call of a tool requested by the model.
type ToolCall struct {
	ID        string
	Name      string
	Arguments json.RawMessage
}

// JSONSchema is a named JSON Schema for structured output.
type JSONSchema struct {
	Name   string
	Schema json.RawMessage
	Strict bool
}

// Response is a model's reply.
type Response struct {
	Content   string
	ToolCalls []ToolCall
	// FinishReason is the server's: "stop", "length", "tool_calls", ...
	FinishReason string
	Usage        Usage
}

// Usage counts tokens as reported by the server.
type Usage struct {
	Prompt, Completion, Total int
}

// Delta is one streamed fragment of a reply.
type Delta struct {
	Content   string
	ToolCalls []ToolCallDelta
}

// ToolCallDelta is a fragment of a tool call; fragments with the same Index
// belong to the same call, and their Arguments concatenate.
type ToolCallDelta struct {
	Index     int
	ID        string
	Name      string
	Arguments string
}
