package api

import (
	"fmt"
	"net/http"

	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// alertView is an alert with what a client would otherwise recompute: its
// fingerprint (as Alertmanager shows it) and its status now.
type alertView struct {
	Fingerprint string `json:"fingerprint"`
	Status      string `json:"status"`
	telemetry.Alert
}

// getAlerts lists the alert history, most recently started first.
//
// active=true keeps the alerts firing now; active=false keeps the resolved
// ones, chosen among the most recent maxListLimit alerts (the store can only
// filter for active ones), so it may return fewer than limit.
func (s *Server) getAlerts(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "active", "from", "to", "limit")
	if err != nil {
		return err
	}
	active, activeSet, err := queryBool(q, "active")
	if err != nil {
		return err
	}
	var aq store.AlertQuery
	if aq.From, aq.To, err = queryRange(q); err != nil {
		return err
	}
	limit, err := queryLimit(q)
	if err != nil {
		return err
	}
	now := s.opts.Now()
	aq.Limit = limit
	switch {
	case activeSet && active:
		aq.ActiveAt = now
	case activeSet:
		aq.Limit = maxListLimit
	}
	alerts, err := s.opts.Alerts.Alerts(r.Context(), aq)
	if err != nil {
		return fmt.Errorf("query alerts: %w", err)
	}
	views := make([]alertView, 0, min(len(alerts), limit))
	for _, a := range alerts {
		if len(views) == limit {
			break
		}
		if activeSet && !active && !a.Resolved(now) {
			continue
		}
		views = append(views, alertView{Fingerprint: a.Fingerprint().String(), Status: a.Status(now), Alert: a})
	}
	WriteJSON(w, http.StatusOK, struct {
		Alerts []alertView `json:"alerts"`
	}{views})
	return nil
}
