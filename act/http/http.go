// Package http is the act executor for webhooks and job APIs (AWX,
// Rundeck, StackStorm and the like): a method, a URL template, headers, a
// JSON body template and the expected status.
//
// Invariant: parameter values reach the request only as escaped URL path
// or query parts, as header values free of control characters, or as JSON
// strings and numbers placed by json.Marshal; the scheme and host are
// always literal in the runbook.
package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	nethttp "net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigilops/vigil/act"
)

// Defaults.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMaxRespBytes = 64 << 10
)

// ErrInvalidOptions is returned by New.
var ErrInvalidOptions = errors.New("invalid http executor options")

// ErrStatus is returned when the response status is not the expected one.
var ErrStatus = errors.New("unexpected response status")

// Options configure the executor.
type Options struct {
	// Client sends the requests; nil uses a client with Timeout.
	Client *nethttp.Client
	// Timeout bounds each request.
	Timeout time.Duration
	// AllowedHosts, when any, are the only hosts (host[:port]) it calls.
	AllowedHosts []string
	// Headers are added to every request (credentials for the job API
	// belong here, in configuration, not in runbooks).
	Headers map[string]string
	// MaxResponseBytes bounds how much of a response is read.
	MaxResponseBytes int64
	Logger           *slog.Logger
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{Timeout: DefaultTimeout, MaxResponseBytes: DefaultMaxRespBytes, Logger: slog.Default()}
}

func (o *Options) validate() error {
	if o.Timeout <= 0 {
		return fmt.Errorf("%w: timeout must be positive", ErrInvalidOptions)
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultMaxRespBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Client == nil {
		o.Client = &nethttp.Client{Timeout: o.Timeout}
	}
	canon := make(map[string]string, len(o.Headers))
	for k, v := range o.Headers {
		if !validHeaderName(k) || strings.ContainsAny(v, "\r\n\x00") {
			return fmt.Errorf("%w: header %q is not valid", ErrInvalidOptions, k)
		}
		canon[nethttp.CanonicalHeaderKey(k)] = v
	}
	o.Headers = canon
	return nil
}

// Executor runs http.call actions.
type Executor struct {
	opts Options
}

var (
	_ act.Executor  = (*Executor)(nil)
	_ act.Describer = (*Executor)(nil)
)

// Describe implements act.Describer: the request that would be sent.
func (e *Executor) Describe(c act.Call) (string, error) {
	r, err := e.Render(c)
	if err != nil {
		return "", err
	}
	s := r.Method + " " + r.URL
	for _, k := range slices.Sorted(maps.Keys(r.Headers)) {
		v := strings.Join(r.Headers[k], ", ")
		if _, configured := e.opts.Headers[k]; configured {
			v = "(configured, not shown)" // credentials live there
		}
		s += fmt.Sprintf("\n  %s: %s", k, v)
	}
	if r.Body != nil {
		s += "\n  body: " + string(r.Body)
	}
	return s, nil
}

// New builds an Executor.
func New(o Options) (*Executor, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	return &Executor{opts: o}, nil
}

var methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

// Check implements act.Executor. With keys: method (literal), url, headers
// (map), body (any JSON shape), expect_status (int or list of ints;
// default any 2xx).
func (e *Executor) Check(op string, with map[string]any) error {
	if op != "call" {
		return fmt.Errorf("unknown http operation %q (call)", op)
	}
	if err := act.CheckKeys(with, "method", "url", "headers", "body", "expect_status"); err != nil {
		return err
	}
	m, err := act.StringArg(with, "method", true)
	if err != nil {
		return err
	}
	if !slices.Contains(methods, m) {
		return fmt.Errorf("with.method %q must be one of %v, written literally", m, methods)
	}
	u, err := act.StringArg(with, "url", true)
	if err != nil {
		return err
	}
	if err := literalHost(u); err != nil {
		return err
	}
	if h, ok := with["headers"]; ok {
		hm, ok := h.(map[string]any)
		if !ok {
			return fmt.Errorf("with.headers must be a map of strings")
		}
		for k := range hm {
			if !validHeaderName(k) {
				return fmt.Errorf("with.headers: %q is not a header name", k)
			}
			if _, err := act.StringArg(hm, k, true); err != nil {
				return fmt.Errorf("with.headers: %v", err)
			}
		}
	}
	if _, err := expected(with); err != nil {
		return err
	}
	return nil
}

// literalHost refuses a URL template whose scheme or host uses a parameter.
func literalHost(u string) error {
	i := strings.Index(u, "://")
	if i < 0 {
		return fmt.Errorf("with.url %q must start with http:// or https://", u)
	}
	rest := u[i+3:]
	host := rest
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		host = rest[:j]
	}
	if strings.Contains(u[:i+3]+host, "$") {
		return fmt.Errorf("with.url %q: the scheme and host must be literal, parameters only in the path or query", u)
	}
	if s := u[:i]; s != "http" && s != "https" {
		return fmt.Errorf("with.url %q: scheme must be http or https", u)
	}
	return nil
}

func expected(with map[string]any) ([]int, error) {
	v, ok := with["expect_status"]
	if !ok {
		return nil, nil
	}
	var raw []any
	switch t := v.(type) {
	case []any:
		raw = t
	default:
		raw = []any{t}
	}
	var out []int
	for _, r := range raw {
		var n int
		switch t := r.(type) {
		case int:
			n = t
		case int64:
			n = int(t)
		case float64:
			n = int(t)
		case string:
			x, err := strconv.Atoi(t)
			if err != nil {
				return nil, fmt.Errorf("with.expect_status %q is not a status code", t)
			}
			n = x
		default:
			return nil, fmt.Errorf("with.expect_status must be a status code or a list of them")
		}
		if n < 100 || n > 599 {
			return nil, fmt.Errorf("with.expect_status %d is not a status code", n)
		}
		out = append(out, n)
	}
	return out, nil
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// Request is a rendered call.
type Request struct {
	Method  string
	URL     string
	Headers nethttp.Header
	// Body is the JSON body (nil when the step has none).
	Body   []byte
	Expect []int
}

// Render builds the request a call would send; tests and Plan use it.
func (e *Executor) Render(c act.Call) (Request, error) {
	if err := e.Check(c.Op, c.With); err != nil {
		return Request{}, err
	}
	m, _ := act.StringArg(c.With, "method", true)
	tmpl, _ := act.StringArg(c.With, "url", true)
	u, err := act.RenderURL(tmpl, c.Values)
	if err != nil {
		return Request{}, err
	}
	pu, _ := url.Parse(u)
	if len(e.opts.AllowedHosts) > 0 && !slices.Contains(e.opts.AllowedHosts, pu.Host) {
		return Request{}, fmt.Errorf("host %q is not in the allowed hosts %v", pu.Host, e.opts.AllowedHosts)
	}
	r := Request{Method: m, URL: u, Headers: nethttp.Header{}}
	for k, v := range e.opts.Headers {
		r.Headers.Set(k, v)
	}
	if h, ok := c.With["headers"].(map[string]any); ok {
		for k := range h {
			s, _ := act.StringArg(h, k, true)
			v, err := act.Render(s, c.Values)
			if err != nil {
				return Request{}, fmt.Errorf("header %s: %w", k, err)
			}
			if strings.ContainsAny(v, "\r\n\x00") {
				return Request{}, fmt.Errorf("header %s: value holds a line break", k)
			}
			r.Headers.Set(k, v)
		}
	}
	if b, ok := c.With["body"]; ok {
		tree, err := act.RenderTree(b, c.Values)
		if err != nil {
			return Request{}, fmt.Errorf("body: %w", err)
		}
		r.Body, err = json.Marshal(tree)
		if err != nil {
			return Request{}, fmt.Errorf("body: %w", err)
		}
		if r.Headers.Get("Content-Type") == "" {
			r.Headers.Set("Content-Type", "application/json")
		}
	}
	r.Expect, _ = expected(c.With)
	return r, nil
}

// Plan implements act.Executor: it renders the request and sends nothing.
func (e *Executor) Plan(ctx context.Context, c act.Call) (act.Plan, error) {
	r, err := e.Render(c)
	if err != nil {
		return act.Plan{}, err
	}
	pu, _ := url.Parse(r.URL)
	sum := fmt.Sprintf("%s %s", r.Method, r.URL)
	if r.Body != nil {
		sum += " with body " + truncate(string(r.Body), 300)
	}
	return act.Plan{Summary: sum, Targets: []string{"http/" + pu.Host + pu.Path}}, nil
}

// Apply implements act.Executor.
func (e *Executor) Apply(ctx context.Context, c act.Call) (act.Result, error) {
	r, err := e.Render(c)
	if err != nil {
		return act.Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := nethttp.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return act.Result{}, fmt.Errorf("build request: %w", err)
	}
	req.Header = r.Headers
	resp, err := e.opts.Client.Do(req)
	if err != nil {
		return act.Result{}, fmt.Errorf("%s %s: %w", r.Method, redact(r.URL), err)
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, e.opts.MaxResponseBytes))
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if len(r.Expect) > 0 {
		ok = slices.Contains(r.Expect, resp.StatusCode)
	}
	detail := fmt.Sprintf("%s %s: %d %s", r.Method, redact(r.URL), resp.StatusCode, truncate(strings.TrimSpace(string(excerpt)), 300))
	if !ok {
		return act.Result{Detail: detail}, fmt.Errorf("%w: %s", ErrStatus, detail)
	}
	return act.Result{Detail: detail}, nil
}

// redact drops the query, which may carry tokens, from URLs in messages.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + "?..."
	}
	return u
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
