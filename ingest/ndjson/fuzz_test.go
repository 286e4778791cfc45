package ndjson

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"
)

func FuzzNDJSON(f *testing.F) {
	for _, s := range []string{
		"{\"time\":\"2024-05-06T07:08:09Z\",\"level\":\"info\",\"service\":\"api\",\"msg\":\"hi\",\"n\":1}\n",
		"plain\n\n{\"a\":{\"b\":[1,{\"c\":null}]}}\r\n{broken\n",
		"{\"msg\":\"a\",\"msg\":1,\"message\":\"b\"}\n{\"ts\":1714979289.5,\"app\":\"x\"}",
		"{\"k\\u00e9y\":\"\\ud83d\\ude00\\ud800\",\"log\":\"\xff\"}\n   \n\r\n",
		strings.Repeat("x", 50) + "\n" + strings.Repeat("y", 70) + "\r\n",
	} {
		f.Add([]byte(s), uint16(64))
	}
	f.Fuzz(func(t *testing.T, data []byte, maxLine uint16) {
		max := int(maxLine)%200 + 1
		m, _ := newMetrics(nil)
		d := lineDecoder{cfg: lineConfig{maxLine: max, maxFields: 1 << 20}}
		recs, res := d.decodeAll(data, now, 0, m)

		// Every line is delivered, blank, or rejected, in order.
		lines := bytes.Split(data, []byte{'\n'})
		if len(data) > 0 && data[len(data)-1] == '\n' {
			lines = lines[:len(lines)-1]
		}
		rejected := map[int]bool{}
		for _, r := range res.Rejected {
			rejected[r.Index] = true
		}
		k := 0
		for i, l := range lines {
			l = trimCR(l)
			switch {
			case rejected[i+1]:
				if len(l) <= max {
					t.Fatalf("line %d (%d bytes) rejected under the limit %d", i+1, len(l), max)
				}
			case len(l) > max:
				if len(res.Rejected) == res.RejectedCount() {
					t.Fatalf("line %d (%d bytes) over the limit %d kept", i+1, len(l), max)
				}
			case blank(l):
			default:
				if k >= len(recs) || recs[k].Raw != string(l) {
					t.Fatalf("line %d: record %d does not hold it", i+1, k)
				}
				checkAgainstReference(t, l, recs[k].Format == "json", recs[k].Message, recs[k].Fields)
				k++
			}
		}
		if k != len(recs) {
			t.Fatalf("%d records for %d kept lines", len(recs), k)
		}

		// A stream reads the same, however its reads are cut.
		var rec recorder
		o := StreamOptions{MaxLineBytes: max, MaxFields: 1 << 20, Now: func() time.Time { return now }, BatchSize: 7}
		sres, err := streamAll(t, iotest.OneByteReader(bytes.NewReader(data)), rec.sink(), o, 16)
		if err != nil {
			t.Fatal(err)
		}
		if got := rec.records(); len(got) != len(recs) || (len(got) > 0 && !reflect.DeepEqual(got, recs)) {
			t.Fatalf("stream read %d records, body %d", len(got), len(recs))
		}
		if sres.Accepted != len(recs) || sres.RejectedCount() != res.RejectedCount() || !reflect.DeepEqual(sres.Rejected, res.Rejected) {
			t.Fatalf("stream result %+v, body %+v", sres, res)
		}
	})
}

// checkAgainstReference holds a decoded line to encoding/json: the same
// lines are JSON objects, and the message and the plain top-level string
// fields are read the same.
func checkAgainstReference(t *testing.T, line []byte, isJSON bool, message string, fields map[string]string) {
	t.Helper()
	trimmed := bytes.TrimLeft(line, " \t\r\n")
	wantJSON := json.Valid(line) && len(trimmed) > 0 && trimmed[0] == '{'
	if isJSON != wantJSON {
		t.Fatalf("%q: read as JSON %v, encoding/json says %v", line, isJSON, wantJSON)
	}
	if !isJSON {
		return
	}
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		t.Fatalf("%q: encoding/json: %v", line, err)
	}
	wantMsg := ""
	for _, k := range messageKeys {
		if s, ok := obj[k].(string); ok {
			wantMsg = s
			break
		}
	}
	if message != wantMsg {
		t.Fatalf("%q: message %q, encoding/json reads %q", line, message, wantMsg)
	}
	for k, v := range obj {
		s, ok := v.(string)
		if !ok || strings.Contains(k, ".") || roleKey(k) {
			continue
		}
		if fields[k] != s {
			t.Fatalf("%q: field %q = %q, encoding/json reads %q", line, k, fields[k], s)
		}
		if !utf8.ValidString(fields[k]) {
			t.Fatalf("%q: field %q is not valid UTF-8", line, k)
		}
	}
}
