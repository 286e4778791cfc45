// Package webhook posts notifications as JSON to an HTTP endpoint, either
// in Alertmanager's webhook format (version "4", which existing receivers
// of Alertmanager webhooks accept unchanged) or in Vigil's own incident
// format.
package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/vigilops/vigil/notify"
	"github.com/vigilops/vigil/telemetry"
)

// Payload formats.
const (
	FormatAlertmanager = "alertmanager"
	FormatVigil        = "vigil"
)

// Options configure a webhook Notifier.
type Options struct {
	// URL receives the POST. Required.
	URL string
	// Format is FormatAlertmanager (default) or FormatVigil.
	Format string
	// MaxAlerts caps the alerts in one payload (0: all); the rest are
	// counted in truncatedAlerts, as Alertmanager's max_alerts does.
	MaxAlerts int
	// BearerToken, when set, is sent as "Authorization: Bearer <token>".
	BearerToken string
	// Timeout bounds one request.
	Timeout time.Duration
	// Client overrides the HTTP client (tests); Timeout is then ignored.
	Client *http.Client
	Logger *slog.Logger
}

// DefaultOptions returns the defaults: Alertmanager format, all alerts,
// 10s timeout.
func DefaultOptions() Options {
	return Options{Format: FormatAlertmanager, Timeout: notify.DefaultTimeout}
}

func (o *Options) validate() error {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: webhook url must be an absolute http(s) URL", notify.ErrInvalidOptions)
	}
	switch o.Format {
	case "":
		o.Format = FormatAlertmanager
	case FormatAlertmanager, FormatVigil:
	default:
		return fmt.Errorf("%w: webhook format %q is not %q or %q", notify.ErrInvalidOptions, o.Format, FormatAlertmanager, FormatVigil)
	}
	if o.MaxAlerts < 0 {
		return fmt.Errorf("%w: webhook max alerts %d is negative", notify.ErrInvalidOptions, o.MaxAlerts)
	}
	return notify.DefaultHTTP("webhook", &o.Client, o.Timeout, &o.Logger)
}

// Notifier posts webhook payloads. It is safe for concurrent use.
type Notifier struct {
	opts Options
}

var _ notify.Notifier = (*Notifier)(nil)

// New returns a webhook Notifier.
func New(opts Options) (*Notifier, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return &Notifier{opts: opts}, nil
}

// Integration names the integration for metrics and the notification log.
func (n *Notifier) Integration() string { return "webhook" }

// Notify posts m.
func (n *Notifier) Notify(ctx context.Context, m *notify.Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	var v any
	if n.opts.Format == FormatVigil {
		v = NewVigilPayload(m, n.opts.MaxAlerts)
	} else {
		v = NewAlertmanagerPayload(m, n.opts.MaxAlerts)
	}
	body, err := json.Marshal(v)
	if err != nil {
		return notify.Permanent(fmt.Errorf("encode webhook payload: %w", err))
	}
	var h http.Header
	if n.opts.BearerToken != "" {
		h = http.Header{"Authorization": {"Bearer " + n.opts.BearerToken}}
	}
	if err := notify.PostJSON(ctx, n.opts.Client, n.opts.URL, body, h); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	return nil
}

// Alert is one alert in the Alertmanager webhook payload.
type Alert struct {
	Status       string           `json:"status"`
	Labels       telemetry.Labels `json:"labels"`
	Annotations  telemetry.Labels `json:"annotations"`
	StartsAt     time.Time        `json:"startsAt"`
	EndsAt       time.Time        `json:"endsAt"`
	GeneratorURL string           `json:"generatorURL"`
	Fingerprint  string           `json:"fingerprint"`
}

// AlertmanagerPayload is Alertmanager's webhook payload, version "4".
type AlertmanagerPayload struct {
	Version           string           `json:"version"`
	GroupKey          string           `json:"groupKey"`
	TruncatedAlerts   int              `json:"truncatedAlerts"`
	Status            string           `json:"status"`
	Receiver          string           `json:"receiver"`
	GroupLabels       telemetry.Labels `json:"groupLabels"`
	CommonLabels      telemetry.Labels `json:"commonLabels"`
	CommonAnnotations telemetry.Labels `json:"commonAnnotations"`
	ExternalURL       string           `json:"externalURL"`
	Alerts            []Alert          `json:"alerts"`
}

// NewAlertmanagerPayload builds the version "4" payload for m, keeping at
// most maxAlerts alerts (0: all).
func NewAlertmanagerPayload(m *notify.Message, maxAlerts int) *AlertmanagerPayload {
	alerts, truncated := convertAlerts(m, maxAlerts)
	return &AlertmanagerPayload{
		Version:           "4",
		GroupKey:          m.GroupKey,
		TruncatedAlerts:   truncated,
		Status:            m.Status,
		Receiver:          m.Receiver,
		GroupLabels:       nonNil(m.GroupLabels),
		CommonLabels:      nonNil(m.CommonLabels),
		CommonAnnotations: nonNil(m.CommonAnnotations),
		ExternalURL:       m.ExternalURL,
		Alerts:            alerts,
	}
}

func convertAlerts(m *notify.Message, maxAlerts int) ([]Alert, int) {
	n := len(m.Alerts)
	if maxAlerts > 0 && n > maxAlerts {
		n = maxAlerts
	}
	out := make([]Alert, 0, n)
	for i := range m.Alerts[:n] {
		a := &m.Alerts[i]
		out = append(out, Alert{
			Status:       a.Status(m.Now),
			Labels:       nonNil(a.Labels),
			Annotations:  nonNil(a.Annotations),
			StartsAt:     a.StartsAt,
			EndsAt:       a.EndsAt,
			GeneratorURL: a.GeneratorURL,
			Fingerprint:  a.Fingerprint().String(),
		})
	}
	return out, len(m.Alerts) - n
}

// nonNil makes empty label sets render as {} rather than null, as
// Alertmanager's do.
func nonNil(ls telemetry.Labels) telemetry.Labels {
	if ls == nil {
		return telemetry.Labels{}
	}
	return ls
}

// VigilPayload is Vigil's own notification payload: the Alertmanager
// fields plus the incident, so one receiver can handle both kinds.
type VigilPayload struct {
	// Version of this payload format.
	Version string `json:"version"`
	// Kind is "incident" or "alerts".
	Kind              string               `json:"kind"`
	Receiver          string               `json:"receiver"`
	Status            string               `json:"status"`
	GroupKey          string               `json:"groupKey"`
	Incident          *notify.IncidentInfo `json:"incident,omitempty"`
	Alerts            []Alert              `json:"alerts"`
	TruncatedAlerts   int                  `json:"truncatedAlerts"`
	GroupLabels       telemetry.Labels     `json:"groupLabels"`
	CommonLabels      telemetry.Labels     `json:"commonLabels"`
	CommonAnnotations telemetry.Labels     `json:"commonAnnotations"`
	ExternalURL       string               `json:"externalURL"`
	EvaluatedAt       time.Time            `json:"evaluatedAt"`
}

// VigilPayloadVersion is the version of VigilPayload.
const VigilPayloadVersion = "vigil/1"

// NewVigilPayload builds Vigil's payload for m.
func NewVigilPayload(m *notify.Message, maxAlerts int) *VigilPayload {
	alerts, truncated := convertAlerts(m, maxAlerts)
	kind := "alerts"
	if m.Incident != nil {
		kind = "incident"
	}
	return &VigilPayload{
		Version:           VigilPayloadVersion,
		Kind:              kind,
		Receiver:          m.Receiver,
		Status:            m.Status,
		GroupKey:          m.GroupKey,
		Incident:          m.Incident,
		Alerts:            alerts,
		TruncatedAlerts:   truncated,
		GroupLabels:       nonNil(m.GroupLabels),
		CommonLabels:      nonNil(m.CommonLabels),
		CommonAnnotations: nonNil(m.CommonAnnotations),
		ExternalURL:       m.ExternalURL,
		EvaluatedAt:       m.Now,
	}
}
