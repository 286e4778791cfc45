package main

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeIncidentAPI serves canned incident answers and records requests.
type fakeIncidentAPI struct {
	mtx  sync.Mutex
	reqs []string // "METHOD path?query auth"
}

func (f *fakeIncidentAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mtx.Lock()
	f.reqs = append(f.reqs, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Authorization")+" "+string(b))
	f.mtx.Unlock()
	inc := `{"id":"inc-1","title":"checkout errors","status":"open","severity":"critical","services":["checkout","payments"],"opened_at":"2026-01-02T03:04:05Z","signal_count":7,"members":[]}`
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == "GET" && r.URL.Path == "/api/v1/incidents":
		io.WriteString(w, `{"incidents":[`+inc+`]}`)
	case r.Method == "GET" && r.URL.Path == "/api/v1/incidents/inc-1":
		io.WriteString(w, `{"incident":`+inc+`}`)
	case r.Method == "GET" && r.URL.Path == "/api/v1/incidents/inc-1/timeline":
		io.WriteString(w, `{"entries":[{"time":"2026-01-02T03:04:05Z","kind":"opened","text":"opened by 2 signals"}]}`)
	case r.Method == "POST" && r.URL.Path == "/api/v1/incidents/inc-1/ack":
		io.WriteString(w, `{"incident":`+strings.Replace(inc, `"open"`, `"acknowledged"`, 1)+`}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"status":404,"code":"not_found","message":"incident not found: nope"}}`)
	}
}

func runIncidents(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, stderr, err := runVigil(t, "", args...)
	return out + stderr, err
}

func TestIncidentsCmd(t *testing.T) {
	fake := &fakeIncidentAPI{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	tokFile := filepath.Join(t.TempDir(), "tok")
	if err := os.WriteFile(tokFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		want    []string // substrings of the output
		wantReq string   // substring of the last request
		usage   bool     // a usage error is expected
		errHas  string
	}{
		{name: "list table", args: []string{"list", "--status", "open", "--service", "checkout"},
			want: []string{"inc-1", "critical", "checkout,payments", "checkout errors"}, wantReq: "GET /api/v1/incidents?service=checkout&status=open Bearer s3cret"},
		{name: "list json", args: []string{"list", "--json"}, want: []string{`"incidents": [`, `"id": "inc-1"`}},
		{name: "show", args: []string{"show", "inc-1"}, want: []string{"inc-1  checkout errors  [open, critical]", "opened by 2 signals"}, wantReq: "/timeline"},
		{name: "ack", args: []string{"ack", "inc-1", "--text", "on it"}, want: []string{"inc-1: acknowledged"}, wantReq: `POST /api/v1/incidents/inc-1/ack Bearer s3cret {"text":"on it"}`},
		{name: "not found", args: []string{"show", "nope"}, errHas: "incident not found: nope"},
		{name: "bad status", args: []string{"list", "--status", "closed"}, usage: true, errHas: "--status"},
		{name: "bad url", args: []string{"list", "--url", "ftp://x"}, usage: true, errHas: "--url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"incidents", "--url", srv.URL, "--token-file", tokFile}, tt.args...)
			out, err := runIncidents(t, args...)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("want error with %q, got %v", tt.errHas, err)
				}
				var ue usageError
				if tt.usage != errors.As(err, &ue) {
					t.Fatalf("usage error = %v, want %v: %v", !tt.usage, tt.usage, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tt.wantReq != "" {
				fake.mtx.Lock()
				last := fake.reqs[len(fake.reqs)-1]
				fake.mtx.Unlock()
				if !strings.Contains(last, tt.wantReq) {
					t.Errorf("last request %q lacks %q", last, tt.wantReq)
				}
			}
		})
	}
}

// TestConfigCheckValidatesAlertmanagerFile: `vigil config check` reports the
// routing file's own problems with its file and line.
func TestConfigCheckValidatesAlertmanagerFile(t *testing.T) {
	dir := t.TempDir()
	am := filepath.Join(dir, "am.yml")
	if err := os.WriteFile(am, []byte("route:\n  receiver: nobody\nreceivers:\n  - name: ops\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "vigil.yml")
	if err := os.WriteFile(cfg, []byte("alerting:\n  config_file: am.yml\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := runIncidents(t, "config", "check", cfg)
	if err == nil || !strings.Contains(err.Error(), am+":2:") {
		t.Fatalf("want %s:2: error, got %v", am, err)
	}
	if code := exitCode(err); code != exitInvalid {
		t.Fatalf("exit code %d, want %d", code, exitInvalid)
	}
	if err := os.WriteFile(am, []byte("route:\n  receiver: ops\nreceivers:\n  - name: ops\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runIncidents(t, "config", "check", cfg); err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("valid config: %v %s", err, out)
	}
}
