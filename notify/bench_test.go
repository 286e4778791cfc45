package notify

import (
	"context"
	"testing"
	"time"
)

func BenchmarkContentHash(b *testing.B) {
	m := testMessage("g", 50, t0)
	b.ReportAllocs()
	for b.Loop() {
		_ = ContentHash(m)
	}
}

// BenchmarkReceiverDeduplicated is the steady state of a dispatcher that
// re-evaluates an unchanged group every tick: the log says "sent".
func BenchmarkReceiverDeduplicated(b *testing.B) {
	rec := &recorder{name: "fake"}
	o := DefaultReceiverOptions()
	r, err := NewReceiver("team", []Notifier{rec, &recorder{name: "other"}}, o)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	m := testMessage("g", 20, t0)
	if err := r.Notify(ctx, m); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Notify(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	if rec.count() != 1 {
		b.Fatalf("%d deliveries, want 1", rec.count())
	}
}

func BenchmarkDefaultTemplates(b *testing.B) {
	title := MustTemplate("title", DefaultTitleTemplate)
	text := MustTemplate("text", DefaultTextTemplate)
	m := testMessage("g", 20, t0.Add(time.Minute))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := title.Execute(m); err != nil {
			b.Fatal(err)
		}
		if _, err := text.Execute(m); err != nil {
			b.Fatal(err)
		}
	}
}
