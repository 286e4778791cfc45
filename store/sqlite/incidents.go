package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vigilops/vigil/incident"
	"github.com/vigilops/vigil/store"
)

// UpsertIncident stores the incident as a JSON document, replacing any
// stored incident with the same ID.
func (db *DB) UpsertIncident(ctx context.Context, inc incident.Incident) (err error) {
	defer db.metrics.observe(opUpsertIncident, time.Now(), &err)
	if inc.ID == "" {
		return fmt.Errorf("upsert incident: %w: ID is empty", ErrInvalid)
	}
	opened, err := nanos(inc.OpenedAt, "opened_at")
	if err != nil {
		return fmt.Errorf("upsert incident %s: %w", inc.ID, err)
	}
	updated := opened
	if !inc.UpdatedAt.IsZero() {
		if updated, err = nanos(inc.UpdatedAt, "updated_at"); err != nil {
			return fmt.Errorf("upsert incident %s: %w", inc.ID, err)
		}
	}
	resolved, err := nullNanos(inc.ResolvedAt, "resolved_at")
	if err != nil {
		return fmt.Errorf("upsert incident %s: %w", inc.ID, err)
	}
	services := inc.Services
	if services == nil {
		services = []string{}
	}
	svcJSON, err := json.Marshal(services)
	if err != nil {
		return fmt.Errorf("upsert incident %s: encode services: %w", inc.ID, err)
	}
	doc, err := json.Marshal(inc)
	if err != nil {
		return fmt.Errorf("upsert incident %s: encode: %w", inc.ID, err)
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO incidents
			(id, status, opened_at, updated_at, resolved_at, services, doc) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET status = excluded.status, opened_at = excluded.opened_at,
				updated_at = excluded.updated_at, resolved_at = excluded.resolved_at,
				services = excluded.services, doc = excluded.doc`,
			inc.ID, string(inc.Status), opened, updated, resolved, string(svcJSON), string(doc))
		return err
	})
	if err != nil {
		return fmt.Errorf("upsert incident %s: %w", inc.ID, err)
	}
	return nil
}

// Incident returns one incident.
func (db *DB) Incident(ctx context.Context, id string) (_ incident.Incident, err error) {
	defer db.metrics.observe(opIncident, time.Now(), &err)
	var doc string
	err = db.r.QueryRowContext(ctx, "SELECT doc FROM incidents WHERE id = ?", id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return incident.Incident{}, fmt.Errorf("incident %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return incident.Incident{}, fmt.Errorf("query incident: %w", err)
	}
	return decodeIncident(id, doc)
}

// Incidents returns incidents matching q, most recently opened first.
func (db *DB) Incidents(ctx context.Context, q incident.Query) (_ []incident.Incident, err error) {
	defer db.metrics.observe(opIncidents, time.Now(), &err)
	var f filter
	if q.Status != "" {
		f.add("status = ?", string(q.Status))
	}
	if q.Service != "" {
		f.add("EXISTS (SELECT 1 FROM json_each(incidents.services) WHERE value = ?)", q.Service)
	}
	f.between("opened_at", q.From, q.To)
	query, args := f.query("SELECT id, doc FROM incidents", "opened_at DESC, rowid DESC", q.Limit)
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query incidents: %w", err)
	}
	defer rows.Close()
	var out []incident.Incident
	for rows.Next() {
		var id, doc string
		if err := rows.Scan(&id, &doc); err != nil {
			return nil, fmt.Errorf("scan incident: %w", err)
		}
		inc, err := decodeIncident(id, doc)
		if err != nil {
			return nil, err
		}
		out = append(out, inc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query incidents: %w", err)
	}
	return out, nil
}

func decodeIncident(id, doc string) (incident.Incident, error) {
	var inc incident.Incident
	if err := json.Unmarshal([]byte(doc), &inc); err != nil {
		return incident.Incident{}, fmt.Errorf("incident %s: decode: %w", id, err)
	}
	normalizeIncidentTimes(&inc)
	return inc, nil
}

// normalizeIncidentTimes returns decoded times in UTC, as every other read
// of the store does.
func normalizeIncidentTimes(inc *incident.Incident) {
	for _, t := range []*time.Time{&inc.OpenedAt, &inc.UpdatedAt, &inc.AcknowledgedAt, &inc.ResolvedAt} {
		if !t.IsZero() {
			*t = t.UTC()
		}
	}
	for i := range inc.Members {
		inc.Members[i].FirstSeen = inc.Members[i].FirstSeen.UTC()
		inc.Members[i].LastSeen = inc.Members[i].LastSeen.UTC()
	}
}

// AppendTimeline adds entries in one transaction, after checking in it
// that the incident exists.
func (db *DB) AppendTimeline(ctx context.Context, id string, entries []incident.Entry) (err error) {
	defer db.metrics.observe(opAppendTimeline, time.Now(), &err)
	rows := make([][]any, len(entries))
	for i, e := range entries {
		t, err := nanos(e.Time, "entry time")
		if err != nil {
			return fmt.Errorf("append timeline %s: entry %d: %w", id, i, err)
		}
		if !e.Kind.Valid() {
			return fmt.Errorf("append timeline %s: entry %d: %w: kind %q is unknown", id, i, ErrInvalid, e.Kind)
		}
		var refs any
		if len(e.Refs) > 0 {
			b, err := json.Marshal(e.Refs)
			if err != nil {
				return fmt.Errorf("append timeline %s: entry %d: encode refs: %w", id, i, err)
			}
			refs = string(b)
		}
		rows[i] = []any{id, t, string(e.Kind), e.Text, refs}
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM incidents WHERE id = ?", id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("incident %q: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		s, err := tx.PrepareContext(ctx, `INSERT INTO incident_timeline
			(incident_id, time, kind, text, refs) VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer s.Close()
		for _, r := range rows {
			if _, err := s.ExecContext(ctx, r...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append timeline %s: %w", id, err)
	}
	return nil
}

// Timeline returns the incident's entries oldest first. A timeline is
// bounded by what the correlator writes (it caps entries per incident), so
// it is returned whole.
func (db *DB) Timeline(ctx context.Context, id string) (_ []incident.Entry, err error) {
	defer db.metrics.observe(opTimeline, time.Now(), &err)
	var one int
	err = db.r.QueryRowContext(ctx, "SELECT 1 FROM incidents WHERE id = ?", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("incident %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("query timeline: %w", err)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT time, kind, text, refs FROM incident_timeline
		WHERE incident_id = ? ORDER BY time, seq`, id)
	if err != nil {
		return nil, fmt.Errorf("query timeline: %w", err)
	}
	defer rows.Close()
	out := []incident.Entry{}
	for rows.Next() {
		var (
			e    incident.Entry
			t    int64
			kind string
			refs sql.NullString
		)
		if err := rows.Scan(&t, &kind, &e.Text, &refs); err != nil {
			return nil, fmt.Errorf("scan timeline entry: %w", err)
		}
		e.Time, e.Kind = fromNanos(t), incident.EntryKind(kind)
		if refs.Valid && refs.String != "" {
			if err := json.Unmarshal([]byte(refs.String), &e.Refs); err != nil {
				return nil, fmt.Errorf("timeline of %s: decode refs: %w", id, err)
			}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query timeline: %w", err)
	}
	return out, nil
}
