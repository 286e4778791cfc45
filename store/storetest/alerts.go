package storetest

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

func alert(name string, starts, ends time.Duration) telemetry.Alert {
	a := telemetry.Alert{
		Labels:   telemetry.LabelsFromStrings(telemetry.AlertNameLabel, name, "service", "checkout"),
		StartsAt: at(starts),
	}
	if ends != 0 {
		a.EndsAt = at(ends)
	}
	return a
}

// alertKeys names alerts by alertname and start offset from base, for
// comparing orderings.
func alertKeys(as []telemetry.Alert) []string {
	keys := make([]string, len(as))
	for i, a := range as {
		keys[i] = fmt.Sprintf("%s@%v", a.Name(), a.StartsAt.Sub(base))
	}
	return keys
}

func testAlertsRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := []telemetry.Alert{
		{
			Labels:       telemetry.LabelsFromStrings("alertname", "HighLatency", "service", "checkout", "severity", "page"),
			Annotations:  telemetry.LabelsFromStrings("summary", "p99 > 2s ☃", "runbook_url", "https://runbooks/x?a=1&b=2"),
			StartsAt:     at(time.Minute + 987654321*time.Nanosecond),
			GeneratorURL: "http://prometheus:9090/graph?g0.expr=up",
			UpdatedAt:    at(2*time.Minute + 1),
			// EndsAt zero: still firing, and it must come back zero.
		},
		{
			Labels:   telemetry.LabelsFromStrings("alertname", "Down"),
			StartsAt: at(0),
			EndsAt:   at(5*time.Minute + 7),
		},
	}
	if err := s.UpsertAlerts(ctx, want); err != nil {
		t.Fatalf("upsert: %v", err)
	}
	got, err := s.Alerts(ctx, store.AlertQuery{})
	if err != nil {
		t.Fatalf("alerts: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d alerts, want 2", len(got))
	}
	checkAlert(t, got[0], want[0])
	checkAlert(t, got[1], want[1])
	if err := s.UpsertAlerts(ctx, nil); err != nil {
		t.Errorf("upsert of no alerts: %v", err)
	}
}

func testAlertsUpsert(t *testing.T, s store.Store) {
	ctx := t.Context()
	firing := alert("A", 0, 0)
	firing.Annotations = telemetry.LabelsFromStrings("summary", "first")
	firing.UpdatedAt = at(time.Minute)
	if err := s.UpsertAlerts(ctx, []telemetry.Alert{firing}); err != nil {
		t.Fatalf("upsert: %v", err)
	}

	resolved := firing
	resolved.EndsAt = at(10 * time.Minute)
	resolved.Annotations = telemetry.LabelsFromStrings("summary", "second")
	resolved.UpdatedAt = at(10 * time.Minute)
	// Within one batch the last write wins.
	early := resolved
	early.EndsAt = at(3 * time.Minute)
	if err := s.UpsertAlerts(ctx, []telemetry.Alert{early, resolved}); err != nil {
		t.Fatalf("upsert resolved: %v", err)
	}
	got, err := s.Alerts(ctx, store.AlertQuery{Fingerprint: firing.Fingerprint()})
	if err != nil {
		t.Fatalf("alerts: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("after update: got %v, want one row", alertKeys(got))
	}
	checkAlert(t, got[0], resolved)

	// A re-fire after resolution is a new row.
	refire := alert("A", 20*time.Minute, 0)
	if err := s.UpsertAlerts(ctx, []telemetry.Alert{refire}); err != nil {
		t.Fatalf("upsert re-fire: %v", err)
	}
	got, err = s.Alerts(ctx, store.AlertQuery{Fingerprint: firing.Fingerprint()})
	if err != nil {
		t.Fatalf("alerts: %v", err)
	}
	if keys := alertKeys(got); !slices.Equal(keys, []string{"A@20m0s", "A@0s"}) {
		t.Fatalf("after re-fire: got %v, want [A@20m0s A@0s]", keys)
	}
	checkAlert(t, got[0], refire)
	checkAlert(t, got[1], resolved)
}

func testAlertsFilters(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := alert("A", 0, 10*time.Minute)
	seed := []telemetry.Alert{
		alert("C", 15*time.Minute, 20*time.Minute),
		a,
		alert("A", 30*time.Minute, 0),
		alert("B", 5*time.Minute, 0),
	}
	if err := s.UpsertAlerts(ctx, seed); err != nil {
		t.Fatalf("upsert: %v", err)
	}
	fpA := a.Fingerprint()
	tests := []struct {
		name string
		q    store.AlertQuery
		want []string
	}{
		{"all, most recently started first", store.AlertQuery{}, []string{"A@30m0s", "C@15m0s", "B@5m0s", "A@0s"}},
		{"fingerprint", store.AlertQuery{Fingerprint: fpA}, []string{"A@30m0s", "A@0s"}},
		{"active at", store.AlertQuery{ActiveAt: at(7 * time.Minute)}, []string{"B@5m0s", "A@0s"}},
		{"active at the start instant", store.AlertQuery{ActiveAt: at(5 * time.Minute)}, []string{"B@5m0s", "A@0s"}},
		{"ended at the instant is not active", store.AlertQuery{ActiveAt: at(10 * time.Minute)}, []string{"B@5m0s"}},
		{"active later", store.AlertQuery{ActiveAt: at(17 * time.Minute)}, []string{"C@15m0s", "B@5m0s"}},
		{"active before all", store.AlertQuery{ActiveAt: at(-time.Minute)}, nil},
		{"active with fingerprint", store.AlertQuery{Fingerprint: fpA, ActiveAt: at(35 * time.Minute)}, []string{"A@30m0s"}},
		{"from is inclusive", store.AlertQuery{From: at(5 * time.Minute)}, []string{"A@30m0s", "C@15m0s", "B@5m0s"}},
		{"to is exclusive", store.AlertQuery{To: at(15 * time.Minute)}, []string{"B@5m0s", "A@0s"}},
		{"from and to", store.AlertQuery{From: at(5 * time.Minute), To: at(30 * time.Minute)}, []string{"C@15m0s", "B@5m0s"}},
		{"limit", store.AlertQuery{Limit: 1}, []string{"A@30m0s"}},
		{"all filters", store.AlertQuery{Fingerprint: fpA, ActiveAt: at(time.Minute), From: at(0), To: at(time.Hour), Limit: 10}, []string{"A@0s"}},
		{"unknown fingerprint", store.AlertQuery{Fingerprint: 42}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Alerts(ctx, tc.q)
			if err != nil {
				t.Fatalf("alerts: %v", err)
			}
			if keys := alertKeys(got); !slices.Equal(keys, tc.want) {
				t.Errorf("got %v, want %v", keys, tc.want)
			}
		})
	}
}

func testAlertsDefaultLimit(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 1001
	alerts := make([]telemetry.Alert, n)
	for i := range alerts {
		alerts[i] = alert("X"+strconv.Itoa(i), time.Duration(i)*time.Second, 0)
	}
	if err := s.UpsertAlerts(ctx, alerts); err != nil {
		t.Fatalf("upsert: %v", err)
	}
	got, err := s.Alerts(ctx, store.AlertQuery{})
	if err != nil {
		t.Fatalf("alerts: %v", err)
	}
	if len(got) != 1000 {
		t.Fatalf("default limit: got %d alerts, want 1000", len(got))
	}
	if got[0].Name() != "X1000" {
		t.Errorf("default limit starts at %s, want the newest X1000", got[0].Name())
	}
	got, err = s.Alerts(ctx, store.AlertQuery{Limit: n})
	if err != nil {
		t.Fatalf("alerts: %v", err)
	}
	if len(got) != n {
		t.Errorf("limit %d: got %d alerts", n, len(got))
	}
}

// testAlertsHighBitFingerprint checks that fingerprints at or above 2^63,
// which do not fit a signed 64-bit column as such, survive and can be
// looked up.
func testAlertsHighBitFingerprint(t *testing.T, s store.Store) {
	ctx := t.Context()
	var high, low telemetry.Alert
	for i := 0; high.StartsAt.IsZero() || low.StartsAt.IsZero(); i++ {
		a := alert("F"+strconv.Itoa(i), time.Duration(i)*time.Second, 0)
		if a.Fingerprint()>>63 == 1 && high.StartsAt.IsZero() {
			high = a
		} else if a.Fingerprint()>>63 == 0 && low.StartsAt.IsZero() {
			low = a
		}
	}
	if err := s.UpsertAlerts(ctx, []telemetry.Alert{high, low}); err != nil {
		t.Fatalf("upsert: %v", err)
	}
	for _, want := range []telemetry.Alert{high, low} {
		got, err := s.Alerts(ctx, store.AlertQuery{Fingerprint: want.Fingerprint()})
		if err != nil {
			t.Fatalf("alerts: %v", err)
		}
		if len(got) != 1 {
			t.Errorf("fingerprint %v: got %d alerts, want 1", want.Fingerprint(), len(got))
			continue
		}
		checkAlert(t, got[0], want)
	}
}
