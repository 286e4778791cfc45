package promsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrResponseTooLarge is returned when an answer exceeds
// Options.MaxResponseBytes; the source then asks for shorter chunks.
var ErrResponseTooLarge = errors.New("response too large")

// maxGetQueryLen is the longest encoded query string sent with GET; longer
// ones are POSTed as a form, which Prometheus accepts on the same path,
// since proxies commonly refuse URLs past 8 KiB.
const maxGetQueryLen = 4096

// client calls one Prometheus server's query_range endpoint.
type client struct {
	endpoint string
	hc       *http.Client
	opts     *Options
}

func newClient(opts *Options) *client {
	hc := opts.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	return &client{
		endpoint: strings.TrimRight(opts.URL, "/") + "/api/v1/query_range",
		hc:       hc,
		opts:     opts,
	}
}

// formatTime renders ms as Unix seconds with millisecond decimals, the
// precision Prometheus evaluates at.
func formatTime(ms int64) string {
	return strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)
}

// queryRange evaluates query at start, start+step, ... up to end (ms).
// Errors name neither the query nor the URL; the caller adds them.
func (c *client) queryRange(ctx context.Context, query string, start, end int64, step time.Duration) (*decoded, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	form := url.Values{
		"query": {query},
		"start": {formatTime(start)},
		"end":   {formatTime(end)},
		"step":  {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)},
	}
	// Ask Prometheus to give up a little before we do, so that a slow
	// query ends with its own timeout error rather than a cut connection.
	if c.opts.Timeout > 2*time.Second {
		form.Set("timeout", strconv.FormatFloat((c.opts.Timeout-time.Second).Seconds(), 'f', -1, 64))
	}
	enc := form.Encode()
	var req *http.Request
	var err error
	if len(enc) <= maxGetQueryLen {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint+"?"+enc, nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, strings.NewReader(enc))
		if req != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range c.opts.Headers {
		req.Header.Set(k, v)
	}
	switch {
	case c.opts.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+c.opts.BearerToken)
	case c.opts.BasicAuth.Username != "":
		req.SetBasicAuth(c.opts.BasicAuth.Username, c.opts.BasicAuth.Password)
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if int64(len(body)) > c.opts.MaxResponseBytes {
		return nil, fmt.Errorf("%w: over %d bytes", ErrResponseTooLarge, c.opts.MaxResponseBytes)
	}
	d, err := decodeResponse(body, resp.StatusCode)
	if resp.StatusCode/100 != 2 {
		// Prometheus answers errors with a JSON body (400 bad_data, 422
		// execution, 503 timeout or unavailable); proxies in front of it
		// answer with anything.
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			return nil, apiErr
		}
		return nil, &APIError{StatusCode: resp.StatusCode, Message: snippet(body)}
	}
	return d, err
}

// snippet is the start of a body for an error message.
func snippet(b []byte) string {
	const max = 256
	s := strings.TrimSpace(string(b[:min(len(b), max)]))
	if len(b) > max {
		s += "…"
	}
	if s == "" {
		s = "(empty body)"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
