package openai

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/vigilops/vigil/copilot"
)

const findingSchema = `{
	"type": "object",
	"properties": {
		"cause": {"type": "string"},
		"severity": {"type": "string", "enum": ["low", "high", "critical"]},
		"confidence": {"type": "number"},
		"steps": {"type": "array", "items": {"type": "string"}},
		"restarts": {"type": ["integer", "null"]}
	},
	"required": ["cause", "severity"],
	"additionalProperties": false
}`

func TestValidate(t *testing.T) {
	tests := []struct {
		name, schema, doc string
		want              string // substring of the error; "" for valid
	}{
		{"valid", findingSchema, `{"cause":"db down","severity":"high","confidence":0.9,"steps":["check db"],"restarts":3}`, ""},
		{"null allowed by type list", findingSchema, `{"cause":"x","severity":"low","restarts":null}`, ""},
		{"missing required", findingSchema, `{"cause":"x"}`, `$: missing required property "severity"`},
		{"enum", findingSchema, `{"cause":"x","severity":"urgent"}`, `$.severity: "urgent" is not one of`},
		{"wrong type", findingSchema, `{"cause":1,"severity":"low"}`, `$.cause: got integer, want string`},
		{"items", findingSchema, `{"cause":"x","severity":"low","steps":["a",2]}`, `$.steps[1]: got integer, want string`},
		{"integer", findingSchema, `{"cause":"x","severity":"low","restarts":1.5}`, `$.restarts: got number, want integer or null`},
		{"integer 2.0", findingSchema, `{"cause":"x","severity":"low","restarts":2.0}`, ""},
		{"additional", findingSchema, `{"cause":"x","severity":"low","extra":true}`, `property "extra" is not allowed`},
		{"not object", findingSchema, `[1]`, `$: got array, want object`},
		{"not JSON", findingSchema, `{"cause":`, `not JSON`},
		{"trailing", findingSchema, `{"cause":"x","severity":"low"} {}`, `trailing`},
		{"additional schema", `{"type":"object","additionalProperties":{"type":"number"}}`, `{"a":1,"b":"x"}`, `$.b: got string, want number`},
		{"numeric enum", `{"enum":[1,"a",null]}`, `1.0`, ""},
		{"object enum", `{"enum":[{"a":[1,2]}]}`, `{"a":[1,2]}`, ""},
		{"empty schema", `{}`, `{"anything":[1]}`, ""},
		{"false schema", `false`, `1`, `not allowed`},
		{"bad schema", `[]`, `1`, `invalid JSON schema`},
		{"bad type", `{"type":3}`, `1`, `invalid JSON schema`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate([]byte(tt.schema), []byte(tt.doc))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestChatJSONRepair(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, body map[string]any, n int) {
		rf, _ := body["response_format"].(map[string]any)
		js, _ := rf["json_schema"].(map[string]any)
		if rf["type"] != "json_schema" || js["name"] != "finding" || js["strict"] != true || js["schema"] == nil {
			http.Error(w, `{"error":{"message":"bad response_format"}}`, http.StatusBadRequest)
			return
		}
		if n == 1 {
			completion(w, map[string]any{"role": "assistant", "content": `{"cause":"db refused","severity":"urgent"}`}, "stop")
			return
		}
		completion(w, map[string]any{"role": "assistant", "content": "```json\n{\"cause\":\"db refused\",\"severity\":\"critical\",\"steps\":[\"check db\"]}\n```"}, "stop")
	})
	c, _ := testClient(t, f, nil)
	var out struct {
		Cause    string   `json:"cause"`
		Severity string   `json:"severity"`
		Steps    []string `json:"steps"`
	}
	schema := copilot.JSONSchema{Name: "finding", Schema: json.RawMessage(findingSchema), Strict: true}
	resp, err := c.ChatJSON(t.Context(), userReq("explain"), schema, &out)
	if err != nil {
		t.Fatal(err)
	}
	if out.Cause != "db refused" || out.Severity != "critical" || len(out.Steps) != 1 || !json.Valid([]byte(resp.Content)) {
		t.Errorf("out %+v, content %q", out, resp.Content)
	}
	if f.calls() != 2 {
		t.Fatalf("%d calls, want 2", f.calls())
	}
	body, _ := f.request(1)
	msgs := body["messages"].([]any)
	if len(msgs) != 4 {
		t.Fatalf("repair request has %d messages, want 4", len(msgs))
	}
	prev := msgs[2].(map[string]any)
	repair := msgs[3].(map[string]any)
	if prev["role"] != "assistant" || !strings.Contains(prev["content"].(string), "urgent") {
		t.Errorf("previous reply not quoted: %v", prev)
	}
	if repair["role"] != "user" || !strings.Contains(repair["content"].(string), `$.severity: "urgent" is not one of`) {
		t.Errorf("repair message %v", repair["content"])
	}
}

func TestChatJSONGivesUp(t *testing.T) {
	f := newFake(t, say(`{"cause":"x"}`))
	c, _ := testClient(t, f, nil)
	_, err := c.ChatJSON(t.Context(), userReq("explain"), copilot.JSONSchema{Name: "finding", Schema: json.RawMessage(findingSchema)}, nil)
	if !errors.Is(err, copilot.ErrBadResponse) || !strings.Contains(err.Error(), `missing required property "severity"`) {
		t.Errorf("err %v", err)
	}
	if f.calls() != 2 {
		t.Errorf("%d calls, want 2 (one repair)", f.calls())
	}
}

func TestChatJSONBadSchema(t *testing.T) {
	f := newFake(t, say(`{}`))
	c, _ := testClient(t, f, nil)
	_, err := c.ChatJSON(t.Context(), userReq("x"), copilot.JSONSchema{Name: "s", Schema: json.RawMessage(`{"type":`)}, nil)
	if !errors.Is(err, ErrSchema) || f.calls() != 0 {
		t.Errorf("err %v after %d calls", err, f.calls())
	}
}
