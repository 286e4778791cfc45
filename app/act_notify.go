package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/vigilops/vigil/act"
	"github.com/vigilops/vigil/notify"
	"github.com/vigilops/vigil/telemetry"
)

// RemediationAlertName is the alertname under which remediation notices
// (approval requests, suggestions, executions, escalations) are routed, so
// that a route matching alertname="VigilRemediation" decides who hears of
// them, as VigilIncident does for incidents.
const RemediationAlertName = "VigilRemediation"

// actNotice routes a remediation notice through the routing tree and sends
// it to the receivers it reaches. Notices are not grouped: each is one
// message, identified by what it is about, so the notification log sends a
// repeated notice once.
func (a *App) actNotice(ctx context.Context, kind, severity, runbook, incidentID, subject, text string) error {
	al := a.alerting
	if al == nil || al.disp == nil {
		a.log.Info("remediation notice", "kind", kind, "runbook", runbook, "incident", incidentID, "text", text)
		return nil
	}
	m := map[string]string{"alertname": RemediationAlertName, "kind": kind, "severity": severity}
	if runbook != "" {
		m["runbook"] = runbook
	}
	if incidentID != "" {
		m["incident"] = incidentID
	}
	ls := telemetry.LabelsFromMap(m)
	now := a.clock()
	alert := telemetry.Alert{
		Labels: telemetry.LabelsFromMap(map[string]string{"alertname": RemediationAlertName, "kind": kind, "severity": severity,
			"runbook": runbook, "incident": incidentID, "subject": subject}),
		Annotations: telemetry.LabelsFromMap(map[string]string{"summary": text}),
		StartsAt:    now,
	}
	var errs []error
	for _, name := range al.disp.ReceiversFor(ls) {
		r := al.receivers[name]
		if r == nil {
			continue
		}
		msg := notify.NewMessage(name, "remediation/"+kind+"/"+subject, ls, []telemetry.Alert{alert}, al.externalURL, now)
		if err := r.Notify(ctx, msg); err != nil && !errors.Is(err, notify.ErrDeferred) {
			errs = append(errs, fmt.Errorf("receiver %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// actNotify and actEscalate adapt the act service's consumers to actNotice.
func (a *App) actNotify(ctx context.Context, n act.Notice) error {
	runbook, incidentID, subject := "", "", n.Kind
	switch {
	case n.Approval != nil:
		runbook, incidentID, subject = n.Approval.Runbook, n.Approval.IncidentID, n.Approval.ID
	case n.Execution != nil:
		runbook, incidentID, subject = n.Execution.Runbook, n.Execution.IncidentID, n.Execution.ID
	}
	return a.actNotice(ctx, n.Kind, "warning", runbook, incidentID, subject, n.Text)
}

func (a *App) actEscalate(ctx context.Context, e act.Escalation) error {
	subject := e.Runbook + "/" + e.IncidentID
	if e.Execution != nil {
		subject = e.Execution.ID
	}
	return a.actNotice(ctx, "escalation", "critical", e.Runbook, e.IncidentID, subject, "Remediation needs a person: "+e.Reason)
}
