package main

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Canned answers in the API's shapes (api/incidents.go and the diagnosis
// route of the serve stage).
const (
	rcaIncidentJSON = `{"incident":{"id":"inc-7","title":"catalog slow","status":"resolved","severity":"critical","urgency":"high",
"services":["catalog","redis"],"opened_at":"2026-03-02T10:00:00Z","updated_at":"2026-03-02T10:40:00Z",
"acknowledged_at":"2026-03-02T10:04:00Z","acknowledged_by":"alice","resolved_at":"2026-03-02T10:40:00Z",
"signal_count":12,"members":[]}}`
	rcaTimelineJSON = `{"entries":[
{"time":"2026-03-02T10:00:00Z","kind":"status","text":"opened"},
{"time":"2026-03-02T10:03:00Z","kind":"diagnosis","text":"Probable root cause: redis (confidence 71%)."},
{"time":"2026-03-02T10:40:00Z","kind":"status","text":"resolved by alice"}]}`
	rcaDiagnosisJSON = `{"incident_id":"inc-7","at":"2026-03-02T10:03:00Z",
"diagnosis":{"at":"2026-03-02T09:55:00Z","candidates":[{"service":"redis","score":3.2,"confidence":0.71,
"reason":"redis_memory_used_bytes rose first","evidence":[{"kind":"metric","service":"redis","series":"redis_memory_used_bytes",
"metric_kind":"memory","score":8.1,"onset":"2026-03-02T09:57:00Z","summary":"memory 380MB against 100MB"}]}],
"chain":[{"from":"redis","to":"catalog","via":"call","signal":"latency","onset":"2026-03-02T09:59:00Z","evidence":[]}],
"next_step":"check redis maxmemory and eviction"},
"narrative":{"text":"Redis filled its memory first [E1].","evidence":["memory 380MB against 100MB"],"confidence":0.71,"source":"analyst"}}`
)

func rcaServer(t *testing.T, diagnosis bool, wantToken string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	auth := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if wantToken != "" && r.Header.Get("Authorization") != "Bearer "+wantToken {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"error":{"status":401,"code":"unauthorized","message":"invalid token"}}`))
				return
			}
			h(w, r)
		}
	}
	notFound := func(w http.ResponseWriter, msg string) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"status":404,"code":"not_found","message":"` + msg + `"}}`))
	}
	mux.HandleFunc("GET /api/v1/incidents/{id}", auth(func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "inc-7" {
			notFound(w, "incident not found")
			return
		}
		_, _ = w.Write([]byte(rcaIncidentJSON))
	}))
	mux.HandleFunc("GET /api/v1/incidents/{id}/timeline", auth(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(rcaTimelineJSON))
	}))
	mux.HandleFunc("GET /api/v1/incidents/{id}/diagnosis", auth(func(w http.ResponseWriter, r *http.Request) {
		if !diagnosis {
			notFound(w, "no diagnosis for incident (yet)")
			return
		}
		_, _ = w.Write([]byte(rcaDiagnosisJSON))
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func runRCAReport(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(append([]string{"rca", "report"}, args...))
	err := cmd.Execute()
	return out.String(), err
}

func TestRCAReport(t *testing.T) {
	srv := rcaServer(t, true, "s3cret")
	t.Setenv("VIGIL_TOKEN", "")
	out, err := runRCAReport(t, "inc-7", "--url", srv.URL, "--token", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# Postmortem: catalog slow", "inc-7", "**redis** (confidence 71%)", "Probable root cause: redis",
		"check redis maxmemory and eviction", "## Narrative", "copilot (analyst)", "Redis filled its memory first [E1].",
		"- [E1] memory 380MB against 100MB",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestRCAReportWithoutDiagnosis(t *testing.T) {
	srv := rcaServer(t, false, "")
	out, err := runRCAReport(t, "inc-7", "--url", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "No root cause was diagnosed") || strings.Contains(out, "## Narrative") {
		t.Fatalf("report:\n%s", out)
	}
}

func TestRCAReportTokenSources(t *testing.T) {
	srv := rcaServer(t, true, "tok-a")
	dir := t.TempDir()
	tf := filepath.Join(dir, "token")
	if err := os.WriteFile(tf, []byte("tok-a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("token file", func(t *testing.T) {
		t.Setenv("VIGIL_TOKEN", "")
		if _, err := runRCAReport(t, "inc-7", "--url", srv.URL, "--token-file", tf); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("env", func(t *testing.T) {
		t.Setenv("VIGIL_TOKEN", "tok-a")
		if _, err := runRCAReport(t, "inc-7", "--url", srv.URL); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("out file", func(t *testing.T) {
		t.Setenv("VIGIL_TOKEN", "tok-a")
		out := filepath.Join(dir, "pm.md")
		stdout, err := runRCAReport(t, "inc-7", "--url", srv.URL, "--out", out)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil || !strings.Contains(string(b), "# Postmortem: catalog slow") || stdout != "" {
			t.Fatalf("file %q (%v), stdout %q", b, err, stdout)
		}
	})
}

func TestRCAReportErrors(t *testing.T) {
	srv := rcaServer(t, true, "good")
	// A port nothing listens on: bind one, then close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	t.Setenv("VIGIL_TOKEN", "")
	tests := []struct {
		name  string
		args  []string
		want  string
		usage bool
	}{
		{"not found", []string{"inc-404", "--url", srv.URL, "--token", "good"}, "incident inc-404 not found", false},
		{"refused", []string{"inc-7", "--url", dead}, "is vigil serve running at " + dead + "?", false},
		{"bad token", []string{"inc-7", "--url", srv.URL, "--token", "bad"}, "401 Unauthorized: invalid token (pass a token with the right role", false},
		{"bad url", []string{"inc-7", "--url", "ftp://x"}, `--url "ftp://x" is not an http(s) URL`, true},
		{"both tokens", []string{"inc-7", "--url", srv.URL, "--token", "a", "--token-file", "b"}, "exclude each other", true},
		{"missing token file", []string{"inc-7", "--url", srv.URL, "--token-file", filepath.Join(t.TempDir(), "none")}, "read token file", false},
		{"no incident", []string{"--url", srv.URL}, "accepts 1 arg", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runRCAReport(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			var ue usageError
			if isUsage := errors.As(err, &ue); isUsage != tt.usage {
				t.Fatalf("usage error = %v, want %v (%v)", isUsage, tt.usage, err)
			}
		})
	}
}
