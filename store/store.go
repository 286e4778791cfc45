// Package store defines Vigil's persistence contract. Vigil is not a log or
// metric store: it keeps what it derives and what users tell it (alerts,
// change events, API tokens, component state such as learned templates and
// baselines), with bounded retention.
//
// Invariant: a write that returned nil is durable; it survives a crash of the
// process (SIGKILL) that follows it. Implementations live in subpackages
// (sqlite/ is the embedded default; postgres/ for scale-out).
package store

import (
	"context"
	"errors"
	"time"

	"github.com/vigilops/vigil/incident"
	"github.com/vigilops/vigil/telemetry"
)

// ErrNotFound is returned when a looked-up item does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a write would violate uniqueness.
var ErrConflict = errors.New("conflict")

// Store is everything Vigil persists.
type Store interface {
	EventStore
	AlertStore
	TokenStore
	StateStore
	IncidentStore
	// Prune deletes what is older than the configured retention, as of now.
	// It returns the number of rows removed.
	Prune(ctx context.Context, now time.Time) (int64, error)
	// Ping checks that the store answers; /readyz uses it.
	Ping(ctx context.Context) error
	Close() error
}

// EventStore keeps change events.
type EventStore interface {
	// AppendEvents stores events atomically: all or none. An event whose ID
	// already exists is ignored, so retried deliveries are idempotent.
	AppendEvents(ctx context.Context, events []telemetry.Event) error
	// Events returns events matching q, newest first.
	Events(ctx context.Context, q EventQuery) ([]telemetry.Event, error)
}

// EventQuery selects events. Zero fields do not filter.
type EventQuery struct {
	Service string
	Kind    telemetry.EventKind
	From    time.Time // inclusive
	To      time.Time // exclusive
	Limit   int       // 0 means the implementation's default (1000)
}

// AlertStore keeps the alert history, one row per alert fingerprint and
// StartsAt (a re-fire after resolution is a new row).
type AlertStore interface {
	// UpsertAlerts inserts alerts or updates the stored alert with the same
	// fingerprint and StartsAt (EndsAt, annotations, UpdatedAt). Atomic.
	UpsertAlerts(ctx context.Context, alerts []telemetry.Alert) error
	// Alerts returns alerts matching q, most recently started first.
	Alerts(ctx context.Context, q AlertQuery) ([]telemetry.Alert, error)
}

// AlertQuery selects alerts. Zero fields do not filter.
type AlertQuery struct {
	Fingerprint telemetry.Fingerprint // 0 means any
	// ActiveAt, when set, keeps alerts that started at or before it and had
	// not ended by it.
	ActiveAt time.Time
	From     time.Time // StartsAt inclusive
	To       time.Time // StartsAt exclusive
	Limit    int       // 0 means the implementation's default (1000)
}

// Role is an API token's permission level. Higher roles include lower ones.
type Role string

// Roles, from least to most privileged.
const (
	RoleViewer   Role = "viewer"
	RoleOperator Role = "operator"
	RoleAdmin    Role = "admin"
)

// Rank orders roles; unknown roles rank 0, below viewer.
func (r Role) Rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleOperator:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.Rank() > 0 }

// Token is an API token as stored: never the secret itself, only its hash.
type Token struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Hash      []byte    `json:"-"` // SHA-256 of the secret
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt, when set, is when the token stops working.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// LastUsedAt is updated at most about once a minute to keep reads cheap.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// TokenStore keeps API tokens.
type TokenStore interface {
	// CreateToken stores a new token; ErrConflict when the ID or hash exists.
	CreateToken(ctx context.Context, t Token) error
	// TokenByHash returns the token with this hash, or ErrNotFound.
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	// Tokens lists all tokens, oldest first.
	Tokens(ctx context.Context) ([]Token, error)
	// DeleteToken removes a token; ErrNotFound when absent.
	DeleteToken(ctx context.Context, id string) error
	// TouchToken records a use of the token.
	TouchToken(ctx context.Context, id string, at time.Time) error
}

// StateStore is a small key/value store for component state that must
// survive restarts (template miner snapshots, baselines, file offsets).
type StateStore interface {
	// PutState replaces the value under key.
	PutState(ctx context.Context, key string, value []byte) error
	// GetState returns the value under key, or ErrNotFound.
	GetState(ctx context.Context, key string) ([]byte, error)
}

// IncidentStore keeps incidents and their timelines, so that they survive
// restarts. Prune removes incidents resolved before the retention cutoff,
// with their timelines; active incidents are kept however old.
type IncidentStore interface {
	// UpsertIncident inserts the incident or replaces the stored one with
	// the same ID. An incident without ID or OpenedAt is refused.
	UpsertIncident(ctx context.Context, inc incident.Incident) error
	// Incident returns the incident with this ID, or ErrNotFound.
	Incident(ctx context.Context, id string) (incident.Incident, error)
	// Incidents returns incidents matching q, most recently opened first.
	Incidents(ctx context.Context, q incident.Query) ([]incident.Incident, error)
	// AppendTimeline adds entries to the incident's timeline atomically;
	// ErrNotFound when the incident is not stored.
	AppendTimeline(ctx context.Context, id string, entries []incident.Entry) error
	// Timeline returns the incident's entries oldest first (ties in append
	// order), or ErrNotFound when the incident is not stored.
	Timeline(ctx context.Context, id string) ([]incident.Entry, error)
}
