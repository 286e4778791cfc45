package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/vigilops/vigil/store"
)

// touchInterval is how stale last_used_at may get: the contract keeps token
// reads cheap by updating it at most about once a minute, and the store is
// the one place that can hold that line for every API handler.
const touchInterval = time.Minute

// CreateToken stores a new token; ErrConflict when its ID or hash is taken.
// A token without ID, hash or creation time, or with an unknown role, is
// refused with ErrInvalid.
func (db *DB) CreateToken(ctx context.Context, t store.Token) (err error) {
	defer db.metrics.observe(opCreateToken, time.Now(), &err)
	switch {
	case t.ID == "":
		return fmt.Errorf("create token: %w: ID is empty", ErrInvalid)
	case len(t.Hash) == 0:
		return fmt.Errorf("create token %s: %w: hash is empty", t.ID, ErrInvalid)
	case !t.Role.Valid():
		return fmt.Errorf("create token %s: %w: unknown role %q", t.ID, ErrInvalid, t.Role)
	}
	created, err := nanos(t.CreatedAt, "token createdAt")
	if err != nil {
		return fmt.Errorf("create token %s: %w", t.ID, err)
	}
	expires, err := nullNanos(t.ExpiresAt, "token expiresAt")
	if err != nil {
		return fmt.Errorf("create token %s: %w", t.ID, err)
	}
	used, err := nullNanos(t.LastUsedAt, "token lastUsedAt")
	if err != nil {
		return fmt.Errorf("create token %s: %w", t.ID, err)
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tokens
			(id, name, role, hash, created_at, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			t.ID, t.Name, string(t.Role), t.Hash, created, expires, used)
		return err
	})
	switch {
	case isUniqueViolation(err):
		return fmt.Errorf("create token %s: %w", t.ID, store.ErrConflict)
	case err != nil:
		return fmt.Errorf("create token %s: %w", t.ID, err)
	}
	return nil
}

const tokenColumns = "id, name, role, hash, created_at, expires_at, last_used_at"

type scanner interface{ Scan(dest ...any) error }

func scanToken(s scanner) (store.Token, error) {
	var (
		t             store.Token
		role          string
		created       int64
		expires, used sql.NullInt64
	)
	if err := s.Scan(&t.ID, &t.Name, &role, &t.Hash, &created, &expires, &used); err != nil {
		return store.Token{}, err
	}
	t.Role = store.Role(role)
	t.CreatedAt = fromNanos(created)
	t.ExpiresAt = fromNullNanos(expires)
	t.LastUsedAt = fromNullNanos(used)
	return t, nil
}

// TokenByHash returns the token with this hash, expired or not (the caller
// knows the time), or ErrNotFound.
func (db *DB) TokenByHash(ctx context.Context, hash []byte) (_ store.Token, err error) {
	defer db.metrics.observe(opTokenByHash, time.Now(), &err)
	if len(hash) == 0 {
		return store.Token{}, fmt.Errorf("token by hash: %w", store.ErrNotFound)
	}
	t, err := scanToken(db.r.QueryRowContext(ctx,
		"SELECT "+tokenColumns+" FROM tokens WHERE hash = ?", hash))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Token{}, fmt.Errorf("token by hash: %w", store.ErrNotFound)
	case err != nil:
		return store.Token{}, fmt.Errorf("token by hash: %w", err)
	}
	return t, nil
}

// Tokens lists all tokens, oldest first.
func (db *DB) Tokens(ctx context.Context) (_ []store.Token, err error) {
	defer db.metrics.observe(opTokens, time.Now(), &err)
	rows, err := db.r.QueryContext(ctx,
		"SELECT "+tokenColumns+" FROM tokens ORDER BY created_at, id")
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("scan token: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// DeleteToken removes a token; ErrNotFound when absent.
func (db *DB) DeleteToken(ctx context.Context, id string) (err error) {
	defer db.metrics.observe(opDeleteToken, time.Now(), &err)
	var n int64
	err = db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM tokens WHERE id = ?", id)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	switch {
	case err != nil:
		return fmt.Errorf("delete token %s: %w", id, err)
	case n == 0:
		return fmt.Errorf("delete token %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// TouchToken records a use of the token at at; ErrNotFound when absent.
// The stored time moves only forward and only when it is at least a minute
// older than at, so calling this on every request costs a write about once
// a minute per token rather than once per request.
func (db *DB) TouchToken(ctx context.Context, id string, at time.Time) (err error) {
	defer db.metrics.observe(opTouchToken, time.Now(), &err)
	t, err := nanos(at, "touch time")
	if err != nil {
		return fmt.Errorf("touch token %s: %w", id, err)
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE tokens SET last_used_at = ?
			WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)`,
			t, id, t-int64(touchInterval))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		// Nothing updated: recent enough already, or no such token.
		var one int
		err = tx.QueryRowContext(ctx, "SELECT 1 FROM tokens WHERE id = ?", id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("touch token %s: %w", id, err)
	}
	return nil
}
