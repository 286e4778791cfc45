package openai

import (
	"encoding/json"

	"github.com/vigilops/vigil/copilot"
	"github.com/vigilops/vigil/copilot/redact"
)

// redactRequest returns a copy of req whose message contents and tool-call
// arguments went through r, so that no secret or personal datum in them
// reaches the wire. Tool definitions and the schema are ours, not user
// data, and are sent as they are.
func redactRequest(r *redact.Redactor, req copilot.Request) copilot.Request {
	msgs := make([]copilot.Message, len(req.Messages))
	for i, m := range req.Messages {
		m.Content, _ = r.Redact(m.Content)
		if len(m.ToolCalls) > 0 {
			calls := make([]copilot.ToolCall, len(m.ToolCalls))
			for j, tc := range m.ToolCalls {
				tc.Arguments = redactJSON(r, tc.Arguments)
				calls[j] = tc
			}
			m.ToolCalls = calls
		}
		msgs[i] = m
	}
	req.Messages = msgs
	return req
}

// redactJSON redacts a JSON document's text. Placeholders (<EMAIL_1>) need
// no escaping inside JSON strings, so valid JSON stays valid; if it would
// not, the arguments are sent as a redacted JSON string instead.
func redactJSON(r *redact.Redactor, raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return raw
	}
	out, _ := r.Redact(string(raw))
	if json.Valid([]byte(out)) {
		return json.RawMessage(out)
	}
	b, _ := json.Marshal(out)
	return b
}

// restoreResponse maps the placeholders in a reply back to the real values,
// locally, so that answers point at the real entities.
func restoreResponse(r *redact.Redactor, resp copilot.Response) copilot.Response {
	resp.Content = r.Restore(resp.Content)
	if len(resp.ToolCalls) > 0 {
		calls := make([]copilot.ToolCall, len(resp.ToolCalls))
		for i, tc := range resp.ToolCalls {
			restored := r.Restore(string(tc.Arguments))
			if json.Valid([]byte(restored)) {
				tc.Arguments = json.RawMessage(restored)
			}
			calls[i] = tc
		}
		resp.ToolCalls = calls
	}
	return resp
}
