package forecast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// ErrPrometheus is returned when Prometheus answers with an error or with
// something that is not a query_range answer.
var ErrPrometheus = errors.New("prometheus query failed")

// PromClient reads metric history from Prometheus' HTTP API
// (/api/v1/query_range). It is small on purpose: history for one query,
// split into requests under Prometheus' 11,000 points per series limit.
type PromClient struct {
	// URL is the server's base URL, e.g. http://localhost:9090.
	URL string
	// HTTPClient sends the requests (default http.DefaultClient).
	HTTPClient *http.Client
	// BearerToken, when set, is sent as an Authorization header.
	BearerToken string
	// MaxResponseBytes bounds one answer (default 64 MiB).
	MaxResponseBytes int64
	// MaxPointsPerRequest bounds the points per series of one request
	// (default 10,000; Prometheus refuses more than 11,000).
	MaxPointsPerRequest int
}

// QueryRange evaluates query from start to end every step and returns
// each resulting series, its chunks joined in time order.
func (c *PromClient) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]telemetry.Series, error) {
	if step <= 0 {
		return nil, fmt.Errorf("query range: step %v must be positive", step)
	}
	if !end.After(start) {
		return nil, fmt.Errorf("query range: end %s not after start %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	per := c.MaxPointsPerRequest
	if per <= 0 {
		per = 10_000
	}
	chunk := time.Duration(per-1) * step
	bySeries := map[string]*telemetry.Series{}
	var order []string
	for from := start; !from.After(end); from = from.Add(chunk + step) {
		to := from.Add(chunk)
		if to.After(end) {
			to = end
		}
		ss, err := c.queryOnce(ctx, query, from, to, step)
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			k := s.Labels.String()
			cur, ok := bySeries[k]
			if !ok {
				cp := s
				bySeries[k] = &cp
				order = append(order, k)
				continue
			}
			cur.Points = append(cur.Points, s.Points...)
		}
	}
	out := make([]telemetry.Series, 0, len(order))
	for _, k := range order {
		out = append(out, *bySeries[k])
	}
	return out, nil
}

func (c *PromClient) queryOnce(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]telemetry.Series, error) {
	form := url.Values{
		"query": {query},
		"start": {strconv.FormatFloat(float64(start.UnixMilli())/1000, 'f', -1, 64)},
		"end":   {strconv.FormatFloat(float64(end.UnixMilli())/1000, 'f', -1, 64)},
		"step":  {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)},
	}
	// POST keeps long queries out of URLs that proxies may refuse.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		strings.TrimRight(c.URL, "/")+"/api/v1/query_range", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("query range: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.BearerToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.BearerToken)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("query range: %w", err)
	}
	defer resp.Body.Close()
	limit := c.MaxResponseBytes
	if limit <= 0 {
		limit = 64 << 20
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("query range: read answer: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: answer over %d bytes", ErrPrometheus, limit)
	}
	ss, derr := DecodeQueryRange(body)
	if resp.StatusCode/100 != 2 {
		if derr != nil && errors.Is(derr, ErrPrometheus) && strings.Contains(derr.Error(), "status error") {
			return nil, fmt.Errorf("%w (HTTP %d)", derr, resp.StatusCode)
		}
		return nil, fmt.Errorf("%w: HTTP %d: %s", ErrPrometheus, resp.StatusCode, clipBody(body))
	}
	return ss, derr
}

func clipBody(b []byte) string {
	s := strings.TrimSpace(string(b[:min(len(b), 200)]))
	if len(b) > 200 {
		s += "..."
	}
	return s
}

// promAnswer is the envelope of Prometheus' HTTP API.
type promAnswer struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string    `json:"metric"`
			Values [][2]json.RawMessage `json:"values"`
		} `json:"result"`
	} `json:"data"`
}

// DecodeQueryRange decodes a /api/v1/query_range answer into series.
// Points whose value is NaN or infinite (Prometheus' stale markers and
// divisions by zero) are left out, so they become gaps.
func DecodeQueryRange(body []byte) ([]telemetry.Series, error) {
	var a promAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("%w: decode answer: %v", ErrPrometheus, err)
	}
	if a.Status != "success" {
		if a.Status == "error" {
			return nil, fmt.Errorf("%w: status error: %s: %s", ErrPrometheus, a.ErrorType, a.Error)
		}
		return nil, fmt.Errorf("%w: status %q", ErrPrometheus, a.Status)
	}
	if a.Data.ResultType != "matrix" {
		return nil, fmt.Errorf("%w: result type %q, want matrix", ErrPrometheus, a.Data.ResultType)
	}
	out := make([]telemetry.Series, 0, len(a.Data.Result))
	for i, r := range a.Data.Result {
		s := telemetry.Series{Labels: telemetry.LabelsFromMap(r.Metric), Points: make([]telemetry.Point, 0, len(r.Values))}
		for j, pair := range r.Values {
			var ts float64
			if err := json.Unmarshal(pair[0], &ts); err != nil || math.IsNaN(ts) || math.Abs(ts) > 1e13 {
				return nil, fmt.Errorf("%w: series %d point %d: bad timestamp %s", ErrPrometheus, i, j, clipBody(pair[0]))
			}
			var vs string
			if err := json.Unmarshal(pair[1], &vs); err != nil {
				return nil, fmt.Errorf("%w: series %d point %d: value %s is not a string", ErrPrometheus, i, j, clipBody(pair[1]))
			}
			v, err := strconv.ParseFloat(vs, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: series %d point %d: value %q is not a number", ErrPrometheus, i, j, clip(vs))
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			t := int64(math.Round(ts * 1000))
			if n := len(s.Points); n > 0 && t <= s.Points[n-1].T {
				return nil, fmt.Errorf("%w: series %d point %d: timestamps not increasing", ErrPrometheus, i, j)
			}
			s.Points = append(s.Points, telemetry.Point{T: t, V: v})
		}
		out = append(out, s)
	}
	return out, nil
}
