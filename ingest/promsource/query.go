package promsource

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// Client reads one query's history as series, with the same requests and
// decoding the Source pulls with: for callers that want a range at once
// rather than a stream (the forecaster, the KEDA scaler, the command line).
// The zero value of every field but URL takes Source's default.
type Client struct {
	// URL is the Prometheus base URL, such as http://prometheus:9090.
	URL string
	// BearerToken, if set, is sent as Authorization: Bearer; otherwise
	// BasicAuth, if its Username is set.
	BearerToken string
	BasicAuth   BasicAuth
	Headers     map[string]string
	HTTPClient  *http.Client
	// Timeout bounds one request (default 2m); MaxPoints the evaluations
	// per series in one request (default 11,000, Prometheus' limit);
	// MaxResponseBytes one answer's body (default 128 MiB).
	Timeout          time.Duration
	MaxPoints        int
	MaxResponseBytes int64
}

// QueryRange evaluates query from start to end every step, in requests of
// at most MaxPoints evaluations, and returns each series with its chunks
// joined in time order. Values that are not finite (stale markers,
// divisions by zero) are left out, so they become gaps. Errors wrap
// *APIError for Prometheus' own answers, ErrBadResponse for anything that
// is not a query_range answer and ErrResponseTooLarge past
// MaxResponseBytes.
func (c *Client) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]telemetry.Series, error) {
	if step <= 0 {
		return nil, fmt.Errorf("query range: step %v must be positive", step)
	}
	if !end.After(start) {
		return nil, fmt.Errorf("query range: end %s not after start %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	o := DefaultOptions()
	o.URL, o.BearerToken, o.BasicAuth, o.Headers, o.HTTPClient = c.URL, c.BearerToken, c.BasicAuth, c.Headers, c.HTTPClient
	if c.Timeout > 0 {
		o.Timeout = c.Timeout
	}
	if c.MaxPoints > 0 {
		o.MaxPoints = c.MaxPoints
	}
	if c.MaxResponseBytes > 0 {
		o.MaxResponseBytes = c.MaxResponseBytes
	}
	cl := newClient(&o)
	stepMs := step.Milliseconds()
	if stepMs <= 0 {
		return nil, fmt.Errorf("query range: step %v is under a millisecond", step)
	}
	chunk := int64(o.MaxPoints-1) * stepMs
	bySeries := map[string]int{}
	var out []telemetry.Series
	for from, last := start.UnixMilli(), end.UnixMilli(); from <= last; from += chunk + stepMs {
		to := min(from+chunk, last)
		d, err := cl.queryRange(ctx, query, from, to, step)
		if err != nil {
			return nil, fmt.Errorf("query range: %w", err)
		}
		for _, s := range d.series {
			k := s.Labels.String()
			i, ok := bySeries[k]
			if !ok {
				i = len(out)
				bySeries[k] = i
				out = append(out, telemetry.Series{Labels: s.Labels})
			}
			for _, p := range s.Points {
				if !math.IsNaN(p.V) && !math.IsInf(p.V, 0) {
					out[i].Points = append(out[i].Points, p)
				}
			}
		}
	}
	return out, nil
}
