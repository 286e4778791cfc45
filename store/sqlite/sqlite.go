// Package sqlite is Vigil's embedded store: one SQLite database file in the
// data directory, reached through the pure-Go modernc.org/sqlite driver, so
// the binary needs no cgo and no other server.
//
// Invariant: a write that returned nil has been committed to the write-ahead
// log with synchronous=FULL, so it survives a SIGKILL of the process (and a
// power loss) right after. All writes go through a single connection:
// concurrent writers queue in Go instead of failing with SQLITE_BUSY, and
// reads use a separate pool that WAL lets run beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/store"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// FileName is the database file's name inside the data directory.
const FileName = "vigil.db"

// ErrInvalid is returned, wrapped with what is wrong, when a write carries a
// value the store cannot keep faithfully (an event without ID, a zero
// timestamp where one is required, an unknown token role). Nothing of the
// batch is written.
var ErrInvalid = errors.New("invalid")

var _ store.Store = (*DB)(nil)

// Options configure Open. Zero fields take their value from DefaultOptions.
type Options struct {
	// Dir is the data directory; the database is Dir/vigil.db. Dir is
	// created (mode 0o750) when missing.
	Dir string
	// Retention is how long Prune keeps events, ended alerts and expired
	// tokens.
	Retention time.Duration
	// BusyTimeout bounds how long a statement waits for a lock held by
	// another process that opened the same file (a backup, the sqlite3
	// shell). Writers of this process never wait on each other in SQLite.
	BusyTimeout time.Duration
	// Logger receives migration and maintenance messages.
	Logger *slog.Logger
	// Registerer receives the store's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Now reads the clock for the bookkeeping columns whose writes carry no
	// time of their own (state.updated_at, schema_migrations.applied_at).
	// Nil means time.Now.
	Now func() time.Time
}

// DefaultOptions returns the options Open uses for zero fields. Dir has no
// default: the caller must choose where data lives.
func DefaultOptions() Options {
	return Options{
		Retention:   30 * 24 * time.Hour,
		BusyTimeout: 5 * time.Second,
		Logger:      slog.New(slog.DiscardHandler),
		Now:         time.Now,
	}
}

func (o *Options) withDefaults() {
	d := DefaultOptions()
	if o.Retention == 0 {
		o.Retention = d.Retention
	}
	if o.BusyTimeout == 0 {
		o.BusyTimeout = d.BusyTimeout
	}
	if o.Logger == nil {
		o.Logger = d.Logger
	}
	if o.Now == nil {
		o.Now = d.Now
	}
}

func (o *Options) validate() error {
	switch {
	case o.Dir == "":
		return errors.New("data directory is empty")
	case o.Retention < 0:
		return fmt.Errorf("retention %v is negative", o.Retention)
	case o.BusyTimeout < time.Millisecond:
		return fmt.Errorf("busy timeout %v is under 1ms", o.BusyTimeout)
	}
	return nil
}

// DB is a Store backed by one SQLite file. It is safe for concurrent use.
type DB struct {
	path      string
	retention time.Duration
	logger    *slog.Logger
	now       func() time.Time
	metrics   *metrics

	// w is the only connection that writes (MaxOpenConns 1, BEGIN
	// IMMEDIATE); r is a pool of query_only connections for reads.
	w *sql.DB
	r *sql.DB

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the database in opts.Dir and brings its
// schema up to date. It refuses a database whose schema is newer than this
// build knows, with ErrSchemaTooNew.
func Open(ctx context.Context, opts Options) (*DB, error) {
	opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("sqlite options: %w", err)
	}
	if err := ensureDir(opts.Dir); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(filepath.Join(opts.Dir, FileName))
	if err != nil {
		return nil, fmt.Errorf("database path: %w", err)
	}

	w, err := sql.Open("sqlite", dsn(abs, opts.BusyTimeout, false))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", abs, err)
	}
	// One connection that never expires: writes serialise in database/sql's
	// pool (which honours ctx) rather than in SQLite's busy handler.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	if err := checkJournal(ctx, w, opts.Logger); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open %s: %w", abs, err)
	}
	if err := migrate(ctx, w, opts.Now(), opts.Logger); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("migrate %s: %w", abs, err)
	}

	r, err := sql.Open("sqlite", dsn(abs, opts.BusyTimeout, true))
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open %s: %w", abs, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, fmt.Errorf("open %s for reading: %w", abs, err)
	}

	return &DB{
		path:      abs,
		retention: opts.Retention,
		logger:    opts.Logger,
		now:       opts.Now,
		metrics:   newMetrics(opts.Registerer),
		w:         w,
		r:         r,
	}, nil
}

// Path returns the database file's absolute path.
func (db *DB) Path() string { return db.path }

// Ping checks that a read connection answers. It does not touch the writer,
// so a long write does not make the process look unready.
func (db *DB) Ping(ctx context.Context) (err error) {
	defer db.metrics.observe(opPing, time.Now(), &err)
	var one int
	if err := db.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Close waits for running statements, runs PRAGMA optimize (cheap, and it
// keeps the query planner's statistics fresh for the next start) and closes
// both pools. Calling it again returns the first result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := db.w.ExecContext(ctx, "PRAGMA optimize"); err != nil {
			db.logger.Warn("sqlite optimize on close", "err", err)
		}
		rerr := db.r.Close()
		werr := db.w.Close()
		if err := errors.Join(rerr, werr); err != nil {
			db.closeErr = fmt.Errorf("close %s: %w", db.path, err)
		}
	})
	return db.closeErr
}

// ensureDir creates dir when missing and says plainly when the path exists
// but is something else, which MkdirAll would report only obliquely.
func ensureDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return fmt.Errorf("data directory %s: %w", dir, syscall.ENOTDIR)
	case err == nil:
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("data directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	return nil
}

// dsn builds a file: URI, so that any character in the path is escaped
// rather than read as the start of the query, and sets every pragma as a DSN
// parameter, so that each connection the pools open gets them.
//
// synchronous=FULL: in WAL mode NORMAL would already survive a process kill
// (a commit reaches the WAL through write(2) before it returns, and the
// kernel keeps the page cache when the process dies), but it may lose the last commits on
// power loss or a kernel crash. Tokens and audit must not vanish that way,
// and batching keeps the per-commit fsync affordable.
func dsn(path string, busy time.Duration, readOnly bool) string {
	u := url.URL{Scheme: "file", Path: path}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busy.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		// Take the write lock at BEGIN, so a transaction never fails late
		// when upgrading from a read lock (another process may share the file).
		q.Set("_txlock", "immediate")
	}
	return u.String() + "?" + q.Encode()
}

// checkJournal warns when the file system refused WAL (SQLite then quietly
// keeps the rollback journal): still durable, but readers and the writer
// will block each other.
func checkJournal(ctx context.Context, w *sql.DB, logger *slog.Logger) error {
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", err)
	}
	if mode != "wal" {
		logger.Warn("sqlite WAL unavailable; reads and writes will contend", "journal_mode", mode)
	}
	return nil
}

// write runs fn in one transaction on the single write connection.
func (db *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return inTx(ctx, db.w, fn)
}
