// Package loki receives logs over Loki's push API, so that Promtail, Grafana
// Alloy, Vector, Fluent Bit and anything else that ships to Loki can ship to
// Vigil unchanged: POST /loki/api/v1/push (and the legacy /api/prom/push)
// with a snappy-compressed protobuf logproto.PushRequest, or with JSON
// (Content-Type application/json, optionally gzip-encoded).
//
// Each entry becomes one telemetry.LogRecord: Time from the entry, Raw the
// line, Labels the stream's labels (one shared value per stream), Service
// from the first of Options.ServiceLabels the stream sets, and Fields the
// entry's structured metadata (not Labels: metadata is per entry and often
// high-cardinality, such as trace IDs, which is why Loki keeps it apart
// from the stream labels too).
//
// Beyond Loki, JSON requests may also use the legacy shape
// ({"labels":"{...}","entries":[{"ts":"<RFC 3339>","line":"..."}]}) and
// integer timestamps, and a stream without labels is taken with the empty
// set (its Service is then Options.DefaultService) rather than refused.
//
// Invariant: every entry of a request is either delivered to the Sink or
// reported back. Entries are numbered in the flattened order stream then
// entry (the first entry of the second stream follows the last of the
// first); a rejected entry is listed with that index and its reason while
// the rest of the request is delivered. A request that cannot be read as a
// whole is refused whole (400), and one the pipeline cannot take now is
// refused whole with 429 so the sender retries it.
//
// Both decoders are written for this shape: the protobuf one directly on
// protowire (no generated code, no Loki dependency), the JSON one a
// scanner over the body that copies each line out once and unescapes it
// only when it holds a backslash.
package loki

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/ingest"
)

// Paths the receiver serves.
const (
	PushPath       = "/loki/api/v1/push"
	LegacyPushPath = "/api/prom/push"
)

// DefaultMaxEntries bounds the entries of one request: with the default
// 64 MiB decoded body, tiny entries could otherwise cost gigabytes of
// records. Promtail and Alloy send 1 MiB batches, a few thousand lines.
const DefaultMaxEntries = 200_000

// DefaultServiceLabels returns the labels the service name is taken from,
// first set wins: service_name (Loki 3 and OpenTelemetry), service, app,
// job (Promtail's static configs), container (Kubernetes discovery).
func DefaultServiceLabels() []string {
	return []string{"service_name", "service", "app", "job", "container"}
}

// ErrInvalidOptions is returned by New when Options cannot work.
var ErrInvalidOptions = errors.New("invalid loki receiver options")

// Options configure a Receiver. Zero fields take their DefaultOptions
// value, except Registerer (nil: metrics are not registered) and Logger
// (nil: discard).
type Options struct {
	// Sink receives the records of each request in one call. Required.
	Sink ingest.Sink
	// Auth guards the routes; the zero value leaves them open.
	Auth ingest.Auth
	// Limits bound the body and each line; zero fields take
	// ingest.DefaultLimits. Lines longer than MaxLineBytes are rejected.
	Limits ingest.Limits
	// MaxEntries bounds the entries of one request; the entries past it
	// are rejected (reason too_many_entries), the ones before it kept.
	MaxEntries int
	// ServiceLabels name the stream labels LogRecord.Service is taken
	// from, first set wins.
	ServiceLabels []string
	// DefaultService is the Service of streams that set none of
	// ServiceLabels.
	DefaultService string
	Logger         *slog.Logger
	Registerer     prometheus.Registerer
}

// DefaultOptions returns the defaults; the caller sets Sink.
func DefaultOptions() Options {
	return Options{
		Limits:        ingest.DefaultLimits(),
		MaxEntries:    DefaultMaxEntries,
		ServiceLabels: DefaultServiceLabels(),
		Logger:        slog.Default(),
		Registerer:    prometheus.DefaultRegisterer,
	}
}

func (o *Options) fillDefaults() {
	o.Limits = o.Limits.WithDefaults()
	if o.MaxEntries == 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.ServiceLabels == nil {
		o.ServiceLabels = DefaultServiceLabels()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func (o *Options) validate() error {
	switch {
	case o.Sink == nil:
		return fmt.Errorf("%w: a sink is required", ErrInvalidOptions)
	case o.MaxEntries < 0:
		return fmt.Errorf("%w: max entries %d is negative", ErrInvalidOptions, o.MaxEntries)
	}
	for _, n := range o.ServiceLabels {
		if !validName(n) {
			return fmt.Errorf("%w: service label %q is not a label name", ErrInvalidOptions, n)
		}
	}
	return nil
}

// Receiver serves the Loki push API. It holds no state between requests:
// each request is decoded and delivered before it is answered, so it is
// safe for concurrent use and Stop has nothing to flush.
type Receiver struct {
	opts Options
	cfg  decodeConfig
	m    *metrics
}

var _ ingest.HTTPReceiver = (*Receiver)(nil)

// New returns a Receiver.
func New(opts Options) (*Receiver, error) {
	opts.fillDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("register loki metrics: %w", err)
	}
	return &Receiver{
		opts: opts,
		cfg: decodeConfig{
			maxLine:        opts.Limits.MaxLineBytes,
			maxEntries:     opts.MaxEntries,
			serviceLabels:  opts.ServiceLabels,
			defaultService: opts.DefaultService,
		},
		m: m,
	}, nil
}

// Name implements ingest.Receiver.
func (r *Receiver) Name() string { return "loki" }

// Start implements ingest.Receiver; the receiver only serves routes.
func (r *Receiver) Start(context.Context) error { return nil }

// Stop implements ingest.Receiver; requests deliver before they answer, so
// there is nothing to flush.
func (r *Receiver) Stop(context.Context) error { return nil }

// Routes implements ingest.HTTPReceiver: POST on PushPath and
// LegacyPushPath, guarded by Options.Auth.
func (r *Receiver) Routes() []ingest.Route {
	h := r.opts.Auth.Wrap(http.HandlerFunc(r.serveHTTP))
	return []ingest.Route{
		{Pattern: "POST " + PushPath, Handler: h},
		{Pattern: "POST " + LegacyPushPath, Handler: h},
	}
}

const (
	formatJSON  = "json"
	formatProto = "protobuf"
)

// formatOf follows Loki: application/json is JSON, anything else
// (application/x-protobuf, or no Content-Type) is snappy protobuf.
func formatOf(contentType string) string {
	mt, _, _ := strings.Cut(contentType, ";")
	if strings.EqualFold(strings.TrimSpace(mt), "application/json") {
		return formatJSON
	}
	return formatProto
}

func (r *Receiver) serveHTTP(w http.ResponseWriter, req *http.Request) {
	start := time.Now()
	format := formatOf(req.Header.Get("Content-Type"))
	code := r.serve(w, req, format)
	r.m.requests.WithLabelValues(format, strconv.Itoa(code)).Inc()
	r.m.duration.WithLabelValues(format).Observe(time.Since(start).Seconds())
}

// serve answers one push request and returns the status it answered.
func (r *Receiver) serve(w http.ResponseWriter, req *http.Request, format string) int {
	body, err := r.readBody(req, format)
	if err != nil {
		return writeError(w, err, http.StatusBadRequest)
	}
	r.m.receivedBytes.WithLabelValues(format).Add(float64(len(body)))
	var b *batch
	if format == formatJSON {
		b = newBatch(r.cfg, jsonSizeHint(body, r.cfg.maxEntries))
		err = decodeJSON(b, body)
	} else {
		b = newBatch(r.cfg, protoSizeHint(body, r.cfg.maxEntries))
		err = decodeProto(b, body)
	}
	if err != nil {
		r.opts.Logger.Debug("loki push refused", "format", format, "remote", req.RemoteAddr, "err", err)
		return writeError(w, err, http.StatusBadRequest)
	}
	for i, n := range b.reasons {
		if n > 0 {
			r.m.rejected[i].Add(float64(n))
		}
	}
	if len(b.recs) > 0 {
		if err := r.opts.Sink.Logs(req.Context(), b.recs); err != nil {
			if errors.Is(err, ingest.ErrBackpressure) {
				r.m.backpressure.Add(float64(len(b.recs)))
				return writeError(w, err, http.StatusTooManyRequests)
			}
			r.opts.Logger.Warn("loki push not delivered", "entries", len(b.recs), "err", err)
			// 503: the pipeline is stopping or failing, which a sender
			// should retry later, as it does for 5xx.
			return writeError(w, fmt.Errorf("deliver logs: %w", err), http.StatusServiceUnavailable)
		}
	}
	r.m.received.Add(float64(len(b.recs)))
	b.res.Accepted = len(b.recs)
	if n := b.res.RejectedCount(); n > 0 {
		r.opts.Logger.Debug("loki push partly rejected", "accepted", len(b.recs), "rejected", n, "first", b.res.Rejected[0].Reason)
	}
	ingest.WriteResult(w, b.res, http.StatusNoContent)
	if b.res.RejectedCount() > 0 {
		return http.StatusBadRequest
	}
	return http.StatusNoContent
}

// readBody reads and decompresses the body. Loki snappy-decodes protobuf
// whatever the Content-Encoding, so a gzip-encoded protobuf body is gzip
// over snappy: both layers are undone.
func (r *Receiver) readBody(req *http.Request, format string) ([]byte, error) {
	if format != formatProto {
		return ingest.ReadBody(req, r.opts.Limits, false)
	}
	body, err := ingest.ReadBody(req, r.opts.Limits, true)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding"))) {
	case "gzip", "x-gzip", "deflate":
		n, err := snappy.DecodedLen(body)
		if err != nil {
			return nil, &ingest.BodyError{Status: http.StatusBadRequest, Err: fmt.Errorf("snappy body: %w", err)}
		}
		if int64(n) > r.opts.Limits.MaxDecodedBytes {
			return nil, &ingest.BodyError{Status: http.StatusRequestEntityTooLarge, Err: fmt.Errorf("%w: decodes to %d bytes, limit %d", ingest.ErrTooLarge, n, r.opts.Limits.MaxDecodedBytes)}
		}
		if body, err = snappy.Decode(nil, body); err != nil {
			return nil, &ingest.BodyError{Status: http.StatusBadRequest, Err: fmt.Errorf("snappy body: %w", err)}
		}
	}
	return body, nil
}

// writeError answers with ingest.WriteError and returns the status sent.
func writeError(w http.ResponseWriter, err error, status int) int {
	ingest.WriteError(w, err, status)
	return ingest.ErrorStatus(err, status)
}
