package http

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/vigilops/vigil/act"
)

var params = []act.Param{
	{Name: "svc", Type: act.TypeString, Pattern: `.{1,200}`},
	{Name: "n", Type: act.TypeInt},
}

func call(t *testing.T, with map[string]any, svc string) act.Call {
	t.Helper()
	v, err := act.BindValues(params, map[string]string{"svc": svc, "n": "3"})
	if err != nil {
		t.Fatal(err)
	}
	return act.Call{Runbook: "rb", Step: "s", Op: "call", With: with, Values: v}
}

type seen struct {
	mtx     sync.Mutex
	method  string
	path    string
	rawPath string
	query   map[string][]string
	headers nethttp.Header
	body    []byte
}

func server(t *testing.T, status int) (*httptest.Server, *seen) {
	s := &seen{}
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mtx.Lock()
		s.method, s.path, s.rawPath, s.query, s.headers, s.body = r.Method, r.URL.Path, r.URL.EscapedPath(), r.URL.Query(), r.Header.Clone(), b
		s.mtx.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, `{"job": 42}`)
	}))
	t.Cleanup(srv.Close)
	return srv, s
}

// TestHostileValues sends values crafted to break out of the URL, headers
// and body, and checks the server receives each exactly as data.
func TestHostileValues(t *testing.T) {
	hostile := []string{
		"; rm -rf /", "$(reboot)", "`id`", "a\"},\"admin\":true,\"x\":{\"", "../../admin?x=1&y=2#frag",
		"' OR 1=1", "{{.Token}}", "a b c", "\\u0000", "</script>",
	}
	for _, h := range hostile {
		t.Run(h, func(t *testing.T) {
			srv, got := server(t, 202)
			e, err := New(Options{Timeout: DefaultTimeout})
			if err != nil {
				t.Fatal(err)
			}
			with := map[string]any{
				"method":        "POST",
				"url":           srv.URL + "/api/v2/jobs/${svc}/launch/?note=${svc}",
				"headers":       map[string]any{"X-Note": "${svc}"},
				"body":          map[string]any{"extra_vars": map[string]any{"service": "${svc}", "count": "${n}"}, "tags": []any{"vigil", "${svc}"}},
				"expect_status": []any{201, 202},
			}
			res, err := e.Apply(context.Background(), call(t, with, h))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(res.Detail, "202") {
				t.Fatalf("detail %q", res.Detail)
			}
			got.mtx.Lock()
			defer got.mtx.Unlock()
			if got.path != "/api/v2/jobs/"+h+"/launch/" {
				t.Fatalf("path %q, want the value as one segment", got.path)
			}
			if strings.Count(got.rawPath, "/") != 6 {
				t.Fatalf("raw path %q gained segments", got.rawPath)
			}
			if len(got.query) != 1 || got.query["note"][0] != h {
				t.Fatalf("query %v", got.query)
			}
			if got.headers.Get("X-Note") != h || got.headers.Get("Content-Type") != "application/json" {
				t.Fatalf("headers %v", got.headers)
			}
			var body struct {
				ExtraVars map[string]any `json:"extra_vars"`
				Tags      []string       `json:"tags"`
			}
			dec := json.NewDecoder(strings.NewReader(string(got.body)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&body); err != nil {
				t.Fatalf("body %s is not the expected document: %v", got.body, err)
			}
			if body.ExtraVars["service"] != h || body.ExtraVars["count"] != float64(3) || len(body.ExtraVars) != 2 || len(body.Tags) != 2 || body.Tags[1] != h {
				t.Fatalf("body %s", got.body)
			}
		})
	}
}

func TestStatusAndChecks(t *testing.T) {
	srv, _ := server(t, 500)
	e, _ := New(DefaultOptions())
	_, err := e.Apply(context.Background(), call(t, map[string]any{"method": "POST", "url": srv.URL + "/hook"}, "x"))
	if !errors.Is(err, ErrStatus) {
		t.Fatalf("500: %v, want ErrStatus", err)
	}
	bad := []map[string]any{
		{"method": "post", "url": "https://x/y"},
		{"method": "${svc}", "url": "https://x/y"},
		{"method": "GET", "url": "https://${svc}/y"},
		{"method": "GET", "url": "https://x${svc}.example.com/y"},
		{"method": "GET", "url": "ftp://x/y"},
		{"method": "GET", "url": "https://x/y", "headers": map[string]any{"Bad Header": "x"}},
		{"method": "GET", "url": "https://x/y", "expect_status": 42},
		{"method": "GET", "url": "https://x/y", "timeout": "1s"},
		{"url": "https://x/y"},
	}
	for i, w := range bad {
		if err := e.Check("call", w); err == nil {
			t.Errorf("bad[%d] %v accepted", i, w)
		}
	}
	if err := e.Check("get", map[string]any{"method": "GET", "url": "https://x/"}); err == nil {
		t.Error("unknown op accepted")
	}
	// Allowed hosts.
	e2, _ := New(Options{Timeout: DefaultTimeout, AllowedHosts: []string{"awx.example.com"}})
	if _, err := e2.Plan(context.Background(), call(t, map[string]any{"method": "GET", "url": "https://evil.example.com/x"}, "x")); err == nil {
		t.Fatal("host outside the allow list planned")
	}
	p, err := e2.Plan(context.Background(), call(t, map[string]any{"method": "GET", "url": "https://awx.example.com/x/${svc}"}, "a b"))
	if err != nil || p.Targets[0] != "http/awx.example.com/x/a b" {
		t.Fatalf("plan %+v, %v", p, err)
	}
}

// FuzzRenderBody checks that any accepted value keeps the body well-formed
// JSON that decodes back to the value.
func FuzzRenderBody(f *testing.F) {
	for _, s := range []string{"x", "\"}", "\\", "${svc}", "\u2028", "a\x7f"} {
		f.Add(s)
	}
	e, _ := New(DefaultOptions())
	f.Fuzz(func(t *testing.T, s string) {
		v, err := act.BindValues(params, map[string]string{"svc": s, "n": "1"})
		if err != nil {
			return
		}
		r, err := e.Render(act.Call{Op: "call", Values: v, With: map[string]any{
			"method": "POST", "url": "https://h.example/p/${svc}?q=${svc}",
			"headers": map[string]any{"X-A": "${svc}"},
			"body":    map[string]any{"a": "${svc}", "b": []any{"${n}", "pre ${svc}"}},
		}})
		if err != nil {
			t.Fatalf("render %q: %v", s, err)
		}
		var back map[string]any
		if err := json.Unmarshal(r.Body, &back); err != nil {
			t.Fatalf("body %s: %v", r.Body, err)
		}
		if back["a"] != s || len(back) != 2 {
			t.Fatalf("body %s lost %q", r.Body, s)
		}
		if r.Headers.Get("X-A") != s {
			t.Fatalf("header %q != %q", r.Headers.Get("X-A"), s)
		}
	})
}

func TestDescribeHidesConfiguredHeaders(t *testing.T) {
	e, err := New(Options{Timeout: DefaultTimeout, Headers: map[string]string{"authorization": "Bearer s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Describe(call(t, map[string]any{"method": "POST", "url": "https://awx.example.com/x", "body": map[string]any{"a": "${svc}"}}, "v"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(d, "s3cret") || !strings.Contains(d, "Authorization: (configured, not shown)") || !strings.Contains(d, `{"a":"v"}`) {
		t.Fatalf("describe = %q", d)
	}
	if _, err := New(Options{Timeout: DefaultTimeout, Headers: map[string]string{"X-A": "a\r\nB: c"}}); err == nil {
		t.Fatal("header with CRLF accepted in options")
	}
}
