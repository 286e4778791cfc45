package sqlite

import (
	"fmt"
	"testing"
	"time"

	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

func benchDB(b *testing.B) *DB {
	b.Helper()
	opts := DefaultOptions()
	opts.Dir = b.TempDir()
	db, err := Open(b.Context(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	return db
}

func benchEvent(i int) telemetry.Event {
	return telemetry.Event{
		ID:         fmt.Sprintf("ev-%09d", i),
		Kind:       telemetry.EventDeploy,
		Time:       t0.Add(time.Duration(i) * time.Millisecond),
		Service:    fmt.Sprintf("svc-%02d", i%20),
		Summary:    "deployed checkout v2.3.1 to prod",
		Labels:     telemetry.LabelsFromStrings("env", "prod", "team", "payments"),
		Attributes: map[string]string{"version": "v2.3.1", "commit": "0123456789abcdef"},
	}
}

// BenchmarkAppendEvents appends batches of 100 events; one op is one batch
// (one commit, one fsync).
func BenchmarkAppendEvents(b *testing.B) {
	db := benchDB(b)
	const batch = 100
	events := make([]telemetry.Event, batch)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		for k := range events {
			events[k] = benchEvent(n)
			n++
		}
		if err := db.AppendEvents(b.Context(), events); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkUpsertAlerts upserts batches of 100 alerts drawn from 1000
// fingerprints, so most operations update an existing row.
func BenchmarkUpsertAlerts(b *testing.B) {
	db := benchDB(b)
	const batch = 100
	alerts := make([]telemetry.Alert, batch)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		for k := range alerts {
			alerts[k] = telemetry.Alert{
				Labels:      telemetry.LabelsFromStrings("alertname", fmt.Sprintf("A%03d", n%1000), "service", "checkout", "severity", "page"),
				Annotations: telemetry.LabelsFromStrings("summary", "p99 latency above 2s"),
				StartsAt:    t0,
				EndsAt:      t0.Add(time.Duration(n) * time.Second),
				UpdatedAt:   t0.Add(time.Duration(n) * time.Second),
			}
			n++
		}
		if err := db.UpsertAlerts(b.Context(), alerts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEventsQuery reads the 100 newest events of one service out of
// 100,000.
func BenchmarkEventsQuery(b *testing.B) {
	db := benchDB(b)
	const total, batch = 100_000, 5000
	for i := 0; i < total; i += batch {
		events := make([]telemetry.Event, batch)
		for k := range events {
			events[k] = benchEvent(i + k)
		}
		if err := db.AppendEvents(b.Context(), events); err != nil {
			b.Fatal(err)
		}
	}
	q := store.EventQuery{Service: "svc-07", From: t0, To: t0.Add(time.Hour), Limit: 100}
	b.ReportAllocs()
	for b.Loop() {
		got, err := db.Events(b.Context(), q)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != 100 {
			b.Fatalf("got %d events", len(got))
		}
	}
}
