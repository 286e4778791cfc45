package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

func testEventsRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := []telemetry.Event{
		{
			ID:      "e-full",
			Kind:    telemetry.EventDeploy,
			Time:    at(2*time.Minute + 123456789*time.Nanosecond),
			Service: "checkout",
			Summary: "deploy v2.3.1 ☃ \"quoted\"",
			Labels:  telemetry.LabelsFromStrings("env", "prod", "team", "payments", "unicode", "zürich"),
			Attributes: map[string]string{
				"version": "v2.3.1",
				"commit":  "abc123",
				"empty":   "",
			},
		},
		{
			// Only what is required: nothing else may be invented.
			ID:   "e-min",
			Kind: telemetry.EventScaling,
			Time: at(time.Minute),
		},
	}
	if err := s.AppendEvents(ctx, want); err != nil {
		t.Fatalf("append: %v", err)
	}
	got, err := s.Events(ctx, store.EventQuery{})
	if err != nil {
		t.Fatalf("events: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	// Newest first: e-full (2m) before e-min (1m).
	checkEvent(t, got[0], want[0])
	checkEvent(t, got[1], want[1])
	if got[1].Service != "" || got[1].Summary != "" || len(got[1].Labels) != 0 || len(got[1].Attributes) != 0 {
		t.Errorf("minimal event came back with extra fields: %+v", got[1])
	}
	if err := s.AppendEvents(ctx, nil); err != nil {
		t.Errorf("append of no events: %v", err)
	}
}

func testEventsFilters(t *testing.T, s store.Store) {
	ctx := t.Context()
	seed := []struct {
		id, service string
		kind        telemetry.EventKind
		at          time.Duration
	}{
		{"e1", "checkout", telemetry.EventDeploy, 1 * time.Minute},
		{"e2", "checkout", telemetry.EventConfigChange, 2 * time.Minute},
		{"e3", "cart", telemetry.EventDeploy, 3 * time.Minute},
		{"e4", "cart", telemetry.EventScaling, 4 * time.Minute},
		{"e5", "checkout", telemetry.EventDeploy, 5 * time.Minute},
		{"e6", "search", telemetry.EventKubernetes, 6 * time.Minute},
	}
	var events []telemetry.Event
	// Insert out of time order: ordering must come from the query.
	for _, i := range []int{3, 0, 5, 1, 4, 2} {
		e := seed[i]
		events = append(events, telemetry.Event{ID: e.id, Kind: e.kind, Time: at(e.at), Service: e.service})
	}
	if err := s.AppendEvents(ctx, events); err != nil {
		t.Fatalf("append: %v", err)
	}
	tests := []struct {
		name string
		q    store.EventQuery
		want []string
	}{
		{"all", store.EventQuery{}, []string{"e6", "e5", "e4", "e3", "e2", "e1"}},
		{"service", store.EventQuery{Service: "checkout"}, []string{"e5", "e2", "e1"}},
		{"kind", store.EventQuery{Kind: telemetry.EventDeploy}, []string{"e5", "e3", "e1"}},
		{"service and kind", store.EventQuery{Service: "checkout", Kind: telemetry.EventDeploy}, []string{"e5", "e1"}},
		{"from is inclusive", store.EventQuery{From: at(3 * time.Minute)}, []string{"e6", "e5", "e4", "e3"}},
		{"to is exclusive", store.EventQuery{To: at(3 * time.Minute)}, []string{"e2", "e1"}},
		{"from and to", store.EventQuery{From: at(3 * time.Minute), To: at(5 * time.Minute)}, []string{"e4", "e3"}},
		{"limit keeps the newest", store.EventQuery{Limit: 2}, []string{"e6", "e5"}},
		{"limit with filter", store.EventQuery{Service: "checkout", Limit: 2}, []string{"e5", "e2"}},
		{"all filters", store.EventQuery{Service: "cart", Kind: telemetry.EventScaling, From: at(time.Minute), To: at(time.Hour), Limit: 5}, []string{"e4"}},
		{"unknown service", store.EventQuery{Service: "nope"}, nil},
		{"to before from", store.EventQuery{From: at(5 * time.Minute), To: at(time.Minute)}, nil},
		{"far bounds", store.EventQuery{From: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, []string{"e6", "e5", "e4", "e3", "e2", "e1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Events(ctx, tc.q)
			if err != nil {
				t.Fatalf("events: %v", err)
			}
			if ids := eventIDs(got); !slices.Equal(ids, tc.want) {
				t.Errorf("got %v, want %v", ids, tc.want)
			}
		})
	}
}

func testEventsDefaultLimit(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 1001
	events := make([]telemetry.Event, n)
	for i := range events {
		events[i] = telemetry.Event{ID: fmt.Sprintf("e%04d", i), Kind: telemetry.EventDeploy, Time: at(time.Duration(i) * time.Second)}
	}
	if err := s.AppendEvents(ctx, events); err != nil {
		t.Fatalf("append: %v", err)
	}
	got, err := s.Events(ctx, store.EventQuery{})
	if err != nil {
		t.Fatalf("events: %v", err)
	}
	if len(got) != 1000 {
		t.Fatalf("default limit: got %d events, want 1000", len(got))
	}
	if got[0].ID != "e1000" || got[999].ID != "e0001" {
		t.Errorf("default limit kept %s..%s, want the newest e1000..e0001", got[0].ID, got[999].ID)
	}
	got, err = s.Events(ctx, store.EventQuery{Limit: n + 10})
	if err != nil {
		t.Fatalf("events: %v", err)
	}
	if len(got) != n {
		t.Errorf("limit above the default: got %d events, want %d", len(got), n)
	}
}

func testEventsIdempotent(t *testing.T, s store.Store) {
	ctx := t.Context()
	first := []telemetry.Event{
		{ID: "a", Kind: telemetry.EventDeploy, Time: at(time.Minute), Summary: "first"},
		{ID: "b", Kind: telemetry.EventDeploy, Time: at(2 * time.Minute), Summary: "first"},
	}
	if err := s.AppendEvents(ctx, first); err != nil {
		t.Fatalf("append: %v", err)
	}
	// A retried delivery, a changed duplicate and a duplicate inside the batch.
	if err := s.AppendEvents(ctx, first); err != nil {
		t.Fatalf("append again: %v", err)
	}
	again := []telemetry.Event{
		{ID: "b", Kind: telemetry.EventScaling, Time: at(9 * time.Minute), Summary: "second"},
		{ID: "c", Kind: telemetry.EventDeploy, Time: at(3 * time.Minute)},
		{ID: "c", Kind: telemetry.EventDeploy, Time: at(3 * time.Minute)},
	}
	if err := s.AppendEvents(ctx, again); err != nil {
		t.Fatalf("append duplicates: %v", err)
	}
	got, err := s.Events(ctx, store.EventQuery{})
	if err != nil {
		t.Fatalf("events: %v", err)
	}
	if ids := eventIDs(got); !slices.Equal(ids, []string{"c", "b", "a"}) {
		t.Fatalf("got %v, want [c b a]", ids)
	}
	checkEvent(t, got[1], first[1]) // the first version is kept
}

func testEventsAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	batch := []telemetry.Event{
		{ID: "ok", Kind: telemetry.EventDeploy, Time: at(time.Minute)},
		{ID: "", Kind: telemetry.EventDeploy, Time: at(2 * time.Minute)},
	}
	if err := s.AppendEvents(ctx, batch); err == nil {
		t.Fatal("append of an event without ID: no error")
	}
	got, err := s.Events(ctx, store.EventQuery{})
	if err != nil {
		t.Fatalf("events: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("a failed batch left %v behind", eventIDs(got))
	}
}

func testEventsCanceled(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.AppendEvents(ctx, []telemetry.Event{{ID: "x", Kind: telemetry.EventDeploy, Time: at(0)}})
	if err == nil {
		t.Fatal("append with a canceled context: no error")
	}
	got, err := s.Events(t.Context(), store.EventQuery{})
	if err != nil {
		t.Fatalf("events: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("a canceled append stored %v", eventIDs(got))
	}
}
