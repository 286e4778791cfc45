package telemetry

import (
	"encoding/json"
	"strconv"
)

var jsonUnmarshal = json.Unmarshal

func marshalLabelsJSON(ls Labels) []byte {
	b := make([]byte, 0, 16+len(ls)*24)
	b = append(b, '{')
	for i, l := range ls {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, l.Name)
		b = append(b, ':')
		b = appendJSONString(b, l.Value)
	}
	return append(b, '}')
}

func appendJSONString(b []byte, s string) []byte {
	// strconv.Quote escapes differently from JSON for some control and
	// non-ASCII runes; encoding/json is the reference, so defer to it when the
	// string is not plain printable ASCII.
	plain := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			plain = false
			break
		}
	}
	if plain {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	enc, err := json.Marshal(s)
	if err != nil {
		return strconv.AppendQuote(b, s)
	}
	return append(b, enc...)
}
