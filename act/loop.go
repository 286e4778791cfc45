package act

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Observer gathers the current situation of an incident (its alerts,
// anomalies, latest diagnosis).
type Observer interface {
	Observe(ctx context.Context, incidentID string) (*Situation, error)
}

// ObserveFunc adapts a function to Observer.
type ObserveFunc func(ctx context.Context, incidentID string) (*Situation, error)

// Observe calls f.
func (f ObserveFunc) Observe(ctx context.Context, incidentID string) (*Situation, error) {
	return f(ctx, incidentID)
}

// Hypothesis is a proposed fix: a runbook, its parameters and why.
type Hypothesis struct {
	Runbook    string            `json:"runbook"`
	Params     map[string]string `json:"params,omitempty"`
	Confidence float64           `json:"confidence"`
	Reason     string            `json:"reason"`
}

// Hypothesiser proposes fixes for a situation (diagnosis and copilot).
type Hypothesiser interface {
	Hypothesise(ctx context.Context, sit *Situation) ([]Hypothesis, error)
}

// HypothesiseFunc adapts a function to Hypothesiser.
type HypothesiseFunc func(ctx context.Context, sit *Situation) ([]Hypothesis, error)

// Hypothesise calls f.
func (f HypothesiseFunc) Hypothesise(ctx context.Context, sit *Situation) ([]Hypothesis, error) {
	return f(ctx, sit)
}

// LoopResult says how the adaptive loop ended.
type LoopResult struct {
	// Outcome: resolved, awaiting_approval, escalated.
	Outcome    string      `json:"outcome"`
	Rounds     int         `json:"rounds"`
	Executions []Execution `json:"executions,omitempty"`
	Approval   string      `json:"approval,omitempty"`
	Reason     string      `json:"reason,omitempty"`
}

// Remediate runs the adaptive loop for one incident: observe, hypothesise
// (hyp, or the runbooks whose match holds when hyp is nil), act (one
// runbook, through the Guard), evaluate (its verification), and repeat
// with the next hypothesis or escalate, for at most maxRounds rounds.
// Every step goes on the incident's timeline. A hypothesis the guard's
// policy does not let run on its own becomes an approval request, and the
// loop stops there: a person takes it from that point.
func (s *Service) Remediate(ctx context.Context, incidentID string, obs Observer, hyp Hypothesiser, maxRounds int) (LoopResult, error) {
	if obs == nil {
		return LoopResult{}, errors.New("remediate: nil observer")
	}
	if maxRounds < 1 {
		maxRounds = 3
	}
	var res LoopResult
	tried := map[string]bool{}
	for res.Rounds < maxRounds {
		res.Rounds++
		if err := ctx.Err(); err != nil {
			return res, err
		}
		sit, err := obs.Observe(ctx, incidentID)
		if err != nil {
			return res, fmt.Errorf("observe: %w", err)
		}
		if sit.IncidentID == "" {
			sit.IncidentID = incidentID
		}
		s.timeline(ctx, incidentID, s.opts.Now(), fmt.Sprintf("round %d: observed %d alert(s), %d anomaly(ies), diagnosis %s",
			res.Rounds, len(sit.Alerts), len(sit.Anomalies), diagText(sit)))
		hs, err := s.hypotheses(ctx, sit, hyp)
		if err != nil {
			return res, fmt.Errorf("hypothesise: %w", err)
		}
		var pick *Hypothesis
		for i := range hs {
			if !tried[hs[i].Runbook] {
				pick = &hs[i]
				break
			}
		}
		if pick == nil {
			res.Outcome, res.Reason = "escalated", "no untried hypothesis left"
			s.escalate(ctx, Escalation{IncidentID: incidentID, Reason: fmt.Sprintf("adaptive loop: %s after %d round(s)", res.Reason, res.Rounds)})
			return res, nil
		}
		tried[pick.Runbook] = true
		s.timeline(ctx, incidentID, s.opts.Now(), fmt.Sprintf("round %d: hypothesis %s (confidence %.2f): %s", res.Rounds, pick.Runbook, pick.Confidence, pick.Reason), pick.Runbook)
		rb, ok := s.runbooks[pick.Runbook]
		if !ok {
			continue
		}
		conf := sit.confidence()
		if pick.Confidence > 0 {
			conf = min(conf, pick.Confidence)
			if sit.Diagnosis == nil {
				conf = pick.Confidence
			}
		}
		if why := s.guard.AutoAllowed(rb, conf, s.opts.Now()); why != nil {
			vals, err := rb.Bind(sit, pick.Params)
			if err != nil {
				s.timeline(ctx, incidentID, s.opts.Now(), fmt.Sprintf("round %d: %s parameters do not resolve: %v", res.Rounds, rb.Name, err), rb.Name)
				continue
			}
			a, _, err := s.requestApproval(ctx, rb, vals, incidentID, SystemActor, conf, why.Error(), s.opts.Now())
			if err != nil {
				return res, err
			}
			res.Outcome, res.Approval, res.Reason = "awaiting_approval", a.ID, why.Error()
			return res, nil
		}
		sitConf := *sit
		sitConf.Diagnosis = &Diagnosis{Confidence: conf}
		if sit.Diagnosis != nil {
			d := *sit.Diagnosis
			d.Confidence = conf
			sitConf.Diagnosis = &d
		}
		ex, err := s.RunSync(ctx, rb.Name, &sitConf, pick.Params, ModeAuto, SystemActor)
		if ex.ID != "" {
			res.Executions = append(res.Executions, ex)
		}
		if err == nil && ex.Status == ExecSucceeded {
			res.Outcome = "resolved"
			s.timeline(ctx, incidentID, s.opts.Now(), fmt.Sprintf("round %d: %s worked and was verified", res.Rounds, rb.Name), rb.Name, ex.ID)
			return res, nil
		}
		if ex.Status == ExecKilled || errors.Is(err, ErrKillSwitch) {
			res.Outcome, res.Reason = "escalated", "kill switch engaged"
			return res, nil
		}
		s.timeline(ctx, incidentID, s.opts.Now(), fmt.Sprintf("round %d: %s did not resolve it: %v", res.Rounds, rb.Name, err), rb.Name)
	}
	res.Outcome, res.Reason = "escalated", fmt.Sprintf("not resolved after %d round(s)", res.Rounds)
	s.escalate(ctx, Escalation{IncidentID: incidentID, Reason: "adaptive loop: " + res.Reason})
	return res, nil
}

func (s *Service) hypotheses(ctx context.Context, sit *Situation, hyp Hypothesiser) ([]Hypothesis, error) {
	if hyp != nil {
		return hyp.Hypothesise(ctx, sit)
	}
	var out []Hypothesis
	for _, name := range s.order {
		ok, err := s.runbooks[name].Matches(sit)
		if err == nil && ok {
			out = append(out, Hypothesis{Runbook: name, Reason: "its match condition holds"})
		}
	}
	return out, nil
}

func diagText(sit *Situation) string {
	d := sit.Diagnosis
	if d == nil {
		return "none"
	}
	parts := []string{d.Service}
	if d.Component != "" {
		parts = append(parts, d.Component)
	}
	return fmt.Sprintf("%s (confidence %.2f)", strings.Join(parts, "/"), d.Confidence)
}
