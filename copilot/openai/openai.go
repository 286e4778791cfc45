// Package openai is a small client for the OpenAI-compatible chat
// completions API, as served by OpenAI, Ollama (/v1), vLLM, LM Studio and
// company AI gateways. It retries transient failures with backoff, honours
// Retry-After, streams over server-sent events, validates structured output
// against a JSON Schema subset, keeps prompts within a token budget and
// caches identical requests.
//
// Key invariant: every failure maps onto one of copilot's sentinel errors
// (ErrUnauthorized, ErrRateLimited, ErrServer, ErrTimeout, ErrBadResponse,
// ErrBudget) wrapped with the server's own words, and the parent context's
// cancellation is returned as is and never retried.
package openai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vigilops/vigil/copilot"
	"github.com/vigilops/vigil/copilot/redact"
)

var _ copilot.Provider = (*Client)(nil)

// ErrInvalidOptions is returned by New for unusable options.
var ErrInvalidOptions = errors.New("invalid openai options")

// Defaults.
const (
	DefaultBaseURL       = "https://api.openai.com/v1"
	DefaultTimeout       = 60 * time.Second
	DefaultMaxRetries    = 3
	DefaultBackoffBase   = 500 * time.Millisecond
	DefaultBackoffMax    = 20 * time.Second
	DefaultMaxRetryAfter = 2 * time.Minute
	DefaultCacheSize     = 256
	// maxBody bounds a non-streamed reply and an error body.
	maxBody = 16 << 20
)

// Options configure a Client.
type Options struct {
	// BaseURL is the API root the paths are appended to, e.g.
	// https://api.openai.com/v1 or http://localhost:11434/v1; we POST to
	// BaseURL + "/chat/completions".
	BaseURL string
	// Model is used when a Request names none.
	Model string
	// APIKey is sent as "Authorization: Bearer". Empty sends no header
	// (Ollama, local vLLM).
	APIKey string
	// APIKeyFile is read (and trimmed) on every call, so a rotated mounted
	// secret is picked up. Exclusive with APIKey.
	APIKeyFile string
	// Headers are added to every request, after Authorization, so that a
	// gateway can take its own key header or override ours.
	Headers map[string]string
	// ProxyURL sends requests through an HTTP(S) proxy; empty uses the
	// environment (HTTPS_PROXY, NO_PROXY). Ignored with HTTPClient.
	ProxyURL string
	// Timeout bounds one attempt, streaming included.
	Timeout time.Duration
	// MaxRetries is how many times a 429, 5xx, timeout or network error is
	// retried; 0 sends once.
	MaxRetries int
	// BackoffBase and BackoffMax shape the exponential backoff with jitter
	// used when the server gives no Retry-After.
	BackoffBase, BackoffMax time.Duration
	// MaxRetryAfter is the longest Retry-After we wait; a longer one fails
	// at once with ErrRateLimited.
	MaxRetryAfter time.Duration
	// MaxPromptTokens is the prompt budget per call, estimated as bytes/4.
	// Over it, FitMessages truncates; still over, the call fails with
	// ErrBudget. 0 means no budget.
	MaxPromptTokens int
	// CacheSize is how many replies the LRU cache keeps; 0 disables it.
	// Streaming is never cached.
	CacheSize int
	// StreamUsage asks for token usage in streams (stream_options); turn it
	// off for servers that reject the field.
	StreamUsage bool
	// HTTPClient replaces the client built from ProxyURL.
	HTTPClient *http.Client
	// Now and Sleep are the clock, injectable for tests. Sleep returns
	// early with ctx's error.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives retry notices.
	Logger *slog.Logger
	// Redactor scrubs secrets and personal data from every message before
	// it is sent and maps placeholders in replies back. Redaction is always
	// on: when nil, New builds one with redact.DefaultOptions(). Streamed
	// deltas carry placeholders; the final Response is restored.
	Redactor *redact.Redactor
}

// DefaultOptions returns options for OpenAI itself; set Model and a key.
func DefaultOptions() Options {
	return Options{
		BaseURL:       DefaultBaseURL,
		Timeout:       DefaultTimeout,
		MaxRetries:    DefaultMaxRetries,
		BackoffBase:   DefaultBackoffBase,
		BackoffMax:    DefaultBackoffMax,
		MaxRetryAfter: DefaultMaxRetryAfter,
		CacheSize:     DefaultCacheSize,
		StreamUsage:   true,
	}
}

func (o *Options) validate() error {
	u, err := url.Parse(o.BaseURL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("%w: base URL %q is not an http(s) URL", ErrInvalidOptions, o.BaseURL)
	case strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/chat/completions"):
		return fmt.Errorf("%w: base URL %q must be the API root (like .../v1), not the endpoint", ErrInvalidOptions, o.BaseURL)
	case o.APIKey != "" && o.APIKeyFile != "":
		return fmt.Errorf("%w: set APIKey or APIKeyFile, not both", ErrInvalidOptions)
	case o.HTTPClient != nil && o.ProxyURL != "":
		return fmt.Errorf("%w: ProxyURL is ignored with HTTPClient; configure the client's transport", ErrInvalidOptions)
	case o.Timeout <= 0:
		return fmt.Errorf("%w: timeout %v must be positive", ErrInvalidOptions, o.Timeout)
	case o.MaxRetries < 0 || o.CacheSize < 0 || o.MaxPromptTokens < 0:
		return fmt.Errorf("%w: MaxRetries, CacheSize and MaxPromptTokens must not be negative", ErrInvalidOptions)
	case o.BackoffBase <= 0 || o.BackoffMax < o.BackoffBase:
		return fmt.Errorf("%w: backoff base %v, max %v", ErrInvalidOptions, o.BackoffBase, o.BackoffMax)
	case o.MaxRetryAfter < 0:
		return fmt.Errorf("%w: MaxRetryAfter must not be negative", ErrInvalidOptions)
	}
	for k := range o.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") {
			return fmt.Errorf("%w: header name %q", ErrInvalidOptions, k)
		}
	}
	if o.ProxyURL != "" {
		if p, err := url.Parse(o.ProxyURL); err != nil || p.Host == "" {
			return fmt.Errorf("%w: proxy URL %q", ErrInvalidOptions, o.ProxyURL)
		}
	}
	return nil
}

// Client is an OpenAI-compatible chat provider. It is safe for concurrent
// use.
type Client struct {
	opts     Options
	endpoint string
	hc       *http.Client
	cache    *lru // nil when disabled; safe for concurrent use
}

// New returns a client for opts.
func New(opts Options) (*Client, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	hc := opts.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if opts.ProxyURL != "" {
			p, _ := url.Parse(opts.ProxyURL) // checked by validate
			tr.Proxy = http.ProxyURL(p)
		}
		// The per-attempt context bounds time; no client timeout, which
		// would cut long streams without telling us it was a timeout.
		hc = &http.Client{Transport: tr}
	}
	if opts.Redactor == nil {
		r, err := redact.New(redact.DefaultOptions())
		if err != nil {
			return nil, fmt.Errorf("redactor: %w", err)
		}
		opts.Redactor = r
	}
	c := &Client{
		opts:     opts,
		endpoint: strings.TrimRight(opts.BaseURL, "/") + "/chat/completions",
		hc:       hc,
	}
	if opts.CacheSize > 0 {
		c.cache = newLRU(opts.CacheSize)
	}
	return c, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Chat implements copilot.Provider.
func (c *Client) Chat(ctx context.Context, req copilot.Request) (copilot.Response, error) {
	body, err := c.encode(req, false)
	if err != nil {
		return copilot.Response{}, err
	}
	key := ""
	if c.cache != nil {
		key = cacheKey(c.endpoint, body)
		if r, ok := c.cache.get(key); ok {
			return r, nil
		}
	}
	var out copilot.Response
	err = c.do(ctx, body, func(resp *http.Response) error {
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
		if err != nil {
			return err // transport; classified by do
		}
		if len(data) > maxBody {
			return fmt.Errorf("%w: reply over %d bytes", copilot.ErrBadResponse, maxBody)
		}
		out, err = decodeResponse(data)
		return err
	})
	if err != nil {
		return copilot.Response{}, err
	}
	out = restoreResponse(c.opts.Redactor, out)
	if c.cache != nil {
		c.cache.add(key, out)
	}
	return out, nil
}

// encode fits the messages to the budget and builds the wire body.
func (c *Client) encode(req copilot.Request, stream bool) ([]byte, error) {
	req = redactRequest(c.opts.Redactor, req)
	if b := c.opts.MaxPromptTokens; b > 0 {
		fixed := toolTokens(req.Tools)
		if req.ResponseFormat != nil {
			fixed += len(req.ResponseFormat.Schema) / 4
		}
		if EstimateTokens(req.Messages)+fixed > b {
			req.Messages = FitMessages(req.Messages, b-fixed)
			if n := EstimateTokens(req.Messages) + fixed; n > b {
				return nil, fmt.Errorf("%w: about %d tokens after truncation, budget %d", copilot.ErrBudget, n, b)
			}
		}
	}
	if req.Model == "" {
		req.Model = c.opts.Model
	}
	if req.Model == "" {
		return nil, fmt.Errorf("%w: no model in request or options", ErrInvalidOptions)
	}
	return encodeRequest(req, stream, stream && c.opts.StreamUsage)
}

// errRetry marks an attempt's failure as worth another try; after is the
// server's Retry-After, or 0.
type errRetry struct {
	err   error
	after time.Duration
}

func (e *errRetry) Error() string { return e.err.Error() }
func (e *errRetry) Unwrap() error { return e.err }

// do POSTs body and hands a 2xx response to read, retrying what is
// transient. read runs under the attempt's timeout.
func (c *Client) do(ctx context.Context, body []byte, read func(*http.Response) error) error {
	var last error
	for attempt := 0; ; attempt++ {
		err := c.attempt(ctx, body, read)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var re *errRetry
		if !errors.As(err, &re) {
			return err
		}
		last = re.err
		if attempt >= c.opts.MaxRetries {
			break
		}
		wait := re.after
		if wait > c.opts.MaxRetryAfter {
			return fmt.Errorf("%w (server asks to wait %v, over the %v we accept)", last, wait, c.opts.MaxRetryAfter)
		}
		if wait == 0 {
			wait = c.backoff(attempt)
		}
		c.opts.Logger.Debug("llm call failed, retrying", "attempt", attempt+1, "wait", wait, "err", last)
		if err := c.opts.Sleep(ctx, wait); err != nil {
			return err
		}
	}
	return fmt.Errorf("%w (after %d attempts)", last, c.opts.MaxRetries+1)
}

// backoff is exponential with "equal jitter": half fixed, half random, so
// that clients failing together do not retry together.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opts.BackoffBase << min(attempt, 30)
	if d > c.opts.BackoffMax || d <= 0 {
		d = c.opts.BackoffMax
	}
	return d/2 + rand.N(d/2+1)
}

func (c *Client) attempt(ctx context.Context, body []byte, read func(*http.Response) error) error {
	actx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(actx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json, text/event-stream")
	key, err := c.apiKey()
	if err != nil {
		return err
	}
	if key != "" {
		hreq.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range c.opts.Headers {
		hreq.Header.Set(k, v)
	}
	resp, err := c.hc.Do(hreq)
	if err != nil {
		return c.transportErr(ctx, actx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return c.statusErr(resp)
	}
	if err := read(resp); err != nil {
		if errors.Is(err, copilot.ErrBadResponse) || errors.Is(err, copilot.ErrServer) || errors.Is(err, errCallback) {
			return err
		}
		var started *errStarted
		if errors.As(err, &started) {
			// Fragments were delivered: retrying would deliver them again.
			err := c.transportErr(ctx, actx, started.err)
			if re, ok := err.(*errRetry); ok {
				return fmt.Errorf("stream broken: %w", re.err)
			}
			return err
		}
		return c.transportErr(ctx, actx, err)
	}
	return nil
}

// errCallback marks an error returned by a stream callback: never retried.
var errCallback = errors.New("stream callback")

// errStarted marks a transport error after stream fragments were delivered.
type errStarted struct{ err error }

func (e *errStarted) Error() string { return e.err.Error() }
func (e *errStarted) Unwrap() error { return e.err }

func (c *Client) apiKey() (string, error) {
	if c.opts.APIKeyFile == "" {
		return c.opts.APIKey, nil
	}
	b, err := os.ReadFile(c.opts.APIKeyFile)
	if err != nil {
		return "", fmt.Errorf("read API key file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func (c *Client) transportErr(ctx, actx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ne net.Error
	if actx.Err() == context.DeadlineExceeded || (errors.As(err, &ne) && ne.Timeout()) {
		return &errRetry{err: fmt.Errorf("%w: no complete reply from %s within %v", copilot.ErrTimeout, c.endpoint, c.opts.Timeout)}
	}
	return &errRetry{err: fmt.Errorf("%w: %s: %v", copilot.ErrServer, c.endpoint, err)}
}

// statusErr turns a non-2xx reply into a sentinel error carrying the
// server's message.
func (c *Client) statusErr(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	msg := serverMessage(data)
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return fmt.Errorf("%w: HTTP %d: %s", copilot.ErrUnauthorized, code, msg)
	case code == http.StatusTooManyRequests:
		after, ok := retryAfter(resp.Header.Get("Retry-After"), c.opts.Now())
		hint := "no Retry-After"
		if ok {
			hint = "Retry-After " + after.String()
		}
		return &errRetry{err: fmt.Errorf("%w: HTTP 429 (%s): %s", copilot.ErrRateLimited, hint, msg), after: after}
	case code == http.StatusRequestTimeout || code == http.StatusGatewayTimeout:
		return &errRetry{err: fmt.Errorf("%w: HTTP %d: %s", copilot.ErrTimeout, code, msg)}
	case code >= 500 && code != http.StatusNotImplemented:
		after, _ := retryAfter(resp.Header.Get("Retry-After"), c.opts.Now())
		return &errRetry{err: fmt.Errorf("%w: HTTP %d: %s", copilot.ErrServer, code, msg), after: after}
	case code >= 500:
		return fmt.Errorf("%w: HTTP %d: %s", copilot.ErrServer, code, msg)
	default:
		return fmt.Errorf("llm request rejected: HTTP %d: %s", code, msg)
	}
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 && s < 1e9 {
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
