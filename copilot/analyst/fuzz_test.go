package analyst

import (
	"encoding/json"
	"strings"
	"testing"
)

func FuzzExplain(f *testing.F) {
	for _, s := range []string{
		"ConnectionRefusedError: [Errno 111] Connection refused: 'db-prod-1:5432'\nDatabase health check failed. Retrying in 5s...",
		"accept tcp [::]:8080: accept4: too many open files",
		"[:]:1 [::]:0 a:65536 x.go:1 /\x00/ ]:5",
		`{"level":"error","status":503,"msg":"upstream"}`,
		"Killed process 1 (",
		"java.lang.OutOfMemoryError:",
	} {
		f.Add(s)
	}
	o := DefaultOptions()
	o.MaxLines = 1000
	a, err := New(o)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lines := strings.Split(s, "\n")
		rep := a.Explain(lines)
		b, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		// Bounded output: each finding is bounded (entity, example, line
		// refs, fixed texts), and so is their number, whatever the input.
		if limit := 16<<10 + len(rep.Findings)*24<<10; len(b) > limit {
			t.Fatalf("report is %d bytes for %d input bytes", len(b), len(s))
		}
		if len(rep.Findings) > o.MaxFindings {
			t.Fatalf("%d findings", len(rep.Findings))
		}
		for _, f := range rep.Findings {
			if len(f.Entity) > maxEntityBytes || len(f.Example) > maxExampleBytes+len("…") || len(f.Lines) > o.MaxLineRefs {
				t.Fatalf("unbounded finding %+v", f)
			}
		}
		_, _ = a.ExplainState(s)
	})
}
