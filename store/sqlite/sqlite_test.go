package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/store/storetest"
	"github.com/vigilops/vigil/telemetry"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func openTest(t *testing.T, dir string, reg prometheus.Registerer) *DB {
	t.Helper()
	opts := DefaultOptions()
	opts.Dir = dir
	opts.Retention = storetest.Retention
	opts.Registerer = reg
	db, err := Open(t.Context(), opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTest(t, t.TempDir(), prometheus.NewRegistry())
	})
}

func TestReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	db := openTest(t, dir, nil)
	ev := telemetry.Event{ID: "e1", Kind: telemetry.EventDeploy, Time: t0, Service: "cart"}
	al := telemetry.Alert{Labels: telemetry.LabelsFromStrings("alertname", "A"), StartsAt: t0}
	tok := store.Token{ID: "t1", Role: store.RoleAdmin, Hash: []byte{1, 2, 3}, CreatedAt: t0}
	steps := []error{
		db.AppendEvents(ctx, []telemetry.Event{ev}),
		db.UpsertAlerts(ctx, []telemetry.Alert{al}),
		db.CreateToken(ctx, tok),
		db.PutState(ctx, "k", []byte("v")),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}

	db = openTest(t, dir, nil)
	checks := []struct {
		name string
		fn   func() error
	}{
		{"events", func() error {
			es, err := db.Events(ctx, store.EventQuery{})
			if err == nil && (len(es) != 1 || es[0].ID != "e1") {
				err = fmt.Errorf("got %v", es)
			}
			return err
		}},
		{"alerts", func() error {
			as, err := db.Alerts(ctx, store.AlertQuery{Fingerprint: al.Fingerprint()})
			if err == nil && len(as) != 1 {
				err = fmt.Errorf("got %v", as)
			}
			return err
		}},
		{"tokens", func() error {
			_, err := db.TokenByHash(ctx, tok.Hash)
			return err
		}},
		{"state", func() error {
			v, err := db.GetState(ctx, "k")
			if err == nil && string(v) != "v" {
				err = fmt.Errorf("got %q", v)
			}
			return err
		}},
		{"schema version", func() error {
			v, err := schemaVersion(ctx, db.r)
			if err == nil && v != len(migrations) {
				err = fmt.Errorf("version %d, want %d", v, len(migrations))
			}
			return err
		}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if err := c.fn(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	db := openTest(t, dir, nil)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	newer := len(migrations) + 7
	if _, err := raw.Exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)", newer); err != nil {
		t.Fatal(err)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	opts := DefaultOptions()
	opts.Dir = dir
	_, err = Open(t.Context(), opts)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("open: got %v, want ErrSchemaTooNew", err)
	}
	for _, want := range []string{fmt.Sprint("version ", newer), fmt.Sprint("up to ", len(migrations))} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestOpenDataDir(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		dir     string
		wantErr string
		is      error
	}{
		{"path is a file", file, "data directory " + file + ": not a directory", syscall.ENOTDIR},
		{"parent is a file", filepath.Join(file, "sub"), "not a directory", syscall.ENOTDIR},
		{"empty", "", "data directory is empty", nil},
		{"created when missing", filepath.Join(tmp, "a", "b"), "", nil},
		// The DSN is a URI: these must be escaped, not read as its syntax.
		{"URI characters in the path", filepath.Join(tmp, "a b?c=d#e%20f&g"), "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := DefaultOptions()
			opts.Dir = tc.dir
			db, err := Open(t.Context(), opts)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				defer db.Close()
				fi, err := os.Stat(tc.dir)
				if err != nil {
					t.Fatal(err)
				}
				if perm := fi.Mode().Perm(); perm&0o027 != 0 {
					t.Errorf("data directory mode %v, want at most 0750", perm)
				}
				if _, err := os.Stat(filepath.Join(tc.dir, FileName)); err != nil {
					t.Errorf("database file not where expected: %v", err)
				}
				if want := filepath.Join(tc.dir, FileName); db.Path() != want {
					t.Errorf("Path() = %q, want %q", db.Path(), want)
				}
				return
			}
			if err == nil {
				db.Close()
				t.Fatal("open: no error")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not say %q", err, tc.wantErr)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(o *Options)
		ok   bool
	}{
		{"defaults with a dir", func(o *Options) {}, true},
		{"no dir", func(o *Options) { o.Dir = "" }, false},
		{"negative retention", func(o *Options) { o.Retention = -time.Hour }, false},
		{"busy timeout under a millisecond", func(o *Options) { o.BusyTimeout = time.Microsecond }, false},
		{"zero fields take defaults", func(o *Options) { *o = Options{Dir: "x"} }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			o.Dir = "x"
			tc.edit(&o)
			o.withDefaults()
			if err := o.validate(); (err == nil) != tc.ok {
				t.Errorf("validate: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestPragmas(t *testing.T) {
	db := openTest(t, t.TempDir(), nil)
	tests := []struct {
		pool   string
		conn   *sql.DB
		pragma string
		want   string
	}{
		{"writer", db.w, "journal_mode", "wal"},
		{"writer", db.w, "synchronous", "2"},
		{"writer", db.w, "foreign_keys", "1"},
		{"writer", db.w, "busy_timeout", "5000"},
		{"writer", db.w, "query_only", "0"},
		{"reader", db.r, "journal_mode", "wal"},
		{"reader", db.r, "synchronous", "2"},
		{"reader", db.r, "foreign_keys", "1"},
		{"reader", db.r, "busy_timeout", "5000"},
		{"reader", db.r, "query_only", "1"},
	}
	for _, tc := range tests {
		t.Run(tc.pool+"/"+tc.pragma, func(t *testing.T) {
			var got string
			if err := tc.conn.QueryRowContext(t.Context(), "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestInvalidWrites(t *testing.T) {
	db := openTest(t, t.TempDir(), nil)
	ctx := t.Context()
	ev := telemetry.Event{ID: "e", Kind: telemetry.EventDeploy, Time: t0}
	al := telemetry.Alert{Labels: telemetry.LabelsFromStrings("alertname", "A"), StartsAt: t0}
	tok := store.Token{ID: "t", Role: store.RoleViewer, Hash: []byte{1}, CreatedAt: t0}
	tests := []struct {
		name  string
		write func() error
	}{
		{"event without ID", func() error { e := ev; e.ID = ""; return db.AppendEvents(ctx, []telemetry.Event{e}) }},
		{"event without time", func() error { e := ev; e.Time = time.Time{}; return db.AppendEvents(ctx, []telemetry.Event{e}) }},
		{"event past 2262", func() error {
			e := ev
			e.Time = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
			return db.AppendEvents(ctx, []telemetry.Event{e})
		}},
		{"alert without startsAt", func() error { a := al; a.StartsAt = time.Time{}; return db.UpsertAlerts(ctx, []telemetry.Alert{a}) }},
		{"token without ID", func() error { k := tok; k.ID = ""; return db.CreateToken(ctx, k) }},
		{"token without hash", func() error { k := tok; k.Hash = nil; return db.CreateToken(ctx, k) }},
		{"token with unknown role", func() error { k := tok; k.Role = "root"; return db.CreateToken(ctx, k) }},
		{"token without createdAt", func() error { k := tok; k.CreatedAt = time.Time{}; return db.CreateToken(ctx, k) }},
		{"touch at zero time", func() error { return db.TouchToken(ctx, "t", time.Time{}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.write(); !errors.Is(err, ErrInvalid) {
				t.Errorf("got %v, want ErrInvalid", err)
			}
		})
	}
}

func TestPruneInBatches(t *testing.T) {
	reg := prometheus.NewRegistry()
	db := openTest(t, t.TempDir(), reg)
	ctx := t.Context()
	const n = 2*pruneBatch + 7
	events := make([]telemetry.Event, n)
	for i := range events {
		events[i] = telemetry.Event{ID: fmt.Sprint(i), Kind: telemetry.EventDeploy, Time: t0.Add(time.Duration(i))}
	}
	if err := db.AppendEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	got, err := db.Prune(ctx, t0.Add(storetest.Retention+time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Errorf("pruned %d rows, want %d", got, n)
	}
	if v := counterValue(t, reg, "vigil_store_pruned_rows_total", nil); v != n {
		t.Errorf("vigil_store_pruned_rows_total = %v, want %d", v, n)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	ctx := t.Context()
	db := openTest(t, dir, reg)
	_ = db.AppendEvents(ctx, []telemetry.Event{{ID: "e", Kind: telemetry.EventDeploy, Time: t0}})
	_, _ = db.GetState(ctx, "missing")
	_ = db.AppendEvents(ctx, []telemetry.Event{{Kind: telemetry.EventDeploy, Time: t0}})
	_ = db.Close()
	// Reopening against the same registry reuses the collectors.
	db = openTest(t, dir, reg)
	_ = db.CreateToken(ctx, store.Token{ID: "t", Role: store.RoleViewer, Hash: []byte{1}, CreatedAt: t0})
	_ = db.CreateToken(ctx, store.Token{ID: "t", Role: store.RoleViewer, Hash: []byte{1}, CreatedAt: t0})

	tests := []struct {
		op, result string
		want       float64
	}{
		{opAppendEvents, "ok", 1},
		{opAppendEvents, "invalid", 1},
		{opGetState, "not_found", 1},
		{opCreateToken, "ok", 1},
		{opCreateToken, "conflict", 1},
	}
	for _, tc := range tests {
		t.Run(tc.op+"/"+tc.result, func(t *testing.T) {
			got := counterValue(t, reg, "vigil_store_operations_total", map[string]string{"op": tc.op, "result": tc.result})
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "vigil_store_operation_duration_seconds" {
			found = len(mf.GetMetric()) > 0
		}
	}
	if !found {
		t.Error("vigil_store_operation_duration_seconds not exported")
	}
}

// counterValue returns the counter with exactly these labels, 0 if absent.
func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func TestContextDeadlineWhileWriterBusy(t *testing.T) {
	db := openTest(t, t.TempDir(), nil)
	// Hold the single writer, as a long transaction would.
	tx, err := db.w.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err = db.PutState(ctx, "k", []byte("v"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("write while the writer is held: got %v, want DeadlineExceeded", err)
	}
	// Reads and Ping do not wait for the writer.
	if err := db.Ping(t.Context()); err != nil {
		t.Errorf("ping while the writer is held: %v", err)
	}
}
