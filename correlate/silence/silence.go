// Package silence keeps Alertmanager-compatible silences: label matchers
// that mute matching alerts between two instants, created, updated and
// expired through the Alertmanager API (amtool silence add/query/expire).
//
// Invariant: a silence is never deleted before it has been expired for the
// retention; an update that cannot be applied in place (changed matchers,
// or moving the start of an active silence) expires the old silence and
// creates a new one with a new ID, exactly as Alertmanager does, so the ID a
// notification was muted by keeps describing what muted it.
package silence

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/vigilops/vigil/telemetry"
)

// Sentinel errors. ErrInvalid and ErrTooLong are the client's fault (HTTP
// 400); ErrNotFound is 404; ErrFull is 503-like (too many silences).
var (
	ErrInvalid  = errors.New("invalid silence")
	ErrTooLong  = errors.New("silence too long")
	ErrNotFound = errors.New("silence not found")
	ErrFull     = errors.New("too many silences")
)

// State is where a silence is in its life.
type State string

// States, as Alertmanager names them.
const (
	StatePending State = "pending"
	StateActive  State = "active"
	StateExpired State = "expired"
)

// Silence mutes the alerts all its matchers select between StartsAt
// (inclusive) and EndsAt (exclusive).
type Silence struct {
	ID        string
	Matchers  labels.Matchers
	StartsAt  time.Time
	EndsAt    time.Time
	UpdatedAt time.Time
	CreatedBy string
	Comment   string
}

// State returns the silence's state at now.
func (s *Silence) State(now time.Time) State {
	switch {
	case !now.Before(s.EndsAt):
		return StateExpired
	case now.Before(s.StartsAt):
		return StatePending
	}
	return StateActive
}

// Matches reports whether the silence's matchers select ls (whatever its
// state). An absent label has the empty value.
func (s *Silence) Matches(ls telemetry.Labels) bool {
	for _, m := range s.Matchers {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

// Reason describes the silence for an explanation.
func (s *Silence) Reason() string {
	r := "silenced by silence " + s.ID
	if s.CreatedBy != "" {
		r += " created by " + s.CreatedBy
	}
	if s.Comment != "" {
		r += fmt.Sprintf(" (comment %q)", s.Comment)
	}
	return r + " matching " + s.Matchers.String() + " until " + s.EndsAt.UTC().Format(time.RFC3339)
}

func (s *Silence) clone() Silence {
	c := *s
	c.Matchers = append(labels.Matchers(nil), s.Matchers...)
	return c
}

// validate checks a silence as Alertmanager's API does.
func (s *Silence) validate(maxMatchers int) error {
	if len(s.Matchers) == 0 {
		return fmt.Errorf("%w: at least one matcher is required", ErrInvalid)
	}
	if len(s.Matchers) > maxMatchers {
		return fmt.Errorf("%w: %d matchers, at most %d allowed", ErrInvalid, len(s.Matchers), maxMatchers)
	}
	allEmpty := true
	for i, m := range s.Matchers {
		if m == nil || m.Name == "" {
			return fmt.Errorf("%w: matcher %d has no label name", ErrInvalid, i)
		}
		if !m.Matches("") {
			allEmpty = false
		}
	}
	if allEmpty {
		return fmt.Errorf("%w: at least one matcher must not match the empty string, or the silence would mute every alert", ErrInvalid)
	}
	switch {
	case s.StartsAt.IsZero():
		return fmt.Errorf("%w: startsAt is missing", ErrInvalid)
	case s.EndsAt.IsZero():
		return fmt.Errorf("%w: endsAt is missing", ErrInvalid)
	case !s.EndsAt.After(s.StartsAt):
		return fmt.Errorf("%w: endsAt %s must be after startsAt %s", ErrInvalid, s.EndsAt.UTC().Format(time.RFC3339), s.StartsAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// newID returns a random UUID (version 4), the form amtool expects.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
