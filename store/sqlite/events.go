package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// AppendEvents stores events in one transaction. IDs are the callers' to
// assign (they make retried deliveries idempotent, which a store-assigned
// ID could not): an event without ID or time fails the whole batch with
// ErrInvalid. An event whose ID is already stored is ignored, keeping the
// first version.
func (db *DB) AppendEvents(ctx context.Context, events []telemetry.Event) (err error) {
	defer db.metrics.observe(opAppendEvents, time.Now(), &err)
	if len(events) == 0 {
		return nil
	}
	// Encode before taking the writer, so a bad batch costs no lock.
	rows := make([][]any, len(events))
	for i := range events {
		if rows[i], err = eventRow(&events[i]); err != nil {
			return fmt.Errorf("append events: event %d: %w", i, err)
		}
	}
	err = db.execEach(ctx, `INSERT OR IGNORE INTO events
		(id, kind, time, service, summary, labels, attributes) VALUES (?, ?, ?, ?, ?, ?, ?)`, rows)
	if err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	return nil
}

func eventRow(e *telemetry.Event) ([]any, error) {
	if e.ID == "" {
		return nil, fmt.Errorf("%w: event ID is empty (the caller assigns IDs)", ErrInvalid)
	}
	t, err := nanos(e.Time, "event time")
	if err != nil {
		return nil, err
	}
	labels, err := labelsJSON(e.Labels)
	if err != nil {
		return nil, err
	}
	attrs, err := mapJSON(e.Attributes)
	if err != nil {
		return nil, err
	}
	return []any{e.ID, string(e.Kind), t, e.Service, e.Summary, labels, attrs}, nil
}

// Events returns events matching q, newest first; events at the same
// instant come latest-inserted first. Breaking ties by rowid rather than
// by ID lets the (time) and (service, time) indices deliver rows already
// in order, so LIMIT stops early instead of sorting every match.
func (db *DB) Events(ctx context.Context, q store.EventQuery) (_ []telemetry.Event, err error) {
	defer db.metrics.observe(opEvents, time.Now(), &err)
	var f filter
	if q.Service != "" {
		f.add("service = ?", q.Service)
	}
	if q.Kind != "" {
		f.add("kind = ?", string(q.Kind))
	}
	f.between("time", q.From, q.To)
	query, args := f.query("SELECT id, kind, time, service, summary, labels, attributes FROM events",
		"time DESC, rowid DESC", q.Limit)

	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query events: %w", err)
	}
	defer rows.Close()
	var out []telemetry.Event
	for rows.Next() {
		var (
			e            telemetry.Event
			kind         string
			t            int64
			labels, attr sql.NullString
		)
		if err := rows.Scan(&e.ID, &kind, &t, &e.Service, &e.Summary, &labels, &attr); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		e.Kind = telemetry.EventKind(kind)
		e.Time = fromNanos(t)
		if e.Labels, err = parseLabels(labels); err != nil {
			return nil, fmt.Errorf("event %s: %w", e.ID, err)
		}
		if e.Attributes, err = parseMap(attr); err != nil {
			return nil, fmt.Errorf("event %s: %w", e.ID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query events: %w", err)
	}
	return out, nil
}
