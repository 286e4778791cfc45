package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// testConcurrentWriters has 16 goroutines write and read at once: the
// contract has no "busy, retry later" error, so every write must succeed
// and be visible afterwards.
func testConcurrentWriters(t *testing.T, s store.Store) {
	ctx := t.Context()
	const (
		writers   = 16
		rounds    = 10
		perAppend = 5
	)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for g := range writers {
		wg.Go(func() {
			for r := range rounds {
				events := make([]telemetry.Event, perAppend)
				for k := range events {
					events[k] = telemetry.Event{
						ID:      fmt.Sprintf("g%02d-r%02d-%d", g, r, k),
						Kind:    telemetry.EventDeploy,
						Time:    at(time.Duration(g*rounds+r) * time.Second),
						Service: fmt.Sprintf("svc%02d", g),
					}
				}
				if err := s.AppendEvents(ctx, events); err != nil {
					errs <- fmt.Errorf("writer %d append: %w", g, err)
					return
				}
				a := alert(fmt.Sprintf("W%02d", g), time.Duration(r)*time.Minute, 0)
				if err := s.UpsertAlerts(ctx, []telemetry.Alert{a}); err != nil {
					errs <- fmt.Errorf("writer %d upsert: %w", g, err)
					return
				}
				if err := s.PutState(ctx, fmt.Sprintf("w%02d", g), []byte(fmt.Sprint(r))); err != nil {
					errs <- fmt.Errorf("writer %d put state: %w", g, err)
					return
				}
				if _, err := s.Events(ctx, store.EventQuery{Service: fmt.Sprintf("svc%02d", g)}); err != nil {
					errs <- fmt.Errorf("writer %d read: %w", g, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	events, err := s.Events(ctx, store.EventQuery{Limit: 10 * writers * rounds * perAppend})
	if err != nil {
		t.Fatalf("events: %v", err)
	}
	seen := make(map[string]bool, len(events))
	for _, e := range events {
		seen[e.ID] = true
	}
	for g := range writers {
		for r := range rounds {
			for k := range perAppend {
				if id := fmt.Sprintf("g%02d-r%02d-%d", g, r, k); !seen[id] {
					t.Errorf("event %s missing", id)
				}
			}
		}
	}
	if len(events) != writers*rounds*perAppend {
		t.Errorf("got %d events, want %d", len(events), writers*rounds*perAppend)
	}
	alerts, err := s.Alerts(ctx, store.AlertQuery{Limit: 10 * writers * rounds})
	if err != nil {
		t.Fatalf("alerts: %v", err)
	}
	if len(alerts) != writers*rounds {
		t.Errorf("got %d alerts, want %d", len(alerts), writers*rounds)
	}
	for g := range writers {
		v, err := s.GetState(ctx, fmt.Sprintf("w%02d", g))
		if err != nil || string(v) != fmt.Sprint(rounds-1) {
			t.Errorf("state of writer %d: %q, %v; want %q", g, v, err, fmt.Sprint(rounds-1))
		}
	}
}
