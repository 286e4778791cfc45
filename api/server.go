package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/store"
)

// ErrStarted is returned by Start on a server that is already serving.
var ErrStarted = errors.New("api server already started")

// ErrStopped is returned by Start after Stop: a stopped server does not
// restart, as its background work has been drained for good.
var ErrStopped = errors.New("api server stopped")

// HandlerFunc serves one request. A returned *Error (or an error wrapping
// one) is rendered in the API error format; any other error becomes a 500
// whose cause is logged and never shown to the client. A handler that has
// started writing its response should not return an error: it can no longer
// be rendered, and is only logged.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// FromHTTP adapts a plain http.Handler, such as a file server for the UI, so
// it can be registered with Handle and share its auth, limits and metrics.
func FromHTTP(h http.Handler) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		h.ServeHTTP(w, r)
		return nil
	}
}

// Server is Vigil's HTTP API server. Register routes with Handle before
// Start; the built-in routes are registered by New.
type Server struct {
	opts    Options
	logger  *slog.Logger
	metrics *metrics
	auth    *authenticator
	mux     *http.ServeMux
	// unmatched is the duration observer of requests that match no route.
	unmatched prometheus.Observer
	// started is when New ran, by Options.Wall; /api/v1/status reports it.
	started time.Time

	mtx      sync.Mutex // protects srv, ln, served and stopping
	srv      *http.Server
	ln       net.Listener
	served   chan struct{} // closed when srv.Serve has returned
	stopping bool          // set by Stop; no background work starts after it
	// bg counts background work (token touches) that uses the stores; Stop
	// waits for it so the app can close the stores right after.
	bg sync.WaitGroup

	routesMtx sync.Mutex // protects routes
	// routes lists what Handle and Mount registered, for Routes.
	routes []Route
}

// New builds a Server with the built-in routes registered.
func New(o Options) (*Server, error) {
	o.fillDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:      o,
		logger:    o.Logger,
		metrics:   m,
		mux:       http.NewServeMux(),
		unmatched: m.duration.WithLabelValues(routeUnmatched),
		started:   o.Wall(),
	}
	s.auth = newAuthenticator(o, m, s.touchToken)
	s.registerBuiltins()
	s.registerOpenAPI()
	return s, nil
}

// Handle registers h for pattern, a net/http ServeMux pattern such as
// "POST /api/v1/silences" or "GET /api/v1/incidents/{id}". min is the least
// role a caller needs; "" makes the route public (no auth at all).
//
// Handle panics, as registering a route wrongly is a programming error, when
// min is not a known role, when the pattern conflicts with another, or when
// the route can change state (its method is not GET, HEAD or OPTIONS, or it
// has no method and so matches them all) and min is below operator.
func (s *Server) Handle(pattern string, min store.Role, h HandlerFunc) {
	if h == nil {
		panic(fmt.Sprintf("api: route %q: nil handler", pattern))
	}
	if err := checkRoute(pattern, min); err != nil {
		panic("api: " + err.Error())
	}
	s.mux.Handle(pattern, &route{
		s:        s,
		pattern:  pattern,
		min:      min,
		h:        h,
		duration: s.metrics.duration.WithLabelValues(pattern),
	})
	s.addRoute(Route{Pattern: pattern, Role: min})
}

// Mount registers a telemetry receiver's handler (Alertmanager API, remote
// write, Loki push, OTLP). Receivers follow their senders' conventions
// rather than Vigil's token roles: they authenticate themselves (bearer or
// basic auth, see package ingest), bound their own bodies (remote-write
// batches are larger than API bodies) and answer in their protocol's error
// format. Mount still counts, times and recovers them like every route.
func (s *Server) Mount(pattern string, h http.Handler) {
	if h == nil {
		panic(fmt.Sprintf("api: route %q: nil handler", pattern))
	}
	s.mux.Handle(pattern, &route{
		s:        s,
		pattern:  pattern,
		h:        FromHTTP(h),
		duration: s.metrics.duration.WithLabelValues(pattern),
		receiver: true,
	})
	s.addRoute(Route{Pattern: pattern, Receiver: true})
}

// Route describes one registered route, as Routes lists it.
type Route struct {
	// Pattern is the ServeMux pattern it was registered with, such as
	// "GET /api/v1/incidents/{id}".
	Pattern string
	// Role is the least role a caller needs; "" means public (no auth).
	Role store.Role
	// Receiver is true for a route registered with Mount: a telemetry
	// receiver that follows its protocol's own auth, so Role says nothing.
	Receiver bool
}

func (s *Server) addRoute(rt Route) {
	s.routesMtx.Lock()
	s.routes = append(s.routes, rt)
	s.routesMtx.Unlock()
}

// Routes returns the routes registered so far, sorted by pattern. It lets
// the API document (and its tests) be checked against what is served.
func (s *Server) Routes() []Route {
	s.routesMtx.Lock()
	out := slices.Clone(s.routes)
	s.routesMtx.Unlock()
	slices.SortFunc(out, func(a, b Route) int { return strings.Compare(a.Pattern, b.Pattern) })
	return out
}

// checkRoute enforces that mutating routes need operator or admin.
func checkRoute(pattern string, min store.Role) error {
	if min != "" && !min.Valid() {
		return fmt.Errorf("route %q: unknown role %q", pattern, min)
	}
	if m := patternMethod(pattern); !safeMethod(m) && min.Rank() < store.RoleOperator.Rank() {
		if m == "" {
			m = "any method"
		}
		return fmt.Errorf("route %q (%s) can change state and needs the operator or admin role, not %q", pattern, m, min)
	}
	return nil
}

// patternMethod returns the method of a ServeMux pattern, split the way the
// mux splits it ("" when the pattern has none).
func patternMethod(pattern string) string {
	if i := strings.IndexAny(pattern, " \t"); i >= 0 {
		return pattern[:i]
	}
	return ""
}

// safeMethod reports whether method cannot change state (RFC 9110 §9.2.1,
// without TRACE, which we never serve).
func safeMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// Handler returns the server's HTTP handler, for tests and for embedding in
// another server. Start serves the same handler.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Start listens on Options.Listen and serves in the background. Listen
// errors (address in use, permission) are returned here, synchronously. ctx
// bounds only the listen: the server runs until Stop.
func (s *Server) Start(ctx context.Context) error {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	switch {
	case s.stopping:
		return ErrStopped
	case s.srv != nil:
		return ErrStarted
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.opts.Listen, err)
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	served := make(chan struct{})
	s.srv, s.ln, s.served = srv, ln, served
	go func() {
		defer close(served)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("api server stopped serving", "err", err)
		}
	}()
	s.logger.Info("api server listening", "addr", ln.Addr().String())
	return nil
}

// Addr returns the address the server listens on (useful with port 0), or
// nil before Start.
func (s *Server) Addr() net.Addr {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Stop stops accepting connections and waits for in-flight requests to
// finish, for at most Options.ShutdownTimeout or until ctx is done; then it
// closes the connections still open and returns the deadline error. It also
// waits for background token touches, so the stores may be closed after it.
// Stop without Start only drains the background work. Calling Stop again is
// a no-op.
func (s *Server) Stop(ctx context.Context) error {
	s.mtx.Lock()
	srv, served := s.srv, s.served
	s.srv = nil
	s.stopping = true
	s.mtx.Unlock()

	var err error
	if srv != nil {
		ctx, cancel := context.WithTimeout(ctx, s.opts.ShutdownTimeout)
		defer cancel()
		if err = srv.Shutdown(ctx); err != nil {
			// Requests still running past the deadline are cut off: the app
			// is about to close the stores they use.
			_ = srv.Close()
			err = fmt.Errorf("shut down api server: %w", err)
		}
		<-served
	}
	s.bg.Wait()
	return err
}

// goBackground runs f in a goroutine that Stop waits for, unless Stop has
// begun, in which case f does not run at all.
func (s *Server) goBackground(f func()) {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	if s.stopping {
		return
	}
	s.bg.Go(f)
}
