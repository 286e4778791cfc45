package logreplay

import (
	"testing"
	"time"

	"github.com/vigilops/vigil/logtemplate"
	"github.com/vigilops/vigil/telemetry"
)

// TestPipelineJoinsAndMinesPerService: a stack trace is joined to its head
// line before mining, services keep their own templates, and every
// observed record carries its template ID.
func TestPipelineJoinsAndMinesPerService(t *testing.T) {
	var got []telemetry.LogRecord
	pl, err := New(nil, func(rec *telemetry.LogRecord, m logtemplate.Match) {
		if rec.TemplateID != m.TemplateID || rec.TemplateID == "" {
			t.Errorf("record %q: template ID %q, match %q", rec.Message, rec.TemplateID, m.TemplateID)
		}
		got = append(got, *rec)
	})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	lines := []struct{ svc, raw string }{
		{"api", "2026-01-05 10:00:00 ERROR request failed user=1"},
		{"api", "java.lang.IllegalStateException: boom"},
		{"api", "\tat com.shop.Api.handle(Api.java:42)"},
		{"db", "2026-01-05 10:00:00 INFO checkpoint complete"},
		{"api", "2026-01-05 10:00:01 ERROR request failed user=2"},
	}
	for i, l := range lines {
		if err := pl.Push(telemetry.LogRecord{Service: l.svc, Raw: l.raw, Time: t0.Add(time.Duration(i) * time.Millisecond)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := pl.Flush(t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if pl.Services() != 2 {
		t.Fatalf("%d services mined, want 2", pl.Services())
	}
	if len(got) != 3 {
		t.Fatalf("observed %d records, want 3 (the trace joined to its head): %+v", len(got), got)
	}
	byService := map[string][]telemetry.LogRecord{}
	for _, r := range got {
		byService[r.Service] = append(byService[r.Service], r)
	}
	if a := byService["api"]; len(a) != 2 || a[0].TemplateID != a[1].TemplateID {
		t.Fatalf("api records %+v: want two of one template", a)
	}
	if len(byService["db"]) != 1 {
		t.Fatalf("db records %+v", byService["db"])
	}
}
