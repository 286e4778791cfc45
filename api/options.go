package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// Defaults, exported so that configuration docs and flags can name them.
const (
	DefaultListen            = "127.0.0.1:9380"
	DefaultMaxBodyBytes      = 4 << 20
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = time.Minute
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultShutdownTimeout   = 15 * time.Second
	DefaultTokenCacheTTL     = 10 * time.Second
)

// ErrInvalidOptions is returned by New when Options cannot work.
var ErrInvalidOptions = errors.New("invalid api options")

// Options configure a Server. Zero fields take their DefaultOptions value,
// except Registerer (nil: the metrics are not registered anywhere) and Logger
// (nil: discard).
type Options struct {
	// Listen is the TCP address Start listens on. Loopback by default: the
	// API is opened to the network by configuration, not by accident.
	Listen string
	// Tokens authenticates requests. Required.
	Tokens store.TokenStore
	// Events, when set, enables POST and GET /api/v1/events.
	Events store.EventStore
	// Alerts, when set, enables GET /api/v1/alerts.
	Alerts store.AlertStore
	// PublishEvents, when set, is called with the events of a POST after they
	// are stored. Its error is logged, not returned: the events are durable
	// by then, and a retry by the client would only duplicate work.
	PublishEvents func(ctx context.Context, evs []telemetry.Event) error
	// Ready answers /readyz; nil means always ready.
	Ready func(ctx context.Context) error
	// Gatherer is exposed at /metrics.
	Gatherer prometheus.Gatherer
	// Registerer receives the API's own metrics; nil leaves them unregistered.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// MaxBodyBytes bounds every request body; larger bodies get 413.
	MaxBodyBytes int64
	// AnonymousRole is granted to requests without an Authorization header;
	// "" grants nothing. It may not be admin: an anonymous admin could mint
	// tokens, which is never what a "no auth on loopback" setup means.
	AnonymousRole store.Role
	// Version is reported by /api/v1/status.
	Version string
	// Now is the clock of the data: receive times of events posted without
	// one, acknowledgements and notes, whether an alert is still firing.
	// In the demo it is the simulator's clock. Request durations use the
	// real clock regardless, as they measure the process, not the data.
	Now func() time.Time
	// Wall is the clock of the process: uptime, token creation, expiry and
	// the token cache (default: Now). It differs from Now only when the
	// data run on a clock of their own (the demo's simulated time), where
	// a token made to last an hour must still last a real hour.
	Wall func() time.Time
	// TokenCacheTTL is how long a successful token lookup is reused. It is
	// also how long a token deleted by another process (or directly in the
	// store) keeps working here. Negative disables the cache.
	TokenCacheTTL time.Duration

	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included, so a client
	// trickling a body cannot hold a connection forever.
	ReadTimeout     time.Duration
	IdleTimeout     time.Duration
	ShutdownTimeout time.Duration
}

// DefaultOptions returns the defaults; the caller sets Tokens and whatever
// else it needs.
func DefaultOptions() Options {
	return Options{
		Listen:            DefaultListen,
		Gatherer:          prometheus.DefaultGatherer,
		Registerer:        prometheus.DefaultRegisterer,
		Logger:            slog.Default(),
		MaxBodyBytes:      DefaultMaxBodyBytes,
		Now:               time.Now,
		TokenCacheTTL:     DefaultTokenCacheTTL,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		ReadTimeout:       DefaultReadTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		ShutdownTimeout:   DefaultShutdownTimeout,
	}
}

// fillDefaults sets zero fields to their defaults, so that a literal
// Options{Tokens: ts} works as well as DefaultOptions with Tokens set.
func (o *Options) fillDefaults() {
	d := DefaultOptions()
	if o.Listen == "" {
		o.Listen = d.Listen
	}
	if o.Gatherer == nil {
		o.Gatherer = d.Gatherer
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = d.MaxBodyBytes
	}
	if o.Now == nil {
		o.Now = d.Now
	}
	if o.Wall == nil {
		// One clock for both unless told otherwise: a caller that sets
		// Now alone (a test's fake clock) gets it everywhere.
		o.Wall = o.Now
	}
	if o.TokenCacheTTL == 0 {
		o.TokenCacheTTL = d.TokenCacheTTL
	}
	if o.ReadHeaderTimeout == 0 {
		o.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = d.ReadTimeout
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = d.IdleTimeout
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = d.ShutdownTimeout
	}
}

func (o *Options) validate() error {
	switch {
	case o.Tokens == nil:
		return fmt.Errorf("%w: a token store is required", ErrInvalidOptions)
	case o.MaxBodyBytes < 0:
		return fmt.Errorf("%w: max body bytes %d is negative", ErrInvalidOptions, o.MaxBodyBytes)
	case o.AnonymousRole != "" && !o.AnonymousRole.Valid():
		return fmt.Errorf("%w: anonymous role %q is not viewer or operator", ErrInvalidOptions, o.AnonymousRole)
	case o.AnonymousRole == store.RoleAdmin:
		return fmt.Errorf("%w: anonymous role may not be admin", ErrInvalidOptions)
	case o.ReadHeaderTimeout < 0, o.ReadTimeout < 0, o.IdleTimeout < 0, o.ShutdownTimeout < 0:
		return fmt.Errorf("%w: timeouts must not be negative", ErrInvalidOptions)
	}
	return nil
}
