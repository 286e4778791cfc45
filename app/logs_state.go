package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/vigilops/vigil/api"
	"github.com/vigilops/vigil/logtemplate"
	"github.com/vigilops/vigil/store"
)

// save writes the miners that learned since they were last saved, then the
// index of miner names.
func (s *logStage) save(ctx context.Context) error {
	s.saveMtx.Lock()
	defer s.saveMtx.Unlock()
	var errs []error
	svcs := s.list()
	names := make([]string, 0, len(svcs))
	for _, sl := range svcs {
		names = append(names, sl.name)
		if !sl.dirty.Swap(false) {
			continue
		}
		b, err := sl.miner.MarshalBinary()
		if err == nil {
			err = s.state.PutState(ctx, logsStatePrefix+sl.name, b)
		}
		if err != nil {
			sl.dirty.Store(true)
			errs = append(errs, fmt.Errorf("save templates of %q: %w", sl.name, err))
		}
	}
	// The index goes last: a name in it whose state is missing is skipped
	// on restore, state without a name in it would be lost.
	idx, err := json.Marshal(names)
	if err == nil && string(idx) != string(s.lastIndex) {
		if err = s.state.PutState(ctx, logsIndexKey, idx); err == nil {
			s.lastIndex = idx
		}
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("save template index: %w", err))
	}
	return errors.Join(errs...)
}

// restore loads the saved miners. Unreadable state is logged and replaced
// by an empty miner; only a failing store is an error.
func (s *logStage) restore(ctx context.Context) error {
	idx, err := s.state.GetState(ctx, logsIndexKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load template index: %w", err)
	}
	var names []string
	if err := json.Unmarshal(idx, &names); err != nil {
		s.log.Warn("saved template index unreadable; starting afresh", "err", err)
		return nil
	}
	s.mtx.Lock()
	defer s.mtx.Unlock()
	templates := 0
	for _, name := range names {
		if name == "" || name == logsIndexName || s.services[name] != nil ||
			(name != logsOtherService && s.named >= logsMaxServices) {
			continue
		}
		b, err := s.state.GetState(ctx, logsStatePrefix+name)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("load templates of %q: %w", name, err)
		}
		sl := s.addService(name)
		if err := sl.miner.UnmarshalBinary(b); err != nil {
			s.log.Warn("saved templates unreadable; starting afresh", "service", name, "err", err)
			continue
		}
		n := sl.miner.Len()
		sl.templates.Set(float64(n))
		templates += n
	}
	s.lastIndex = idx
	s.log.Info("log templates restored", "services", len(s.services), "templates", templates)
	return nil
}

// templatesResponse is the body of GET /api/v1/templates?service=S.
type templatesResponse struct {
	Service   string                 `json:"service"`
	Total     int                    `json:"total"`
	Truncated bool                   `json:"truncated"`
	Templates []logtemplate.Template `json:"templates"`
}

// serviceTemplates is one entry of GET /api/v1/templates without service.
type serviceTemplates struct {
	Service   string `json:"service"`
	Templates int    `json:"templates"`
}

// serveTemplates answers GET /api/v1/templates: with ?service=S the
// templates of S, most frequent first (at most ?limit=N); without, the
// services that have templates.
func (s *logStage) serveTemplates(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit := templatesDefaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > templatesMaxLimit {
			return api.Errorf(http.StatusBadRequest, "bad_request", "limit %q is not a number in [1, %d]", v, templatesMaxLimit)
		}
		limit = n
	}
	svc := q.Get("service")
	if svc == "" {
		out := []serviceTemplates{}
		for _, sl := range s.list() {
			out = append(out, serviceTemplates{Service: sl.name, Templates: sl.miner.Len()})
		}
		api.WriteJSON(w, http.StatusOK, map[string]any{"services": out})
		return nil
	}
	s.mtx.Lock()
	sl := s.services[minerName(svc)]
	s.mtx.Unlock()
	if sl == nil {
		return api.Errorf(http.StatusNotFound, "not_found",
			"no templates for service %q (beyond %d services, services share %q)", svc, logsMaxServices, logsOtherService)
	}
	ts := sl.miner.Templates()
	resp := templatesResponse{Service: sl.name, Total: len(ts), Truncated: len(ts) > limit, Templates: ts[:min(len(ts), limit)]}
	api.WriteJSON(w, http.StatusOK, resp)
	return nil
}
