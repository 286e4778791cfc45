// Package act turns diagnoses into guarded remediation: runbooks (YAML)
// matched against incidents, diagnoses and anomalies; typed parameters;
// steps carried out by executors (subpackages kube, http, shell); a
// verification check; rollback; approvals; an adaptive loop; and an audit
// trail (subpackage audit).
//
// Invariant: every execution, automatic or approved, passes through one
// Guard (Acquire), which enforces the automation level against risk, the
// diagnosis confidence, rate limits, blast radius, change windows, the
// circuit breaker, dry-run and the kill switch. Parameter values reach an
// executor only after validation against their declared type, and only as
// whole values (one argv element, one JSON string, one escaped URL part),
// never spliced into a shell or a document as text.
package act

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors callers branch on.
var (
	ErrInvalidRunbook   = errors.New("invalid runbook")
	ErrInvalidParam     = errors.New("invalid parameter")
	ErrInvalidOptions   = errors.New("invalid act options")
	ErrUnknownRunbook   = errors.New("unknown runbook")
	ErrUnknownAction    = errors.New("unknown action")
	ErrDenied           = errors.New("denied by guard")
	ErrKillSwitch       = errors.New("kill switch engaged")
	ErrRateLimited      = errors.New("rate limit reached")
	ErrBlastRadius      = errors.New("blast radius exceeded")
	ErrChangeWindow     = errors.New("outside change windows")
	ErrCircuitOpen      = errors.New("circuit breaker open")
	ErrLowConfidence    = errors.New("diagnosis confidence too low")
	ErrLevel            = errors.New("automation level does not allow this")
	ErrBusy             = errors.New("target already being changed")
	ErrNotFound         = errors.New("approval not found")
	ErrNotPending       = errors.New("approval is not pending")
	ErrExpired          = errors.New("approval expired")
	ErrSelfApproval     = errors.New("requester cannot approve their own high-risk request")
	ErrNoIdentity       = errors.New("approver has no identity")
	ErrTooManyApprovals = errors.New("too many pending approvals")
	ErrVerifyFailed     = errors.New("verification failed")
	ErrStopped          = errors.New("act service stopped")
)

// Level is the automation a runbook allows.
type Level int

// Automation levels, from least to most autonomous.
const (
	// LevelAlert only alerts: the runbook is named, nothing is proposed.
	LevelAlert Level = 0
	// LevelSuggest proposes the runbook with its parameters; a person runs it.
	LevelSuggest Level = 1
	// LevelApprove asks a person to approve; Vigil then executes.
	LevelApprove Level = 2
	// LevelAutoLow executes low-risk runbooks on its own and notifies after.
	LevelAutoLow Level = 3
	// LevelAutoHigh executes any risk on its own, given high diagnosis
	// confidence and every guard.
	LevelAutoHigh Level = 4
)

// Valid reports whether l is a known level.
func (l Level) Valid() bool { return l >= LevelAlert && l <= LevelAutoHigh }

func (l Level) String() string {
	switch l {
	case LevelAlert:
		return "alert"
	case LevelSuggest:
		return "suggest"
	case LevelApprove:
		return "approve"
	case LevelAutoLow:
		return "auto-low"
	case LevelAutoHigh:
		return "auto-high"
	}
	return "level(" + strconv.Itoa(int(l)) + ")"
}

// Risk is how much harm a step can do if it is wrong.
type Risk string

// Risks, in increasing order.
const (
	RiskLow    Risk = "low"
	RiskMedium Risk = "medium"
	RiskHigh   Risk = "high"
)

// Rank orders risks; 0 for an unknown one.
func (r Risk) Rank() int {
	switch r {
	case RiskLow:
		return 1
	case RiskMedium:
		return 2
	case RiskHigh:
		return 3
	}
	return 0
}

// Valid reports whether r is a known risk.
func (r Risk) Valid() bool { return r.Rank() > 0 }

// maxRisk returns the higher of a and b.
func maxRisk(a, b Risk) Risk {
	if b.Rank() > a.Rank() {
		return b
	}
	return a
}

// Mode is how an execution was authorised.
type Mode string

// Modes.
const (
	// ModeAuto: Vigil decided on its own (levels 3 and 4).
	ModeAuto Mode = "auto"
	// ModeApproved: a person approved it (level 2 and above).
	ModeApproved Mode = "approved"
)

func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
