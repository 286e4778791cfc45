package openai

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/vigilops/vigil/copilot"
)

// maxEventBytes bounds one SSE line, so a hostile server cannot make us
// buffer without end.
const maxEventBytes = 4 << 20

// ChatStream implements copilot.Provider over server-sent events. Retries
// happen only before the stream starts; once fragments have been delivered
// an error ends the call. Streams are never cached.
func (c *Client) ChatStream(ctx context.Context, req copilot.Request, fn func(copilot.Delta) error) (copilot.Response, error) {
	body, err := c.encode(req, true)
	if err != nil {
		return copilot.Response{}, err
	}
	var out copilot.Response
	err = c.do(ctx, body, func(resp *http.Response) error {
		if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
			// Some servers ignore stream:true; accept a whole reply.
			data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
			if err != nil {
				return err
			}
			if out, err = decodeResponse(data); err != nil {
				return err
			}
			d := copilot.Delta{Content: out.Content}
			for i, tc := range out.ToolCalls {
				d.ToolCalls = append(d.ToolCalls, copilot.ToolCallDelta{Index: i, ID: tc.ID, Name: tc.Name, Arguments: string(tc.Arguments)})
			}
			return callback(fn, d)
		}
		var a assembler
		if err := readSSE(resp.Body, func(data []byte) error { return a.chunk(data, fn) }); err != nil {
			if a.delivered {
				return &errStarted{err: err}
			}
			return err
		}
		out, err = a.response()
		return err
	})
	if err == nil {
		out = restoreResponse(c.opts.Redactor, out)
	}
	return out, err
}

func callback(fn func(copilot.Delta) error, d copilot.Delta) error {
	if fn == nil {
		return nil
	}
	if err := fn(d); err != nil {
		return fmt.Errorf("%w: %w", errCallback, err)
	}
	return nil
}

// readSSE calls fn with the data of each server-sent event in r until
// "[DONE]" or the end of r. Multi-line data joins with "\n" as the SSE
// specification says; comments and other fields are ignored.
func readSSE(r io.Reader, fn func(data []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventBytes)
	var data []byte
	have := false
	dispatch := func() (bool, error) {
		if !have {
			return false, nil
		}
		d := data
		data, have = data[:0], false
		if string(bytes.TrimSpace(d)) == "[DONE]" {
			return true, nil
		}
		return false, fn(d)
	}
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			if done, err := dispatch(); done || err != nil {
				return err
			}
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		if string(field) != "data" {
			continue // comment (":"), event, id, retry
		}
		value = bytes.TrimPrefix(value, []byte(" "))
		if have {
			data = append(data, '\n')
		}
		data = append(data, value...)
		have = true
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("%w: stream line over %d bytes", copilot.ErrBadResponse, maxEventBytes)
		}
		return err
	}
	_, err := dispatch()
	return err
}

// assembler builds a Response from stream chunks; tool calls are joined by
// their index.
type assembler struct {
	content strings.Builder
	calls   map[int]*partialCall
	finish  string
	usage   copilot.Usage
	// delivered is set once a fragment has gone to the callback.
	delivered bool
}

type partialCall struct {
	id, name string
	args     strings.Builder
}

func (a *assembler) chunk(data []byte, fn func(copilot.Delta) error) error {
	var w wireResponse
	if err := json.Unmarshal(data, &w); err != nil {
		return fmt.Errorf("%w: stream event is not JSON: %v (starts %q)", copilot.ErrBadResponse, err, snippet(data))
	}
	if w.Error != nil && w.Error.Message != "" {
		return fmt.Errorf("%w: error in stream: %s", copilot.ErrServer, w.Error.Message)
	}
	if w.Usage != nil {
		a.usage = copilot.Usage{Prompt: w.Usage.Prompt, Completion: w.Usage.Completion, Total: w.Usage.Total}
	}
	if len(w.Choices) == 0 {
		return nil // usage-only chunk
	}
	ch := w.Choices[0]
	if ch.FinishReason != nil && *ch.FinishReason != "" {
		a.finish = *ch.FinishReason
	}
	var d copilot.Delta
	if ch.Delta.Content != nil {
		d.Content = *ch.Delta.Content
		a.content.WriteString(d.Content)
	}
	for i, tc := range ch.Delta.ToolCalls {
		idx := i
		if tc.Index != nil {
			idx = *tc.Index
		}
		if idx < 0 || idx > 1024 {
			return fmt.Errorf("%w: tool call index %d out of range", copilot.ErrBadResponse, idx)
		}
		if a.calls == nil {
			a.calls = map[int]*partialCall{}
		}
		p := a.calls[idx]
		if p == nil {
			p = &partialCall{}
			a.calls[idx] = p
		}
		if tc.ID != "" {
			p.id = tc.ID
		}
		if tc.Function.Name != "" {
			p.name = tc.Function.Name
		}
		p.args.WriteString(tc.Function.Arguments)
		d.ToolCalls = append(d.ToolCalls, copilot.ToolCallDelta{Index: idx, ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
	}
	if d.Content == "" && len(d.ToolCalls) == 0 {
		return nil
	}
	a.delivered = true
	return callback(fn, d)
}

func (a *assembler) response() (copilot.Response, error) {
	out := copilot.Response{Content: a.content.String(), FinishReason: a.finish, Usage: a.usage}
	idx := make([]int, 0, len(a.calls))
	for i := range a.calls {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		p := a.calls[i]
		call, err := toolCall(p.id, p.name, p.args.String())
		if err != nil {
			return copilot.Response{}, err
		}
		out.ToolCalls = append(out.ToolCalls, call)
	}
	return out, nil
}
