package detect

import (
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

func TestCtNumber(t *testing.T) {
	tests := []struct {
		tok, prefix, unit string
		v                 float64
		ok                bool
	}{
		{"50000ms", "", "ms", 50000, true},
		{"took=35ms,", "took=", "ms", 35, true},
		{"latency:0.25s", "latency:", "s", 0.25, true},
		{"(12)", "(", "", 12, true},
		{"-3", "", "", -3, true},
		{"10.0.0.1", "", "", 0, false},
		{"2026-03-02T10:00:00Z", "", "", 0, false},
		{"v2", "", "", 0, false},
		{"ch_1d85", "", "", 0, false},
		{"done", "", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.tok, func(t *testing.T) {
			prefix, v, unit, ok := ctNumber(tt.tok)
			if ok != tt.ok || ok && (prefix != tt.prefix || unit != tt.unit || v != tt.v) {
				t.Errorf("ctNumber(%q) = %q %v %q %v, want %q %v %q %v", tt.tok, prefix, v, unit, ok, tt.prefix, tt.v, tt.unit, tt.ok)
			}
		})
	}
}

func TestCtLineDuration(t *testing.T) {
	tests := []struct {
		msg    string
		fields map[string]string
		want   float64
		ok     bool
	}{
		{"request took 35ms", nil, 0.035, true},
		{"db=3ms total=1.5s", nil, 1.5, true},
		{"request completed", map[string]string{"duration_ms": "250"}, 0.25, true},
		{"GET /", map[string]string{"request_time": "0.042"}, 0.042, true},
		{"user 42 logged in", map[string]string{"status": "200"}, 0, false},
	}
	for _, tt := range tests {
		got, ok := ctLineDuration(tt.msg, tt.fields)
		if ok != tt.ok || ok && (got < tt.want*0.999 || got > tt.want*1.001) {
			t.Errorf("ctLineDuration(%q, %v) = %v %v, want %v %v", tt.msg, tt.fields, got, ok, tt.want, tt.ok)
		}
	}
}

// TestContentParams drives ObserveParams directly: a categorical parameter
// with one usual value shows a new one.
func TestContentParams(t *testing.T) {
	d := NewContentDetector(DefaultContentOptions())
	at := streamStart
	rec := func(body string) *telemetry.LogRecord {
		at = at.Add(time.Second)
		return &telemetry.LogRecord{Time: at, Service: "payments", TemplateID: "T9", Raw: "provider answered 200 " + body}
	}
	for i := range 300 {
		if as := d.ObserveParams(rec(`{"ok":true}`), "provider answered <*> <*>", []string{"200", `{"ok":true}`}); len(as) != 0 {
			t.Fatalf("line %d: %v", i, as)
		}
	}
	as := d.ObserveParams(rec(`{"error":"rate_limited"}`), "provider answered <*> <*>", []string{"200", `{"error":"rate_limited"}`})
	if len(as) != 1 || as[0].Labels.Get("slot") != "1" || as[0].Template != "provider answered <*> <*>" ||
		!strings.Contains(as[0].Explanation, "300 earlier lines") {
		t.Fatalf("got %+v", as)
	}
}
