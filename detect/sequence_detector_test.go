package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

func TestDefaultSessionKey(t *testing.T) {
	tests := []struct {
		name string
		rec  telemetry.LogRecord
		want string
	}{
		{"trace id first", telemetry.LogRecord{Fields: map[string]string{"request_id": "r", "trace_id": "t"}}, "t"},
		{"request id", telemetry.LogRecord{Fields: map[string]string{"request_id": "r"}}, "r"},
		{"block field", telemetry.LogRecord{Fields: map[string]string{"block_id": "b"}}, "b"},
		{"user id", telemetry.LogRecord{Fields: map[string]string{"user_id": "u"}}, "u"},
		{"hdfs block", telemetry.LogRecord{Message: "Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106"}, "blk_-1608999687919862906"},
		{"raw when no message", telemetry.LogRecord{Raw: "081109 203518 INFO dfs.DataNode: blk_42 terminating"}, "blk_42"},
		{"not a word start", telemetry.LogRecord{Message: "xblk_42 and blk_ and blk_x1 and blk_7a"}, ""},
		{"none", telemetry.LogRecord{Message: "nothing here"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DefaultSessionKey(&tt.rec); got != tt.want {
				t.Errorf("DefaultSessionKey = %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzBlockID(f *testing.F) {
	for _, s := range []string{"blk_1", "a blk_-2 b", "blk_", "blk_-", "xblk_3", "blk_4_"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id := blockID(s)
		if id == "" {
			return
		}
		if !strings.HasPrefix(id, "blk_") || !strings.Contains(s, id) {
			t.Fatalf("blockID(%q) = %q", s, id)
		}
		digits := strings.TrimPrefix(strings.TrimPrefix(id, "blk_"), "-")
		if digits == "" || strings.Trim(digits, "0123456789") != "" {
			t.Fatalf("blockID(%q) = %q: not blk_<digits>", s, id)
		}
	})
}

// TestSequenceDetectorScenario: sessions of a three-step workflow interleave
// in time; after warm-up, an out-of-order event is reported as it arrives
// and a session that stops halfway is reported when it goes idle.
func TestSequenceDetectorScenario(t *testing.T) {
	o := DefaultSequenceDetectorOptions()
	o.Warmup = 150
	o.Saturation = 100
	o.IdleTimeout = time.Minute
	d, err := NewSequenceDetector(o)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := func(at time.Duration, blk, tpl string) *telemetry.LogRecord {
		return &telemetry.LogRecord{
			Time: t0.Add(at), Service: "hdfs", TemplateID: tpl,
			Message: fmt.Sprintf("%s for blk_%s", tpl, blk), Raw: "raw " + tpl + " blk_" + blk,
		}
	}
	var got []Anomaly
	now := time.Duration(0)
	// 200 normal sessions, two at a time, interleaved.
	for i := 0; i < 200; i += 2 {
		a, b := fmt.Sprint(i), fmt.Sprint(i+1)
		for _, r := range []*telemetry.LogRecord{
			rec(now, a, "alloc"), rec(now+1*time.Second, b, "alloc"),
			rec(now+2*time.Second, a, "recv"), rec(now+3*time.Second, b, "recv"),
			rec(now+4*time.Second, b, "done"), rec(now+5*time.Second, a, "done"),
		} {
			got = append(got, d.Observe(r)...)
		}
		now += 10 * time.Second
		got = append(got, d.Tick(t0.Add(now))...)
	}
	now += 2 * time.Minute
	got = append(got, d.Tick(t0.Add(now))...)
	if len(got) != 0 {
		t.Fatalf("normal traffic raised %v", got)
	}
	if n := d.Model().Sessions(); n != 200 {
		t.Fatalf("learned %d sessions, want 200", n)
	}
	// An out-of-order session and one that stops after recv.
	got = append(got, d.Observe(rec(now, "900001", "alloc"))...)
	got = append(got, d.Observe(rec(now+time.Second, "900001", "done"))...)
	if len(got) != 1 || got[0].Type != TypeSequence || got[0].TemplateID != "done" ||
		got[0].Labels.Get("session") != "blk_900001" || !strings.Contains(got[0].Explanation, "never followed") {
		t.Fatalf("out of order: got %+v", got)
	}
	got = got[:0]
	got = append(got, d.Observe(rec(now, "900002", "alloc"))...)
	got = append(got, d.Observe(rec(now+time.Second, "900002", "recv"))...)
	got = append(got, d.Tick(t0.Add(now+30*time.Second))...) // not idle yet
	if len(got) != 0 {
		t.Fatalf("early: %+v", got)
	}
	got = append(got, d.Tick(t0.Add(now+2*time.Minute))...)
	if len(got) != 1 || !strings.Contains(got[0].Explanation, "session's end never followed") ||
		got[0].Labels.Get("session") != "blk_900002" {
		t.Fatalf("cut short: got %+v", got)
	}
	// Both anomalous sessions were learned once reported, so that a
	// recurring deviation is reported once, not per session.
	if n := d.Model().Sessions(); n != 202 {
		t.Fatalf("learned %d sessions, want 202", n)
	}
}

func TestSequenceDetectorLimits(t *testing.T) {
	o := DefaultSequenceDetectorOptions()
	o.MaxSessions = 1
	d, err := NewSequenceDetector(o)
	if err != nil {
		t.Fatal(err)
	}
	d.Observe(&telemetry.LogRecord{TemplateID: "a", Message: "blk_1"})
	d.Observe(&telemetry.LogRecord{TemplateID: "a", Message: "blk_2"})
	d.Observe(&telemetry.LogRecord{TemplateID: "", Message: "blk_3"})
	d.Observe(&telemetry.LogRecord{TemplateID: "a", Message: "no session"})
	if len(d.sessions) != 1 || d.dropped != 1 {
		t.Fatalf("sessions %d dropped %d", len(d.sessions), d.dropped)
	}
	o = DefaultSequenceDetectorOptions()
	o.IdleTimeout = 0
	if _, err := NewSequenceDetector(o); err == nil {
		t.Fatal("IdleTimeout 0 accepted")
	}
}

// TestSequenceDetectorReorder: two lines of a session within ReorderWindow
// of each other that come in an order never learned, while the swapped
// order is normal, are taken in the swapped order; the same pair further
// apart in time, or one whose swapped order is not normal either, is
// reported.
func TestSequenceDetectorReorder(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type line struct {
		at  time.Duration
		tpl string
	}
	tests := []struct {
		name   string
		window time.Duration
		lines  []line
		want   bool // reported
	}{
		{"swapped within window", 10 * time.Millisecond, []line{{0, "alloc"}, {time.Second, "done"}, {time.Second + 2*time.Millisecond, "recv"}}, false},
		{"swapped with one timestamp, window 0", 0, []line{{0, "alloc"}, {time.Second, "done"}, {time.Second, "recv"}}, false},
		{"swapped further apart than the window", 10 * time.Millisecond, []line{{0, "alloc"}, {time.Second, "done"}, {2 * time.Second, "recv"}}, true},
		{"swapped order not normal either", 10 * time.Millisecond, []line{{0, "alloc"}, {time.Second, "done"}, {time.Second + time.Millisecond, "alloc"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultSequenceDetectorOptions()
			o.Warmup = 300
			o.Saturation = 100
			o.IdleTimeout = time.Minute
			o.ReorderWindow = tt.window
			d, err := NewSequenceDetector(o)
			if err != nil {
				t.Fatal(err)
			}
			rec := func(at time.Duration, blk int, tpl string) *telemetry.LogRecord {
				return &telemetry.LogRecord{Time: t0.Add(at), Service: "s", TemplateID: tpl, Message: fmt.Sprintf("%s blk_%d", tpl, blk)}
			}
			// Half the sessions receive before they finish, half finish
			// at once: after alloc, recv and done are both usual, but
			// done is never followed by recv.
			var got []Anomaly
			now := time.Duration(0)
			for i := range 400 {
				got = append(got, d.Observe(rec(now, i, "alloc"))...)
				if i%2 == 0 {
					got = append(got, d.Observe(rec(now+time.Second, i, "recv"))...)
				}
				got = append(got, d.Observe(rec(now+2*time.Second, i, "done"))...)
				now += 10 * time.Second
				got = append(got, d.Tick(t0.Add(now))...)
			}
			now += 2 * time.Minute
			got = append(got, d.Tick(t0.Add(now))...)
			if len(got) != 0 {
				t.Fatalf("normal traffic raised %v", got)
			}
			for _, l := range tt.lines {
				got = append(got, d.Observe(rec(now+l.at, 9999, l.tpl))...)
			}
			got = append(got, d.Tick(t0.Add(now+5*time.Minute))...)
			if reported := len(got) > 0; reported != tt.want {
				t.Fatalf("reported %v, want %v: %+v", reported, tt.want, got)
			}
		})
	}
	o := DefaultSequenceDetectorOptions()
	o.ReorderWindow = -time.Millisecond
	if _, err := NewSequenceDetector(o); err == nil {
		t.Fatal("ReorderWindow < 0 accepted")
	}
}
