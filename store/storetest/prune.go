package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

func testPrune(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Rows strictly older than now-Retention (base+Retention) go.
	now := base.Add(2 * Retention)

	events := []telemetry.Event{
		{ID: "old", Kind: telemetry.EventDeploy, Time: at(0)},
		{ID: "edge", Kind: telemetry.EventDeploy, Time: at(Retention)}, // exactly at the cutoff: kept
		{ID: "new", Kind: telemetry.EventDeploy, Time: at(2*Retention - time.Hour)},
	}
	alerts := []telemetry.Alert{
		alert("EndedLongAgo", 0, time.Hour),
		alert("EndedRecently", 0, Retention+time.Hour),
		alert("StillFiring", 0, 0), // however old, an alert without end stays
	}
	expired := token("expired-long-ago", store.RoleViewer, 0)
	expired.ExpiresAt = at(time.Hour)
	recent := token("expired-recently", store.RoleViewer, 0)
	recent.ExpiresAt = at(Retention + time.Hour)
	forever := token("never-expires", store.RoleViewer, 0)

	if err := s.AppendEvents(ctx, events); err != nil {
		t.Fatalf("append: %v", err)
	}
	if err := s.UpsertAlerts(ctx, alerts); err != nil {
		t.Fatalf("upsert: %v", err)
	}
	for _, tok := range []store.Token{expired, recent, forever} {
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatalf("create token: %v", err)
		}
	}
	if err := s.PutState(ctx, "k", []byte("v")); err != nil {
		t.Fatalf("put state: %v", err)
	}

	n, err := s.Prune(ctx, now)
	if err != nil {
		t.Fatalf("prune: %v", err)
	}
	if n != 3 {
		t.Errorf("prune removed %d rows, want 3", n)
	}

	gotEvents, err := s.Events(ctx, store.EventQuery{})
	if err != nil {
		t.Fatalf("events: %v", err)
	}
	if ids := eventIDs(gotEvents); !slices.Equal(ids, []string{"new", "edge"}) {
		t.Errorf("events after prune: %v, want [new edge]", ids)
	}
	gotAlerts, err := s.Alerts(ctx, store.AlertQuery{})
	if err != nil {
		t.Fatalf("alerts: %v", err)
	}
	var names []string
	for _, a := range gotAlerts {
		names = append(names, a.Name())
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"EndedRecently", "StillFiring"}) {
		t.Errorf("alerts after prune: %v, want [EndedRecently StillFiring]", names)
	}
	toks, err := s.Tokens(ctx)
	if err != nil {
		t.Fatalf("tokens: %v", err)
	}
	var ids []string
	for _, tok := range toks {
		ids = append(ids, tok.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"expired-recently", "never-expires"}) {
		t.Errorf("tokens after prune: %v, want [expired-recently never-expires]", ids)
	}
	if _, err := s.GetState(ctx, "k"); err != nil {
		t.Errorf("state after prune: %v", err)
	}

	n, err = s.Prune(ctx, now)
	if err != nil {
		t.Fatalf("prune again: %v", err)
	}
	if n != 0 {
		t.Errorf("second prune removed %d rows, want 0", n)
	}
}
