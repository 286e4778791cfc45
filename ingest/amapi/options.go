package amapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/correlate/dispatch"
	"github.com/vigilops/vigil/correlate/silence"
	"github.com/vigilops/vigil/ingest"
)

// Defaults, exported so that configuration docs can name them.
const (
	// DefaultReceiverName is the receiver every alert is reported routed to
	// in GET /api/v2/alerts and /api/v2/receivers.
	DefaultReceiverName = "vigil"
	// DefaultResolveTimeout is Alertmanager's global resolve_timeout: an
	// alert posted without endsAt ends this long after it was received
	// unless it is posted again.
	DefaultResolveTimeout = 5 * time.Minute
	// DefaultWebhookPath is where Webhook listens. It sits beside Vigil's
	// own /api/v1 routes without colliding with them.
	DefaultWebhookPath = "/api/v1/alertmanager/webhook"
)

// ErrInvalidOptions is returned by New and NewWebhook when options cannot work.
var ErrInvalidOptions = errors.New("invalid amapi options")

// VersionInfo is what GET /api/v2/status reports as versionInfo. Zero
// fields are filled from the binary's build information.
type VersionInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
}

// Options configure a Receiver. Zero fields take their DefaultOptions
// value, except Registerer (nil: metrics not registered) and Logger (nil:
// discard).
type Options struct {
	// Sink receives accepted alerts. Required.
	Sink ingest.Sink
	// State is the alert state POSTs go into and GET answers from. Nil: New
	// creates one with DefaultStateOptions and this Registerer and Logger;
	// Receiver.State returns it for the app to feed and collect.
	State *State
	// Auth guards every route but /-/healthy and /-/ready, which probes
	// call without credentials and which reveal nothing.
	Auth   ingest.Auth
	Limits ingest.Limits
	// ReceiverName is the receiver alerts are reported routed to.
	ReceiverName string
	// ResolveTimeout completes alerts posted without endsAt, as
	// Alertmanager's global resolve_timeout.
	ResolveTimeout time.Duration
	// LegacyLabelNames restricts label and annotation names to
	// [a-zA-Z_][a-zA-Z0-9_]*, as Alertmanager 0.26 and earlier. By default
	// any non-empty UTF-8 name is accepted, as Alertmanager since 0.27.
	LegacyLabelNames bool
	// Silences, when set, are served at /api/v2/silences and
	// /api/v2/silence/{id} (amtool silence add/query/expire/import). Nil:
	// those paths answer 404, as before Vigil had silences.
	Silences *silence.Silences
	// SilenceAuth, when set, additionally guards the silence mutations
	// (POST /api/v2/silences, DELETE /api/v2/silence/{id}); the app passes
	// its API token check requiring the operator role, since silences
	// change Vigil's state beyond telemetry. Nil: only Auth applies.
	SilenceAuth func(http.Handler) http.Handler
	// Dispatcher, when set, serves GET /api/v2/alerts/groups, fills each
	// listed alert's receivers and status (silencedBy, inhibitedBy,
	// mutedBy) and lists its receivers at /api/v2/receivers. Nil: alerts
	// are listed as active, routed to ReceiverName.
	Dispatcher *dispatch.Dispatcher
	// Version is reported by GET /api/v2/status.
	Version VersionInfo
	// ConfigOriginal is reported by GET /api/v2/status as config.original
	// (what amtool config show prints). Empty: a minimal Alertmanager
	// configuration naming ReceiverName and ResolveTimeout, which amtool
	// config routes can parse.
	ConfigOriginal string
	// Now is the clock for receive times, defaults and resolution. Request
	// durations use the real clock regardless.
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// DefaultOptions returns the defaults; the caller sets Sink.
func DefaultOptions() Options {
	return Options{
		Limits:         ingest.DefaultLimits(),
		ReceiverName:   DefaultReceiverName,
		ResolveTimeout: DefaultResolveTimeout,
		Now:            time.Now,
	}
}

func (o *Options) validate() error {
	d := DefaultOptions()
	o.Limits = o.Limits.WithDefaults()
	if o.ReceiverName == "" {
		o.ReceiverName = d.ReceiverName
	}
	if o.ResolveTimeout == 0 {
		o.ResolveTimeout = d.ResolveTimeout
	}
	if o.Now == nil {
		o.Now = d.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Version = o.Version.withDefaults()
	if o.ConfigOriginal == "" {
		o.ConfigOriginal = stubConfig(o.ReceiverName, o.ResolveTimeout)
	}
	switch {
	case o.Sink == nil:
		return fmt.Errorf("%w: sink is required", ErrInvalidOptions)
	case o.ResolveTimeout < 0:
		return fmt.Errorf("%w: resolve timeout %s is negative", ErrInvalidOptions, o.ResolveTimeout)
	}
	return nil
}

// WebhookOptions configure a Webhook. Zero fields take their
// DefaultWebhookOptions value, except Registerer and Logger as in Options.
type WebhookOptions struct {
	// Sink receives accepted alerts. Required.
	Sink   ingest.Sink
	Auth   ingest.Auth
	Limits ingest.Limits
	// Path is where the webhook listens (POST only).
	Path string
	// LegacyLabelNames: as in Options.
	LegacyLabelNames bool
	// Now is the clock for receive times and for completing resolved alerts
	// sent without endsAt.
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// DefaultWebhookOptions returns the defaults; the caller sets Sink.
func DefaultWebhookOptions() WebhookOptions {
	return WebhookOptions{Limits: ingest.DefaultLimits(), Path: DefaultWebhookPath, Now: time.Now}
}

func (o *WebhookOptions) validate() error {
	d := DefaultWebhookOptions()
	o.Limits = o.Limits.WithDefaults()
	if o.Path == "" {
		o.Path = d.Path
	}
	if o.Now == nil {
		o.Now = d.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.Sink == nil:
		return fmt.Errorf("%w: webhook sink is required", ErrInvalidOptions)
	case !strings.HasPrefix(o.Path, "/") || strings.ContainsAny(o.Path, " {}"):
		return fmt.Errorf("%w: webhook path %q must be a plain absolute path", ErrInvalidOptions, o.Path)
	}
	return nil
}

func (v VersionInfo) withDefaults() VersionInfo {
	if v.GoVersion == "" {
		v.GoVersion = runtime.Version()
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if v.Version == "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && v.Revision == "":
			v.Revision = s.Value
		case s.Key == "vcs.time" && v.BuildDate == "":
			v.BuildDate = s.Value
		}
	}
	return v
}

// receiverNameRE guards the receiver name before it is written into the
// stub YAML, so that a name cannot break the document.
var receiverNameRE = regexp.MustCompile(`^[A-Za-z0-9_.:/ -]+$`)

// stubConfig is a minimal Alertmanager configuration that describes what
// Vigil shows through this API: one receiver, every alert routed to it.
// Routing, grouping and inhibition are Vigil's own (see its configuration).
func stubConfig(receiver string, resolveTimeout time.Duration) string {
	name := receiver
	if !receiverNameRE.MatchString(name) {
		name = DefaultReceiverName
	}
	return "# Vigil serves the Alertmanager API; routing, grouping and inhibition\n" +
		"# are configured in Vigil, not here.\n" +
		"global:\n" +
		"  resolve_timeout: " + promDuration(resolveTimeout) + "\n" +
		"route:\n" +
		"  receiver: \"" + name + "\"\n" +
		"receivers:\n" +
		"- name: \"" + name + "\"\n"
}
