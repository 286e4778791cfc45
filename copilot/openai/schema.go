package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/vigilops/vigil/copilot"
)

// ErrSchema is returned by Validate for a schema it cannot use.
var ErrSchema = errors.New("invalid JSON schema")

// maxSchemaDepth bounds recursion over schema and instance.
const maxSchemaDepth = 64

// ChatJSON asks for a reply matching schema (response_format json_schema),
// validates it with Validate, and when it does not match, retries once with
// a repair message quoting the validation error. On success the reply is
// decoded into out (which may be nil). A reply that still does not match is
// an ErrBadResponse.
func (c *Client) ChatJSON(ctx context.Context, req copilot.Request, schema copilot.JSONSchema, out any) (copilot.Response, error) {
	if err := Validate(schema.Schema, []byte("null")); errors.Is(err, ErrSchema) {
		return copilot.Response{}, err
	}
	req.ResponseFormat = &schema
	req.Messages = append([]copilot.Message(nil), req.Messages...)
	var resp copilot.Response
	var verr error
	for try := 0; try < 2; try++ {
		var err error
		if resp, err = c.Chat(ctx, req); err != nil {
			return resp, err
		}
		body := stripFences(resp.Content)
		if verr = Validate(schema.Schema, []byte(body)); verr == nil {
			if out != nil {
				if err := json.Unmarshal([]byte(body), out); err != nil {
					return resp, fmt.Errorf("%w: decode structured reply: %v", copilot.ErrBadResponse, err)
				}
			}
			resp.Content = body
			return resp, nil
		}
		req.Messages = append(req.Messages,
			copilot.Message{Role: copilot.RoleAssistant, Content: resp.Content},
			copilot.Message{Role: copilot.RoleUser, Content: "Your reply does not match the required JSON schema: " + verr.Error() +
				". Reply again with only a JSON document that matches the schema, without any other text."})
	}
	return resp, fmt.Errorf("%w: reply does not match schema %q after a repair attempt: %v", copilot.ErrBadResponse, schema.Name, verr)
}

// stripFences removes a ```json … ``` wrapper that some local models add
// even in JSON mode.
func stripFences(s string) string {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "```") {
		return t
	}
	t = strings.TrimPrefix(t, "```")
	if i := strings.IndexByte(t, '\n'); i >= 0 {
		t = t[i+1:]
	}
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(t), "```"))
}

// Validate checks the JSON document doc against schema, using the subset of
// JSON Schema that structured output needs: type (one or a list),
// properties, required, enum, items, and additionalProperties (false or a
// schema). Other keywords are ignored. The error names the first failing
// place as a path like $.findings[2].severity. An unusable schema is an
// ErrSchema; an invalid doc is a plain error.
func Validate(schema, doc []byte) error {
	var s any
	if err := decodeNumbers(schema, &s); err != nil {
		return fmt.Errorf("%w: %v", ErrSchema, err)
	}
	var v any
	if err := decodeNumbers(doc, &v); err != nil {
		return fmt.Errorf("reply is not JSON: %v", err)
	}
	return validate(s, v, "$", 0)
}

func decodeNumbers(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func validate(schema, v any, path string, depth int) error {
	if depth > maxSchemaDepth {
		return fmt.Errorf("%w: nested deeper than %d", ErrSchema, maxSchemaDepth)
	}
	var s map[string]any
	switch t := schema.(type) {
	case bool: // true accepts anything, false nothing
		if !t {
			return fmt.Errorf("%s: not allowed", path)
		}
		return nil
	case map[string]any:
		s = t
	default:
		return fmt.Errorf("%w: at %s: schema is %s, want an object", ErrSchema, path, kind(schema))
	}
	if t, ok := s["type"]; ok {
		var types []string
		switch t := t.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, x := range t {
				if str, ok := x.(string); ok {
					types = append(types, str)
				}
			}
		}
		if len(types) == 0 {
			return fmt.Errorf("%w: at %s: type must be a string or a list of strings", ErrSchema, path)
		}
		match := false
		for _, t := range types {
			if hasType(v, t) {
				match = true
				break
			}
		}
		if !match {
			return fmt.Errorf("%s: got %s, want %s", path, kind(v), strings.Join(types, " or "))
		}
	}
	if e, ok := s["enum"]; ok {
		list, ok := e.([]any)
		if !ok {
			return fmt.Errorf("%w: at %s: enum must be a list", ErrSchema, path)
		}
		found := false
		for _, x := range list {
			if equal(x, v) {
				found = true
				break
			}
		}
		if !found {
			want, _ := json.Marshal(list)
			got, _ := json.Marshal(v)
			return fmt.Errorf("%s: %s is not one of %s", path, snippet(got), snippet(want))
		}
	}
	switch v := v.(type) {
	case map[string]any:
		return validateObject(s, v, path, depth)
	case []any:
		if items, ok := s["items"]; ok {
			for i, x := range v {
				if err := validate(items, x, path+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func validateObject(s, v map[string]any, path string, depth int) error {
	props, _ := s["properties"].(map[string]any)
	if r, ok := s["required"]; ok {
		list, ok := r.([]any)
		if !ok {
			return fmt.Errorf("%w: at %s: required must be a list", ErrSchema, path)
		}
		for _, x := range list {
			name, ok := x.(string)
			if !ok {
				return fmt.Errorf("%w: at %s: required names must be strings", ErrSchema, path)
			}
			if _, ok := v[name]; !ok {
				return fmt.Errorf("%s: missing required property %q", path, name)
			}
		}
	}
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the first error is deterministic
	add, hasAdd := s["additionalProperties"]
	for _, k := range keys {
		p := path + "." + k
		if ps, ok := props[k]; ok {
			if err := validate(ps, v[k], p, depth+1); err != nil {
				return err
			}
			continue
		}
		if !hasAdd {
			continue
		}
		if b, ok := add.(bool); ok && !b {
			return fmt.Errorf("%s: property %q is not allowed", path, k)
		}
		if err := validate(add, v[k], p, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func hasType(v any, t string) bool {
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		if _, err := n.Int64(); err == nil {
			return true
		}
		f, err := n.Float64()
		return err == nil && f == math.Trunc(f) && !math.IsInf(f, 0)
	}
	return false
}

func kind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		if hasType(v, "integer") {
			return "integer"
		}
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// equal compares decoded JSON values, numbers by value (1 equals 1.0).
func equal(a, b any) bool {
	switch a := a.(type) {
	case json.Number:
		bn, ok := b.(json.Number)
		if !ok {
			return false
		}
		if a == bn {
			return true
		}
		x, err1 := a.Float64()
		y, err2 := bn.Float64()
		return err1 == nil && err2 == nil && x == y
	case []any:
		bl, ok := b.([]any)
		if !ok || len(a) != len(bl) {
			return false
		}
		for i := range a {
			if !equal(a[i], bl[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, x := range a {
			y, ok := bm[k]
			if !ok || !equal(x, y) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}
