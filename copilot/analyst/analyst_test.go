package analyst

import (
	"errors"
	"strings"
	"testing"
)

// TestDatabaseConnectionExample is the acceptance case: a refused database
// connection followed by a failing health check is one story, about the
// database, with reachability checks.
func TestDatabaseConnectionExample(t *testing.T) {
	rep := newTestAnalyst(t).Explain(readLines(t, "database_refused.log"))
	if len(rep.Findings) != 1 {
		t.Fatalf("%d findings, want 1 (the health check folded into the refusal): %+v", len(rep.Findings), rep.Findings)
	}
	f := rep.Findings[0]
	if f.Signature != "connection-refused" || f.Entity != "db-prod-1:5432" || f.Database != "PostgreSQL" {
		t.Errorf("finding %s %q %q, want connection-refused db-prod-1:5432 PostgreSQL", f.Signature, f.Entity, f.Database)
	}
	if len(f.Related) != 1 || f.Related[0].Signature != "health-check" || f.Related[0].FirstLine != 3 {
		t.Errorf("related %+v, want the health check at line 3", f.Related)
	}
	for _, want := range []string{"database", "db-prod-1:5432", "PostgreSQL", "refused"} {
		if !strings.Contains(rep.Cause, want) || !strings.Contains(rep.Summary, want) {
			t.Errorf("cause %q / summary %q do not mention %q", rep.Cause, rep.Summary, want)
		}
	}
	checks := strings.ToLower(strings.Join(rep.NextSteps, "\n"))
	for _, want := range []string{"is up", "reachable", "network policy", "firewall"} {
		if !strings.Contains(checks, want) {
			t.Errorf("next steps do not mention %q:\n%s", want, checks)
		}
	}
	if n := strings.Count(rep.Summary, ". "); n < 1 || n > 3 {
		t.Errorf("summary has %d sentence breaks, want 2–4 sentences: %q", n, rep.Summary)
	}
	if rep.Confidence < 0.7 {
		t.Errorf("confidence %.2f, want >= 0.7", rep.Confidence)
	}
}

func TestRanking(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  []string // signatures, in order
	}{
		{"severity first", []string{
			"ERROR java.lang.NullPointerException at Foo.bar",
			"write /data/x: no space left on device",
		}, []string{"disk-full", "null-pointer"}},
		{"then earliest", []string{
			"ERROR unrelated line",
			"", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "",
			"open /etc/x: permission denied",
			"ERROR:  deadlock detected",
		}, []string{"permission-denied", "deadlock", "error"}},
		{"then count", []string{
			"ERROR:  deadlock detected\tjava.lang.NullPointerException",
		}, []string{"deadlock"}},
	}
	a := newTestAnalyst(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := a.Explain(tt.lines)
			var got []string
			for _, f := range rep.Findings {
				got = append(got, f.Signature)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFolding(t *testing.T) {
	tests := []struct {
		name        string
		window      int
		lines       []string
		findings    int
		wantRelated string
	}{
		{"health check after refusal", 20, []string{
			"dial tcp 10.0.0.5:8080: connect: connection refused",
			"readiness probe failed",
		}, 1, "health-check"},
		{"retries alone fold into the health check", 20, []string{
			"health check failed",
			"retrying in 5s",
		}, 1, "retry"},
		{"too far apart", 1, []string{
			"dial tcp 10.0.0.5:8080: connect: connection refused",
			"ok", "ok", "ok",
			"readiness probe failed",
		}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			o.FoldWindow = tt.window
			a, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			rep := a.Explain(tt.lines)
			if len(rep.Findings) != tt.findings {
				t.Fatalf("%d findings, want %d: %+v", len(rep.Findings), tt.findings, rep.Findings)
			}
			if tt.wantRelated != "" && (len(rep.Findings[0].Related) == 0 || rep.Findings[0].Related[0].Signature != tt.wantRelated) {
				t.Errorf("related %+v, want %s", rep.Findings[0].Related, tt.wantRelated)
			}
		})
	}
}

func TestDatabaseAwareness(t *testing.T) {
	tests := []struct {
		entity, engine string
		ok             bool
	}{
		{"db-prod-1:5432", "PostgreSQL", true},
		{"10.0.0.4:3306", "MySQL", true},
		{"cache:6379", "Redis", true},
		{"mongo-0.mongo:27017", "MongoDB", true},
		{"cass-1:9042", "Cassandra", true},
		{"orders-postgres:6000", "PostgreSQL", true},
		{"userdb:7000", "database", true},
		{"api:8080", "", false},
		{"dbus-daemon:1234", "", false},
		{"sandbox:80", "", false},
	}
	for _, tt := range tests {
		d, ok := databaseOf(tt.entity)
		if ok != tt.ok || d.engine != tt.engine {
			t.Errorf("databaseOf(%q) = %q %v, want %q %v", tt.entity, d.engine, ok, tt.engine, tt.ok)
		}
	}
}

func TestExplainState(t *testing.T) {
	a := newTestAnalyst(t)
	tests := []struct{ state, sig string }{
		{"CrashLoopBackOff", "crashloop"},
		{"imagepullbackoff", "image-pull"},
		{"ErrImagePull", "image-pull"},
		{"OOMKilled", "oom"},
		{" Pending ", "pending"},
		{"Evicted", "evicted"},
		{"CreateContainerConfigError", "create-container-config-error"},
	}
	for _, tt := range tests {
		t.Run(tt.state, func(t *testing.T) {
			rep, err := a.ExplainState(tt.state)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Findings) != 1 || rep.Findings[0].Signature != tt.sig || rep.Summary == "" || len(rep.NextSteps) == 0 {
				t.Errorf("got %+v, want one %s finding with a summary and next steps", rep, tt.sig)
			}
		})
	}
	if _, err := a.ExplainState("Running-ish"); !errors.Is(err, ErrUnknownState) {
		t.Errorf("unknown state: err %v, want ErrUnknownState", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Options)
		ok   bool
	}{
		{"defaults", func(*Options) {}, true},
		{"no lines", func(o *Options) { o.MaxLines = 0 }, false},
		{"tiny lines", func(o *Options) { o.MaxLineBytes = 10 }, false},
		{"no findings", func(o *Options) { o.MaxFindings = 0 }, false},
		{"negative window", func(o *Options) { o.FoldWindow = -1 }, false},
		{"no refs", func(o *Options) { o.MaxLineRefs = 0 }, false},
		{"nil logger", func(o *Options) { o.Logger = nil }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			tt.mod(&o)
			_, err := New(o)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalidOptions)) {
				t.Errorf("err %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestBounds(t *testing.T) {
	o := DefaultOptions()
	o.MaxLines, o.MaxFindings, o.MaxLineRefs = 100, 3, 5
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := range 150 {
		lines = append(lines, "ERROR open /tmp/f"+strings.Repeat("x", i%7)+": permission denied", "ERROR Foo"+strings.Repeat("y", i)+"Exception: boom")
	}
	rep := a.Explain(lines)
	if rep.Lines != 100 || rep.Skipped != 200 || len(rep.Findings) != 3 || rep.Omitted == 0 {
		t.Errorf("lines %d skipped %d findings %d omitted %d", rep.Lines, rep.Skipped, len(rep.Findings), rep.Omitted)
	}
	for _, f := range rep.Findings {
		if len(f.Lines) > 5 {
			t.Errorf("%d line refs, want at most 5", len(f.Lines))
		}
	}
	if empty := a.Explain(nil); empty.Cause != "" || empty.Summary == "" || empty.Findings == nil {
		t.Errorf("empty input: %+v", empty)
	}
}
