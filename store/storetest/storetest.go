// Package storetest is the conformance suite for store.Store
// implementations: every implementation's tests call Run, so that sqlite
// and postgres answer the same contract the same way.
//
// Invariant: the suite relies only on behaviour visible through the
// interface (what package store documents, plus the few rules stated at
// Run), never on how an implementation stores things.
package storetest

import (
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// Retention is the retention the stores given to Run must be configured
// with; the prune tests are written against it.
const Retention = 24 * time.Hour

// base is the suite's fixed clock origin: evaluation time is always passed
// in, so nothing here depends on when the test runs.
var base = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// cest is a non-UTC zone: times written in it must come back in UTC.
var cest = time.FixedZone("CEST", 2*60*60)

// Run exercises the whole store.Store contract. open must return a new,
// empty store configured with Retention; it is called once per subtest,
// possibly from parallel subtests. Run closes each store when its subtest
// ends.
//
// Beyond package store's documentation the suite expects what every Vigil
// store does: an event without ID is refused along with its whole batch
// (callers assign IDs), a write under a canceled context fails and stores
// nothing, and TouchToken may skip a write within a minute of the last
// recorded use but never records a time that was not a use.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Events/RoundTrip", testEventsRoundTrip},
		{"Events/Filters", testEventsFilters},
		{"Events/DefaultLimit", testEventsDefaultLimit},
		{"Events/Idempotent", testEventsIdempotent},
		{"Events/Atomic", testEventsAtomic},
		{"Events/Canceled", testEventsCanceled},
		{"Alerts/RoundTrip", testAlertsRoundTrip},
		{"Alerts/Upsert", testAlertsUpsert},
		{"Alerts/Filters", testAlertsFilters},
		{"Alerts/DefaultLimit", testAlertsDefaultLimit},
		{"Alerts/HighBitFingerprint", testAlertsHighBitFingerprint},
		{"Tokens/CRUD", testTokensCRUD},
		{"Tokens/Conflict", testTokensConflict},
		{"Tokens/Touch", testTokensTouch},
		{"State", testState},
		{"Incidents/RoundTrip", testIncidentsRoundTrip},
		{"Incidents/Filters", testIncidentsFilters},
		{"Incidents/Timeline", testIncidentsTimeline},
		{"Incidents/Prune", testIncidentsPrune},
		{"Prune", testPrune},
		{"Ping", testPing},
		{"ConcurrentWriters", testConcurrentWriters},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

// at returns base plus d, written in a non-UTC zone.
func at(d time.Duration) time.Time { return base.Add(d).In(cest) }

// checkTime fails unless got is the instant want, in UTC (or both zero).
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if want.IsZero() {
		if !got.IsZero() {
			t.Errorf("%s: got %v, want the zero time", what, got)
		}
		return
	}
	if !got.Equal(want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s: location %v, want UTC", what, got.Location())
	}
}

func checkLabels(t *testing.T, what string, got, want telemetry.Labels) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func checkEvent(t *testing.T, got, want telemetry.Event) {
	t.Helper()
	if got.ID != want.ID || got.Kind != want.Kind || got.Service != want.Service || got.Summary != want.Summary {
		t.Errorf("event: got id=%q kind=%q service=%q summary=%q, want id=%q kind=%q service=%q summary=%q",
			got.ID, got.Kind, got.Service, got.Summary, want.ID, want.Kind, want.Service, want.Summary)
	}
	checkTime(t, "event "+want.ID+" time", got.Time, want.Time)
	checkLabels(t, "event "+want.ID+" labels", got.Labels, want.Labels)
	// nil and empty attributes are the same thing.
	if !maps.Equal(got.Attributes, want.Attributes) {
		t.Errorf("event %s attributes: got %v, want %v", want.ID, got.Attributes, want.Attributes)
	}
}

func checkAlert(t *testing.T, got, want telemetry.Alert) {
	t.Helper()
	name := fmt.Sprintf("alert %s@%s", want.Name(), want.StartsAt.UTC().Format(time.RFC3339Nano))
	checkLabels(t, name+" labels", got.Labels, want.Labels)
	checkLabels(t, name+" annotations", got.Annotations, want.Annotations)
	checkTime(t, name+" startsAt", got.StartsAt, want.StartsAt)
	checkTime(t, name+" endsAt", got.EndsAt, want.EndsAt)
	checkTime(t, name+" updatedAt", got.UpdatedAt, want.UpdatedAt)
	if got.GeneratorURL != want.GeneratorURL {
		t.Errorf("%s generatorURL: got %q, want %q", name, got.GeneratorURL, want.GeneratorURL)
	}
	if got.Fingerprint() != want.Fingerprint() {
		t.Errorf("%s fingerprint: got %v, want %v", name, got.Fingerprint(), want.Fingerprint())
	}
}

func checkToken(t *testing.T, got, want store.Token) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || got.Role != want.Role || string(got.Hash) != string(want.Hash) {
		t.Errorf("token: got id=%q name=%q role=%q hash=%x, want id=%q name=%q role=%q hash=%x",
			got.ID, got.Name, got.Role, got.Hash, want.ID, want.Name, want.Role, want.Hash)
	}
	checkTime(t, "token "+want.ID+" createdAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, "token "+want.ID+" expiresAt", got.ExpiresAt, want.ExpiresAt)
	checkTime(t, "token "+want.ID+" lastUsedAt", got.LastUsedAt, want.LastUsedAt)
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

// eventIDs lists the IDs in order, for comparing orderings.
func eventIDs(es []telemetry.Event) []string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return ids
}
