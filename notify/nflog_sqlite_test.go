package notify

import (
	"context"
	"testing"
	"time"

	"github.com/vigilops/vigil/store/sqlite"
)

// TestLogSurvivesRestartInSQLite persists the log in the embedded store,
// closes it as a shutdown would, reopens it and checks that an identical
// notification is not delivered again while a changed one is.
func TestLogSurvivesRestartInSQLite(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	rec := &recorder{name: "fake"}
	run := func(m *Message) {
		t.Helper()
		so := sqlite.DefaultOptions()
		so.Dir = dir
		db, err := sqlite.Open(ctx, so)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		lo := DefaultLogOptions()
		lo.Store = db
		l, err := NewLog(lo)
		if err != nil {
			t.Fatal(err)
		}
		ro := DefaultReceiverOptions()
		ro.Log = l
		r, err := NewReceiver("team", []Notifier{rec}, ro)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Notify(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	run(testMessage("g", 2, t0))
	run(testMessage("g", 2, t0.Add(time.Minute)))
	if rec.count() != 1 {
		t.Fatalf("%d deliveries after restart with identical content, want 1", rec.count())
	}
	run(testMessage("g", 3, t0.Add(2*time.Minute)))
	if rec.count() != 2 {
		t.Fatalf("%d deliveries after changed content, want 2", rec.count())
	}
}
