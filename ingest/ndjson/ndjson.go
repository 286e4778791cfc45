// Package ndjson reads logs written as newline-delimited JSON, one object
// per line, over HTTP (POST /api/v1/logs/ndjson) and from any reader, such
// as standard input for `vigil logs analyze -` (ReadStream).
//
// Each line becomes one telemetry.LogRecord with Raw the line exactly as
// received. For a JSON object, nested objects are flattened into dotted
// keys, and the first usable key of each list below is taken out into the
// record:
// Time from time, timestamp, ts or @timestamp (RFC 3339, or epoch seconds,
// milliseconds, microseconds or nanoseconds told apart by magnitude; a
// value that does not parse stays a field and the line gets its receive
// time); Service from service, service.name or app (else the configured
// default); Message from msg, message, log or line (string values only;
// left empty when no such key exists, Raw holding the whole line); Level
// from level, lvl, severity or log.level. Every other key goes to Fields:
// strings decoded, numbers and booleans as written, arrays as their JSON
// text, nulls dropped.
//
// A line that is not a JSON object is not an error: it is kept as a plain
// log line (Raw only, Format empty) for logparse to read. Blank lines are
// skipped. Lines are numbered from 1 in the order received, blank lines
// included, and a line longer than the limit is rejected by that number
// while the lines around it are kept.
//
// Invariant: every line is delivered, skipped because blank, or reported
// rejected with its number; over HTTP a request the pipeline cannot take
// is refused whole with 429, and a stream waits for room instead.
package ndjson

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// Path is the HTTP endpoint.
const Path = "/api/v1/logs/ndjson"

// Defaults, exported so that configuration docs can name them.
const (
	// DefaultMaxFields matches logparse's bound on fields per line.
	DefaultMaxFields = 128
	// DefaultMaxLines bounds the lines of one HTTP request: with the
	// default 64 MiB decoded body, tiny lines could otherwise cost
	// gigabytes of records.
	DefaultMaxLines = 200_000
)

// Rejection reasons, as the rejected_total metric labels them.
const (
	reasonLineTooLong  = "line_too_long"
	reasonTooManyLines = "too_many_lines"
)

// ErrInvalidOptions is returned when Options or StreamOptions cannot work.
var ErrInvalidOptions = errors.New("invalid ndjson options")

// Options configure a Receiver. Zero fields take their DefaultOptions
// value, except Registerer (nil: metrics are not registered) and Logger
// (nil: discard).
type Options struct {
	// Sink receives the records of each request in one call. Required.
	Sink ingest.Sink
	// Auth guards the route; the zero value leaves it open.
	Auth ingest.Auth
	// Limits bound the body and each line; zero fields take
	// ingest.DefaultLimits.
	Limits ingest.Limits
	// MaxLines bounds the non-blank lines of one request; the lines past
	// it are rejected (reason too_many_lines), the ones before it kept.
	MaxLines int
	// MaxFields bounds the fields kept per line; further keys are dropped
	// from Fields (Raw keeps the whole line).
	MaxFields int
	// DefaultService is the Service of lines without a service key.
	DefaultService string
	// Labels are given to every record (shared, not copied); they must be
	// sorted, as telemetry.LabelsFromMap builds them.
	Labels telemetry.Labels
	// Now is the receive time, used for lines without a readable time.
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// DefaultOptions returns the defaults; the caller sets Sink.
func DefaultOptions() Options {
	return Options{
		Limits:     ingest.DefaultLimits(),
		MaxLines:   DefaultMaxLines,
		MaxFields:  DefaultMaxFields,
		Now:        time.Now,
		Logger:     slog.Default(),
		Registerer: prometheus.DefaultRegisterer,
	}
}

func (o *Options) fillDefaults() {
	d := DefaultOptions()
	o.Limits = o.Limits.WithDefaults()
	if o.MaxLines == 0 {
		o.MaxLines = d.MaxLines
	}
	if o.MaxFields == 0 {
		o.MaxFields = d.MaxFields
	}
	if o.Now == nil {
		o.Now = d.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func (o *Options) validate() error {
	switch {
	case o.Sink == nil:
		return fmt.Errorf("%w: a sink is required", ErrInvalidOptions)
	case o.MaxLines < 0:
		return fmt.Errorf("%w: max lines %d is negative", ErrInvalidOptions, o.MaxLines)
	}
	return validateCommon(o.MaxFields, o.Labels)
}

func validateCommon(maxFields int, labels telemetry.Labels) error {
	switch {
	case maxFields < 0:
		return fmt.Errorf("%w: max fields %d is negative", ErrInvalidOptions, maxFields)
	case !labels.Valid():
		return fmt.Errorf("%w: labels %s are not sorted with unique names", ErrInvalidOptions, labels)
	}
	return nil
}

// Receiver serves NDJSON over HTTP. It holds no state between requests:
// each request is decoded and delivered before it is answered, so it is
// safe for concurrent use and Stop has nothing to flush.
type Receiver struct {
	opts Options
	cfg  lineConfig
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
		return nil, fmt.Errorf("register ndjson metrics: %w", err)
	}
	return &Receiver{
		opts: opts,
		cfg: lineConfig{
			maxLine:        opts.Limits.MaxLineBytes,
			maxFields:      opts.MaxFields,
			defaultService: opts.DefaultService,
			labels:         opts.Labels,
		},
		m: m,
	}, nil
}

// Name implements ingest.Receiver.
func (r *Receiver) Name() string { return "ndjson" }

// Start implements ingest.Receiver; the receiver only serves a route.
func (r *Receiver) Start(context.Context) error { return nil }

// Stop implements ingest.Receiver; there is nothing to flush.
func (r *Receiver) Stop(context.Context) error { return nil }

// Routes implements ingest.HTTPReceiver: POST on Path, guarded by
// Options.Auth.
func (r *Receiver) Routes() []ingest.Route {
	return []ingest.Route{{Pattern: "POST " + Path, Handler: r.opts.Auth.Wrap(http.HandlerFunc(r.serveHTTP))}}
}

// acceptedTypes are the media types taken as NDJSON. Besides the NDJSON
// and JSON Lines names, plain text, JSON and curl's default form type are
// accepted so that `curl --data-binary @app.log` works as is.
var acceptedTypes = []string{
	"application/x-ndjson", "application/ndjson", "application/json-lines", "application/jsonl",
	"application/x-jsonlines", "application/jsonlines", "application/json", "text/plain",
	"application/x-www-form-urlencoded", "application/octet-stream",
}

func acceptedType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(mt)
	if mt == "" {
		return true
	}
	for _, a := range acceptedTypes {
		if strings.EqualFold(mt, a) {
			return true
		}
	}
	return false
}

func (r *Receiver) serveHTTP(w http.ResponseWriter, req *http.Request) {
	start := time.Now()
	code := r.serve(w, req)
	r.m.requests.WithLabelValues(strconv.Itoa(code)).Inc()
	r.m.duration.Observe(time.Since(start).Seconds())
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) int {
	if ct := req.Header.Get("Content-Type"); !acceptedType(ct) {
		return writeError(w, fmt.Errorf("content type %q is not NDJSON (application/x-ndjson, application/json-lines)", ct), http.StatusUnsupportedMediaType)
	}
	body, err := ingest.ReadBody(req, r.opts.Limits, false)
	if err != nil {
		return writeError(w, err, http.StatusBadRequest)
	}
	d := lineDecoder{cfg: r.cfg}
	recs, res := d.decodeAll(body, r.opts.Now(), r.opts.MaxLines, r.m)
	if len(recs) > 0 {
		if err := r.opts.Sink.Logs(req.Context(), recs); err != nil {
			if errors.Is(err, ingest.ErrBackpressure) {
				r.m.backpressure.Add(float64(len(recs)))
				return writeError(w, err, http.StatusTooManyRequests)
			}
			r.opts.Logger.Warn("ndjson lines not delivered", "lines", len(recs), "err", err)
			return writeError(w, fmt.Errorf("deliver logs: %w", err), http.StatusServiceUnavailable)
		}
	}
	r.m.received.Add(float64(len(recs)))
	res.Accepted = len(recs)
	ingest.WriteResult(w, res, http.StatusNoContent)
	if res.RejectedCount() > 0 {
		return http.StatusBadRequest
	}
	return http.StatusNoContent
}

// decodeAll decodes the lines of an in-memory body.
func (d *lineDecoder) decodeAll(body []byte, now time.Time, maxLines int, m *metrics) ([]telemetry.LogRecord, ingest.Result) {
	var res ingest.Result
	n := bytes.Count(body, []byte{'\n'}) + 1
	if maxLines > 0 && n > maxLines {
		n = maxLines
	}
	recs := make([]telemetry.LogRecord, 0, n)
	for lineNo := 1; len(body) > 0; lineNo++ {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = trimCR(line)
		switch {
		case len(line) > d.cfg.maxLine:
			m.tooLong.Inc()
			res.Reject(lineNo, tooLongReason(len(line), d.cfg.maxLine))
			continue
		case blank(line):
			continue
		case maxLines > 0 && len(recs) >= maxLines:
			m.tooMany.Inc()
			res.Reject(lineNo, "request has more than "+strconv.Itoa(maxLines)+" lines")
			continue
		}
		rec, isJSON := d.decode(line, now)
		if !isJSON {
			m.plain.Inc()
		}
		recs = append(recs, rec)
	}
	return recs, res
}

func tooLongReason(n, limit int) string {
	return "line is " + strconv.Itoa(n) + " bytes, limit " + strconv.Itoa(limit)
}

// trimCR drops the \r of a CRLF line ending.
func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

func blank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\f' && c != '\v' {
			return false
		}
	}
	return true
}

// writeError answers with ingest.WriteError and returns the status sent.
func writeError(w http.ResponseWriter, err error, status int) int {
	ingest.WriteError(w, err, status)
	return ingest.ErrorStatus(err, status)
}
