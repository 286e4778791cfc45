// Package pagerduty sends notifications to the PagerDuty Events API v2:
// trigger for firing groups and open incidents, acknowledge for
// acknowledged incidents, resolve for resolved ones, all under one
// dedup_key per group or incident so PagerDuty folds them into one alert.
package pagerduty

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vigilops/vigil/notify"
)

// DefaultURL is the Events API v2 endpoint.
const DefaultURL = "https://events.pagerduty.com/v2/enqueue"

// Events API v2 values and limits.
const (
	ActionTrigger     = "trigger"
	ActionAcknowledge = "acknowledge"
	ActionResolve     = "resolve"

	routingKeyLen = 32
	maxSummary    = 1024
	maxDedupKey   = 255
	maxLinks      = 10
	maxDetails    = 100 // alerts listed in custom_details
)

// Severities the API accepts.
var severities = map[string]bool{"critical": true, "error": true, "warning": true, "info": true}

// Options configure a PagerDuty Notifier.
type Options struct {
	// RoutingKey is the 32-character integration key. Required; a secret.
	RoutingKey string
	// URL is the enqueue endpoint.
	URL string
	// Summary, Source, Component, Group and Class are text/template
	// sources for the payload fields; empty means the defaults below.
	Summary   string
	Source    string
	Component string
	Group     string
	Class     string
	// Severity is a template whose output is mapped onto the API's four
	// severities; anything else becomes DefaultSeverity.
	Severity        string
	DefaultSeverity string
	// Timeout bounds one request.
	Timeout time.Duration
	// Client overrides the HTTP client (tests); Timeout is then ignored.
	Client *http.Client
	Logger *slog.Logger
}

// Default templates.
const (
	DefaultSourceTemplate    = `{{ or .CommonLabels.instance .CommonLabels.service "vigil" }}`
	DefaultComponentTemplate = `{{ if .Incident }}{{ join "," .Incident.Services }}{{ else }}{{ .CommonLabels.service }}{{ end }}`
	DefaultGroupTemplate     = `{{ or .CommonLabels.namespace .CommonLabels.job }}`
	DefaultClassTemplate     = `{{ .CommonLabels.alertname }}`
	DefaultSeverityTemplate  = `{{ if .Incident }}{{ .Incident.Severity }}{{ else }}{{ .CommonLabels.severity }}{{ end }}`
)

// DefaultOptions returns the defaults: DefaultURL, default templates,
// severity "error" when the labels do not name a valid one, 10s timeout.
func DefaultOptions() Options {
	return Options{URL: DefaultURL, DefaultSeverity: "error", Timeout: notify.DefaultTimeout}
}

func (o *Options) validate() error {
	if len(o.RoutingKey) != routingKeyLen {
		return fmt.Errorf("%w: pagerduty routing key must be %d characters, got %d", notify.ErrInvalidOptions, routingKeyLen, len(o.RoutingKey))
	}
	if o.URL == "" {
		o.URL = DefaultURL
	}
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: pagerduty url %q must be an absolute http(s) URL", notify.ErrInvalidOptions, o.URL)
	}
	if o.DefaultSeverity == "" {
		o.DefaultSeverity = "error"
	}
	if !severities[o.DefaultSeverity] {
		return fmt.Errorf("%w: pagerduty default severity %q is not critical, error, warning or info", notify.ErrInvalidOptions, o.DefaultSeverity)
	}
	return notify.DefaultHTTP("pagerduty", &o.Client, o.Timeout, &o.Logger)
}

// Notifier sends events to PagerDuty. It is safe for concurrent use.
type Notifier struct {
	opts                                            Options
	summary, source, component, group, class, sever *notify.Template
}

var _ notify.Notifier = (*Notifier)(nil)

// New returns a PagerDuty Notifier; template errors are reported here.
func New(opts Options) (*Notifier, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	n := &Notifier{opts: opts}
	for _, t := range []struct {
		dst        **notify.Template
		name, text string
	}{
		{&n.summary, "pagerduty summary", or(opts.Summary, notify.DefaultTitleTemplate)},
		{&n.source, "pagerduty source", or(opts.Source, DefaultSourceTemplate)},
		{&n.component, "pagerduty component", or(opts.Component, DefaultComponentTemplate)},
		{&n.group, "pagerduty group", or(opts.Group, DefaultGroupTemplate)},
		{&n.class, "pagerduty class", or(opts.Class, DefaultClassTemplate)},
		{&n.sever, "pagerduty severity", or(opts.Severity, DefaultSeverityTemplate)},
	} {
		var err error
		if *t.dst, err = notify.NewTemplate(t.name, t.text); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Integration names the integration for metrics and the notification log.
func (n *Notifier) Integration() string { return "pagerduty" }

// Event is an Events API v2 alert event.
type Event struct {
	RoutingKey  string   `json:"routing_key"`
	EventAction string   `json:"event_action"`
	DedupKey    string   `json:"dedup_key"`
	Payload     *Payload `json:"payload,omitempty"`
	Client      string   `json:"client,omitempty"`
	ClientURL   string   `json:"client_url,omitempty"`
	Links       []Link   `json:"links,omitempty"`
}

// Payload is the event's payload; required on trigger.
type Payload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

// Link is a link shown with the alert.
type Link struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

// Notify sends m as one event.
func (n *Notifier) Notify(ctx context.Context, m *notify.Message) error {
	ev, err := n.Event(m)
	if err != nil {
		return err
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return notify.Permanent(fmt.Errorf("encode pagerduty event: %w", err))
	}
	if err := notify.PostJSON(ctx, n.opts.Client, n.opts.URL, body, nil); err != nil {
		return fmt.Errorf("pagerduty: %w", err)
	}
	return nil
}

// Action returns the event action for m.
func Action(m *notify.Message) string {
	if inc := m.Incident; inc != nil {
		switch inc.Status {
		case notify.IncidentAcknowledged:
			return ActionAcknowledge
		case notify.IncidentResolved:
			return ActionResolve
		}
		return ActionTrigger
	}
	if m.Status == notify.StatusResolved {
		return ActionResolve
	}
	return ActionTrigger
}

// DedupKey returns the dedup_key for m: the incident's ID, or a hash of
// the group key (group keys can be longer than the 255 characters allowed
// and can hold anything).
func DedupKey(m *notify.Message) string {
	if m.Incident != nil {
		k := "vigil-incident-" + m.Incident.ID
		if len(k) <= maxDedupKey && notify.OneLine(k) == k {
			return k
		}
	}
	sum := sha256.Sum256([]byte(m.GroupKey))
	return hex.EncodeToString(sum[:])
}

// Event builds the event for m.
func (n *Notifier) Event(m *notify.Message) (*Event, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	ev := &Event{
		RoutingKey:  n.opts.RoutingKey,
		EventAction: Action(m),
		DedupKey:    DedupKey(m),
	}
	if ev.EventAction != ActionTrigger {
		// Acknowledge and resolve need only the key; PagerDuty ignores a
		// payload on them.
		return ev, nil
	}
	render := func(t *notify.Template, limit int) (string, error) {
		s, err := t.Execute(m)
		return notify.Truncate(strings.TrimSpace(notify.OneLine(s)), limit), err
	}
	p := &Payload{Timestamp: m.Now.UTC().Format(time.RFC3339Nano)}
	var err error
	if p.Summary, err = render(n.summary, maxSummary); err != nil {
		return nil, err
	}
	if p.Source, err = render(n.source, 255); err != nil {
		return nil, err
	}
	if p.Component, err = render(n.component, 255); err != nil {
		return nil, err
	}
	if p.Group, err = render(n.group, 255); err != nil {
		return nil, err
	}
	if p.Class, err = render(n.class, 255); err != nil {
		return nil, err
	}
	sev, err := render(n.sever, 64)
	if err != nil {
		return nil, err
	}
	p.Severity = MapSeverity(sev, n.opts.DefaultSeverity)
	if p.Summary == "" {
		p.Summary = "Vigil notification " + m.Status
	}
	if p.Source == "" {
		p.Source = "vigil"
	}
	p.CustomDetails = details(m)
	ev.Payload = p
	ev.Client = "Vigil"
	if isURL(m.ExternalURL) {
		ev.ClientURL = m.ExternalURL
	}
	ev.Links = links(m)
	return ev, nil
}

// MapSeverity maps common severity words onto the API's four values.
func MapSeverity(s, def string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical", "crit", "page", "fatal", "emergency", "alert", "p1", "sev1":
		return "critical"
	case "error", "err", "high", "major", "p2", "sev2":
		return "error"
	case "warning", "warn", "medium", "minor", "p3", "sev3":
		return "warning"
	case "info", "informational", "low", "notice", "none", "p4", "p5", "sev4":
		return "info"
	}
	return def
}

func details(m *notify.Message) map[string]any {
	firing, resolved := m.Firing(), m.Resolved()
	d := map[string]any{
		"receiver":     m.Receiver,
		"status":       m.Status,
		"num_firing":   len(firing),
		"num_resolved": len(resolved),
		"group_labels": m.GroupLabels,
	}
	if len(m.CommonLabels) > 0 {
		d["common_labels"] = m.CommonLabels
	}
	if len(m.CommonAnnotations) > 0 {
		d["common_annotations"] = m.CommonAnnotations
	}
	list := make([]string, 0, min(len(firing), maxDetails))
	for i := range firing {
		if i == maxDetails {
			list = append(list, fmt.Sprintf("… and %d more", len(firing)-maxDetails))
			break
		}
		list = append(list, notify.Truncate(firing[i].Labels.String(), 512))
	}
	if len(list) > 0 {
		d["firing"] = list
	}
	if inc := m.Incident; inc != nil {
		d["incident"] = inc
	}
	return d
}

func links(m *notify.Message) []Link {
	var ls []Link
	add := func(href, text string) {
		if len(ls) < maxLinks && isURL(href) {
			ls = append(ls, Link{Href: href, Text: notify.Truncate(notify.OneLine(text), 255)})
		}
	}
	if m.Incident != nil {
		add(m.Incident.URL, "Incident in Vigil")
	}
	seen := map[string]bool{}
	for i := range m.Alerts {
		u := m.Alerts[i].GeneratorURL
		if !seen[u] {
			seen[u] = true
			add(u, m.Alerts[i].Name()+" source")
		}
	}
	return ls
}

func isURL(s string) bool {
	if s == "" || len(s) > 2048 {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
