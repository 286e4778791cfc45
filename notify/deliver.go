package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DeliveryError is a failed delivery with its retry classification. The
// retry stage retries only errors that say so; anything else (a bad
// payload, a 4xx answer other than 429) fails at once.
type DeliveryError struct {
	// StatusCode is the HTTP status or SMTP reply code, 0 when none.
	StatusCode int
	// Retryable reports whether trying again may succeed.
	Retryable bool
	// RetryAfter is the wait the server asked for, 0 when it did not.
	RetryAfter time.Duration
	Err        error
}

func (e *DeliveryError) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("status %d: %v", e.StatusCode, e.Err)
	}
	return e.Err.Error()
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// Retryable wraps err as a retryable delivery failure.
func Retryable(err error) error { return &DeliveryError{Retryable: true, Err: err} }

// Permanent wraps err as a delivery failure that retrying will not fix.
func Permanent(err error) error { return &DeliveryError{Err: err} }

// classify reports whether err is worth retrying and after what wait.
// Unclassified errors (network failures, timeouts) are retryable unless
// they come from the caller's own context.
func classify(err error) (retry bool, after time.Duration) {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.Retryable, de.RetryAfter
	}
	if errors.Is(err, ErrInvalidMessage) || errors.Is(err, ErrTemplate) || errors.Is(err, ErrInvalidOptions) {
		return false, 0
	}
	return true, 0
}

// maxRetryAfter caps a server's Retry-After so that a hostile or broken
// answer cannot park a notification for days.
const maxRetryAfter = time.Hour

// ParseRetryAfter parses an HTTP Retry-After value (RFC 9110 10.2.3):
// either a non-negative number of seconds or an HTTP-date, which is taken
// relative to ref (the response's Date, or the local clock when absent).
// It reports false for an empty or malformed value. Waits are capped at one
// hour; a date in the past gives 0.
func ParseRetryAfter(v string, ref time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			// All digits but too long for uint64: a huge wait, capped.
			if allDigits(v) {
				return maxRetryAfter, true
			}
			return 0, false
		}
		if secs > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(ref)
	switch {
	case d < 0:
		return 0, true
	case d > maxRetryAfter:
		return maxRetryAfter, true
	}
	return d, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// maxErrorBody bounds how much of an error response is read and quoted.
const maxErrorBody = 512

// CheckResponse turns an HTTP response into nil (2xx) or a *DeliveryError:
// 429 and 5xx are retryable, with the Retry-After wait on 429 and 503; any
// other status is permanent. It reads at most a small prefix of the body
// for the error text; the caller still closes the body.
func CheckResponse(resp *http.Response) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	msg := strings.TrimSpace(strings.ToValidUTF8(string(b), "?"))
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	de := &DeliveryError{StatusCode: resp.StatusCode, Err: errors.New(msg)}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		de.Retryable = true
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		ref := time.Now() // I/O edge: the server's clock is what its date refers to
		if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			ref = d
		}
		if d, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), ref); ok {
			de.RetryAfter = d
		}
	}
	return de
}

// DefaultTimeout is the default per-request timeout of the HTTP
// integrations.
const DefaultTimeout = 10 * time.Second

// NewHTTPClient returns a client with the given overall request timeout
// that does not follow redirects: a webhook that redirects is
// misconfigured, and following it could re-send a POST as a GET.
func NewHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// DefaultHTTP fills the options every HTTP notifier shares: a client
// from NewHTTPClient(timeout) when none is given (the timeout must then
// be positive) and a discarding logger when none is given. integration
// names the notifier in the error.
func DefaultHTTP(integration string, client **http.Client, timeout time.Duration, logger **slog.Logger) error {
	if *client == nil {
		if timeout <= 0 {
			return fmt.Errorf("%w: %s timeout %v must be positive", ErrInvalidOptions, integration, timeout)
		}
		*client = NewHTTPClient(timeout)
	}
	if *logger == nil {
		*logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// PostJSON POSTs body as JSON to url with the extra headers and classifies
// the answer with CheckResponse. Transport errors are retryable.
func PostJSON(ctx context.Context, c *http.Client, url string, body []byte, header http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("build request: %w", err))
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vigil-notify")
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return Permanent(fmt.Errorf("post: %w", err))
		}
		return Retryable(fmt.Errorf("post: %w", redactURLError(err)))
	}
	defer resp.Body.Close()
	err = CheckResponse(resp)
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return err
}

// redactURLError drops the URL from a transport error: webhook URLs of
// Slack and others carry their secret in the path.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}
