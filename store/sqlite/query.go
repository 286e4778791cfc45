package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"
)

// execEach runs stmt once per row of arguments, prepared once, in one write
// transaction: all rows are stored or none.
func (db *DB) execEach(ctx context.Context, stmt string, rows [][]any) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		s, err := tx.PrepareContext(ctx, stmt)
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
}

// filter builds the WHERE clause of a query from the conditions a caller
// set, each with its arguments.
type filter struct {
	conds []string
	args  []any
}

// add requires cond, whose placeholders take args.
func (f *filter) add(cond string, args ...any) {
	f.conds = append(f.conds, cond)
	f.args = append(f.args, args...)
}

// between requires col (Unix nanoseconds) in [from, to), each bound only
// when set.
func (f *filter) between(col string, from, to time.Time) {
	if !from.IsZero() {
		f.add(col+" >= ?", boundNanos(from))
	}
	if !to.IsZero() {
		f.add(col+" < ?", boundNanos(to))
	}
}

// query completes sel (SELECT ... FROM t) with the WHERE clause, orderBy
// and a LIMIT of limit or the default, and returns it with its arguments.
func (f *filter) query(sel, orderBy string, limit int) (string, []any) {
	q := sel
	if len(f.conds) > 0 {
		q += " WHERE " + strings.Join(f.conds, " AND ")
	}
	q += " ORDER BY " + orderBy + " LIMIT ?"
	return q, append(f.args, limitOrDefault(limit))
}
