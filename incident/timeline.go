package incident

import "time"

// EntryKind says what a timeline entry records.
type EntryKind string

// Entry kinds: the signals that joined, the changes seen around them, what
// people and Vigil did.
const (
	EntryAlert        EntryKind = "alert"
	EntryAnomaly      EntryKind = "anomaly"
	EntryChange       EntryKind = "change" // deploys, config changes, scaling
	EntryStatus       EntryKind = "status" // opened, acknowledged, resolved, reopened
	EntrySeverity     EntryKind = "severity"
	EntryAction       EntryKind = "action" // runbooks and automated fixes
	EntryNote         EntryKind = "note"
	EntryDiagnosis    EntryKind = "diagnosis"
	EntryNotification EntryKind = "notification"
	EntryFeedback     EntryKind = "feedback"
	EntryMerge        EntryKind = "merge"
	EntrySplit        EntryKind = "split"
)

// Valid reports whether k is a known kind.
func (k EntryKind) Valid() bool {
	switch k {
	case EntryAlert, EntryAnomaly, EntryChange, EntryStatus, EntrySeverity, EntryAction,
		EntryNote, EntryDiagnosis, EntryNotification, EntryFeedback, EntryMerge, EntrySplit:
		return true
	}
	return false
}

// Entry is one line of an incident's timeline.
type Entry struct {
	Time time.Time `json:"time"`
	Kind EntryKind `json:"kind"`
	Text string    `json:"text"`
	// Refs point at what the entry is about: member keys ("alert:…"),
	// event IDs, other incident IDs, runbook runs.
	Refs []string `json:"refs,omitempty"`
}

// Query selects incidents. Zero fields do not filter.
type Query struct {
	Status  Status
	Service string
	From    time.Time // OpenedAt inclusive
	To      time.Time // OpenedAt exclusive
	Limit   int       // 0 means the implementation's default (1000)
}

// Match reports whether inc satisfies q (Limit aside).
func (q Query) Match(inc *Incident) bool {
	switch {
	case q.Status != "" && inc.Status != q.Status:
		return false
	case q.Service != "" && !inc.HasService(q.Service):
		return false
	case !q.From.IsZero() && inc.OpenedAt.Before(q.From):
		return false
	case !q.To.IsZero() && !inc.OpenedAt.Before(q.To):
		return false
	}
	return true
}
