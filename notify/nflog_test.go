package notify

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

func TestLogPersistsAcrossInstances(t *testing.T) {
	st := &MemStateStore{}
	ctx := context.Background()
	opts := DefaultLogOptions()
	opts.Store = st
	l1, err := NewLog(opts)
	if err != nil {
		t.Fatal(err)
	}
	key := LogKey("r", "slack[0]", "g")
	if err := l1.Record(ctx, key, LogEntry{Hash: "abc", SentAt: t0}); err != nil {
		t.Fatal(err)
	}
	l2, _ := NewLog(opts)
	e, ok, err := l2.Query(ctx, key, t0.Add(time.Hour))
	if err != nil || !ok || e.Hash != "abc" || !e.SentAt.Equal(t0) {
		t.Fatalf("Query after reload = %+v, %v, %v", e, ok, err)
	}
	if _, ok, _ := l2.Query(ctx, key, t0.Add(opts.Retention)); ok {
		t.Error("entry still live at its retention")
	}
}

func TestLogBounded(t *testing.T) {
	ctx := context.Background()
	opts := DefaultLogOptions()
	opts.MaxEntries = 64
	opts.Shards = 4
	opts.Store = &MemStateStore{}
	l, err := NewLog(opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if err := l.Record(ctx, LogKey("r", "x", fmt.Sprint(i)), LogEntry{Hash: "h", SentAt: t0.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := l.Len(); n > 64 {
		t.Errorf("log holds %d entries, want <= 64", n)
	}
	// The newest survive.
	if _, ok, _ := l.Query(ctx, LogKey("r", "x", "999"), t0.Add(1000*time.Second)); !ok {
		t.Error("newest entry evicted")
	}
	// Retention prunes on write.
	if err := l.Record(ctx, "late", LogEntry{Hash: "h", SentAt: t0.Add(1000 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	l.mtx.Lock()
	n := len(l.shards[l.shardOf("late")])
	l.mtx.Unlock()
	if n != 1 {
		t.Errorf("shard holds %d entries after pruning, want 1", n)
	}
}

func TestLogCorruptShardStartsEmpty(t *testing.T) {
	st := &MemStateStore{}
	ctx := context.Background()
	opts := DefaultLogOptions()
	opts.Store = st
	opts.Shards = 1
	opts.MaxEntries = 10
	_ = st.PutState(ctx, opts.KeyPrefix+"0", []byte("{not json"))
	l, _ := NewLog(opts)
	if _, ok, err := l.Query(ctx, "k", t0); ok || err != nil {
		t.Fatalf("Query on corrupt shard = %v, %v; want absent, nil", ok, err)
	}
	if err := l.Record(ctx, "k", LogEntry{Hash: "h", SentAt: t0}); err != nil {
		t.Fatal(err)
	}
	b, _ := st.GetState(ctx, opts.KeyPrefix+"0")
	if _, err := DecodeLogShard(b); err != nil {
		t.Errorf("rewritten shard does not decode: %v", err)
	}
}

func TestLogKeyUnambiguous(t *testing.T) {
	if LogKey("a/b", "c", "d") == LogKey("a", "b/c", "d") {
		t.Error("keys collide")
	}
}

func TestContentHash(t *testing.T) {
	m := testMessage("g", 3, t0)
	h := ContentHash(m)
	tests := []struct {
		name   string
		mutate func(*Message)
		same   bool
	}{
		{"order does not matter", func(m *Message) { m.Alerts[0], m.Alerts[2] = m.Alerts[2], m.Alerts[0] }, true},
		{"annotations do not matter", func(m *Message) { m.Alerts[0].Annotations = telemetry.LabelsFromStrings("x", "y") }, true},
		{"evaluation time alone does not matter", func(m *Message) { m.Now = m.Now.Add(time.Minute) }, true},
		{"duplicate alert counts once", func(m *Message) { m.Alerts = append(m.Alerts, m.Alerts[0]) }, true},
		{"extra alert", func(m *Message) {
			m.Alerts = append(m.Alerts, telemetry.Alert{Labels: telemetry.LabelsFromStrings("alertname", "Other")})
		}, false},
		{"resolved alert", func(m *Message) { m.Alerts[1].EndsAt = m.Now }, false},
		{"status", func(m *Message) { m.Status = StatusResolved }, false},
		{"incident", func(m *Message) { m.Incident = &IncidentInfo{ID: "1", Status: IncidentOpen} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mm := testMessage("g", 3, t0)
			tt.mutate(mm)
			if got := ContentHash(mm) == h; got != tt.same {
				t.Errorf("same hash = %v, want %v", got, tt.same)
			}
		})
	}
}
