package sqlite

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/internal/promreg"

	"github.com/vigilops/vigil/store"
)

// Operation names, the op label of the store's metrics.
const (
	opAppendEvents   = "append_events"
	opEvents         = "events"
	opUpsertAlerts   = "upsert_alerts"
	opAlerts         = "alerts"
	opCreateToken    = "create_token"
	opTokenByHash    = "token_by_hash"
	opTokens         = "tokens"
	opDeleteToken    = "delete_token"
	opTouchToken     = "touch_token"
	opPutState       = "put_state"
	opGetState       = "get_state"
	opUpsertIncident = "upsert_incident"
	opIncident       = "incident"
	opIncidents      = "incidents"
	opAppendTimeline = "append_timeline"
	opTimeline       = "timeline"
	opPrune          = "prune"
	opPing           = "ping"
)

type metrics struct {
	ops      *prometheus.CounterVec
	duration *prometheus.HistogramVec
	pruned   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_store_operations_total",
			Help: "Store operations by operation and result (ok, not_found, conflict, invalid, canceled, error).",
		}, []string{"op", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vigil_store_operation_duration_seconds",
			Help: "Time taken by store operations, including the wait for the single writer.",
			// 100µs (a cached read) to ~6.5s (a large prune or a stuck disk).
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9),
		}, []string{"op"}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_store_pruned_rows_total",
			Help: "Rows deleted by retention.",
		}),
	}
	// A process that closes and reopens its store (tests, a config reload)
	// keeps counting into the series already registered. A clashing,
	// differently shaped collector is not fatal: count into the
	// unregistered one rather than fail the store over telemetry.
	m.ops, _ = promreg.Register(reg, m.ops)
	m.duration, _ = promreg.Register(reg, m.duration)
	m.pruned, _ = promreg.Register(reg, m.pruned)
	return m
}

// observe records one operation; call it deferred with the named error.
func (m *metrics) observe(op string, start time.Time, err *error) {
	m.duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	m.ops.WithLabelValues(op, result(*err)).Inc()
}

func result(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, store.ErrNotFound):
		return "not_found"
	case errors.Is(err, store.ErrConflict):
		return "conflict"
	case errors.Is(err, ErrInvalid):
		return "invalid"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	}
	return "error"
}
