package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/incident"
	"github.com/vigilops/vigil/store"
)

func testIncident(id string, status incident.Status, opened time.Duration, services ...string) incident.Incident {
	inc := incident.Incident{
		ID:          id,
		Title:       "errors on " + strings.Join(services, ", "),
		Status:      status,
		Severity:    incident.SeverityWarning,
		Urgency:     incident.UrgencyTicket,
		Services:    services,
		OpenedAt:    at(opened),
		UpdatedAt:   at(opened + time.Minute),
		SignalCount: 3,
		Members: []incident.Member{{
			Key: "alert:0123456789abcdef", Signature: "alert:HighErrorRate@" + services[0], Kind: incident.SignalAlert,
			Service: services[0], Name: "HighErrorRate", Severity: incident.SeverityWarning,
			FirstSeen: at(opened), LastSeen: at(opened + time.Minute), Count: 3, Reason: "first signal",
		}},
	}
	if status == incident.StatusResolved {
		inc.ResolvedAt = at(opened + time.Hour)
	}
	return inc
}

func incidentIDs(incs []incident.Incident) []string {
	ids := make([]string, len(incs))
	for i, inc := range incs {
		ids[i] = inc.ID
	}
	return ids
}

func testIncidentsRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := testIncident("inc-1", incident.StatusOpen, time.Minute, "checkout", "payments")
	if err := s.UpsertIncident(ctx, want); err != nil {
		t.Fatalf("upsert: %v", err)
	}
	got, err := s.Incident(ctx, "inc-1")
	if err != nil {
		t.Fatalf("incident: %v", err)
	}
	if got.ID != want.ID || got.Title != want.Title || got.Status != want.Status || got.SignalCount != 3 ||
		!slices.Equal(got.Services, want.Services) || len(got.Members) != 1 || got.Members[0].Key != want.Members[0].Key {
		t.Errorf("round trip: got %+v, want %+v", got, want)
	}
	checkTime(t, "opened_at", got.OpenedAt, want.OpenedAt)
	checkTime(t, "member first_seen", got.Members[0].FirstSeen, want.Members[0].FirstSeen)

	// Upsert replaces.
	want.Status = incident.StatusAcknowledged
	want.AcknowledgedAt, want.AcknowledgedBy = at(2*time.Minute), "alice"
	if err := s.UpsertIncident(ctx, want); err != nil {
		t.Fatalf("upsert again: %v", err)
	}
	got, err = s.Incident(ctx, "inc-1")
	if err != nil {
		t.Fatalf("incident: %v", err)
	}
	if got.Status != incident.StatusAcknowledged || got.AcknowledgedBy != "alice" {
		t.Errorf("after update: status %q by %q, want acknowledged by alice", got.Status, got.AcknowledgedBy)
	}
	checkTime(t, "acknowledged_at", got.AcknowledgedAt, want.AcknowledgedAt)

	_, err = s.Incident(ctx, "nope")
	wantErr(t, "missing incident", err, store.ErrNotFound)
	if err := s.UpsertIncident(ctx, incident.Incident{ID: "no-time"}); err == nil {
		t.Error("upsert without opened_at: got nil error")
	}
	if err := s.UpsertIncident(ctx, incident.Incident{OpenedAt: at(0)}); err == nil {
		t.Error("upsert without ID: got nil error")
	}
}

func testIncidentsFilters(t *testing.T, s store.Store) {
	ctx := t.Context()
	seed := []incident.Incident{
		testIncident("a", incident.StatusResolved, 1*time.Minute, "checkout"),
		testIncident("b", incident.StatusOpen, 2*time.Minute, "cart", "redis"),
		testIncident("c", incident.StatusOpen, 3*time.Minute, "checkout", "payments"),
		testIncident("d", incident.StatusAcknowledged, 4*time.Minute, "redis"),
	}
	for _, i := range []int{2, 0, 3, 1} { // out of order: ordering comes from the query
		if err := s.UpsertIncident(ctx, seed[i]); err != nil {
			t.Fatalf("upsert: %v", err)
		}
	}
	tests := []struct {
		name string
		q    incident.Query
		want []string
	}{
		{"all", incident.Query{}, []string{"d", "c", "b", "a"}},
		{"status", incident.Query{Status: incident.StatusOpen}, []string{"c", "b"}},
		{"service", incident.Query{Service: "redis"}, []string{"d", "b"}},
		{"service is exact", incident.Query{Service: "check"}, nil},
		{"from", incident.Query{From: at(2 * time.Minute)}, []string{"d", "c", "b"}},
		{"to", incident.Query{To: at(2 * time.Minute)}, []string{"a"}},
		{"combined", incident.Query{Service: "checkout", Status: incident.StatusOpen}, []string{"c"}},
		{"limit", incident.Query{Limit: 2}, []string{"d", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Incidents(ctx, tt.q)
			if err != nil {
				t.Fatalf("incidents: %v", err)
			}
			if ids := incidentIDs(got); !slices.Equal(ids, tt.want) {
				t.Errorf("got %v, want %v", ids, tt.want)
			}
		})
	}
}

func testIncidentsTimeline(t *testing.T, s store.Store) {
	ctx := t.Context()
	err := s.AppendTimeline(ctx, "missing", []incident.Entry{{Time: at(0), Kind: incident.EntryNote, Text: "x"}})
	wantErr(t, "append to missing incident", err, store.ErrNotFound)
	_, err = s.Timeline(ctx, "missing")
	wantErr(t, "timeline of missing incident", err, store.ErrNotFound)

	if err := s.UpsertIncident(ctx, testIncident("inc", incident.StatusOpen, 0, "cart")); err != nil {
		t.Fatalf("upsert: %v", err)
	}
	empty, err := s.Timeline(ctx, "inc")
	if err != nil || len(empty) != 0 {
		t.Fatalf("empty timeline: %v, %v", empty, err)
	}
	first := []incident.Entry{
		{Time: at(2 * time.Minute), Kind: incident.EntryAlert, Text: "HighErrorRate on cart", Refs: []string{"alert:1", "alert:2"}},
		{Time: at(time.Minute), Kind: incident.EntryStatus, Text: "opened"},
	}
	second := []incident.Entry{
		{Time: at(2 * time.Minute), Kind: incident.EntryNote, Text: "looking ☃"},
	}
	if err := s.AppendTimeline(ctx, "inc", first); err != nil {
		t.Fatalf("append: %v", err)
	}
	if err := s.AppendTimeline(ctx, "inc", second); err != nil {
		t.Fatalf("append: %v", err)
	}
	// A bad entry fails its whole batch.
	bad := []incident.Entry{{Time: at(3 * time.Minute), Kind: incident.EntryNote, Text: "ok"}, {Time: at(4 * time.Minute), Kind: "bogus"}}
	if err := s.AppendTimeline(ctx, "inc", bad); err == nil {
		t.Error("append with an unknown kind: got nil error")
	}
	got, err := s.Timeline(ctx, "inc")
	if err != nil {
		t.Fatalf("timeline: %v", err)
	}
	var texts []string
	for _, e := range got {
		texts = append(texts, e.Text)
	}
	// Oldest first; equal times in append order.
	if want := []string{"opened", "HighErrorRate on cart", "looking ☃"}; !slices.Equal(texts, want) {
		t.Fatalf("timeline texts %q, want %q", texts, want)
	}
	if !slices.Equal(got[1].Refs, []string{"alert:1", "alert:2"}) || got[1].Kind != incident.EntryAlert {
		t.Errorf("entry 1: %+v", got[1])
	}
	checkTime(t, "entry time", got[0].Time, first[1].Time)
}

func testIncidentsPrune(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := base.Add(2 * Retention)
	old := testIncident("old-resolved", incident.StatusResolved, 0, "cart") // resolved at base+1h
	active := testIncident("old-active", incident.StatusOpen, 0, "cart")
	recent := testIncident("recent-resolved", incident.StatusResolved, Retention+time.Hour, "cart")
	for _, inc := range []incident.Incident{old, active, recent} {
		if err := s.UpsertIncident(ctx, inc); err != nil {
			t.Fatalf("upsert: %v", err)
		}
		if err := s.AppendTimeline(ctx, inc.ID, []incident.Entry{{Time: inc.OpenedAt, Kind: incident.EntryStatus, Text: "opened"}}); err != nil {
			t.Fatalf("append: %v", err)
		}
	}
	n, err := s.Prune(ctx, now)
	if err != nil {
		t.Fatalf("prune: %v", err)
	}
	if n != 2 { // the old resolved incident and its one entry
		t.Errorf("prune removed %d rows, want 2", n)
	}
	got, err := s.Incidents(ctx, incident.Query{})
	if err != nil {
		t.Fatalf("incidents: %v", err)
	}
	if ids := incidentIDs(got); !slices.Equal(ids, []string{"recent-resolved", "old-active"}) {
		t.Errorf("after prune: %v", ids)
	}
	_, err = s.Timeline(ctx, "old-resolved")
	wantErr(t, "timeline of pruned incident", err, store.ErrNotFound)
	if tl, err := s.Timeline(ctx, "old-active"); err != nil || len(tl) != 1 {
		t.Errorf("timeline of kept incident: %v, %v", tl, err)
	}
}
