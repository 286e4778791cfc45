package amapi

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/telemetry"
)

func TestMerge(t *testing.T) {
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	mk := func(starts, ends, updated time.Time) telemetry.Alert {
		a := alert("A", starts, ends)
		a.UpdatedAt = updated
		return a
	}
	var never time.Time
	tests := []struct {
		name     string
		old, in  telemetry.Alert
		now      time.Time
		starts   time.Time
		ends     time.Time
		resolved bool
	}{
		{"resend extends", mk(at(0), at(4), at(0)), mk(at(0), at(5), at(1)), at(1), at(0), at(5), false},
		{"resolution", mk(at(0), at(4), at(0)), mk(at(0), at(1), at(1)), at(1), at(0), at(1), true},
		{"resolution with only endsAt keeps start", mk(at(0), at(5), at(0)), mk(at(1), at(1), at(2)), at(2), at(0), at(1), true},
		{"stale firing copy loses", mk(at(0), at(1), at(2)), mk(at(0), at(5), at(0)), at(2), at(0), at(1), true},
		{"stale copy of a firing alert", mk(at(0), at(9), at(2)), mk(at(0), at(5), at(1)), at(2), at(0), at(9), false},
		{"duplicate", mk(at(0), at(5), at(0)), mk(at(0), at(5), at(0)), at(0), at(0), at(5), false},
		{"refire after resolution replaces", mk(at(0), at(1), at(1)), mk(at(10), at(15), at(10)), at(10), at(10), at(15), false},
		{"earlier start kept", mk(at(-5), at(5), at(0)), mk(at(0), at(6), at(1)), at(1), at(-5), at(6), false},
		{"later firing end kept", mk(at(0), at(20), at(0)), mk(at(1), at(6), at(1)), at(1), at(0), at(20), false},
		{"both resolved, later end kept", mk(at(0), at(3), at(3)), mk(at(1), at(2), at(4)), at(4), at(0), at(3), true},
		{"open-ended then resolved", mk(at(0), never, at(0)), mk(at(0), at(3), at(3)), at(3), at(0), at(3), true},
		{"open-ended stays open under a firing copy", mk(at(0), never, at(0)), mk(at(1), at(6), at(1)), at(1), at(0), never, false},
		{"firing open-ended after timed", mk(at(0), at(5), at(0)), mk(at(1), never, at(1)), at(1), at(0), never, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := merge(tc.old, tc.in)
			if !got.StartsAt.Equal(tc.starts) || !got.EndsAt.Equal(tc.ends) || got.Resolved(tc.now) != tc.resolved {
				t.Fatalf("starts %v ends %v resolved %v; want %v %v %v", got.StartsAt, got.EndsAt, got.Resolved(tc.now), tc.starts, tc.ends, tc.resolved)
			}
		})
	}
}

func TestStateUpdateAndGC(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := newState(t, func(o *StateOptions) {
		o.Retention = 10 * time.Minute
		o.OpenEndedTTL = time.Hour
		o.Registerer = reg
	})
	in := []telemetry.Alert{
		alert("Firing", t0, t0.Add(5*time.Minute)),
		alert("Open", t0, time.Time{}),
		alert("ResolvedNew", t0.Add(-time.Hour), t0.Add(-time.Minute)),
	}
	if err := s.Update(in, t0); err != nil {
		t.Fatal(err)
	}
	if !in[0].UpdatedAt.IsZero() {
		t.Fatal("Update modified the caller's slice")
	}
	// A resolved alert with a new fingerprint is not stored.
	if s.Len() != 2 {
		t.Fatalf("Len %d, want 2", s.Len())
	}
	got, ok := s.Get(in[0].Fingerprint())
	if !ok || !got.UpdatedAt.Equal(t0) {
		t.Fatalf("Get: %+v %v", got, ok)
	}
	if n := s.GC(t0.Add(time.Minute)); n != 0 {
		t.Fatalf("GC removed %d firing alerts", n)
	}
	// Firing ends at t0+5m: resolved, but kept for Retention after that.
	if fs := s.Firing(t0.Add(6*time.Minute), nil); len(fs) != 1 || fs[0].Name() != "Open" {
		t.Fatalf("Firing: %v", fs)
	}
	if n := s.GC(t0.Add(14 * time.Minute)); n != 0 || s.Len() != 2 {
		t.Fatalf("GC before retention removed %d", n)
	}
	if n := s.GC(t0.Add(15 * time.Minute)); n != 1 || s.Len() != 1 {
		t.Fatalf("GC at retention removed %d, Len %d", n, s.Len())
	}
	// The open-ended alert goes once not updated for OpenEndedTTL.
	if n := s.GC(t0.Add(59 * time.Minute)); n != 0 {
		t.Fatalf("open-ended removed early")
	}
	if n := s.GC(t0.Add(time.Hour)); n != 1 || s.Len() != 0 {
		t.Fatalf("open-ended GC removed %d, Len %d", n, s.Len())
	}
	if got := metricValue(t, reg, "vigil_ingest_amapi_state_removed_total", "reason", "resolved"); got != 1 {
		t.Errorf("removed{resolved} %v", got)
	}
	if got := metricValue(t, reg, "vigil_ingest_amapi_state_removed_total", "reason", "stale"); got != 1 {
		t.Errorf("removed{stale} %v", got)
	}
}

func TestStateOpenEndedKeptForever(t *testing.T) {
	s := newState(t, func(o *StateOptions) { o.OpenEndedTTL = -1 })
	if err := s.Update([]telemetry.Alert{alert("Open", t0, time.Time{})}, t0); err != nil {
		t.Fatal(err)
	}
	if n := s.GC(t0.Add(365 * 24 * time.Hour)); n != 0 {
		t.Fatal("open-ended alert collected despite a negative TTL")
	}
}

func TestStateCap(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := newState(t, func(o *StateOptions) { o.MaxAlerts = 3; o.Registerer = reg })
	batch := func(prefix string, n int, ends time.Time) []telemetry.Alert {
		var out []telemetry.Alert
		for i := range n {
			out = append(out, alert(fmt.Sprintf("%s%d", prefix, i), t0, ends))
		}
		return out
	}
	if err := s.Update(batch("F", 3, t0.Add(time.Hour)), t0); err != nil {
		t.Fatal(err)
	}
	// Full of firing alerts: new ones are refused, none is evicted, and
	// updates to held ones still apply.
	err := s.Update(append(batch("N", 2, t0.Add(time.Hour)), alert("F0", t0, t0.Add(2*time.Hour))), t0)
	if !errors.Is(err, ErrStateFull) {
		t.Fatalf("err %v, want ErrStateFull", err)
	}
	if s.Len() != 3 {
		t.Fatalf("Len %d", s.Len())
	}
	if f0, _ := s.Get(telemetry.LabelsFromStrings("alertname", "F0").Fingerprint()); !f0.EndsAt.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("update to a held alert not applied when full: %v", f0.EndsAt)
	}
	if got := metricValue(t, reg, "vigil_ingest_amapi_state_refused_total"); got != 2 {
		t.Errorf("refused_total %v", got)
	}
	if got := metricValue(t, reg, "vigil_ingest_amapi_state_alerts"); got != 3 {
		t.Errorf("state_alerts %v", got)
	}
	// Resolve F1: its slot is reclaimed early (before Retention) for a new
	// alert, once the sweep interval allows.
	if err := s.Update([]telemetry.Alert{alert("F1", t0, t0)}, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(batch("N", 1, t0.Add(time.Hour)), t0.Add(500*time.Millisecond)); !errors.Is(err, ErrStateFull) {
		t.Fatalf("sweep ran before its interval: %v", err)
	}
	if err := s.Update(batch("N", 1, t0.Add(time.Hour)), t0.Add(3*time.Second)); err != nil {
		t.Fatalf("after the sweep interval: %v", err)
	}
	if got := metricValue(t, reg, "vigil_ingest_amapi_state_removed_total", "reason", "evicted"); got != 1 {
		t.Errorf("removed{evicted} %v", got)
	}
	if fs := s.Firing(t0.Add(3*time.Second), nil); len(fs) != 3 {
		t.Fatalf("firing %d, want F0 F2 N0", len(fs))
	}
}

func TestStateReserve(t *testing.T) {
	s := newState(t, func(o *StateOptions) { o.MaxAlerts = 2 })
	as := []telemetry.Alert{alert("A", t0, t0.Add(time.Hour)), alert("A", t0, t0.Add(time.Hour)), alert("B", t0, t0.Add(time.Hour)), alert("C", t0, t0.Add(time.Hour))}
	fps := make([]telemetry.Fingerprint, len(as))
	for i := range as {
		fps[i] = as[i].Fingerprint()
	}
	ok := make([]bool, len(as))
	n := s.reserve(as, fps, t0, ok)
	// A twice takes one slot; B the other; C has none.
	if n != 2 || !ok[0] || !ok[1] || !ok[2] || ok[3] {
		t.Fatalf("reserve: n=%d ok=%v", n, ok)
	}
	// While reserved, Update cannot take the slots.
	if err := s.Update([]telemetry.Alert{alert("D", t0, t0.Add(time.Hour))}, t0); !errors.Is(err, ErrStateFull) {
		t.Fatalf("Update during reservation: %v", err)
	}
	s.release(n)
	if err := s.Update([]telemetry.Alert{alert("D", t0, t0.Add(time.Hour))}, t0); err != nil {
		t.Fatalf("Update after release: %v", err)
	}
	ok = make([]bool, 1)
	n = s.reserve(as[:1], fps[:1], t0, ok)
	if n != 1 || !ok[0] {
		t.Fatalf("reserve after release: %d %v", n, ok)
	}
	s.commit(as[:1], fps[:1], n, t0)
	if s.Len() != 2 || s.reserved != 0 {
		t.Fatalf("commit: Len %d reserved %d", s.Len(), s.reserved)
	}
}

func TestStateFiringSortedAndFiltered(t *testing.T) {
	s := newState(t, nil)
	var in []telemetry.Alert
	for i := range 50 {
		in = append(in, alert(fmt.Sprintf("A%d", i), t0, t0.Add(time.Hour), "i", fmt.Sprint(i%2)))
	}
	if err := s.Update(in, t0); err != nil {
		t.Fatal(err)
	}
	fs := s.Firing(t0, func(a *telemetry.Alert) bool { return a.Labels.Get("i") == "1" })
	if len(fs) != 25 {
		t.Fatalf("filtered %d", len(fs))
	}
	for i := 1; i < len(fs); i++ {
		if fs[i-1].Fingerprint() >= fs[i].Fingerprint() {
			t.Fatalf("not sorted at %d", i)
		}
	}
}
