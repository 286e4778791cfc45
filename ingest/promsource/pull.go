package promsource

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// maxBackoff caps the wait after repeated failures (unless Interval is
// longer).
const maxBackoff = 10 * time.Minute

// queryState is what the loop knows about one query. Only the loop
// goroutine touches it.
type queryState struct {
	query string
	// watermark is the last evaluation time delivered (ms), valid when
	// has is set.
	watermark int64
	has       bool
	chunks    chunking
	failures  int
	retryAt   time.Time
}

// chunking sizes requests: max only shrinks (when an answer was too
// large), series is the series count of the last answer.
type chunking struct {
	max    int
	series int
}

func (c *chunking) size(maxSamples int) int {
	if c.series > 0 {
		return max(1, min(c.max, maxSamples/c.series))
	}
	return c.max
}

func (s *Source) run(ctx context.Context, done chan struct{}) {
	defer close(done)
	states := make([]queryState, len(s.opts.Queries))
	for i, q := range s.opts.Queries {
		states[i] = queryState{query: q, chunks: chunking{max: s.opts.MaxPoints}}
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		for i := range states {
			if ctx.Err() != nil {
				return
			}
			st := &states[i]
			if now := s.opts.Now(); !now.Before(st.retryAt) {
				s.pull(ctx, st, now)
			}
		}
		timer.Reset(s.opts.Interval)
	}
}

// pull delivers query's evaluations from its watermark (or the start of
// the backfill) up to now, chunk by chunk.
func (s *Source) pull(ctx context.Context, st *queryState, now time.Time) {
	step := s.stepMs
	end := floorDiv(now.UnixMilli(), step) * step
	start := ceilDiv(now.Add(-s.opts.Backfill).UnixMilli(), step) * step
	if st.has && st.watermark+step > start {
		start = st.watermark + step
	}
	if start > end {
		return
	}
	backfill := (end-start)/step+1 > int64(st.chunks.size(s.opts.MaxSamplesPerRequest))
	if backfill {
		s.opts.Logger.Info("prometheus backfill starting", "query", st.query, "url", s.client.endpoint,
			"from", time.UnixMilli(start).UTC(), "to", time.UnixMilli(end).UTC(), "step", s.opts.Step)
	}
	began, samples := time.Now(), 0
	err := s.walk(ctx, st.query, start, end, &st.chunks, func(d *decoded, lo, hi int64) error {
		n, err := s.deliver(ctx, st, d, lo, hi)
		samples += n
		if err != nil {
			return fmt.Errorf("deliver %d series: %w", len(d.series), err)
		}
		st.watermark, st.has = hi, true
		s.metrics.watermark.WithLabelValues(st.query).Set(float64(hi) / 1000)
		if backfill {
			s.opts.Logger.Info("prometheus backfill progress", "query", st.query,
				"through", time.UnixMilli(hi).UTC(), "done_pct", 100*(hi-start+step)/(end-start+step), "samples", samples)
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return // stopping
		}
		st.failures++
		backoff := min(s.opts.Interval<<min(st.failures-1, 16), max(maxBackoff, s.opts.Interval))
		st.retryAt = now.Add(backoff)
		s.opts.Logger.Warn("prometheus pull failed; will retry from where it stopped", "query", st.query,
			"url", s.client.endpoint, "err", err, "failures", st.failures, "retry_in", backoff)
		return
	}
	st.failures = 0
	if backfill {
		s.opts.Logger.Info("prometheus backfill complete", "query", st.query, "samples", samples,
			"duration", time.Since(began).Round(time.Millisecond))
	}
}

// walk fetches [start, end] in chunks and calls fn on each answer, in time
// order, with the chunk's bounds. Too-large answers halve ch.max and are
// asked again.
func (s *Source) walk(ctx context.Context, query string, start, end int64, ch *chunking, fn func(d *decoded, lo, hi int64) error) error {
	step := s.stepMs
	for start <= end {
		hi := min(start+int64(ch.size(s.opts.MaxSamplesPerRequest)-1)*step, end)
		d, err := s.fetch(ctx, query, start, hi)
		if err != nil {
			if n := (hi-start)/step + 1; tooLarge(err) && n > 1 {
				ch.max = int(max(1, n/2))
				s.opts.Logger.Info("prometheus answer too large; asking for shorter chunks", "query", query, "points", ch.max, "err", err)
				continue
			}
			return err
		}
		if err := fn(d, start, hi); err != nil {
			return err
		}
		ch.series = len(d.series)
		start = hi + step
	}
	return nil
}

// tooLarge reports whether err says the chunk should be shorter: our own
// response limit, Prometheus' query.max-samples or its 11,000-point limit
// (if MaxPoints was set above it).
func tooLarge(err error) bool {
	if errors.Is(err, ErrResponseTooLarge) {
		return true
	}
	var apiErr *APIError
	return errors.As(err, &apiErr) &&
		(strings.Contains(apiErr.Message, "too many samples") || strings.Contains(apiErr.Message, "exceeded maximum resolution"))
}

// fetch runs one query_range request, counts it and logs its warnings.
func (s *Source) fetch(ctx context.Context, query string, start, end int64) (*decoded, error) {
	began := time.Now()
	d, err := s.client.queryRange(ctx, query, start, end, s.opts.Step)
	s.metrics.duration.Observe(time.Since(began).Seconds())
	s.metrics.requests.WithLabelValues(outcome(err)).Inc()
	if err != nil {
		return nil, fmt.Errorf("query_range %q [%s, %s] on %s: %w", query,
			time.UnixMilli(start).UTC().Format(time.RFC3339), time.UnixMilli(end).UTC().Format(time.RFC3339), s.client.endpoint, err)
	}
	for _, w := range d.warnings {
		s.metrics.warnings.Inc()
		s.opts.Logger.Warn("prometheus warning", "query", query, "url", s.client.endpoint, "warning", w)
	}
	for _, info := range d.infos {
		s.opts.Logger.Debug("prometheus info", "query", query, "info", info)
	}
	points := 0
	for _, sr := range d.series {
		points += len(sr.Points)
	}
	s.metrics.recvSeries.Add(float64(len(d.series)))
	s.metrics.recvSamples.Add(float64(points))
	if d.histograms > 0 {
		s.metrics.recvHistograms.Add(float64(d.histograms))
		s.opts.Logger.Debug("native histogram points skipped", "query", query, "points", d.histograms)
	}
	return d, nil
}

func outcome(err error) string {
	var apiErr *APIError
	switch {
	case err == nil:
		return "success"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, ErrResponseTooLarge):
		return "too_large"
	case errors.Is(err, ErrBadResponse):
		return "bad_response"
	case errors.As(err, &apiErr) && apiErr.Type != "":
		return "api_error"
	case errors.As(err, &apiErr):
		return "http_error"
	}
	return "network_error"
}

// deliver hands the points of one chunk in [lo, hi] after the watermark
// to the Sink, in batches; it returns how many it delivered.
func (s *Source) deliver(ctx context.Context, st *queryState, d *decoded, lo, hi int64) (int, error) {
	if st.has {
		lo = max(lo, st.watermark+1)
	}
	batch := make([]telemetry.Sample, 0, min(s.opts.BatchSize, 1024))
	n := 0
	for _, sr := range d.series {
		ls := s.labelsFor(sr.Labels, st.query)
		for _, p := range sr.Points {
			if p.T < lo || p.T > hi {
				continue
			}
			batch = append(batch, telemetry.Sample{Labels: ls, T: p.T, V: p.V})
			if len(batch) == s.opts.BatchSize {
				if err := s.send(ctx, batch); err != nil {
					return n, err
				}
				n += len(batch)
				batch = make([]telemetry.Sample, 0, s.opts.BatchSize)
			}
		}
	}
	if len(batch) > 0 {
		if err := s.send(ctx, batch); err != nil {
			return n, err
		}
		n += len(batch)
	}
	return n, nil
}

// send delivers one batch, waiting out backpressure for up to about a
// minute: a pull can wait for the pipeline, unlike a sender over HTTP.
func (s *Source) send(ctx context.Context, batch []telemetry.Sample) error {
	wait := 100 * time.Millisecond
	for deadline := time.Now().Add(time.Minute); ; {
		err := s.opts.Sink.Samples(ctx, batch)
		if !errors.Is(err, ingest.ErrBackpressure) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func sortSeries(ss []telemetry.Series) {
	slices.SortFunc(ss, func(a, b telemetry.Series) int {
		for i := 0; i < len(a.Labels) && i < len(b.Labels); i++ {
			if c := strings.Compare(a.Labels[i].Name, b.Labels[i].Name); c != 0 {
				return c
			}
			if c := strings.Compare(a.Labels[i].Value, b.Labels[i].Value); c != 0 {
				return c
			}
		}
		return len(a.Labels) - len(b.Labels)
	})
}
