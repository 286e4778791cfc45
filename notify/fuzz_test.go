package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigilops/vigil/telemetry"
)

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "120", "-5", "Wed, 21 Oct 2015 07:28:00 GMT", "Sun Nov  6 08:49:37 1994", "99999999999999999999", " 3 "} {
		f.Add(s)
	}
	ref := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseRetryAfter(s, ref)
		if d < 0 || d > maxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %v outside [0, %v]", s, d, maxRetryAfter)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v with ok=false", s, d)
		}
	})
}

func FuzzDecodeLogShard(f *testing.F) {
	f.Add([]byte(`{"v":1,"entries":{"k":{"h":"abc","t":"2025-01-01T00:00:00Z"}}}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"v":1,"entries":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeLogShard(b)
		if err == nil && m == nil {
			t.Fatal("nil map without error")
		}
	})
}

// FuzzTemplateRender renders the default templates over hostile label
// values: no panic, valid UTF-8, bounded, and a title made one line with
// OneLine never carries a line break (what headers and summaries rely on).
func FuzzTemplateRender(f *testing.F) {
	f.Add("HighErrorRate", "checkout", "summary")
	f.Add("x\r\nBcc: a@b", "{{ .Receiver }}", "\x00\xff\xfe")
	f.Add(strings.Repeat("é", 3000), "<!channel>", `"},{"x":`)
	title := MustTemplate("title", DefaultTitleTemplate)
	text := MustTemplate("text", DefaultTextTemplate)
	f.Fuzz(func(t *testing.T, name, service, summary string) {
		m := &Message{GroupKey: "g", Status: StatusFiring, Now: t0,
			CommonLabels: telemetry.LabelsFromMap(map[string]string{"alertname": name, "service": service}),
			Alerts: []telemetry.Alert{{
				Labels:      telemetry.LabelsFromMap(map[string]string{"alertname": name, "service": service}),
				Annotations: telemetry.LabelsFromMap(map[string]string{"summary": summary}),
			}},
			Incident: &IncidentInfo{ID: name + "x", Title: summary, Status: IncidentOpen, Services: []string{service}},
		}
		for _, tm := range []*Template{title, text} {
			out, err := tm.Execute(m)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if !utf8.ValidString(out) || len(out) > maxRendered {
				t.Fatalf("bad output: valid=%v len=%d", utf8.ValidString(out), len(out))
			}
			one := OneLine(out)
			if strings.ContainsAny(one, "\r\n") {
				t.Fatalf("OneLine kept a break: %q", one)
			}
			if _, err := json.Marshal(map[string]string{"v": out}); err != nil {
				t.Fatalf("not encodable as JSON: %v", err)
			}
		}
		_ = ContentHash(m)
	})
}
