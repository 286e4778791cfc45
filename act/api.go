package act

import (
	"errors"
	"net/http"

	"github.com/vigilops/vigil/act/audit"
	"github.com/vigilops/vigil/api"
	"github.com/vigilops/vigil/store"
)

// Register adds the act routes to srv:
//
//	GET  /api/v1/runbooks                       viewer
//	POST /api/v1/runbooks/{name}/request        operator (ask for an approval)
//	GET  /api/v1/approvals[?status=pending]     viewer
//	POST /api/v1/approvals/{id}/approve         operator
//	POST /api/v1/approvals/{id}/reject          operator
//	GET  /api/v1/executions                     viewer
//	GET  /api/v1/killswitch                     viewer
//	POST /api/v1/killswitch                     admin (engage or release)
//	GET  /api/v1/audit/verify                   viewer
func (s *Service) Register(srv *api.Server) {
	srv.Handle("GET /api/v1/runbooks", store.RoleViewer, s.handleRunbooks)
	srv.Handle("POST /api/v1/runbooks/{name}/request", store.RoleOperator, s.handleRequest)
	srv.Handle("GET /api/v1/approvals", store.RoleViewer, s.handleApprovals)
	srv.Handle("POST /api/v1/approvals/{id}/approve", store.RoleOperator, s.handleDecide(true))
	srv.Handle("POST /api/v1/approvals/{id}/reject", store.RoleOperator, s.handleDecide(false))
	srv.Handle("GET /api/v1/executions", store.RoleViewer, s.handleExecutions)
	srv.Handle("GET /api/v1/killswitch", store.RoleViewer, s.handleKillGet)
	srv.Handle("POST /api/v1/killswitch", store.RoleAdmin, s.handleKillPost)
	srv.Handle("GET /api/v1/audit/verify", store.RoleViewer, s.handleAuditVerify)
}

// runbookView is a runbook as the API lists it.
type runbookView struct {
	*Runbook
	EffectiveLevel Level `json:"effective_level"`
	EffectiveRisk  Risk  `json:"effective_risk"`
}

func (s *Service) handleRunbooks(w http.ResponseWriter, r *http.Request) error {
	out := []runbookView{}
	for _, rb := range s.Runbooks() {
		out = append(out, runbookView{Runbook: rb, EffectiveLevel: s.guard.EffectiveLevel(rb), EffectiveRisk: rb.EffectiveRisk()})
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"runbooks": out, "dry_run": s.guard.DryRun()})
	return nil
}

// caller is the token name of the request: approvals need an identity,
// so anonymous access never approves.
func caller(r *http.Request) (string, error) {
	tok, ok := api.TokenFrom(r.Context())
	if !ok || tok.Name == "" {
		return "", api.Errorf(http.StatusForbidden, "", "this action needs a named API token: approvals record who decided")
	}
	return tok.Name, nil
}

type requestBody struct {
	Params     map[string]string `json:"params"`
	IncidentID string            `json:"incident_id"`
}

func (s *Service) handleRequest(w http.ResponseWriter, r *http.Request) error {
	by, err := caller(r)
	if err != nil {
		return err
	}
	var body requestBody
	if err := api.DecodeJSON(r, &body); err != nil {
		return err
	}
	a, err := s.RequestApproval(r.Context(), r.PathValue("name"), body.Params, body.IncidentID, by)
	if err != nil {
		return apiError(err)
	}
	api.WriteJSON(w, http.StatusCreated, a)
	return nil
}

func (s *Service) handleApprovals(w http.ResponseWriter, r *http.Request) error {
	st := ApprovalStatus(r.URL.Query().Get("status"))
	switch st {
	case "", ApprovalPending, ApprovalApproved, ApprovalRejected, ApprovalExpired:
	default:
		return api.Errorf(http.StatusBadRequest, "", "status %q must be pending, approved, rejected or expired", st)
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"approvals": s.Approvals(r.Context(), st)})
	return nil
}

type decideBody struct {
	Comment string `json:"comment"`
}

func (s *Service) handleDecide(approve bool) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		by, err := caller(r)
		if err != nil {
			return err
		}
		var body decideBody
		if r.ContentLength != 0 {
			if err := api.DecodeJSON(r, &body); err != nil {
				return err
			}
		}
		id := r.PathValue("id")
		var a Approval
		if approve {
			a, err = s.Approve(r.Context(), id, by, body.Comment)
		} else {
			a, err = s.Reject(r.Context(), id, by, body.Comment)
		}
		if err != nil {
			return apiError(err)
		}
		api.WriteJSON(w, http.StatusOK, a)
		return nil
	}
}

func (s *Service) handleExecutions(w http.ResponseWriter, r *http.Request) error {
	api.WriteJSON(w, http.StatusOK, map[string]any{"executions": s.Executions()})
	return nil
}

func (s *Service) handleKillGet(w http.ResponseWriter, r *http.Request) error {
	api.WriteJSON(w, http.StatusOK, s.guard.Kill())
	return nil
}

type killBody struct {
	Engaged *bool  `json:"engaged"`
	Reason  string `json:"reason"`
}

func (s *Service) handleKillPost(w http.ResponseWriter, r *http.Request) error {
	by, err := caller(r)
	if err != nil {
		return err
	}
	var body killBody
	if err := api.DecodeJSON(r, &body); err != nil {
		return err
	}
	if body.Engaged == nil {
		return api.Errorf(http.StatusBadRequest, "", `"engaged" (true or false) is required`)
	}
	if *body.Engaged {
		if body.Reason == "" {
			body.Reason = "engaged through the API"
		}
		s.EngageKillSwitch(r.Context(), by, truncate(body.Reason, 500))
	} else {
		s.ReleaseKillSwitch(r.Context(), by)
	}
	api.WriteJSON(w, http.StatusOK, s.guard.Kill())
	return nil
}

func (s *Service) handleAuditVerify(w http.ResponseWriter, r *http.Request) error {
	if s.opts.AuditVerify == nil {
		return api.Errorf(http.StatusServiceUnavailable, "", "audit verification is not configured")
	}
	rep, err := s.opts.AuditVerify()
	if err != nil {
		var ve *audit.VerifyError
		if !errors.As(err, &ve) {
			return err // I/O: a 500, logged
		}
		api.WriteJSON(w, http.StatusOK, map[string]any{"ok": false, "valid_entries": rep.Entries, "line": ve.Line, "reason": ve.Reason})
		return nil
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"ok": true, "entries": rep.Entries, "head": rep.Head})
	return nil
}

// apiError maps the service's sentinels to API errors.
func apiError(err error) error {
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrUnknownRunbook):
		return api.Errorf(http.StatusNotFound, "", "%s", err)
	case errors.Is(err, ErrSelfApproval), errors.Is(err, ErrNoIdentity):
		return api.Errorf(http.StatusForbidden, "", "%s", err)
	case errors.Is(err, ErrNotPending), errors.Is(err, ErrExpired):
		return api.Errorf(http.StatusConflict, "conflict", "%s", err)
	case errors.Is(err, ErrInvalidParam), errors.Is(err, ErrLevel):
		return api.Errorf(http.StatusBadRequest, "", "%s", err)
	case errors.Is(err, ErrTooManyApprovals):
		return api.Errorf(http.StatusTooManyRequests, "", "%s", err)
	case errors.Is(err, ErrStopped):
		return api.Errorf(http.StatusServiceUnavailable, "", "%s", err)
	}
	return err
}
