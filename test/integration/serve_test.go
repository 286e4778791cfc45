//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDurabilityAcrossSIGKILL writes events through the API from several
// writers, kills the process with SIGKILL mid-stream, restarts it on the same
// data directory and checks that every acknowledged write is there.
func TestDurabilityAcrossSIGKILL(t *testing.T) {
	dir := t.TempDir()
	p := startVigil(t, dir)
	op := createToken(t, p, readAdminToken(t, dir), "operator")

	var (
		mu    sync.Mutex
		acked []string
		seq   atomic.Int64
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	client := &http.Client{Timeout: 5 * time.Second}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				id := fmt.Sprintf("it-%06d", seq.Add(1))
				body := fmt.Sprintf(`{"id":%q,"kind":"deploy","service":"checkout","time":"2026-01-05T10:00:00Z","summary":"write %s"}`, id, id)
				req, _ := http.NewRequest("POST", p.url("/api/v1/events"), strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+op)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					return // the process is gone
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 300 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	<-p.done
	stop.Store(true)
	wg.Wait()
	mu.Lock()
	want := append([]string(nil), acked...)
	mu.Unlock()
	if len(want) < 100 {
		t.Fatalf("only %d writes acknowledged before the kill", len(want))
	}

	p2 := startVigil(t, dir)
	code, body := do(t, "GET", p2.url("/api/v1/events?limit=1000"), op, nil)
	if code != 200 {
		t.Fatalf("list events after restart: %d %s", code, body)
	}
	var got []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		var wrapped struct {
			Events []struct {
				ID string `json:"id"`
			} `json:"events"`
		}
		if err2 := json.Unmarshal(body, &wrapped); err2 != nil {
			t.Fatalf("decode events: %v / %v: %.200s", err, err2, body)
		}
		got = wrapped.Events
	}
	have := map[string]bool{}
	for _, e := range got {
		have[e.ID] = true
	}
	var missing []string
	for _, id := range want {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d acknowledged writes lost after SIGKILL, e.g. %v", len(missing), len(want), missing[:min(5, len(missing))])
	}
	t.Logf("durability: %d acknowledged writes, %d attempted, all present after SIGKILL and restart", len(want), seq.Load())
}

// TestAPIRefusesBadRequests checks auth, malformed JSON and size limits on the
// real binary, and that the process keeps serving afterwards.
func TestAPIRefusesBadRequests(t *testing.T) {
	dir := t.TempDir()
	p := startVigil(t, dir)
	admin := readAdminToken(t, dir)
	viewer := createToken(t, p, admin, "viewer")
	op := createToken(t, p, admin, "operator")
	event := []byte(`{"kind":"deploy","service":"cart","time":"2026-01-05T10:00:00Z"}`)
	big := bytes.Repeat([]byte(" "), 5<<20)
	copy(big, `[`)
	tests := []struct {
		name     string
		token    string
		body     []byte
		want     int
		contains string
	}{
		{"no token", "", event, 401, `"unauthorized"`},
		{"bad token", "vgl_nope", event, 401, `"unauthorized"`},
		{"viewer token", viewer, event, 403, `"forbidden"`},
		{"malformed json", op, []byte(`{"kind":"deploy",`), 400, "malformed JSON"},
		{"wrong type", op, []byte(`{"kind":"deploy","time":42}`), 400, "time"},
		{"oversized", op, big, 413, `"payload_too_large"`},
		{"operator", op, event, 200, "accepted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(t, "POST", p.url("/api/v1/events"), tc.token, tc.body)
			if code != tc.want {
				t.Fatalf("status %d, want %d: %s", code, tc.want, body)
			}
			if !strings.Contains(string(body), tc.contains) {
				t.Fatalf("body %s does not contain %s", body, tc.contains)
			}
		})
	}
	if code, _ := do(t, "GET", p.url("/healthz"), "", nil); code != 200 {
		t.Fatalf("healthz after bad requests: %d", code)
	}
}

// TestDemoStartsAndFlows starts the demo and checks it is healthy within 10 s
// and that simulated telemetry reaches the pipeline.
func TestDemoStartsAndFlows(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	p := startVigil(t, filepath.Join(dir, "data"), "--demo")
	healthy := time.Since(start)
	if healthy > 10*time.Second {
		t.Fatalf("healthy after %s, want under 10s", healthy)
	}
	t.Logf("demo binary answered /healthz %s after start", healthy.Round(time.Millisecond))
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, body := do(t, "GET", p.url("/metrics"), "", nil)
		if metricAbove(string(body), `vigil_pipeline_records_total{kind="log"}`, 0) &&
			metricAbove(string(body), `vigil_pipeline_records_total{kind="sample"}`, 0) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no simulated logs and samples reached the pipeline in 20s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	code, body := do(t, "GET", p.url("/api/v1/demo"), "", nil)
	if code != 200 {
		t.Fatalf("demo status: %d %s", code, body)
	}
	var st struct {
		Topology struct {
			Services []json.RawMessage `json:"services"`
		} `json:"topology"`
	}
	if err := json.Unmarshal(body, &st); err != nil || len(st.Topology.Services) < 8 {
		t.Fatalf("demo topology: %v, %d services: %.300s", err, len(st.Topology.Services), body)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "vigil.db")); err != nil {
		t.Fatalf("store not in data dir: %v", err)
	}
}

// metricAbove reports whether the exposition text has the series with a value
// above min.
func metricAbove(text, series string, min float64) bool {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, series+" ") {
			var v float64
			if _, err := fmt.Sscanf(strings.TrimPrefix(line, series+" "), "%g", &v); err == nil && v > min {
				return true
			}
		}
	}
	return false
}
