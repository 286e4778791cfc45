package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// pruneBatch bounds the rows one prune transaction deletes, so that the
// first prune after a long downtime does not hold the single writer for
// seconds: ingest writes interleave between batches.
const pruneBatch = 5000

// pruneStatements delete one batch each of what retention no longer keeps.
// Alerts still firing (no ends_at), tokens that never expire and incidents
// not resolved are kept however old they are.
var pruneStatements = []struct{ table, sql string }{
	{"events", `DELETE FROM events WHERE rowid IN
		(SELECT rowid FROM events WHERE time < ? LIMIT ?)`},
	{"alerts", `DELETE FROM alerts WHERE id IN
		(SELECT id FROM alerts WHERE ends_at IS NOT NULL AND ends_at < ? LIMIT ?)`},
	{"tokens", `DELETE FROM tokens WHERE rowid IN
		(SELECT rowid FROM tokens WHERE expires_at IS NOT NULL AND expires_at < ? LIMIT ?)`},
	// Timelines go before their incidents, so an interrupted prune never
	// leaves entries whose incident is gone unfindable by this statement.
	{"incident_timeline", `DELETE FROM incident_timeline WHERE seq IN
		(SELECT t.seq FROM incident_timeline t JOIN incidents i ON i.id = t.incident_id
		 WHERE i.resolved_at IS NOT NULL AND i.resolved_at < ? LIMIT ?)`},
	{"incidents", `DELETE FROM incidents WHERE rowid IN
		(SELECT rowid FROM incidents WHERE resolved_at IS NOT NULL AND resolved_at < ? LIMIT ?)`},
}

// Prune deletes events older than the retention as of now, alerts that
// ended before it and tokens that expired before it, and returns the number
// of rows removed. It is not atomic as a whole (each batch is), which is
// fine for retention: a prune cut short is finished by the next one.
func (db *DB) Prune(ctx context.Context, now time.Time) (n int64, err error) {
	defer db.metrics.observe(opPrune, time.Now(), &err)
	cutoff := boundNanos(now.Add(-db.retention))
	defer func() { db.metrics.pruned.Add(float64(n)) }()
	for _, p := range pruneStatements {
		for {
			var k int64
			err := db.write(ctx, func(tx *sql.Tx) error {
				res, err := tx.ExecContext(ctx, p.sql, cutoff, pruneBatch)
				if err != nil {
					return err
				}
				k, err = res.RowsAffected()
				return err
			})
			n += k
			if err != nil {
				return n, fmt.Errorf("prune %s: %w", p.table, err)
			}
			if k < pruneBatch {
				break
			}
		}
	}
	db.checkpoint(ctx)
	db.logger.Debug("pruned store", "rows", n, "cutoff", fromNanos(cutoff))
	return n, nil
}

// checkpoint copies the WAL back into the database without waiting for
// readers (PASSIVE), so the WAL does not keep growing with deleted pages.
// Failure is harmless: SQLite checkpoints on its own too.
func (db *DB) checkpoint(ctx context.Context) {
	var busy, logFrames, checkpointed int
	err := db.w.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &checkpointed)
	if err != nil {
		db.logger.Warn("sqlite checkpoint after prune", "err", err)
		return
	}
	db.logger.Debug("sqlite checkpoint", "busy", busy, "wal_frames", logFrames, "checkpointed", checkpointed)
}
