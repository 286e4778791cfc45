// Package api serves Vigil's HTTP JSON API: the health and readiness probes,
// Prometheus metrics, API tokens, change events, the alert history, and the
// routes that other packages register through Server.Handle.
//
// Invariants:
//
//   - Every route is registered with the least role it needs, and a route that
//     can change state (any method but GET, HEAD and OPTIONS, or no method at
//     all) cannot be registered below operator: Handle panics. "Mutating
//     endpoints need operator or admin" holds by construction, not by review.
//   - Every error a route returns, and the mux's own 404 and 405, reaches the
//     client in one JSON format, with Content-Type application/json (see
//     Error).
//   - A request body never exceeds Options.MaxBodyBytes (413 otherwise), and
//     a handler never sees an unauthenticated request on a protected route.
//
// The error format:
//
//	{"error":{"status":400,"code":"bad_request","message":"...","details":["..."]}}
package api
