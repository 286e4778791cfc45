package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrSchemaTooNew is returned by Open when the database was written by a
// newer Vigil: running older code on it could corrupt what the newer code
// relies on, so the only safe answer is to refuse.
var ErrSchemaTooNew = errors.New("database schema is newer than this build")

// migrations are applied in order; migration i brings the schema to version
// i+1. Never edit or reorder a released entry: append a new one.
//
// Times are INTEGER unix nanoseconds in UTC; NULL stands for the zero time
// where a column may be unset. Label sets are JSON objects (NULL when empty).
// STRICT tables make SQLite reject a value of the wrong type instead of
// storing it silently.
var migrations = []string{
	// 1: initial schema.
	`
CREATE TABLE events (
	id         TEXT    PRIMARY KEY,
	kind       TEXT    NOT NULL,
	time       INTEGER NOT NULL,
	service    TEXT    NOT NULL DEFAULT '',
	summary    TEXT    NOT NULL DEFAULT '',
	labels     TEXT,
	attributes TEXT
) STRICT;
CREATE INDEX events_time ON events (time);
CREATE INDEX events_service_time ON events (service, time);

-- fingerprint holds the uint64 bits as int64. id exists so Prune can delete
-- in batches by a cheap key.
CREATE TABLE alerts (
	id            INTEGER PRIMARY KEY,
	fingerprint   INTEGER NOT NULL,
	starts_at     INTEGER NOT NULL,
	ends_at       INTEGER,
	updated_at    INTEGER,
	labels        TEXT,
	annotations   TEXT,
	generator_url TEXT    NOT NULL DEFAULT '',
	UNIQUE (fingerprint, starts_at)
) STRICT;
CREATE INDEX alerts_starts_at ON alerts (starts_at);
CREATE INDEX alerts_ends_at ON alerts (ends_at);

CREATE TABLE tokens (
	id           TEXT    PRIMARY KEY,
	name         TEXT    NOT NULL,
	role         TEXT    NOT NULL,
	hash         BLOB    NOT NULL UNIQUE,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER,
	last_used_at INTEGER
) STRICT;

CREATE TABLE state (
	key        TEXT    PRIMARY KEY,
	value      BLOB    NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT;
`,
	// 2: incidents and their timelines. The incident itself is a JSON
	// document (it grows fields faster than a schema should); the columns
	// beside it are what queries filter and sort on. services is a JSON
	// array searched with json_each.
	`
CREATE TABLE incidents (
	id          TEXT    PRIMARY KEY,
	status      TEXT    NOT NULL,
	opened_at   INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	resolved_at INTEGER,
	services    TEXT    NOT NULL,
	doc         TEXT    NOT NULL
) STRICT;
CREATE INDEX incidents_opened_at ON incidents (opened_at);
CREATE INDEX incidents_status_opened_at ON incidents (status, opened_at);
CREATE INDEX incidents_resolved_at ON incidents (resolved_at);

CREATE TABLE incident_timeline (
	seq         INTEGER PRIMARY KEY,
	incident_id TEXT    NOT NULL,
	time        INTEGER NOT NULL,
	kind        TEXT    NOT NULL,
	text        TEXT    NOT NULL,
	refs        TEXT
) STRICT;
CREATE INDEX incident_timeline_incident ON incident_timeline (incident_id, time, seq);
`,
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	applied_at INTEGER NOT NULL
) STRICT`

// migrate brings the schema to the latest version, one transaction per
// migration, so a crash mid-way leaves the database at a version it can
// resume from. The version is re-read inside each transaction because
// another process may be migrating the same file.
func migrate(ctx context.Context, w *sql.DB, now time.Time, logger *slog.Logger) error {
	if _, err := w.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for {
		done := false
		err := inTx(ctx, w, func(tx *sql.Tx) error {
			cur, err := schemaVersion(ctx, tx)
			if err != nil {
				return err
			}
			switch {
			case cur > len(migrations):
				return fmt.Errorf("%w: database is at schema version %d, this build knows up to %d; upgrade vigil",
					ErrSchemaTooNew, cur, len(migrations))
			case cur == len(migrations):
				done = true
				return nil
			}
			next := cur + 1
			if _, err := tx.ExecContext(ctx, migrations[cur]); err != nil {
				return fmt.Errorf("apply schema version %d: %w", next, err)
			}
			if _, err := tx.ExecContext(ctx,
				"INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
				next, now.UnixNano()); err != nil {
				return fmt.Errorf("record schema version %d: %w", next, err)
			}
			logger.Info("applied schema migration", "version", next)
			return nil
		})
		if err != nil || done {
			return err
		}
	}
}

func schemaVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var v sql.NullInt64
	if err := q.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(v.Int64), nil
}

func inTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
