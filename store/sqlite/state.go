package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/vigilops/vigil/store"
)

// PutState replaces the value under key. A nil value is stored as empty.
func (db *DB) PutState(ctx context.Context, key string, value []byte) (err error) {
	defer db.metrics.observe(opPutState, time.Now(), &err)
	if value == nil {
		// The column is NOT NULL: nil and empty mean the same to callers.
		value = []byte{}
	}
	now := db.now().UnixNano()
	err = db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO state (key, value, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
			key, value, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("put state %q: %w", key, err)
	}
	return nil
}

// GetState returns the value under key, or ErrNotFound.
func (db *DB) GetState(ctx context.Context, key string) (_ []byte, err error) {
	defer db.metrics.observe(opGetState, time.Now(), &err)
	var v []byte
	err = db.r.QueryRowContext(ctx, "SELECT value FROM state WHERE key = ?", key).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("get state %q: %w", key, store.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("get state %q: %w", key, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}
