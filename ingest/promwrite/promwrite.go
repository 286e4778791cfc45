// Package promwrite receives Prometheus remote write: POST /api/v1/write
// with a snappy-compressed protobuf body, as Prometheus, vmagent, Grafana
// Alloy and the OpenTelemetry collector's exporter send it. Remote write
// 1.0 (prometheus.WriteRequest) and 2.0 (io.prometheus.write.v2.Request,
// selected by Content-Type) are both accepted; float samples are delivered
// to the Sink, while native histograms, exemplars and metadata are skipped
// and counted.
//
// Invariant: every series in a request is either delivered whole, or
// reported back with its reason (ingest.WriteResult: 400 listing each
// refused series by its index in the request, the good ones kept), or the
// request is refused as a whole and can be retried unchanged (429 when the
// pipeline is full, 5xx when it failed). A 400 is never retried by
// Prometheus, which is right: resending would not make a bad series good.
//
// In the 400 answer, "accepted" counts the series of the request that
// were kept whole; a series with some refused samples (stamped too far in
// the future, or malformed) is listed as rejected, its message saying
// which samples were refused and that the others were kept.
//
// Decoding is hand-written over protowire rather than the generated
// prompb code: the generated Unmarshal allocates two strings per label per
// request, while this decoder caches each series' validated label set by
// its wire encoding, so a series Prometheus sends every scrape interval
// costs one hash and one lookup. BenchmarkDecode compares the two.
package promwrite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// Path is where Prometheus' remote_write url points.
const Path = "/api/v1/write"

// Content types of the two protocol versions, as Prometheus sends them.
const (
	protoV1 = "prometheus.WriteRequest"
	protoV2 = "io.prometheus.write.v2.Request"
)

// Remote write 2.0 response headers, telling the sender what was written.
const (
	headerSamplesWritten    = "X-Prometheus-Remote-Write-Samples-Written"
	headerHistogramsWritten = "X-Prometheus-Remote-Write-Histograms-Written"
	headerExemplarsWritten  = "X-Prometheus-Remote-Write-Exemplars-Written"
)

// ErrUnsupportedMessage is answered with 415 when Content-Type names a
// protobuf message other than the two remote write versions.
var ErrUnsupportedMessage = errors.New("unsupported remote write message")

// Options configure a Receiver.
type Options struct {
	// Sink receives the decoded samples. Required. For 429 answers under
	// load, give a non-blocking sink (ingest.NewBusSink(b, false)).
	Sink ingest.Sink
	// Auth guards the route. The zero value leaves it open.
	Auth ingest.Auth
	// Limits bound request bodies (sent and decompressed). Zero fields
	// take ingest.DefaultLimits.
	Limits ingest.Limits
	// BatchSize bounds the samples handed to the Sink in one call. A
	// request with more is delivered in several calls; Prometheus sends
	// 2,000 per request by default (queue_config.max_samples_per_send).
	// Default 10,000.
	BatchSize int
	// MaxFutureSkew refuses samples stamped further than this ahead of
	// the receiver's clock, as Prometheus does (they would corrupt
	// everything that orders by time). Default 10m; negative disables.
	MaxFutureSkew time.Duration
	// LegacyNameValidation restricts label names to [a-zA-Z_][a-zA-Z0-9_]*
	// and metric names to [a-zA-Z_:][a-zA-Z0-9_:]*, as Prometheus 2 does.
	// By default any non-empty UTF-8 name is accepted, as in Prometheus 3.
	LegacyNameValidation bool
	// ServiceLabels is the order in which a series without a service label
	// gets one (see WithService). Nil means DefaultServiceLabels;
	// []string{"service"} leaves label sets unchanged.
	ServiceLabels []string
	// SeriesCacheBytes bounds the cache of decoded label sets shared by
	// all requests (as estimated; the label strings are shared with what
	// downstream keeps). Default 64 MiB, which keeps about 40,000 series of
	// eight labels decoded; with more series per scrape interval than fit,
	// decoding stays correct but runs at its cold speed, about ten times
	// slower.
	SeriesCacheBytes int64
	// Now is the receiver's clock, used for MaxFutureSkew. Default time.Now.
	Now func() time.Time
	// Logger receives request-level warnings. Default slog.Default().
	Logger *slog.Logger
	// Registerer receives the metrics. Nil leaves them unregistered.
	Registerer prometheus.Registerer
}

// DefaultOptions returns the options used by `vigil serve`, without a Sink.
func DefaultOptions() Options {
	return Options{
		Limits:           ingest.DefaultLimits(),
		BatchSize:        10_000,
		MaxFutureSkew:    10 * time.Minute,
		ServiceLabels:    DefaultServiceLabels,
		SeriesCacheBytes: 64 << 20,
		Now:              time.Now,
		Logger:           slog.Default(),
	}
}

func (o Options) validate() error {
	if o.Sink == nil {
		return errors.New("no Sink")
	}
	if o.BatchSize < 0 {
		return fmt.Errorf("negative BatchSize %d", o.BatchSize)
	}
	if o.SeriesCacheBytes < 0 {
		return fmt.Errorf("negative SeriesCacheBytes %d", o.SeriesCacheBytes)
	}
	return nil
}

// withDefaults fills zero fields, so that Options{Sink: s} works.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	o.Limits = o.Limits.WithDefaults()
	if o.BatchSize == 0 {
		o.BatchSize = d.BatchSize
	}
	if o.MaxFutureSkew == 0 {
		o.MaxFutureSkew = d.MaxFutureSkew
	}
	if o.ServiceLabels == nil {
		o.ServiceLabels = d.ServiceLabels
	}
	if o.SeriesCacheBytes == 0 {
		o.SeriesCacheBytes = d.SeriesCacheBytes
	}
	if o.Now == nil {
		o.Now = d.Now
	}
	if o.Logger == nil {
		o.Logger = d.Logger
	}
	return o
}

// Receiver serves the remote write endpoint. It is safe for concurrent
// use; it buffers nothing between requests, so Stop has nothing to flush.
type Receiver struct {
	opts    Options
	dec     *decoder
	metrics *metrics
	handler http.Handler
	batches sync.Pool // of *batch
}

var _ ingest.HTTPReceiver = (*Receiver)(nil)

// New returns a Receiver. It fails if opts has no Sink or a negative
// size, and panics if its metrics are already registered with
// opts.Registerer (a wiring mistake, as with prometheus.MustRegister).
func New(opts Options) (*Receiver, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("promwrite: invalid options: %w", err)
	}
	opts = opts.withDefaults()
	r := &Receiver{opts: opts, dec: newDecoder(opts.LegacyNameValidation, opts.ServiceLabels, opts.SeriesCacheBytes)}
	r.metrics = newMetrics(opts.Registerer, r.dec)
	r.batches.New = func() any { return new(batch) }
	r.handler = opts.Auth.Wrap(http.HandlerFunc(r.serveWrite))
	return r, nil
}

// Name implements ingest.Receiver.
func (r *Receiver) Name() string { return "promwrite" }

// Start implements ingest.Receiver; the receiver only serves its route.
func (r *Receiver) Start(context.Context) error { return nil }

// Stop implements ingest.Receiver. Requests in flight are drained by the
// HTTP server's shutdown; every accepted sample was handed to the Sink
// before its request was answered.
func (r *Receiver) Stop(context.Context) error { return nil }

// Routes implements ingest.HTTPReceiver.
func (r *Receiver) Routes() []ingest.Route {
	return []ingest.Route{{Pattern: "POST " + Path, Handler: r.handler}}
}

// version parses Content-Type. Prometheus 2.x sends plain
// application/x-protobuf (1.0); 2.0 senders name their message in the
// proto parameter. A missing Content-Type is taken as 1.0, as some
// senders omit it.
func version(contentType string) (string, error) {
	if strings.TrimSpace(contentType) == "" {
		return "1.0", nil
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", fmt.Errorf("%w: content type %q: %v", ErrUnsupportedMessage, contentType, err)
	}
	if mt != "application/x-protobuf" {
		return "", fmt.Errorf("%w: content type %q, want application/x-protobuf", ErrUnsupportedMessage, mt)
	}
	switch params["proto"] {
	case "", protoV1:
		return "1.0", nil
	case protoV2:
		return "2.0", nil
	}
	return "", fmt.Errorf("%w: proto=%q; supported are %s (remote write 1.0) and %s (2.0)",
		ErrUnsupportedMessage, params["proto"], protoV1, protoV2)
}

func (r *Receiver) serveWrite(w http.ResponseWriter, req *http.Request) {
	start := time.Now()
	ver, code := "unknown", http.StatusNoContent
	defer func() {
		r.metrics.requests.WithLabelValues(ver, strconv.Itoa(code)).Inc()
		r.metrics.duration.Observe(time.Since(start).Seconds())
	}()
	fail := func(err error, status int) {
		code = ingest.ErrorStatus(err, status)
		ingest.WriteError(w, err, status)
	}

	v, err := version(req.Header.Get("Content-Type"))
	if err != nil {
		fail(err, http.StatusUnsupportedMediaType)
		return
	}
	ver = v
	body, err := ingest.ReadBody(req, r.opts.Limits, true)
	if err != nil {
		fail(err, http.StatusBadRequest)
		return
	}

	b := r.batches.Get().(*batch)
	defer func() { b.reset(); r.batches.Put(b) }()
	var maxT int64
	if r.opts.MaxFutureSkew > 0 {
		maxT = r.opts.Now().Add(r.opts.MaxFutureSkew).UnixMilli()
	}
	if ver == "2.0" {
		err = r.dec.decodeV2(body, b, maxT, r.opts.MaxFutureSkew)
	} else {
		err = r.dec.decodeV1(body, b, maxT, r.opts.MaxFutureSkew)
	}
	if err != nil {
		fail(fmt.Errorf("decode remote write %s request: %w", ver, err), http.StatusBadRequest)
		return
	}
	r.metrics.observe(b)

	if err := r.deliver(req.Context(), b.samples); err != nil {
		fail(err, http.StatusInternalServerError)
		return
	}
	if n := b.res.RejectedCount(); n > 0 {
		code = http.StatusBadRequest
		first := b.res.Rejected[0]
		r.opts.Logger.Warn("remote write series rejected", "rejected", n, "accepted_series", b.res.Accepted,
			"first_index", first.Index, "first_reason", first.Reason, "remote", req.RemoteAddr)
	}
	if ver == "2.0" {
		h := w.Header()
		h.Set(headerSamplesWritten, strconv.Itoa(len(b.samples)))
		h.Set(headerHistogramsWritten, "0")
		h.Set(headerExemplarsWritten, "0")
	}
	ingest.WriteResult(w, b.res, http.StatusNoContent)
}

// deliver hands samples to the Sink in BatchSize chunks, each a new slice
// the Sink may keep. A failure stops delivery: the request is answered
// 429 or 5xx and the sender retries it whole, so chunks delivered before
// the failure arrive twice (duplicate samples at the same timestamps,
// which time series consumers such as metricstore absorb). With the
// default BatchSize a Prometheus request is one chunk and this never
// happens.
func (r *Receiver) deliver(ctx context.Context, samples []telemetry.Sample) error {
	for len(samples) > 0 {
		n := min(len(samples), r.opts.BatchSize)
		chunk := make([]telemetry.Sample, n)
		copy(chunk, samples[:n])
		if err := r.opts.Sink.Samples(ctx, chunk); err != nil {
			return fmt.Errorf("deliver samples: %w", err)
		}
		samples = samples[n:]
	}
	return nil
}
