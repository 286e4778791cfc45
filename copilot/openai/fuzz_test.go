package openai

import (
	"strings"
	"testing"
)

func FuzzSSE(f *testing.F) {
	for _, s := range []string{
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n",
		"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\"\"}}]}}]}\n\n" +
			"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\":1}\"}}]}}]}\n\n",
		": ping\r\n\r\ndata:{\"usage\":{\"total_tokens\":3},\"choices\":[]}\r\n\r\n",
		"data: {\"error\":{\"message\":\"boom\"}}\n\n",
		"data: a\ndata: b\n",
		"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":-1}]}}]}\n\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var a assembler
		err := readSSE(strings.NewReader(in), func(d []byte) error { return a.chunk(d, nil) })
		if err == nil {
			resp, err := a.response()
			if err == nil && !strings.Contains(in, resp.Content) && len(resp.Content) > len(in) {
				t.Fatalf("content %q longer than input", resp.Content)
			}
		}
	})
}

func FuzzValidate(f *testing.F) {
	f.Add(findingSchema, `{"cause":"x","severity":"low","steps":["a"],"restarts":1}`)
	f.Add(`{"type":["integer","null"]}`, `1e400`)
	f.Add(`{"enum":[1,{"a":[]}]}`, `{"a":[]}`)
	f.Add(`{"items":{"items":{"type":"string"}}}`, `[[["x"]]]`)
	f.Add(`{"additionalProperties":{"additionalProperties":false}}`, `{"a":{"b":1}}`)
	f.Add(`true`, `null`)
	f.Fuzz(func(t *testing.T, schema, doc string) {
		_ = Validate([]byte(schema), []byte(doc))
	})
}
