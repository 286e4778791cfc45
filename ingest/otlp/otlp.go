// Package otlp receives OpenTelemetry data over OTLP/HTTP, so that
// collectors and SDKs export to Vigil unchanged: POST /v1/logs, /v1/metrics
// and /v1/traces, binary protobuf or OTLP/JSON, optionally gzip-compressed.
//
// Logs become telemetry.LogRecord values and metric data points become
// Prometheus-style telemetry.Sample values (naming in naming.go), both
// delivered through the configured ingest.Sink. Traces are not stored:
// spans are reduced to service-to-service call edges (caller, callee,
// calls, errors, latency quantiles) kept in a bounded in-memory Topology
// for root-cause analysis.
//
// Answers follow the OTLP/HTTP specification rather than
// ingest.WriteResult: a batch with bad items is accepted in part and
// answered 200 with partial_success {rejected_*, error_message}, because
// that is what OTLP exporters understand (they must not retry it); bad
// items are still counted in vigil_ingest_otlp_rejected_total. Whole-request
// failures answer a google.rpc.Status body in the request's encoding: 400
// for undecodable bodies, 413 over the body limits, 415 for an unknown
// Content-Type or Content-Encoding, 429 with Retry-After when the pipeline
// is full.
//
// Invariant: every item of a decodable request is delivered to the Sink
// (or, for spans, folded into the Topology), or counted in partial_success
// with its reason, or the whole request is refused with a status the
// exporter acts on; nothing good is dropped silently.
package otlp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/ingest"
)

// ErrInvalidOptions is returned by New when Options cannot work.
var ErrInvalidOptions = errors.New("invalid otlp options")

// Options configure a Receiver. Zero fields take their DefaultOptions value,
// except Registerer (nil: metrics are not registered), Logger (nil:
// discard) and Auth (zero: open).
type Options struct {
	// Sink receives log records and samples. Required.
	Sink ingest.Sink
	// Auth guards the routes (bearer token or basic auth, which the
	// collector's otlphttp exporter supports through its headers setting).
	Auth ingest.Auth
	// Limits bound request bodies (413 beyond them). MaxLineBytes bounds
	// one log record's body: larger records are rejected in
	// partial_success.
	Limits ingest.Limits
	// MaxFields bounds the fields taken from one log record's attributes
	// after flattening; the rest are counted in the field
	// "otlp.dropped_attributes". Default 64.
	MaxFields int
	// MaxFieldBytes bounds one field value; longer values are cut at a
	// UTF-8 boundary. Default 4096.
	MaxFieldBytes int
	// MaxLabels bounds the attributes of one metric data point; a point
	// with more is rejected rather than cut, since dropping labels would
	// merge distinct series. Default 64.
	MaxLabels int
	// NoUnitSuffix leaves units out of metric names. By default the unit
	// is appended as Prometheus' OTLP translation does, so names match
	// what users see in Prometheus ("http.server.request.duration" in "s"
	// becomes http_server_request_duration_seconds).
	NoUnitSuffix bool
	// Topology bounds the call-edge aggregator fed by /v1/traces.
	Topology TopologyOptions
	// Now is the clock for records without timestamps and for the
	// Topology's pairing window. Request durations use the real clock.
	Now func() time.Time

	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Defaults, exported so that configuration docs can name them.
const (
	DefaultMaxFields     = 64
	DefaultMaxFieldBytes = 4096
	DefaultMaxLabels     = 64
)

// DefaultOptions returns the defaults; the caller sets Sink.
func DefaultOptions() Options {
	return Options{
		Limits:        ingest.DefaultLimits(),
		MaxFields:     DefaultMaxFields,
		MaxFieldBytes: DefaultMaxFieldBytes,
		MaxLabels:     DefaultMaxLabels,
		Topology:      DefaultTopologyOptions(),
		Now:           time.Now,
	}
}

func (o *Options) validate() error {
	d := DefaultOptions()
	if o.Sink == nil {
		return fmt.Errorf("%w: Sink is required", ErrInvalidOptions)
	}
	if o.MaxFields < 0 || o.MaxFieldBytes < 0 || o.MaxLabels < 0 {
		return fmt.Errorf("%w: MaxFields, MaxFieldBytes and MaxLabels may not be negative", ErrInvalidOptions)
	}
	o.Limits = o.Limits.WithDefaults()
	if o.MaxFields == 0 {
		o.MaxFields = d.MaxFields
	}
	if o.MaxFieldBytes == 0 {
		o.MaxFieldBytes = d.MaxFieldBytes
	}
	if o.MaxLabels == 0 {
		o.MaxLabels = d.MaxLabels
	}
	if o.Now == nil {
		o.Now = d.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o.Topology.validate()
}

// Receiver serves the OTLP/HTTP routes.
type Receiver struct {
	opts Options
	conv converter
	topo *Topology
	m    *metrics
	// sigs are logs, metrics and traces, in that order.
	sigs [3]signal

	// mu protects stop and done, the janitor that expires unpaired spans.
	mu   sync.Mutex
	stop context.CancelFunc
	done chan struct{}
}

var _ ingest.HTTPReceiver = (*Receiver)(nil)

// New returns a Receiver; it serves nothing until its Routes are mounted.
func New(opts Options) (*Receiver, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	topoOpts := opts.Topology
	topoOpts.Registerer = opts.Registerer
	topo, err := NewTopology(topoOpts)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("register otlp metrics: %w", err)
	}
	rc := &Receiver{
		opts: opts,
		conv: converter{
			maxLineBytes:  opts.Limits.MaxLineBytes,
			maxFields:     opts.MaxFields,
			maxFieldBytes: opts.MaxFieldBytes,
			maxLabels:     opts.MaxLabels,
			unitSuffix:    !opts.NoUnitSuffix,
		},
		topo: topo,
		m:    m,
	}
	rc.sigs = rc.signals()
	return rc, nil
}

// Name implements ingest.Receiver.
func (rc *Receiver) Name() string { return "otlp" }

// Topology returns the call-edge aggregator fed by /v1/traces, for the API
// to serve its Snapshot.
func (rc *Receiver) Topology() *Topology { return rc.topo }

// Routes implements ingest.HTTPReceiver: the three OTLP/HTTP default paths.
func (rc *Receiver) Routes() []ingest.Route {
	routes := make([]ingest.Route, 0, len(rc.sigs))
	for i := range rc.sigs {
		sig := &rc.sigs[i]
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rc.serve(w, r, sig) })
		routes = append(routes, ingest.Route{Pattern: "POST /v1/" + sig.name, Handler: rc.opts.Auth.Wrap(h)})
	}
	return routes
}

// Start runs the janitor that resolves client spans whose server side never
// arrived (by their peer attributes) once the pairing window has passed, so
// that edges appear even when trace traffic stops. It returns at once.
func (rc *Receiver) Start(ctx context.Context) error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.stop != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	rc.stop = cancel
	// The goroutine closes its own copy: Stop clears rc.done under the lock
	// before waiting on it.
	done := make(chan struct{})
	rc.done = done
	// Half the window bounds how late past its TTL an unpaired span is
	// resolved; a floor keeps tiny test windows from spinning.
	every := max(rc.topo.opts.PendingTTL/2, 100*time.Millisecond)
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				rc.topo.Expire(rc.opts.Now())
			}
		}
	}()
	return nil
}

// Stop ends the janitor and resolves every span still waiting for its
// pair, so that accepted spans reach the Topology. Requests still arriving
// are served; the app stops its listener first.
func (rc *Receiver) Stop(ctx context.Context) error {
	rc.mu.Lock()
	stop, done := rc.stop, rc.done
	rc.stop, rc.done = nil, nil
	rc.mu.Unlock()
	if stop != nil {
		stop()
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("stop otlp receiver: %w", ctx.Err())
		}
	}
	rc.topo.Flush(rc.opts.Now())
	return nil
}
