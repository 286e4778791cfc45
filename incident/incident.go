// Package incident defines Vigil's incident: a group of related signals
// (alerts, anomalies, change events) that one person should look at once,
// its lifecycle (open → acknowledged → resolved, reopened when the problem
// comes back) and its timeline of everything that happened to it.
//
// Invariant: an incident changes status only through Acknowledge, Resolve
// and Reopen, and every change they make is returned as a timeline entry, so
// the timeline alone tells the story of the incident. Times are always
// passed in (evaluation time), never read from the wall clock.
package incident

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrNotFound is returned when an incident does not exist.
var ErrNotFound = errors.New("incident not found")

// ErrTransition is returned when a lifecycle change is not allowed from the
// incident's current status (acknowledging a resolved incident, say).
var ErrTransition = errors.New("status change not allowed")

// ErrInvalid is returned for a request that cannot be carried out as asked
// (an unknown verdict, an empty note, a split that names no member).
var ErrInvalid = errors.New("invalid incident request")

// Status is where an incident is in its lifecycle.
type Status string

// Statuses.
const (
	StatusOpen         Status = "open"
	StatusAcknowledged Status = "acknowledged"
	StatusResolved     Status = "resolved"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case StatusOpen, StatusAcknowledged, StatusResolved:
		return true
	}
	return false
}

// Active reports whether the incident still needs attention.
func (s Status) Active() bool { return s == StatusOpen || s == StatusAcknowledged }

// Severity classifies how bad an incident is.
type Severity string

// Severities, from least to most severe.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Rank orders severities; unknown ones rank 0, below info.
func (s Severity) Rank() int {
	switch s {
	case SeverityInfo:
		return 1
	case SeverityWarning:
		return 2
	case SeverityCritical:
		return 3
	}
	return 0
}

// Urgency says how a person should be told: a page wakes someone up, a
// ticket waits for working hours.
type Urgency string

// Urgencies.
const (
	UrgencyPage   Urgency = "page"
	UrgencyTicket Urgency = "ticket"
)

// UrgencyOf maps a severity to its urgency: only critical pages.
func UrgencyOf(s Severity) Urgency {
	if s == SeverityCritical {
		return UrgencyPage
	}
	return UrgencyTicket
}

// Verdict is a person's judgement of an incident or a signal.
type Verdict string

// Verdicts.
const (
	TruePositive  Verdict = "true_positive"
	FalsePositive Verdict = "false_positive"
)

// Valid reports whether v is a known verdict.
func (v Verdict) Valid() bool { return v == TruePositive || v == FalsePositive }

// SignalKind says what a member signal is.
type SignalKind string

// Signal kinds.
const (
	SignalAlert   SignalKind = "alert"
	SignalAnomaly SignalKind = "anomaly"
	SignalEvent   SignalKind = "event"
)

// Member is one signal folded into an incident, with why it was put there.
type Member struct {
	// Key identifies the signal across repeats: "alert:<fingerprint>" or
	// "anomaly:<service>/<type>/<template>".
	Key string `json:"key"`
	// Signature is what feedback attaches to: the alert name or anomaly type
	// and template on one service, without instance-level labels.
	Signature string     `json:"signature"`
	Kind      SignalKind `json:"kind"`
	Service   string     `json:"service,omitempty"`
	Name      string     `json:"name"`
	Severity  Severity   `json:"severity"`
	FirstSeen time.Time  `json:"first_seen"`
	LastSeen  time.Time  `json:"last_seen"`
	// Count is how many times the signal was seen (re-sends and flaps fold).
	Count    int  `json:"count"`
	Resolved bool `json:"resolved,omitempty"`
	// Expected marks a signal explained by a change (a deploy shortly
	// before) or muted by feedback; it does not raise the severity.
	Expected bool `json:"expected,omitempty"`
	// Reason says why the signal joined: "same service within 5m",
	// "connected service payments→checkout, similar name 0.82".
	Reason string `json:"reason"`
}

// Incident is one incident as shown and stored.
type Incident struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Status   Status   `json:"status"`
	Severity Severity `json:"severity"`
	Urgency  Urgency  `json:"urgency"`
	// Services are the services the members come from, sorted.
	Services []string `json:"services"`
	// Expected is set when every member is expected (after a deploy, in a
	// maintenance window, or muted): the incident is shown but pages nobody.
	Expected bool `json:"expected,omitempty"`

	OpenedAt       time.Time `json:"opened_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	AcknowledgedAt time.Time `json:"acknowledged_at,omitzero"`
	AcknowledgedBy string    `json:"acknowledged_by,omitempty"`
	ResolvedAt     time.Time `json:"resolved_at,omitzero"`
	ResolvedBy     string    `json:"resolved_by,omitempty"`
	// Reopened counts how often the incident came back after resolution.
	Reopened int `json:"reopened,omitempty"`

	// SignalCount is every observation folded in, repeats included;
	// Members lists the distinct signals, at most MaxMembers of them.
	SignalCount int      `json:"signal_count"`
	Members     []Member `json:"members"`
	// MembersOmitted counts distinct signals beyond MaxMembers.
	MembersOmitted int `json:"members_omitted,omitempty"`

	// Verdict is the latest feedback, if any.
	Verdict Verdict `json:"verdict,omitempty"`
	// MergedInto names the incident this one was merged into.
	MergedInto string `json:"merged_into,omitempty"`
}

// MaxMembers bounds the members listed in an Incident value, so a storm of
// a hundred thousand alerts does not make every snapshot that big.
const MaxMembers = 200

// Action is who did something to an incident, when, and what they said.
type Action struct {
	At   time.Time `json:"at"`
	By   string    `json:"by,omitempty"`
	Text string    `json:"text,omitempty"`
}

// Acknowledge marks the incident as being handled. Acknowledging twice is a
// no-op (no entry), as the API is retried by clients.
func (inc *Incident) Acknowledge(a Action) ([]Entry, error) {
	switch inc.Status {
	case StatusAcknowledged:
		return nil, nil
	case StatusResolved:
		return nil, fmt.Errorf("%w: incident %s is resolved; it cannot be acknowledged", ErrTransition, inc.ID)
	}
	inc.Status = StatusAcknowledged
	inc.AcknowledgedAt, inc.AcknowledgedBy = a.At, a.By
	inc.UpdatedAt = laterOf(inc.UpdatedAt, a.At)
	return []Entry{{Time: a.At, Kind: EntryStatus, Text: withText("acknowledged"+by(a.By), a.Text)}}, nil
}

// Resolve closes the incident. Resolving a resolved incident is a no-op.
func (inc *Incident) Resolve(a Action) ([]Entry, error) {
	if inc.Status == StatusResolved {
		return nil, nil
	}
	inc.Status = StatusResolved
	inc.ResolvedAt, inc.ResolvedBy = a.At, a.By
	inc.UpdatedAt = laterOf(inc.UpdatedAt, a.At)
	return []Entry{{Time: a.At, Kind: EntryStatus, Text: withText("resolved"+by(a.By), a.Text)}}, nil
}

// Reopen brings a resolved incident back to open; the acknowledgement is
// cleared because whoever had it may have moved on.
func (inc *Incident) Reopen(a Action) ([]Entry, error) {
	if inc.Status != StatusResolved {
		return nil, fmt.Errorf("%w: incident %s is %s, not resolved", ErrTransition, inc.ID, inc.Status)
	}
	if inc.MergedInto != "" {
		return nil, fmt.Errorf("%w: incident %s was merged into %s", ErrTransition, inc.ID, inc.MergedInto)
	}
	inc.Status = StatusOpen
	inc.Reopened++
	inc.AcknowledgedAt, inc.AcknowledgedBy = time.Time{}, ""
	inc.ResolvedAt, inc.ResolvedBy = time.Time{}, ""
	inc.UpdatedAt = laterOf(inc.UpdatedAt, a.At)
	return []Entry{{Time: a.At, Kind: EntryStatus, Text: withText("reopened"+by(a.By), a.Text)}}, nil
}

// Clone returns a deep copy, safe to hand to another goroutine.
func (inc Incident) Clone() Incident {
	inc.Services = slices.Clone(inc.Services)
	inc.Members = slices.Clone(inc.Members)
	return inc
}

// HasService reports whether svc is among the incident's services.
func (inc *Incident) HasService(svc string) bool {
	_, ok := slices.BinarySearch(inc.Services, svc)
	return ok
}

func by(who string) string {
	if who == "" {
		return ""
	}
	return " by " + who
}

func withText(s, text string) string {
	if text == "" {
		return s
	}
	return s + ": " + text
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
