package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// UpsertAlerts inserts alerts, or updates EndsAt, Annotations and UpdatedAt
// of the row with the same fingerprint and StartsAt, all in one
// transaction. The last write wins, also within one batch. An alert with a
// zero StartsAt fails the batch with ErrInvalid: it could not be told apart
// from its next firing.
func (db *DB) UpsertAlerts(ctx context.Context, alerts []telemetry.Alert) (err error) {
	defer db.metrics.observe(opUpsertAlerts, time.Now(), &err)
	if len(alerts) == 0 {
		return nil
	}
	rows := make([][]any, len(alerts))
	for i := range alerts {
		if rows[i], err = alertRow(&alerts[i]); err != nil {
			return fmt.Errorf("upsert alerts: alert %d: %w", i, err)
		}
	}
	err = db.execEach(ctx, `INSERT INTO alerts
		(fingerprint, starts_at, ends_at, updated_at, labels, annotations, generator_url)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (fingerprint, starts_at) DO UPDATE SET
			ends_at = excluded.ends_at,
			annotations = excluded.annotations,
			updated_at = excluded.updated_at`, rows)
	if err != nil {
		return fmt.Errorf("upsert alerts: %w", err)
	}
	return nil
}

func alertRow(a *telemetry.Alert) ([]any, error) {
	starts, err := nanos(a.StartsAt, "alert startsAt")
	if err != nil {
		return nil, err
	}
	ends, err := nullNanos(a.EndsAt, "alert endsAt")
	if err != nil {
		return nil, err
	}
	updated, err := nullNanos(a.UpdatedAt, "alert updatedAt")
	if err != nil {
		return nil, err
	}
	labels, err := labelsJSON(a.Labels)
	if err != nil {
		return nil, err
	}
	annotations, err := labelsJSON(a.Annotations)
	if err != nil {
		return nil, err
	}
	// The uint64 fingerprint is kept bit for bit in SQLite's int64.
	fp := int64(a.Fingerprint())
	return []any{fp, starts, ends, updated, labels, annotations, a.GeneratorURL}, nil
}

// Alerts returns alerts matching q, most recently started first (ties
// latest-inserted first, which the starts_at index delivers without a sort).
func (db *DB) Alerts(ctx context.Context, q store.AlertQuery) (_ []telemetry.Alert, err error) {
	defer db.metrics.observe(opAlerts, time.Now(), &err)
	var f filter
	if q.Fingerprint != 0 {
		f.add("fingerprint = ?", int64(q.Fingerprint))
	}
	if !q.ActiveAt.IsZero() {
		// Active: started at or before, and not ended by (EndsAt after) it.
		at := boundNanos(q.ActiveAt)
		f.add("starts_at <= ? AND (ends_at IS NULL OR ends_at > ?)", at, at)
	}
	f.between("starts_at", q.From, q.To)
	query, args := f.query(`SELECT starts_at, ends_at, updated_at, labels, annotations, generator_url FROM alerts`,
		"starts_at DESC, id DESC", q.Limit)

	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query alerts: %w", err)
	}
	defer rows.Close()
	var out []telemetry.Alert
	for rows.Next() {
		var (
			a                   telemetry.Alert
			starts              int64
			ends, updated       sql.NullInt64
			labels, annotations sql.NullString
		)
		if err := rows.Scan(&starts, &ends, &updated, &labels, &annotations, &a.GeneratorURL); err != nil {
			return nil, fmt.Errorf("scan alert: %w", err)
		}
		a.StartsAt = fromNanos(starts)
		a.EndsAt = fromNullNanos(ends)
		a.UpdatedAt = fromNullNanos(updated)
		if a.Labels, err = parseLabels(labels); err != nil {
			return nil, fmt.Errorf("alert: %w", err)
		}
		if a.Annotations, err = parseLabels(annotations); err != nil {
			return nil, fmt.Errorf("alert: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query alerts: %w", err)
	}
	return out, nil
}
