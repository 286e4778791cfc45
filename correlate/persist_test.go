package correlate

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/incident"
	"github.com/vigilops/vigil/store/sqlite"
)

func openStore(t *testing.T, dir string) *sqlite.DB {
	t.Helper()
	o := sqlite.DefaultOptions()
	o.Dir = dir
	o.Registerer = prometheus.NewRegistry()
	db, err := sqlite.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestIncidentsSurviveRestart writes through to SQLite, closes it, and
// shows a new correlator picking the open incident up again.
func TestIncidentsSurviveRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openStore(t, dir)
	h := newHarness(t, func(o *Options) { o.Store = db })
	a := alertOf("HighLatency", "checkout", "p1", "warning")
	h.fire(a, 0)
	h.fire(alertOf("HighErrorRate", "checkout", "p2", "warning"), 1)
	id := h.only().ID
	if _, err := h.c.Acknowledge(ctx, id, incident.Action{At: at(2), By: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.AddNote(ctx, id, incident.Action{At: at(3), By: "alice", Text: "looking"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openStore(t, dir)
	defer db.Close()
	h2 := newHarness(t, func(o *Options) { o.Store = db })
	if err := h2.c.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	inc, err := h2.c.Incident(ctx, id)
	if err != nil || inc.Status != incident.StatusAcknowledged || len(inc.Members) != 2 {
		t.Fatalf("after restart: %+v, %v", inc, err)
	}
	h2.fire(a, 4) // a re-send folds into the restored member
	inc, _ = h2.c.Incident(ctx, id)
	if inc.SignalCount != 3 || len(h2.incidents()) != 1 {
		t.Errorf("after a re-send: count %d, %d incidents", inc.SignalCount, len(h2.incidents()))
	}
	tl, err := h2.c.Timeline(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, e := range tl {
		texts = append(texts, e.Text)
	}
	joined := strings.Join(texts, "\n")
	for _, want := range []string{"HighLatency on checkout: first signal", "opened: 2 signals", "acknowledged by alice", "alice: looking"} {
		if !strings.Contains(joined, want) {
			t.Errorf("stored timeline lacks %q:\n%s", want, joined)
		}
	}
	// Listing goes to the store, with its filters.
	got, err := h2.c.Incidents(ctx, incident.Query{Service: "checkout", Status: incident.StatusAcknowledged})
	if err != nil || len(got) != 1 {
		t.Errorf("filtered list: %v, %v", got, err)
	}
}
