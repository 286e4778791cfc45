package api

import (
	"context"
	"net/http"
	"time"

	"github.com/vigilops/vigil/store"
)

// readyTimeout bounds one readiness check, below the usual probe timeouts,
// so a hung dependency reads as "not ready" rather than as a dead process.
const readyTimeout = 5 * time.Second

// healthz answers while the process serves HTTP at all: liveness, which
// must not depend on the stores, or a slow database would get the process
// restarted for nothing.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) error {
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz answers whether the process should get traffic, per Options.Ready.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		err := s.opts.Ready(ctx)
		cancel()
		if err != nil {
			return Errorf(http.StatusServiceUnavailable, CodeUnavailable, "not ready: %v", err)
		}
	}
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

type statusView struct {
	Version       string     `json:"version"`
	StartTime     time.Time  `json:"start_time"`
	Uptime        string     `json:"uptime"`
	UptimeSeconds float64    `json:"uptime_seconds"`
	Role          store.Role `json:"role"` // the caller's, so a UI can show what it may do
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) error {
	up := max(s.opts.Wall().Sub(s.started), 0)
	WriteJSON(w, http.StatusOK, statusView{
		Version:       s.opts.Version,
		StartTime:     s.started,
		Uptime:        up.Round(time.Second).String(),
		UptimeSeconds: up.Seconds(),
		Role:          RoleFrom(r.Context()),
	})
	return nil
}
