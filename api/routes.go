package api

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigilops/vigil/store"
)

// registerBuiltins registers the routes the api package serves itself. This
// table is the one place to read who may call what.
func (s *Server) registerBuiltins() {
	s.Handle("GET /healthz", "", s.healthz)
	s.Handle("GET /readyz", "", s.readyz)
	s.Handle("GET /metrics", "", FromHTTP(promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError, // a broken collector must not hide the others
	})))

	s.Handle("GET /api/v1/status", store.RoleViewer, s.status)

	s.Handle("POST /api/v1/tokens", store.RoleAdmin, s.createToken)
	s.Handle("GET /api/v1/tokens", store.RoleAdmin, s.listTokens)
	s.Handle("DELETE /api/v1/tokens/{id}", store.RoleAdmin, s.deleteToken)

	if s.opts.Events != nil {
		s.Handle("POST /api/v1/events", store.RoleOperator, s.postEvents)
		s.Handle("GET /api/v1/events", store.RoleViewer, s.getEvents)
	}
	if s.opts.Alerts != nil {
		s.Handle("GET /api/v1/alerts", store.RoleViewer, s.getAlerts)
	}
}
