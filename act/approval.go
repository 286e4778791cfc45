package act

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/vigilops/vigil/act/audit"
)

// ApprovalStatus is where an approval request stands.
type ApprovalStatus string

// Approval statuses.
const (
	ApprovalPending  ApprovalStatus = "pending"
	ApprovalApproved ApprovalStatus = "approved"
	ApprovalRejected ApprovalStatus = "rejected"
	ApprovalExpired  ApprovalStatus = "expired"
)

// Approval is a request for a person to let Vigil run a runbook.
type Approval struct {
	ID         string            `json:"id"`
	Runbook    string            `json:"runbook"`
	IncidentID string            `json:"incident_id,omitempty"`
	Risk       Risk              `json:"risk"`
	Level      Level             `json:"level"`
	Params     map[string]string `json:"params"`
	// Reason says why a person must decide (level 2, or why the guard did
	// not allow an automatic run).
	Reason      string         `json:"reason,omitempty"`
	Confidence  float64        `json:"confidence"`
	RequestedBy string         `json:"requested_by"`
	RequestedAt time.Time      `json:"requested_at"`
	ExpiresAt   time.Time      `json:"expires_at"`
	Status      ApprovalStatus `json:"status"`
	DecidedBy   string         `json:"decided_by,omitempty"`
	DecidedAt   time.Time      `json:"decided_at,omitzero"`
	Comment     string         `json:"comment,omitempty"`
	Execution   string         `json:"execution,omitempty"`

	values Values
}

// requestApproval opens a request, or returns the pending one for the same
// runbook, incident and parameters (existing true).
func (s *Service) requestApproval(ctx context.Context, rb *Runbook, vals Values, incID, by string, conf float64, reason string, now time.Time) (Approval, bool, error) {
	params := vals.Map()
	s.mtx.Lock()
	s.expireLocked(ctx, now)
	for _, a := range s.approvals {
		if a.Status == ApprovalPending && a.Runbook == rb.Name && a.IncidentID == incID && sameParams(a.Params, params) {
			c := *a
			s.mtx.Unlock()
			return c, true, nil
		}
	}
	if s.pendingLocked() >= s.opts.MaxPendingApprovals {
		s.mtx.Unlock()
		return Approval{}, false, fmt.Errorf("%w (%d)", ErrTooManyApprovals, s.opts.MaxPendingApprovals)
	}
	a := &Approval{
		ID: newID(), Runbook: rb.Name, IncidentID: incID, Risk: rb.EffectiveRisk(), Level: s.guard.EffectiveLevel(rb),
		Params: params, Reason: reason, Confidence: conf, RequestedBy: by, RequestedAt: now,
		ExpiresAt: now.Add(s.opts.ApprovalTTL), Status: ApprovalPending, values: vals,
	}
	// Audit under the lock, so the trail's order is the decisions' order.
	if err := s.audit(ctx, audit.Entry{Time: now, Kind: audit.KindApprovalReq, Actor: by, Runbook: rb.Name,
		Approval: a.ID, Incident: incID, Params: params, Detail: truncate(reason, 2000)}); err != nil {
		s.mtx.Unlock()
		return Approval{}, false, err
	}
	s.approvals[a.ID] = a
	s.metrics.pending.Set(float64(s.pendingLocked()))
	c := *a
	s.mtx.Unlock()
	s.timeline(ctx, incID, now, fmt.Sprintf("approval requested for runbook %s (%s risk) with %v: %s", rb.Name, a.Risk, params, reason), rb.Name, a.ID)
	s.notify(ctx, Notice{Kind: "approval_requested", Approval: &c,
		Text: fmt.Sprintf("Approval needed: runbook %s (%s risk) for incident %s, params %v; expires %s",
			rb.Name, a.Risk, incID, params, a.ExpiresAt.UTC().Format(time.RFC3339))})
	return c, false, nil
}

// RequestApproval lets a person (by) ask for a runbook to be run with the
// given parameters; someone else approves it when its risk is high.
func (s *Service) RequestApproval(ctx context.Context, name string, params map[string]string, incidentID, by string) (Approval, error) {
	rb, ok := s.runbooks[name]
	if !ok {
		return Approval{}, fmt.Errorf("%w: %q", ErrUnknownRunbook, name)
	}
	if by == "" {
		return Approval{}, ErrNoIdentity
	}
	if lvl := s.guard.EffectiveLevel(rb); lvl < LevelApprove {
		return Approval{}, errorf(ErrLevel, "runbook %q is at level %d (%s): Vigil does not execute it", name, lvl, lvl)
	}
	vals, err := rb.Bind(nil, params)
	if err != nil {
		return Approval{}, err
	}
	a, _, err := s.requestApproval(ctx, rb, vals, incidentID, by, 0, "requested by "+by, s.opts.Now())
	return a, err
}

func sameParams(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func (s *Service) pendingLocked() int {
	n := 0
	for _, a := range s.approvals {
		if a.Status == ApprovalPending {
			n++
		}
	}
	return n
}

// expireLocked marks pending requests past their expiry, and forgets
// decided ones a day after, so memory stays bounded. s.mtx must be held.
func (s *Service) expireLocked(ctx context.Context, now time.Time) {
	for id, a := range s.approvals {
		switch {
		case a.Status == ApprovalPending && !now.Before(a.ExpiresAt):
			a.Status, a.DecidedAt = ApprovalExpired, now
			_ = s.audit(ctx, audit.Entry{Time: now, Kind: audit.KindExpired, Actor: SystemActor, Runbook: a.Runbook,
				Approval: a.ID, Incident: a.IncidentID})
		case a.Status != ApprovalPending && now.Sub(a.DecidedAt) > 24*time.Hour:
			delete(s.approvals, id)
		}
	}
	s.metrics.pending.Set(float64(s.pendingLocked()))
}

// Approvals lists requests, newest first; status "" lists all.
func (s *Service) Approvals(ctx context.Context, status ApprovalStatus) []Approval {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	s.expireLocked(ctx, s.opts.Now())
	out := make([]Approval, 0, len(s.approvals))
	for _, a := range s.approvals {
		if status == "" || a.Status == status {
			out = append(out, *a)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].RequestedAt.Equal(out[j].RequestedAt) {
			return out[i].RequestedAt.After(out[j].RequestedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Approve lets a person approve a pending request; the runbook then runs
// in the background through the Guard. by is the approver's identity (the
// API passes the token name; the role check is the API's). The requester
// cannot approve their own high-risk request.
func (s *Service) Approve(ctx context.Context, id, by, comment string) (Approval, error) {
	return s.decideApproval(ctx, id, by, comment, true)
}

// Reject closes a pending request without running it.
func (s *Service) Reject(ctx context.Context, id, by, comment string) (Approval, error) {
	return s.decideApproval(ctx, id, by, comment, false)
}

func (s *Service) decideApproval(ctx context.Context, id, by, comment string, approve bool) (Approval, error) {
	if by == "" {
		return Approval{}, ErrNoIdentity
	}
	now := s.opts.Now()
	s.mtx.Lock()
	if s.stopped {
		s.mtx.Unlock()
		return Approval{}, ErrStopped
	}
	s.expireLocked(ctx, now)
	a, ok := s.approvals[id]
	if !ok {
		s.mtx.Unlock()
		return Approval{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	switch {
	case a.Status == ApprovalExpired:
		s.mtx.Unlock()
		return *a, fmt.Errorf("%w: %s expired at %s", ErrExpired, id, a.ExpiresAt.UTC().Format(time.RFC3339))
	case a.Status != ApprovalPending:
		s.mtx.Unlock()
		return *a, fmt.Errorf("%w: %s is %s", ErrNotPending, id, a.Status)
	case approve && a.Risk == RiskHigh && a.RequestedBy == by:
		s.mtx.Unlock()
		return *a, fmt.Errorf("%w: %s requested %s", ErrSelfApproval, by, id)
	}
	kind, status := audit.KindRejected, ApprovalRejected
	if approve {
		kind, status = audit.KindApproved, ApprovalApproved
	}
	if err := s.audit(ctx, audit.Entry{Time: now, Kind: kind, Actor: by, Runbook: a.Runbook, Approval: a.ID,
		Incident: a.IncidentID, Params: a.Params, Detail: truncate(comment, 1000)}); err != nil {
		s.mtx.Unlock()
		return *a, err
	}
	a.Status, a.DecidedBy, a.DecidedAt, a.Comment = status, by, now, truncate(comment, 1000)
	s.metrics.pending.Set(float64(s.pendingLocked()))
	rb := s.runbooks[a.Runbook]
	vals, conf, incID, requester := a.values, a.Confidence, a.IncidentID, a.RequestedBy
	s.mtx.Unlock()

	s.timeline(ctx, incID, now, fmt.Sprintf("%s %s runbook %s", by, status, a.Runbook), a.Runbook, a.ID)
	if !approve {
		s.mtx.Lock()
		c := *a
		s.mtx.Unlock()
		return c, nil
	}
	exID, err := s.startExecution(ctx, rb, vals, incID, ModeApproved, conf, a.ID, requester+" approved by "+by)
	s.mtx.Lock()
	a.Execution = exID
	c := *a
	s.mtx.Unlock()
	return c, err
}
