package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type decodeTarget struct {
	Name   string            `json:"name"`
	Count  int               `json:"count"`
	Ratio  float64           `json:"ratio"`
	On     bool              `json:"on"`
	At     time.Time         `json:"at"`
	Tags   []string          `json:"tags"`
	Labels map[string]string `json:"labels"`
	Inner  struct {
		Port int `json:"port"`
	} `json:"inner"`
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		contentType string
		limit       int64
		status      int // 0 means success
		message     []string
	}{
		{name: "ok", body: `{"name":"a","count":2,"inner":{"port":80}}`},
		{name: "ok with charset", body: `{"name":"a"}`, contentType: "application/json; charset=utf-8"},
		{name: "ok with +json", body: `{"name":"a"}`, contentType: "application/merge-patch+json"},
		{name: "ok trailing whitespace", body: "{\"name\":\"a\"}\n\t "},
		{name: "empty", body: "", status: 400, message: []string{"empty"}},
		{name: "whitespace only", body: " \n ", status: 400, message: []string{"empty"}},
		{name: "syntax", body: `{"name":x}`, status: 400, message: []string{"invalid character 'x'", "line 1, column 9", "byte offset 8"}},
		{name: "syntax on line 3", body: "{\n  \"name\": \"a\",\n  \"count\": 1,,\n}", status: 400, message: []string{"line 3, column 14", "invalid character ','"}},
		{name: "truncated", body: `{"name":"a"`, status: 400, message: []string{"ends before the JSON value is complete"}},
		{name: "wrong type", body: `{"count":"two"}`, status: 400, message: []string{`field "count": want an integer, got string`}},
		{name: "float for int", body: `{"count":1.5}`, status: 400, message: []string{`field "count": want an integer, got number 1.5`}},
		{name: "bool", body: `{"on":"yes"}`, status: 400, message: []string{`field "on": want a boolean, got string`}},
		{name: "nested wrong type", body: `{"inner":{"port":"80"}}`, status: 400, message: []string{`field "inner.port": want an integer`}},
		{name: "array element", body: `{"tags":["a",1]}`, status: 400, message: []string{`field "tags": want a string, got number`}},
		{name: "map value", body: `{"labels":{"a":true}}`, status: 400, message: []string{`field "labels": want a string, got boolean`}},
		{name: "time", body: `{"at":"yesterday"}`, status: 400, message: []string{"invalid JSON value", "yesterday"}},
		{name: "top-level type", body: `[1,2]`, status: 400, message: []string{"want an object, got array"}},
		{name: "unknown field", body: `{"nmae":"a"}`, status: 400, message: []string{`unknown field "nmae"`}},
		{name: "trailing data", body: `{"name":"a"} {"name":"b"}`, status: 400, message: []string{"unexpected data after the JSON value", "column 14"}},
		{name: "text/plain", body: `{}`, contentType: "text/plain", status: 415, message: []string{`"text/plain"`}},
		// curl -d's default type: the body is read as JSON all the same.
		{name: "form type, JSON body", body: `{"name":"a"}`, contentType: "application/x-www-form-urlencoded", status: 0},
		{name: "form type, form body", body: `a=b`, contentType: "application/x-www-form-urlencoded", status: 400, message: []string{"malformed JSON"}},
		{name: "bad media type", body: `{}`, contentType: "application/", status: 415},
		{name: "too large", body: `{"name":"` + strings.Repeat("a", 100) + `"}`, limit: 50, status: 413, message: []string{"50 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			rec := httptest.NewRecorder()
			if tt.limit > 0 {
				req.Body = http.MaxBytesReader(rec, req.Body, tt.limit)
			}
			var v decodeTarget
			err := DecodeJSON(req, &v)
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("DecodeJSON = %v", err)
				}
				return
			}
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("DecodeJSON = %T %v, want *Error", err, err)
			}
			if e.Status != tt.status {
				t.Errorf("status = %d, want %d (%s)", e.Status, tt.status, e.Message)
			}
			for _, m := range tt.message {
				if !strings.Contains(e.Message, m) {
					t.Errorf("message %q does not contain %q", e.Message, m)
				}
			}
		})
	}
}

func TestDecodeJSONNilBody(t *testing.T) {
	req := httptest.NewRequest("POST", "/", nil)
	req.Body = nil
	var v decodeTarget
	if e, ok := DecodeJSON(req, &v).(*Error); !ok || e.Status != 400 {
		t.Errorf("DecodeJSON(nil body) = %v, want 400", e)
	}
}

func TestDecodeJSONNotPointerPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("decoding into a non-pointer did not panic")
		}
	}()
	_ = DecodeJSON(httptest.NewRequest("POST", "/", strings.NewReader(`{}`)), decodeTarget{})
}

func TestPosition(t *testing.T) {
	data := []byte("ab\ncd\n\nef")
	tests := []struct {
		off       int64
		line, col int
	}{{0, 1, 1}, {1, 1, 2}, {3, 2, 1}, {4, 2, 2}, {7, 4, 1}, {99, 4, 3}}
	for _, tt := range tests {
		if line, col := position(data, tt.off); line != tt.line || col != tt.col {
			t.Errorf("position(%d) = %d:%d, want %d:%d", tt.off, line, col, tt.line, tt.col)
		}
	}
}

// FuzzDecodeJSON: any body gives nil or a 400/413/415 *Error, never a panic.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"name":"a","inner":{"port":1}}`, `{"count":"x"}`, `[`, `{"tags":[1]}`, `{} x`, ``, `"\ud800"`} {
		f.Add(s, "application/json")
	}
	f.Add(`{}`, "text/plain")
	f.Fuzz(func(t *testing.T, body, contentType string) {
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Body = http.MaxBytesReader(httptest.NewRecorder(), req.Body, 1024)
		var v decodeTarget
		err := DecodeJSON(req, &v)
		if err == nil {
			return
		}
		e, ok := err.(*Error)
		if !ok {
			t.Fatalf("DecodeJSON = %T %v, want *Error", err, err)
		}
		switch e.Status {
		case 400, 413, 415:
		default:
			t.Fatalf("status %d", e.Status)
		}
		if e.Message == "" {
			t.Fatal("empty message")
		}
	})
}

func TestDecodeJSONEmbeddedFieldPath(t *testing.T) {
	type Base struct {
		Port  int `json:"port"`
		Inner struct {
			Base2 struct {
				Deep bool `json:"deep"`
			} `json:"b2"`
		} `json:"inner"`
	}
	type wrapped struct {
		Base
		Name string `json:"name"`
	}
	tests := []struct{ body, want string }{
		{`{"port":"x"}`, `field "port": want an integer`},
		{`{"inner":{"b2":{"deep":1}}}`, `field "inner.b2.deep": want a boolean`},
		{`{"name":1}`, `field "name": want a string`},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			var v wrapped
			err := DecodeJSON(httptest.NewRequest("POST", "/", strings.NewReader(tt.body)), &v)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("DecodeJSON = %v, want %q", err, tt.want)
			}
		})
	}
}
