package act

import (
	"context"
	"time"

	"github.com/vigilops/vigil/act/audit"
	"github.com/vigilops/vigil/incident"
)

// Verifier evaluates a runbook's verification check ("the anomaly is
// gone", "the SLI recovered"). The service calls it every interval until it
// passes or the deadline comes.
type Verifier interface {
	Verify(ctx context.Context, req VerifyRequest) (VerifyResult, error)
}

// VerifierFunc adapts a function to Verifier.
type VerifierFunc func(ctx context.Context, req VerifyRequest) (VerifyResult, error)

// Verify calls f.
func (f VerifierFunc) Verify(ctx context.Context, req VerifyRequest) (VerifyResult, error) {
	return f(ctx, req)
}

// VerifyRequest is one evaluation of a check.
type VerifyRequest struct {
	Runbook    string
	IncidentID string
	Check      string
	// With is the check's rendered arguments.
	With    map[string]any
	Values  map[string]string
	Attempt int
	// Now is evaluation time.
	Now time.Time
}

// VerifyResult is the verdict of one evaluation.
type VerifyResult struct {
	OK     bool
	Detail string
}

// Notice is something people should hear about: an approval to decide, a
// suggestion, an execution that ran on its own (level 3 and 4 notify after).
type Notice struct {
	Kind      string     `json:"kind"` // approval_requested, suggestion, executed
	Text      string     `json:"text"`
	Approval  *Approval  `json:"approval,omitempty"`
	Execution *Execution `json:"execution,omitempty"`
}

// Notifier sends notices (the app wires package notify here).
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
}

// NotifyFunc adapts a function to Notifier.
type NotifyFunc func(ctx context.Context, n Notice) error

// Notify calls f.
func (f NotifyFunc) Notify(ctx context.Context, n Notice) error { return f(ctx, n) }

// Escalation hands a situation to a person, with the reason.
type Escalation struct {
	Runbook    string     `json:"runbook,omitempty"`
	IncidentID string     `json:"incident_id,omitempty"`
	Reason     string     `json:"reason"`
	Execution  *Execution `json:"execution,omitempty"`
}

// Escalator pages or otherwise reaches a person.
type Escalator interface {
	Escalate(ctx context.Context, e Escalation) error
}

// EscalateFunc adapts a function to Escalator.
type EscalateFunc func(ctx context.Context, e Escalation) error

// Escalate calls f.
func (f EscalateFunc) Escalate(ctx context.Context, e Escalation) error { return f(ctx, e) }

// Timeline records steps on an incident's timeline.
type Timeline interface {
	Append(ctx context.Context, incidentID string, e incident.Entry) error
}

// TimelineFunc adapts a function to Timeline.
type TimelineFunc func(ctx context.Context, incidentID string, e incident.Entry) error

// Append calls f.
func (f TimelineFunc) Append(ctx context.Context, incidentID string, e incident.Entry) error {
	return f(ctx, incidentID, e)
}

// Auditor is the audit trail; *audit.Log implements it.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
}

var _ Auditor = (*audit.Log)(nil)
