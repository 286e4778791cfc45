package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/vigilops/vigil/incident"
	"github.com/vigilops/vigil/store"
)

// IncidentService is what the incident routes call. The correlator
// (correlate.Correlator) implements it; the API only shapes requests and
// answers.
type IncidentService interface {
	Incidents(ctx context.Context, q incident.Query) ([]incident.Incident, error)
	Incident(ctx context.Context, id string) (incident.Incident, error)
	Timeline(ctx context.Context, id string) ([]incident.Entry, error)
	Acknowledge(ctx context.Context, id string, a incident.Action) (incident.Incident, error)
	Resolve(ctx context.Context, id string, a incident.Action) (incident.Incident, error)
	AddNote(ctx context.Context, id string, a incident.Action) (incident.Incident, error)
	Feedback(ctx context.Context, id string, v incident.Verdict, signal string, a incident.Action) (incident.Incident, error)
	Merge(ctx context.Context, id, into string, a incident.Action) (incident.Incident, error)
	// Split moves the named member signals into a new incident and returns it.
	Split(ctx context.Context, id string, signals []string, a incident.Action) (incident.Incident, error)
}

const (
	// maxIncidentIDLen bounds path IDs: anything longer is no ID of ours.
	maxIncidentIDLen = 128
	// maxNoteLen bounds a note or a comment, in bytes.
	maxNoteLen = 10000
	// maxSplitSignals bounds one split request.
	maxSplitSignals = 1000
)

// HandleIncidents registers the incident routes over svc: reads for
// viewers, changes for operators.
func (s *Server) HandleIncidents(svc IncidentService) {
	h := &incidentHandlers{s: s, svc: svc}
	s.Handle("GET /api/v1/incidents", store.RoleViewer, h.list)
	s.Handle("GET /api/v1/incidents/{id}", store.RoleViewer, h.get)
	s.Handle("GET /api/v1/incidents/{id}/timeline", store.RoleViewer, h.timeline)
	s.Handle("POST /api/v1/incidents/{id}/ack", store.RoleOperator, h.ack)
	s.Handle("POST /api/v1/incidents/{id}/resolve", store.RoleOperator, h.resolve)
	s.Handle("POST /api/v1/incidents/{id}/notes", store.RoleOperator, h.note)
	s.Handle("POST /api/v1/incidents/{id}/feedback", store.RoleOperator, h.feedback)
	s.Handle("POST /api/v1/incidents/{id}/merge", store.RoleOperator, h.merge)
	s.Handle("POST /api/v1/incidents/{id}/split", store.RoleOperator, h.split)
}

type incidentHandlers struct {
	s   *Server
	svc IncidentService
}

type incidentBody struct {
	Incident incident.Incident `json:"incident"`
}

// incidentError maps the service's sentinels to API errors; anything else
// is an internal error.
func incidentError(err error) error {
	switch {
	case errors.Is(err, incident.ErrNotFound):
		return Errorf(http.StatusNotFound, CodeNotFound, "%s", err)
	case errors.Is(err, incident.ErrInvalid):
		return Errorf(http.StatusBadRequest, CodeBadRequest, "%s", err)
	case errors.Is(err, incident.ErrTransition):
		return Errorf(http.StatusConflict, "conflict", "%s", err)
	}
	return err
}

func pathID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if id == "" || len(id) > maxIncidentIDLen || !utf8.ValidString(id) {
		return "", Errorf(http.StatusBadRequest, CodeBadRequest, "incident ID %q is not valid", truncate(id, 40))
	}
	return id, nil
}

// action says who does something now: the token's name, or "anonymous".
func (h *incidentHandlers) action(r *http.Request, text string) incident.Action {
	by := "anonymous"
	if tok, ok := TokenFrom(r.Context()); ok && tok.Name != "" {
		by = tok.Name
	}
	return incident.Action{At: h.s.opts.Now(), By: by, Text: text}
}

func (h *incidentHandlers) list(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "status", "service", "from", "to", "limit")
	if err != nil {
		return err
	}
	var iq incident.Query
	if v := q.Get("status"); v != "" {
		iq.Status = incident.Status(v)
		if !iq.Status.Valid() {
			return Errorf(http.StatusBadRequest, CodeBadRequest,
				"query parameter \"status\": want open, acknowledged or resolved, got %q", truncate(v, 40))
		}
	}
	iq.Service = q.Get("service")
	if iq.From, iq.To, err = queryRange(q); err != nil {
		return err
	}
	if iq.Limit, err = queryLimit(q); err != nil {
		return err
	}
	incs, err := h.svc.Incidents(r.Context(), iq)
	if err != nil {
		return fmt.Errorf("list incidents: %w", incidentError(err))
	}
	if incs == nil {
		incs = []incident.Incident{}
	}
	WriteJSON(w, http.StatusOK, struct {
		Incidents []incident.Incident `json:"incidents"`
	}{incs})
	return nil
}

func (h *incidentHandlers) get(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	inc, err := h.svc.Incident(r.Context(), id)
	if err != nil {
		return incidentError(err)
	}
	WriteJSON(w, http.StatusOK, incidentBody{inc})
	return nil
}

func (h *incidentHandlers) timeline(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	es, err := h.svc.Timeline(r.Context(), id)
	if err != nil {
		return incidentError(err)
	}
	if es == nil {
		es = []incident.Entry{}
	}
	WriteJSON(w, http.StatusOK, struct {
		Entries []incident.Entry `json:"entries"`
	}{es})
	return nil
}

// textBody is the optional body of ack and resolve, and the body of notes.
type textBody struct {
	Text string `json:"text"`
}

func checkText(text string) error {
	if len(text) > maxNoteLen {
		return Errorf(http.StatusBadRequest, CodeBadRequest, "\"text\" is %d bytes; at most %d", len(text), maxNoteLen)
	}
	return nil
}

// decodeOptional decodes the body into v unless there is none: ack and
// resolve work with a bare POST.
func decodeOptional(r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	return DecodeJSON(r, v)
}

func (h *incidentHandlers) lifecycle(w http.ResponseWriter, r *http.Request,
	fn func(context.Context, string, incident.Action) (incident.Incident, error)) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var body textBody
	if err := decodeOptional(r, &body); err != nil {
		return err
	}
	if err := checkText(body.Text); err != nil {
		return err
	}
	inc, err := fn(r.Context(), id, h.action(r, body.Text))
	if err != nil {
		return incidentError(err)
	}
	WriteJSON(w, http.StatusOK, incidentBody{inc})
	return nil
}

func (h *incidentHandlers) ack(w http.ResponseWriter, r *http.Request) error {
	return h.lifecycle(w, r, h.svc.Acknowledge)
}

func (h *incidentHandlers) resolve(w http.ResponseWriter, r *http.Request) error {
	return h.lifecycle(w, r, h.svc.Resolve)
}

func (h *incidentHandlers) note(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var body textBody
	if err := DecodeJSON(r, &body); err != nil {
		return err
	}
	if strings.TrimSpace(body.Text) == "" {
		return Errorf(http.StatusBadRequest, CodeBadRequest, "\"text\" is required: the note to add")
	}
	if err := checkText(body.Text); err != nil {
		return err
	}
	inc, err := h.svc.AddNote(r.Context(), id, h.action(r, body.Text))
	if err != nil {
		return incidentError(err)
	}
	WriteJSON(w, http.StatusCreated, incidentBody{inc})
	return nil
}

func (h *incidentHandlers) feedback(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var body struct {
		Verdict incident.Verdict `json:"verdict"`
		// Signal, when set, is a member key: the verdict is on that signal
		// rather than on the whole incident.
		Signal string `json:"signal"`
		Text   string `json:"text"`
	}
	if err := DecodeJSON(r, &body); err != nil {
		return err
	}
	if !body.Verdict.Valid() {
		return Errorf(http.StatusBadRequest, CodeBadRequest,
			"\"verdict\": want true_positive or false_positive, got %q", truncate(string(body.Verdict), 40))
	}
	if err := checkText(body.Text); err != nil {
		return err
	}
	inc, err := h.svc.Feedback(r.Context(), id, body.Verdict, body.Signal, h.action(r, body.Text))
	if err != nil {
		return incidentError(err)
	}
	WriteJSON(w, http.StatusOK, incidentBody{inc})
	return nil
}

func (h *incidentHandlers) merge(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var body struct {
		Into string `json:"into"`
		Text string `json:"text"`
	}
	if err := DecodeJSON(r, &body); err != nil {
		return err
	}
	if body.Into == "" || len(body.Into) > maxIncidentIDLen {
		return Errorf(http.StatusBadRequest, CodeBadRequest, "\"into\" is required: the ID of the incident to merge into")
	}
	if err := checkText(body.Text); err != nil {
		return err
	}
	inc, err := h.svc.Merge(r.Context(), id, body.Into, h.action(r, body.Text))
	if err != nil {
		return incidentError(err)
	}
	WriteJSON(w, http.StatusOK, incidentBody{inc})
	return nil
}

func (h *incidentHandlers) split(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var body struct {
		Signals []string `json:"signals"`
		Text    string   `json:"text"`
	}
	if err := DecodeJSON(r, &body); err != nil {
		return err
	}
	switch {
	case len(body.Signals) == 0:
		return Errorf(http.StatusBadRequest, CodeBadRequest, "\"signals\" is required: the member keys to split off")
	case len(body.Signals) > maxSplitSignals:
		return Errorf(http.StatusBadRequest, CodeBadRequest, "\"signals\" has %d keys; at most %d", len(body.Signals), maxSplitSignals)
	}
	if err := checkText(body.Text); err != nil {
		return err
	}
	inc, err := h.svc.Split(r.Context(), id, body.Signals, h.action(r, body.Text))
	if err != nil {
		return incidentError(err)
	}
	WriteJSON(w, http.StatusCreated, incidentBody{inc})
	return nil
}
