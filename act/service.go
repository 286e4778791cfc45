package act

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/act/audit"
	"github.com/vigilops/vigil/incident"
)

// Defaults, exported so configuration docs can name them.
const (
	DefaultApprovalTTL         = time.Hour
	DefaultVerifyTimeout       = 5 * time.Minute
	DefaultVerifyInterval      = 15 * time.Second
	DefaultMaxPendingApprovals = 1000
	DefaultMaxExecutions       = 500
	DefaultRollbackTimeout     = 2 * time.Minute
	// SystemActor is the requester of what the pipeline asks for itself.
	SystemActor = "vigil"
)

// Options configure a Service.
type Options struct {
	// Runbooks are the loaded runbooks (LoadDir, LoadFile).
	Runbooks []*Runbook
	// Executors by action family ("kube", "http", "shell").
	Executors map[string]Executor
	// Guard holds the limits; see DefaultGuardOptions.
	Guard GuardOptions
	// Audit receives every suggestion, approval, execution, verification
	// and rollback. Required: nothing is done that could not be audited.
	Audit Auditor
	// AuditVerify, when set, checks the audit chain for GET
	// /api/v1/audit/verify (wire (*audit.Log).Verify).
	AuditVerify func() (audit.Report, error)
	// Verifier evaluates verification checks; required when any runbook
	// has one.
	Verifier Verifier
	// Notifier, Escalator and Timeline are optional consumers.
	Notifier  Notifier
	Escalator Escalator
	Timeline  Timeline
	// ApprovalTTL is how long an approval request stays open.
	ApprovalTTL time.Duration
	// VerifyTimeout and VerifyInterval apply when a runbook sets none.
	VerifyTimeout  time.Duration
	VerifyInterval time.Duration
	// RollbackTimeout bounds a rollback, which runs even after the
	// execution's own context has ended.
	RollbackTimeout time.Duration
	// MaxPendingApprovals bounds open requests (memory); MaxExecutions the
	// execution history kept for the API.
	MaxPendingApprovals int
	MaxExecutions       int
	// Now is the clock for evaluation time.
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// DefaultOptions returns the defaults; the caller sets Runbooks, Executors,
// Audit and the consumers.
func DefaultOptions() Options {
	return Options{
		Guard:               DefaultGuardOptions(),
		ApprovalTTL:         DefaultApprovalTTL,
		VerifyTimeout:       DefaultVerifyTimeout,
		VerifyInterval:      DefaultVerifyInterval,
		RollbackTimeout:     DefaultRollbackTimeout,
		MaxPendingApprovals: DefaultMaxPendingApprovals,
		MaxExecutions:       DefaultMaxExecutions,
		Now:                 time.Now,
		Logger:              slog.Default(),
	}
}

func (o *Options) validate() error {
	if o.Audit == nil {
		return fmt.Errorf("%w: audit is required", ErrInvalidOptions)
	}
	if o.ApprovalTTL <= 0 || o.VerifyTimeout <= 0 || o.VerifyInterval <= 0 || o.RollbackTimeout <= 0 {
		return fmt.Errorf("%w: approval ttl, verify timeout and interval and rollback timeout must be positive", ErrInvalidOptions)
	}
	if o.MaxPendingApprovals < 1 || o.MaxExecutions < 1 {
		return fmt.Errorf("%w: max pending approvals and max executions must be at least 1", ErrInvalidOptions)
	}
	if o.Now == nil || o.Logger == nil {
		return fmt.Errorf("%w: now and logger are required", ErrInvalidOptions)
	}
	if err := o.Guard.validate(); err != nil {
		return err
	}
	if err := checkUnique(o.Runbooks); err != nil {
		return err
	}
	for _, rb := range o.Runbooks {
		if rb.match == nil {
			return fmt.Errorf("%w: runbook %q was not loaded through ParseRunbooks", ErrInvalidOptions, rb.Name)
		}
		if rb.Verify != nil && o.Verifier == nil {
			return fmt.Errorf("%w: runbook %q has a verify check but no verifier is configured", ErrInvalidOptions, rb.Name)
		}
		for _, st := range append(append([]Step(nil), rb.Steps...), rb.Rollback...) {
			fam, op, _ := splitAction(st.Action)
			ex, ok := o.Executors[fam]
			if !ok {
				return fmt.Errorf("%w: runbook %q step %q: %w %q", ErrInvalidOptions, rb.Name, st.Name, ErrUnknownAction, st.Action)
			}
			if err := ex.Check(op, st.With); err != nil {
				return fmt.Errorf("%w: runbook %q step %q: %v", ErrInvalidOptions, rb.Name, st.Name, err)
			}
		}
	}
	return nil
}

// Service matches situations to runbooks and carries them out through the
// Guard, with approvals, verification, rollback, escalation and audit.
type Service struct {
	opts     Options
	guard    *Guard
	metrics  *metrics
	logger   *slog.Logger
	runbooks map[string]*Runbook
	order    []string // runbook names, sorted

	// wg counts executions running in the background; Stop waits for it.
	wg sync.WaitGroup

	mtx        sync.Mutex // protects approvals, executions, execOrder, stopped
	approvals  map[string]*Approval
	executions map[string]*Execution
	execOrder  []string // oldest first, bounded by MaxExecutions
	stopped    bool
	// base is cancelled by Stop; background executions derive from it.
	base   context.Context
	cancel context.CancelFunc
}

// New builds a Service.
func New(o Options) (*Service, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	m := newMetrics(o.Registerer)
	s := &Service{
		opts:       o,
		metrics:    m,
		guard:      newGuard(o.Guard, m),
		logger:     o.Logger,
		runbooks:   make(map[string]*Runbook, len(o.Runbooks)),
		approvals:  map[string]*Approval{},
		executions: map[string]*Execution{},
	}
	for _, rb := range o.Runbooks {
		s.runbooks[rb.Name] = rb
		s.order = append(s.order, rb.Name)
	}
	sort.Strings(s.order)
	s.base, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Guard returns the service's guard (for the kill switch and breakers).
func (s *Service) Guard() *Guard { return s.guard }

// Runbook returns a loaded runbook by name.
func (s *Service) Runbook(name string) (*Runbook, bool) {
	rb, ok := s.runbooks[name]
	return rb, ok
}

// Runbooks returns the loaded runbooks, by name.
func (s *Service) Runbooks() []*Runbook {
	out := make([]*Runbook, 0, len(s.order))
	for _, n := range s.order {
		out = append(out, s.runbooks[n])
	}
	return out
}

// Stop cancels background executions (they roll back what they can) and
// waits for them, or for ctx.
func (s *Service) Stop(ctx context.Context) error {
	s.mtx.Lock()
	s.stopped = true
	s.mtx.Unlock()
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop act service: %w", ctx.Err())
	}
}

// Wait blocks until every background execution started so far is done.
func (s *Service) Wait() { s.wg.Wait() }

// Decision is what Trigger did with one matching runbook.
type Decision struct {
	Runbook string `json:"runbook"`
	// Outcome: alerted (level 0), suggested (1), approval_requested,
	// already_pending, executing (automatic), unbound (parameters did not
	// resolve), denied.
	Outcome   string            `json:"outcome"`
	Reason    string            `json:"reason,omitempty"`
	Approval  string            `json:"approval,omitempty"`
	Execution string            `json:"execution,omitempty"`
	Params    map[string]string `json:"params,omitempty"`
}

// Trigger matches sit against every runbook and acts on each match as its
// level allows: alert, suggest, request approval, or execute on its own
// (in the background) when the guard's policy allows it.
func (s *Service) Trigger(ctx context.Context, sit *Situation) ([]Decision, error) {
	if sit == nil {
		return nil, errors.New("trigger: nil situation")
	}
	now := s.opts.Now()
	env := sit.Env()
	var out []Decision
	for _, name := range s.order {
		rb := s.runbooks[name]
		ok, err := rb.matchEnv(env)
		if err != nil {
			s.logger.Warn("runbook match failed", "runbook", name, "err", err)
			continue
		}
		if !ok {
			continue
		}
		d, err := s.decide(ctx, rb, sit, now)
		if err != nil {
			return out, err
		}
		out = append(out, d)
	}
	return out, nil
}

func (s *Service) decide(ctx context.Context, rb *Runbook, sit *Situation, now time.Time) (Decision, error) {
	d := Decision{Runbook: rb.Name}
	incID := sit.incidentID()
	vals, err := rb.Bind(sit, nil)
	if err != nil {
		d.Outcome, d.Reason = "unbound", err.Error()
		s.timeline(ctx, incID, now, fmt.Sprintf("runbook %s matched but its parameters did not resolve: %v", rb.Name, err), rb.Name)
		return d, nil
	}
	d.Params = vals.Map()
	requester := sit.RequestedBy
	if requester == "" {
		requester = SystemActor
	}
	switch lvl := s.guard.EffectiveLevel(rb); {
	case lvl == LevelAlert:
		d.Outcome = "alerted"
		if err := s.audit(ctx, audit.Entry{Time: now, Kind: audit.KindSuggestion, Actor: requester, Runbook: rb.Name,
			Incident: incID, Outcome: "alert_only", Params: d.Params}); err != nil {
			return d, err
		}
		s.timeline(ctx, incID, now, fmt.Sprintf("runbook %s applies (level 0: alert only)", rb.Name), rb.Name)
		return d, nil
	case lvl == LevelSuggest:
		d.Outcome = "suggested"
		if err := s.audit(ctx, audit.Entry{Time: now, Kind: audit.KindSuggestion, Actor: requester, Runbook: rb.Name,
			Incident: incID, Outcome: "suggested", Params: d.Params, Detail: rb.Description}); err != nil {
			return d, err
		}
		s.timeline(ctx, incID, now, fmt.Sprintf("suggested runbook %s with %v", rb.Name, d.Params), rb.Name)
		s.notify(ctx, Notice{Kind: "suggestion", Text: fmt.Sprintf("Suggested runbook %s for incident %s: %s", rb.Name, incID, rb.Description)})
		return d, nil
	}
	why := s.guard.AutoAllowed(rb, sit.confidence(), now)
	if why == nil {
		ex, err := s.startExecution(ctx, rb, vals, incID, ModeAuto, sit.confidence(), "", requester)
		if err != nil {
			d.Outcome, d.Reason = "denied", err.Error()
			return d, nil
		}
		d.Outcome, d.Execution = "executing", ex
		return d, nil
	}
	a, existing, err := s.requestApproval(ctx, rb, vals, incID, requester, sit.confidence(), why.Error(), now)
	if err != nil {
		d.Outcome, d.Reason = "denied", err.Error()
		return d, nil
	}
	d.Approval, d.Reason = a.ID, why.Error()
	d.Outcome = "approval_requested"
	if existing {
		d.Outcome = "already_pending"
	}
	return d, nil
}

// audit appends to the trail. A failure is returned: what cannot be
// audited is not done.
func (s *Service) audit(ctx context.Context, e audit.Entry) error {
	if e.Time.IsZero() {
		e.Time = s.opts.Now()
	}
	if _, err := s.opts.Audit.Append(context.WithoutCancel(ctx), e); err != nil {
		s.logger.Error("audit append failed", "kind", e.Kind, "runbook", e.Runbook, "err", err)
		return fmt.Errorf("audit %s: %w", e.Kind, err)
	}
	return nil
}

func (s *Service) timeline(ctx context.Context, incidentID string, at time.Time, text string, refs ...string) {
	if s.opts.Timeline == nil || incidentID == "" {
		return
	}
	e := incident.Entry{Time: at, Kind: incident.EntryAction, Text: text, Refs: refs}
	if err := s.opts.Timeline.Append(context.WithoutCancel(ctx), incidentID, e); err != nil {
		s.logger.Warn("timeline append failed", "incident", incidentID, "err", err)
	}
}

func (s *Service) notify(ctx context.Context, n Notice) {
	if s.opts.Notifier == nil {
		return
	}
	if err := s.opts.Notifier.Notify(context.WithoutCancel(ctx), n); err != nil {
		s.logger.Warn("notify failed", "kind", n.Kind, "err", err)
	}
}

func (s *Service) escalate(ctx context.Context, e Escalation) {
	s.metrics.escalations.Inc()
	_ = s.audit(ctx, audit.Entry{Kind: audit.KindEscalation, Actor: SystemActor, Runbook: e.Runbook, Incident: e.IncidentID,
		Detail: truncate(e.Reason, 2000)})
	s.timeline(ctx, e.IncidentID, s.opts.Now(), "escalated to a person: "+e.Reason, e.Runbook)
	if s.opts.Escalator == nil {
		s.logger.Warn("escalation with no escalator configured", "runbook", e.Runbook, "reason", e.Reason)
		return
	}
	if err := s.opts.Escalator.Escalate(context.WithoutCancel(ctx), e); err != nil {
		s.logger.Error("escalation failed", "runbook", e.Runbook, "err", err)
	}
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
