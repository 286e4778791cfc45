package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/store"
)

// route is one registered handler with everything that wraps it. The
// wrapping is one function rather than a chain of closures: the order
// (observe ⊃ recover ⊃ auth → body limit → handler) is then visible in one
// place, and the hot path allocates no closures.
type route struct {
	s        *Server
	pattern  string // the registered pattern, the only route label value
	min      store.Role
	h        HandlerFunc
	duration prometheus.Observer
	// receiver marks a route mounted with Mount: it authenticates by its
	// protocol's conventions and bounds its own body.
	receiver bool
}

func (rt *route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if mw, ok := w.(*muxWriter); ok {
		// From here on the route renders its own errors; the mux writer is
		// only for what the mux itself writes when nothing matched.
		mw.matched = true
		w = mw.ResponseWriter
	}
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	defer rt.finish(rec, r, start)
	if err := rt.serve(rec, w, r); err != nil {
		rt.s.renderError(rec, r, rt.pattern, err)
	}
}

// serve authorizes r, bounds its body and runs the handler. raw is the
// connection's own writer, which http.MaxBytesReader needs to close the
// connection after an oversized body.
func (rt *route) serve(rec *recorder, raw http.ResponseWriter, r *http.Request) error {
	if rt.min != "" {
		p, err := rt.s.auth.authorize(r, rt.min)
		if err != nil {
			return err
		}
		r = r.WithContext(withPrincipal(r.Context(), p))
	}
	if !rt.receiver {
		if err := rt.s.limitBody(raw, r); err != nil {
			return err
		}
	}
	return rt.h(rec, r)
}

// finish recovers a handler panic into a 500 and records the request. It
// must be the deferred function itself for recover to work.
func (rt *route) finish(rec *recorder, r *http.Request, start time.Time) {
	if v := recover(); v != nil {
		if v == http.ErrAbortHandler {
			// The handler asked net/http to drop the connection; honour it.
			rt.s.observe(rt.pattern, rt.duration, r, statusAborted, rec.bytes, start)
			panic(v)
		}
		rt.s.metrics.panics.Inc()
		rt.s.logger.Error("panic in api handler", "route", rt.pattern, "path", r.URL.Path,
			"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		if rec.wroteHeader {
			// Half a response is worse than none: abort the connection so the
			// client sees a failure, not a truncated success.
			rt.s.observe(rt.pattern, rt.duration, r, statusAborted, rec.bytes, start)
			panic(http.ErrAbortHandler)
		}
		writeError(rec, errInternal)
	}
	status := rec.status
	if !rec.wroteHeader {
		status = http.StatusOK // what net/http sends for a handler that wrote nothing
	}
	rt.s.observe(rt.pattern, rt.duration, r, status, rec.bytes, start)
}

// statusAborted stands for "no complete response" in the code label.
const statusAborted = -1

func codeLabel(status int) string {
	if status == statusAborted {
		return "aborted"
	}
	return strconv.Itoa(status)
}

// observe counts and times one request, and logs it at debug level.
func (s *Server) observe(route string, dur prometheus.Observer, r *http.Request, status int, bytes int64, start time.Time) {
	d := time.Since(start)
	s.metrics.requests.WithLabelValues(route, methodLabel(r.Method), codeLabel(status)).Inc()
	dur.Observe(d.Seconds())
	if s.logger.Enabled(r.Context(), slog.LevelDebug) {
		s.logger.LogAttrs(r.Context(), slog.LevelDebug, "api request",
			slog.String("method", r.Method), slog.String("route", route),
			slog.String("path", r.URL.Path), slog.Int("status", status),
			slog.Int64("bytes", bytes), slog.Duration("duration", d),
			slog.String("remote", r.RemoteAddr))
	}
}

// renderError writes err in the error format: an *Error as it is, an
// oversized body as 413, anything else as a generic 500 with the cause logged.
func (s *Server) renderError(w *recorder, r *http.Request, route string, err error) {
	var ae *Error
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		// An *Error is the handler's deliberate answer (a 503 from /readyz
		// on every probe, say): worth a trace, not an alarm.
		s.logger.Debug("api handler answered with an error", "route", route, "status", ae.Status, "err", err)
	case errors.As(err, &tooLarge):
		ae = bodyTooLarge(tooLarge.Limit)
	default:
		level := slog.LevelError
		if r.Context().Err() != nil {
			// The client went away and the handler saw its context end:
			// nothing is wrong with the server.
			level = slog.LevelDebug
		}
		s.logger.Log(r.Context(), level, "api handler failed", "route", route, "err", err)
		ae = errInternal
	}
	if w.wroteHeader {
		s.logger.Warn("api handler returned an error after writing its response", "route", route, "err", err)
		return
	}
	writeError(w, ae)
}

// limitBody refuses a declared Content-Length over the limit at once, and
// caps what a chunked (or lying) body can deliver.
func (s *Server) limitBody(raw http.ResponseWriter, r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	limit := s.opts.MaxBodyBytes
	if r.ContentLength > limit {
		return bodyTooLarge(limit)
	}
	r.Body = http.MaxBytesReader(raw, r.Body, limit)
	return nil
}

func bodyTooLarge(limit int64) *Error {
	return Errorf(http.StatusRequestEntityTooLarge, CodePayloadTooLarge,
		"request body exceeds the limit of %d bytes", limit)
}

// serveHTTP is the server's root handler: the mux, with its plain-text 404
// and 405 turned into the error format.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	mw := &muxWriter{ResponseWriter: w, r: r}
	s.mux.ServeHTTP(mw, r)
	if !mw.matched {
		status := mw.status
		if status == 0 {
			status = http.StatusOK
		}
		s.observe(routeUnmatched, s.unmatched, r, status, 0, start)
	}
}

// muxWriter intercepts the mux's own 404 and 405 responses (written with
// http.Error, in plain text) and writes the error format instead. Routes
// unwrap it as soon as they are entered, so it never sees their output.
type muxWriter struct {
	http.ResponseWriter
	r        *http.Request
	matched  bool // set by a route when the mux hands it the request
	status   int
	replaced bool // our body was written; drop the mux's
}

func (w *muxWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	if !w.matched && !w.replaced && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		w.replaced = true
		w.Header().Del("Content-Type") // http.Error's text/plain
		writeError(w.ResponseWriter, unmatchedError(w.r, code, w.Header().Get("Allow")))
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *muxWriter) Write(b []byte) (int, error) {
	if w.replaced {
		return len(b), nil
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *muxWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// unmatchedError describes a request no route took. The path is quoted (and
// so escaped) and cut short, as it is whatever the client sent.
func unmatchedError(r *http.Request, status int, allow string) *Error {
	path := r.URL.Path
	if len(path) > 200 {
		path = path[:200] + "..."
	}
	if status == http.StatusMethodNotAllowed {
		return Errorf(status, CodeMethodNotAllowed, "method %s is not allowed on %q; allowed: %s",
			methodLabel(r.Method), path, allow)
	}
	return Errorf(status, CodeNotFound, "no route for %s %q", methodLabel(r.Method), path)
}

// recorder remembers the status and size of a route's response, for metrics
// and for knowing whether an error can still be rendered.
type recorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool // a final (non-1xx) status was sent
}

func (w *recorder) WriteHeader(code int) {
	if !w.wroteHeader && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.wroteHeader = true
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush lets streaming handlers flush through the recorder.
func (w *recorder) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
