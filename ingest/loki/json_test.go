package loki

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestJSONDecode(t *testing.T) {
	deep := strings.Repeat("[", 9999) + strings.Repeat("]", 9999)
	tooDeep := "[" + deep + "]"
	tests := []struct {
		name     string
		body     string
		raws     []string
		rejected int
		err      string // "syntax", "shape" or ""
	}{
		{name: "no streams", body: `{}`},
		{name: "null streams", body: `{"streams":null}`},
		{name: "null values and stream", body: `{"streams":[{"stream":null,"values":null},{"values":[["1","x"]]}]}`, raws: []string{"x"}},
		{name: "escaped keys", body: `{"str\u0065ams":[{"str\u0065am":{"a":"b"},"valu\u0065s":[["1","x"]]}]}`, raws: []string{"x"}},
		{name: "whitespace everywhere", body: " \n{ \"streams\" : [ { \"stream\" : { \"a\" : \"b\" } , \"values\" : [ [ \"1\" , \"x\" , { } ] ] } ] } \r\n", raws: []string{"x"}},
		{name: "deep unknown value", body: `{"x":` + deep + `,"streams":[{"values":[["1","x"]]}]}`, raws: []string{"x"}},
		{name: "deeper than encoding/json allows", body: `{"x":` + tooDeep + `,"streams":[{"values":[["1","x"]]}]}`, err: "syntax"},
		{name: "keys are case sensitive", body: `{"Streams":[{"values":[["1","x"]]}]}`},
		{name: "labels not an object", body: `{"streams":[{"stream":"job=x","values":[["1","x"],["2","y"]]}]}`, rejected: 2},
		{name: "label value not a string", body: `{"streams":[{"stream":{"a":1},"values":[["1","x"]]}]}`, rejected: 1},
		{name: "empty label value dropped", body: `{"streams":[{"stream":{"a":""},"values":[["1","x"]]}]}`, raws: []string{"x"}},
		{name: "timestamps", body: `{"streams":[{"values":[["-1","neg"],["9223372036854775807","max"],["9223372036854775808","over"],["1.5","frac"],[1e3,"exp"],["","empty"],[" 1","space"],[null,"null"]]}]}`, raws: []string{"neg", "max"}, rejected: 6},
		{name: "trailing data", body: `{"streams":[]} x`, err: "syntax"},
		{name: "two documents", body: `{}{}`, err: "syntax"},
		{name: "top level array", body: `[]`, err: "shape"},
		{name: "top level null", body: `null`, err: "shape"},
		{name: "stream not an object", body: `{"streams":[null]}`, err: "shape"},
		{name: "values not an array", body: `{"streams":[{"values":{}}]}`, err: "shape"},
		{name: "duplicate streams", body: `{"streams":[],"streams":[]}`, err: "shape"},
		{name: "duplicate values", body: `{"streams":[{"values":[],"values":[]}]}`, err: "shape"},
		{name: "duplicate labels", body: `{"streams":[{"stream":{},"labels":"{}"}]}`, err: "shape"},
		{name: "shape error then syntax error", body: `[] x`, err: "syntax"},
		{name: "control character", body: "{\"streams\":[{\"values\":[[\"1\",\"a\tb\"]]}]}", err: "syntax"},
		{name: "bad escape", body: `{"streams":[{"values":[["1","\x"]]}]}`, err: "syntax"},
		{name: "bad unicode escape", body: `{"streams":[{"values":[["1","\u12"]]}]}`, err: "syntax"},
		{name: "bad number", body: `{"streams":[{"values":[[01,"x"]]}]}`, err: "syntax"},
		{name: "missing comma", body: `{"streams":[{"values":[["1" "x"]]}]}`, err: "syntax"},
		{name: "trailing comma", body: `{"streams":[{"values":[["1","x"],]}]}`, err: "syntax"},
		{name: "unterminated", body: `{"streams":[{"values":[["1","x`, err: "syntax"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBatch(testConfig(), 0)
			err := decodeJSON(b, []byte(tc.body))
			var se *syntaxError
			switch {
			case tc.err == "syntax" && !errors.As(err, &se):
				t.Fatalf("err = %v, want a syntax error", err)
			case tc.err == "shape" && (!errors.Is(err, ErrMalformed) || errors.As(err, &se)):
				t.Fatalf("err = %v, want a shape error", err)
			case tc.err == "" && err != nil:
				t.Fatal(err)
			}
			if got := json.Valid([]byte(tc.body)); got != !errors.As(err, &se) {
				t.Errorf("json.Valid = %v but err = %v", got, err)
			}
			if tc.err != "" {
				return
			}
			var raws []string
			for _, r := range b.recs {
				raws = append(raws, r.Raw)
			}
			if strings.Join(raws, "|") != strings.Join(tc.raws, "|") || b.res.RejectedCount() != tc.rejected {
				t.Errorf("raws %q rejected %d (%+v), want %q and %d", raws, b.res.RejectedCount(), b.res.Rejected, tc.raws, tc.rejected)
			}
		})
	}
}

// referenceEntries decodes a JSON push body with encoding/json, the
// reference the scanner is held to, and returns its entries in order (nil,
// false when encoding/json cannot read it in that shape, or when a stream
// has both "values" and "entries", whose order a map forgets).
func referenceEntries(data []byte) ([]json.RawMessage, bool) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, false
	}
	var streams []json.RawMessage
	if raw, ok := top["streams"]; ok {
		if err := json.Unmarshal(raw, &streams); err != nil {
			return nil, false
		}
	}
	var out []json.RawMessage
	for _, s := range streams {
		var so map[string]json.RawMessage
		if err := json.Unmarshal(s, &so); err != nil || so == nil {
			return nil, false
		}
		_, hasValues := so["values"]
		_, hasEntries := so["entries"]
		if hasValues && hasEntries {
			return nil, false
		}
		for _, key := range []string{"values", "entries"} {
			if raw, ok := so[key]; ok {
				var es []json.RawMessage
				if err := json.Unmarshal(raw, &es); err != nil {
					return nil, false
				}
				out = append(out, es...)
			}
		}
	}
	return out, true
}

// referenceLine is the line encoding/json reads from an entry.
func referenceLine(e json.RawMessage) (string, bool) {
	var arr []json.RawMessage
	if json.Unmarshal(e, &arr) == nil && len(arr) >= 2 {
		var s string
		return s, json.Unmarshal(arr[1], &s) == nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(e, &obj) == nil {
		var s string
		return s, json.Unmarshal(obj["line"], &s) == nil
	}
	return "", false
}

// checkJSONAgainstReference is the property FuzzLokiJSON checks: the
// scanner agrees with encoding/json on validity, on the number of entries,
// and on the text of every line it keeps.
func checkJSONAgainstReference(t *testing.T, data []byte) {
	t.Helper()
	b := newBatch(decodeConfig{maxLine: 1 << 20, maxEntries: 1 << 20, serviceLabels: DefaultServiceLabels()}, 0)
	err := decodeJSON(b, data)
	var se *syntaxError
	if valid := json.Valid(data); valid == errors.As(err, &se) {
		t.Fatalf("json.Valid = %v, decode error %v", valid, err)
	}
	for _, r := range b.recs {
		if !r.Labels.Valid() {
			t.Fatalf("labels not sorted and unique: %v", r.Labels)
		}
	}
	if err != nil {
		return
	}
	ref, ok := referenceEntries(data)
	if !ok {
		return
	}
	if len(b.recs)+b.res.RejectedCount() != len(ref) {
		t.Fatalf("kept %d + rejected %d, encoding/json sees %d entries", len(b.recs), b.res.RejectedCount(), len(ref))
	}
	if b.res.RejectedCount() > len(b.res.Rejected) {
		return // not every index is listed
	}
	rejected := map[int]bool{}
	for _, r := range b.res.Rejected {
		rejected[r.Index] = true
	}
	k := 0
	for i, e := range ref {
		if rejected[i] {
			continue
		}
		line, ok := referenceLine(e)
		if !ok {
			t.Fatalf("entry %d kept, but encoding/json reads no line from %s", i, e)
		}
		if b.recs[k].Raw != line {
			t.Fatalf("entry %d: line %q, encoding/json reads %q", i, b.recs[k].Raw, line)
		}
		k++
	}
}

func TestJSONAgainstReference(t *testing.T) {
	for _, s := range jsonSeeds() {
		checkJSONAgainstReference(t, []byte(s))
	}
}

func jsonSeeds() []string {
	return []string{
		`{"streams":[{"stream":{"app":"a"},"values":[["1","x"],["2","y",{"k":"v"}]]}]}`,
		`{"streams":[{"labels":"{job=\"x\"}","entries":[{"ts":"2024-05-06T07:08:09Z","line":"l"}]}]}`,
		`{"streams":[{"values":[["1","\u00e9\ud83d\ude00\ud800\\\"\/\b\f\n\r\t"],["2","` + "\xff\xfe raw \xc3" + `"]]}]}`,
		`{"streams":[{"values":[[1,"num"],["x","bad"],{"a":1},[],["1"],["1","2",[]],["1","2",{},4]]}]}`,
		`{"streams":[{"stream":{"a":"1","a":"2"},"values":[["1","dup"]]}]}`,
		`{"streams":[{"values":[["1","x"]],"stream":{"bad name":"v"}}],"extra":[true,false,null,-1.5e-3,{"":""}]}`,
		`{"streams":[]}`, `{}`, `[]`, `null`, ``, `{"streams":[{"values":[["1","x"]]}]`,
	}
}
