package sqlite

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/vigilops/vigil/telemetry"
)

// Times are stored as int64 unix nanoseconds, which span 1677-09-21 to
// 2262-04-11; UnixNano is undefined outside, so writes outside are refused
// and query bounds outside are clamped.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// nanos encodes a required time.
func nanos(t time.Time, what string) (int64, error) {
	if t.IsZero() {
		return 0, fmt.Errorf("%w: %s is zero", ErrInvalid, what)
	}
	if t.Before(minTime) || t.After(maxTime) {
		return 0, fmt.Errorf("%w: %s %v is outside 1678..2262", ErrInvalid, what, t)
	}
	return t.UnixNano(), nil
}

// nullNanos encodes an optional time: the zero time is NULL, so it comes
// back as the zero time rather than as 1754 or 1970.
func nullNanos(t time.Time, what string) (any, error) {
	if t.IsZero() {
		return nil, nil
	}
	return nanos(t, what)
}

// boundNanos encodes a query bound, clamping what int64 cannot hold: a
// filter "from year 1" means "from the start".
func boundNanos(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func fromNullNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromNanos(n.Int64)
}

// labelsJSON encodes a label set as a JSON object, NULL when empty.
func labelsJSON(ls telemetry.Labels) (any, error) {
	if len(ls) == 0 {
		return nil, nil
	}
	b, err := ls.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode labels: %w", err)
	}
	return string(b), nil
}

func parseLabels(s sql.NullString) (telemetry.Labels, error) {
	if !s.Valid || s.String == "" {
		return nil, nil
	}
	var ls telemetry.Labels
	if err := ls.UnmarshalJSON([]byte(s.String)); err != nil {
		return nil, fmt.Errorf("decode labels: %w", err)
	}
	return ls, nil
}

func mapJSON(m map[string]string) (any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode attributes: %w", err)
	}
	return string(b), nil
}

func parseMap(s sql.NullString) (map[string]string, error) {
	if !s.Valid || s.String == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s.String), &m); err != nil {
		return nil, fmt.Errorf("decode attributes: %w", err)
	}
	return m, nil
}

// limitOrDefault applies the contract's default page size.
func limitOrDefault(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return n
}

const defaultLimit = 1000

// isUniqueViolation reports whether err is a PRIMARY KEY or UNIQUE
// constraint failure; other constraints (NOT NULL, CHECK) are bugs, not
// conflicts.
func isUniqueViolation(err error) bool {
	var se *sqlitedrv.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return true
	}
	return false
}
