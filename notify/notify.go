// Package notify delivers alert-group and incident notifications to people
// and systems: Slack, PagerDuty, webhooks and e-mail (one subpackage each).
//
// A Receiver composes the stages in the Alertmanager manner: the
// notification log drops what was already delivered, a per-receiver token
// bucket defers (and coalesces) what is over the limit, and a retry stage
// with exponential backoff and jitter drives each integration.
//
// Invariant: a Message whose content (firing and resolved sets, incident
// state) was delivered to an integration is not delivered to it again while
// the notification log remembers it, across restarts when the log is
// persisted.
package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// Notifier delivers one notification. Each integration subpackage
// implements it. Implementations must be safe for concurrent use.
type Notifier interface {
	Notify(ctx context.Context, m *Message) error
}

// NotifierFunc adapts a function to the Notifier interface.
type NotifierFunc func(ctx context.Context, m *Message) error

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, m *Message) error { return f(ctx, m) }

// Integrator is implemented by notifiers that name their integration
// ("slack", "pagerduty"); the name labels metrics and notification log keys.
type Integrator interface {
	Integration() string
}

// Message statuses.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Incident statuses.
const (
	IncidentOpen         = "open"
	IncidentAcknowledged = "acknowledged"
	IncidentResolved     = "resolved"
)

// Sentinel errors callers branch on.
var (
	// ErrInvalidMessage is returned for a Message that cannot be sent.
	ErrInvalidMessage = errors.New("invalid message")
	// ErrInvalidOptions is returned by constructors for bad Options.
	ErrInvalidOptions = errors.New("invalid options")
	// ErrTemplate is returned when a template does not parse or render.
	ErrTemplate = errors.New("template error")
	// ErrDeferred is returned by Receiver.Notify when the receiver's rate
	// limit is exhausted: the message is not lost, it is kept (coalesced
	// with later messages of the same group) and sent by a later Flush.
	ErrDeferred = errors.New("notification deferred by rate limit")
)

// Message is one notification: an alert group or an incident, evaluated at
// Now. Incident and alert-group notifications share one path.
type Message struct {
	// Receiver names the receiver; Receiver.Notify fills it when empty.
	Receiver string
	// GroupKey identifies the alert group (or incident) across messages.
	GroupKey string
	// Status is StatusFiring when any alert fires, else StatusResolved.
	Status string
	// Alerts carry their state at Now (see telemetry.Alert.Status).
	Alerts            []telemetry.Alert
	GroupLabels       telemetry.Labels
	CommonLabels      telemetry.Labels
	CommonAnnotations telemetry.Labels
	// ExternalURL links back to Vigil.
	ExternalURL string
	// Incident, when set, makes this an incident notification.
	Incident *IncidentInfo
	// Now is the evaluation time.
	Now time.Time
}

// IncidentInfo is what notify needs to know about an incident.
type IncidentInfo struct {
	ID             string    `json:"id"`
	Title          string    `json:"title"`
	Severity       string    `json:"severity,omitempty"`
	Status         string    `json:"status"` // open, acknowledged or resolved
	Services       []string  `json:"services,omitempty"`
	Summary        string    `json:"summary,omitempty"`
	RootCause      string    `json:"rootCause,omitempty"`
	URL            string    `json:"url,omitempty"`
	StartedAt      time.Time `json:"startedAt"`
	AcknowledgedAt time.Time `json:"acknowledgedAt,omitzero"`
	ResolvedAt     time.Time `json:"resolvedAt,omitzero"`
}

// Limits that keep a Message bounded; larger ones are refused rather than
// rendered into unbounded payloads.
const (
	MaxAlerts   = 10000
	maxKeyBytes = 4096
)

// Validate reports what is wrong with m, wrapping ErrInvalidMessage.
func (m *Message) Validate() error {
	if m == nil {
		return fmt.Errorf("%w: nil message", ErrInvalidMessage)
	}
	if m.GroupKey == "" {
		return fmt.Errorf("%w: empty group key", ErrInvalidMessage)
	}
	if len(m.GroupKey) > maxKeyBytes {
		return fmt.Errorf("%w: group key longer than %d bytes", ErrInvalidMessage, maxKeyBytes)
	}
	if m.Status != StatusFiring && m.Status != StatusResolved {
		return fmt.Errorf("%w: status %q is neither firing nor resolved", ErrInvalidMessage, m.Status)
	}
	if len(m.Alerts) > MaxAlerts {
		return fmt.Errorf("%w: %d alerts, more than %d", ErrInvalidMessage, len(m.Alerts), MaxAlerts)
	}
	if m.Now.IsZero() {
		return fmt.Errorf("%w: zero evaluation time", ErrInvalidMessage)
	}
	if m.Incident != nil {
		switch m.Incident.Status {
		case IncidentOpen, IncidentAcknowledged, IncidentResolved:
		default:
			return fmt.Errorf("%w: incident status %q is not open, acknowledged or resolved", ErrInvalidMessage, m.Incident.Status)
		}
		if m.Incident.ID == "" {
			return fmt.Errorf("%w: incident without id", ErrInvalidMessage)
		}
	}
	return nil
}

// Firing returns the alerts firing at m.Now.
func (m *Message) Firing() []telemetry.Alert { return m.filter(false) }

// Resolved returns the alerts resolved at m.Now.
func (m *Message) Resolved() []telemetry.Alert { return m.filter(true) }

func (m *Message) filter(resolved bool) []telemetry.Alert {
	var out []telemetry.Alert
	for i := range m.Alerts {
		if m.Alerts[i].Resolved(m.Now) == resolved {
			out = append(out, m.Alerts[i])
		}
	}
	return out
}

// integrationName returns n's integration name, or a name derived from its
// position when it does not say.
func integrationName(n Notifier, i int) string {
	if in, ok := n.(Integrator); ok && in.Integration() != "" {
		return in.Integration()
	}
	return fmt.Sprintf("integration%d", i)
}
