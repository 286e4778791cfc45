// Package promsource reads metric history from Prometheus (or anything that
// serves its HTTP query API: Thanos, Mimir, VictoriaMetrics) with
// GET /api/v1/query_range. On Start it backfills each configured PromQL
// query over Options.Backfill, then pulls the newest window every
// Options.Interval, handing the points to the Sink as samples; Backfill
// serves the CLI, returning series instead.
//
// Invariant: every query is evaluated on one grid, the multiples of Step
// since the Unix epoch, and a per-query watermark (the last evaluation
// time delivered) only moves forward after a chunk has been delivered, so
// a point is delivered once (barring a Sink failure halfway through a
// chunk, after which the chunk is delivered again; consumers such as
// metricstore absorb the duplicate timestamps), a failed pull leaves no
// gap (the next pull starts at the watermark), and no failure stops the
// loop.
//
// Prometheus refuses ranges of more than 11,000 points per series, so
// ranges are split into chunks of at most MaxPoints evaluations, fewer when
// a query has many series (MaxSamplesPerRequest), and halved when
// Prometheus or MaxResponseBytes finds an answer too large.
//
// Labels: result series are labelled as Prometheus returns them, plus a
// service label derived as by remote write (promwrite.WithService), so
// that a series backfilled here and the same series remote-written are
// one series downstream. A result without a metric name (rate(), sum()
// and other computations drop it) gets a __query__ label holding the
// query, which gives it an identity no stored series or other query can
// collide with.
package promsource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/ingest/promwrite"
	"github.com/vigilops/vigil/telemetry"
)

// QueryLabel holds the query of a result series that has no metric name.
const QueryLabel = "__query__"

// BasicAuth is HTTP basic authentication; the zero value sends none.
type BasicAuth struct {
	Username string
	Password string
}

// Options configure a Source.
type Options struct {
	// URL is the Prometheus base URL, such as http://prometheus:9090 or
	// https://host/prometheus. Required.
	URL string
	// Queries are the PromQL expressions pulled by Start. Backfill takes
	// its query as an argument and ignores them.
	Queries []string
	// Step is the evaluation interval. Default 1m.
	Step time.Duration
	// Backfill is how far back Start reads each query, and the longest
	// gap a later pull fills after an outage. Default 14 days; set it to
	// Step to start from the newest evaluation only.
	Backfill time.Duration
	// Interval is how often Start pulls the newest window. Default 1m.
	Interval time.Duration
	// Timeout bounds one HTTP request. Default 2m, Prometheus' default
	// query timeout.
	Timeout time.Duration
	// BearerToken, if set, is sent as Authorization: Bearer; otherwise
	// BasicAuth, if its Username is set.
	BearerToken string
	BasicAuth   BasicAuth
	// Headers are added to every request (X-Scope-OrgID for Mimir, for
	// instance).
	Headers map[string]string
	// HTTPClient makes the requests. Default http.DefaultClient.
	HTTPClient *http.Client
	// Sink receives the samples pulled by Start. Required by Start, not by
	// Backfill. Give a blocking sink (ingest.NewBusSink(b, true)): a
	// backfill is millions of samples and should wait for the pipeline;
	// ErrBackpressure is retried for a while, then the pull fails.
	Sink ingest.Sink
	// Now is the clock that places the pulled window. Default time.Now.
	Now func() time.Time
	// MaxPoints bounds the evaluations per series in one request.
	// Default and maximum useful value 11,000, Prometheus' limit.
	MaxPoints int
	// MaxSamplesPerRequest bounds series × points in one request, so that
	// a query with many series is read in shorter chunks. Default
	// 1,000,000 (about 40 MB decoded).
	MaxSamplesPerRequest int
	// MaxResponseBytes bounds one answer's body. Default 128 MiB.
	MaxResponseBytes int64
	// BatchSize bounds the samples handed to the Sink in one call.
	// Default 10,000.
	BatchSize int
	// ServiceLabels is passed to promwrite.WithService. Nil means
	// promwrite.DefaultServiceLabels.
	ServiceLabels []string
	// Logger receives progress, warnings and errors. Default slog.Default().
	Logger *slog.Logger
	// Registerer receives the metrics. Nil leaves them unregistered.
	Registerer prometheus.Registerer
}

// DefaultOptions returns the defaults, without URL, Queries or Sink.
func DefaultOptions() Options {
	return Options{
		Step:                 time.Minute,
		Backfill:             14 * 24 * time.Hour,
		Interval:             time.Minute,
		Timeout:              2 * time.Minute,
		Now:                  time.Now,
		MaxPoints:            11_000,
		MaxSamplesPerRequest: 1_000_000,
		MaxResponseBytes:     128 << 20,
		BatchSize:            10_000,
		ServiceLabels:        promwrite.DefaultServiceLabels,
		Logger:               slog.Default(),
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	set := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	set(&o.Step, d.Step)
	set(&o.Backfill, d.Backfill)
	set(&o.Interval, d.Interval)
	set(&o.Timeout, d.Timeout)
	if o.Now == nil {
		o.Now = d.Now
	}
	if o.MaxPoints == 0 {
		o.MaxPoints = d.MaxPoints
	}
	if o.MaxSamplesPerRequest == 0 {
		o.MaxSamplesPerRequest = d.MaxSamplesPerRequest
	}
	if o.MaxResponseBytes == 0 {
		o.MaxResponseBytes = d.MaxResponseBytes
	}
	if o.BatchSize == 0 {
		o.BatchSize = d.BatchSize
	}
	if o.ServiceLabels == nil {
		o.ServiceLabels = d.ServiceLabels
	}
	if o.Logger == nil {
		o.Logger = d.Logger
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	if o.URL == "" {
		errs = append(errs, errors.New("no URL"))
	} else if u, err := url.Parse(o.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("URL %q is not an http(s) URL", o.URL))
	}
	if o.Step < time.Millisecond {
		errs = append(errs, fmt.Errorf("Step %v under 1ms", o.Step))
	}
	if o.Backfill < 0 || o.Interval < 0 || o.Timeout < 0 {
		errs = append(errs, errors.New("negative Backfill, Interval or Timeout"))
	}
	if o.MaxPoints < 1 || o.MaxSamplesPerRequest < 1 || o.MaxResponseBytes < 1 || o.BatchSize < 1 {
		errs = append(errs, errors.New("MaxPoints, MaxSamplesPerRequest, MaxResponseBytes and BatchSize must be positive"))
	}
	return errors.Join(errs...)
}

// Source pulls metric history from Prometheus. Backfill is safe for
// concurrent use; Start and Stop are called once each.
type Source struct {
	opts    Options
	client  *client
	metrics *metrics
	stepMs  int64

	// mu protects cancel and done, set by Start.
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

var _ ingest.Receiver = (*Source)(nil)

// New returns a Source. It fails on invalid options and panics if its
// metrics are already registered with opts.Registerer.
func New(opts Options) (*Source, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("promsource: invalid options: %w", err)
	}
	s := &Source{opts: opts, stepMs: opts.Step.Milliseconds()}
	s.client = newClient(&s.opts)
	s.metrics = newMetrics(opts.Registerer)
	return s, nil
}

// Name implements ingest.Receiver.
func (s *Source) Name() string { return "promsource" }

// Start begins backfilling and then pulling every query in the
// background, until Stop. The loop keeps ctx's values but not its
// cancellation, since callers commonly pass a start-up context with a
// deadline. It fails without a Sink or queries.
func (s *Source) Start(ctx context.Context) error {
	if s.opts.Sink == nil {
		return errors.New("promsource: no Sink to deliver to")
	}
	if len(s.opts.Queries) == 0 {
		return errors.New("promsource: no queries to pull")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done != nil {
		return errors.New("promsource: already started")
	}
	ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.done = make(chan struct{})
	go s.run(ctx, s.done)
	return nil
}

// Stop ends the loop and waits for the request in flight to be
// abandoned, or for ctx to end.
func (s *Source) Stop(ctx context.Context) error {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if done == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("promsource: stop: %w", ctx.Err())
	}
}

// Backfill returns the points of query evaluated every Step over
// [from, to] (from rounded up and to down to multiples of Step), read in
// chunks as Start does, merged per series and sorted by labels. It is what
// `vigil metrics detect --prometheus` and `vigil forecast --prometheus`
// call. Series are labelled as Start labels them.
func (s *Source) Backfill(ctx context.Context, query string, from, to time.Time) ([]telemetry.Series, error) {
	start := ceilDiv(from.UnixMilli(), s.stepMs) * s.stepMs
	end := floorDiv(to.UnixMilli(), s.stepMs) * s.stepMs
	ch := chunking{max: s.opts.MaxPoints}
	index := map[string]int{}
	var out []telemetry.Series
	err := s.walk(ctx, query, start, end, &ch, func(d *decoded, lo, hi int64) error {
		for _, sr := range d.series {
			ls := s.labelsFor(sr.Labels, query)
			key := ls.String()
			i, ok := index[key]
			if !ok {
				i = len(out)
				index[key] = i
				out = append(out, telemetry.Series{Labels: ls})
			}
			for _, p := range sr.Points {
				if p.T >= lo && p.T <= hi {
					out[i].Points = append(out[i].Points, p)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortSeries(out)
	return out, nil
}

// labelsFor labels a result series as documented in the package comment.
func (s *Source) labelsFor(ls telemetry.Labels, query string) telemetry.Labels {
	if !ls.Has(telemetry.MetricNameLabel) {
		ls = ls.With(QueryLabel, query)
	}
	return promwrite.WithService(ls, s.opts.ServiceLabels)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }
