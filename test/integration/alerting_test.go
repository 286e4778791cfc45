//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestServeAlertingWithAmtool runs the real vigil serve with a routing tree
// whose receiver is a webhook on a local server, sends an alert with the
// real amtool, expects exactly one Alertmanager webhook delivery, and
// drives silences with amtool silence add/query/expire: a silenced alert
// is not delivered.
func TestServeAlertingWithAmtool(t *testing.T) {
	bin := requireBinary(t, "amtool")
	var (
		mtx  sync.Mutex
		msgs []map[string]any
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		if json.Unmarshal(b, &m) == nil {
			if key, _ := m["groupKey"].(string); !strings.HasPrefix(key, "incident/") {
				mtx.Lock()
				msgs = append(msgs, m)
				mtx.Unlock()
			}
		}
	}))
	defer hook.Close()
	delivered := func() []map[string]any {
		mtx.Lock()
		defer mtx.Unlock()
		return append([]map[string]any(nil), msgs...)
	}

	dir := t.TempDir()
	am := `route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: ` + hook.URL + `
`
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(am), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "vigil.yml")
	if err := os.WriteFile(cfgPath, []byte("alerting:\n  config_file: alertmanager.yml\nnotify:\n  flush_interval: 1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startVigil(t, filepath.Join(dir, "data"), "--config", cfgPath)

	home := t.TempDir()
	amtool := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"--alertmanager.url=" + p.url("")}, args...)...)
		cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin", "USER=it"}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("amtool %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}

	// amtool reads the routing tree from the status endpoint.
	if out := amtool("config", "routes", "test", "alertname=ITLatency"); out != "hook" {
		t.Fatalf("amtool config routes test: %q, want hook", out)
	}
	if out := amtool("config", "show"); strings.Contains(out, hook.URL) {
		t.Fatalf("amtool config show reveals the webhook URL:\n%s", out)
	}

	amtool("alert", "add", "alertname=ITLatency", "service=checkout", "--annotation=summary=slow")
	waitUntil(t, "one webhook delivery", 20*time.Second, func() bool { return len(delivered()) >= 1 })
	time.Sleep(3 * time.Second) // past group_interval: no second delivery
	got := delivered()
	if len(got) != 1 {
		t.Fatalf("want exactly one delivery, got %d: %v", len(got), got)
	}
	if got[0]["version"] != "4" || got[0]["receiver"] != "hook" || got[0]["status"] != "firing" {
		t.Fatalf("not Alertmanager's webhook payload: %v", got[0])
	}

	id := amtool("silence", "add", "alertname=ITDisk", "-c", "it", "-d", "1h")
	if id == "" {
		t.Fatal("silence add printed no ID")
	}
	if q := amtool("silence", "query", "-q"); q != id {
		t.Fatalf("silence query -q: %q, want %q", q, id)
	}
	amtool("alert", "add", "alertname=ITDisk", "service=db")
	time.Sleep(4 * time.Second) // past group_wait and a group_interval
	if n := len(delivered()); n != 1 {
		t.Fatalf("silenced alert delivered: %d deliveries: %v", n, delivered())
	}
	amtool("silence", "expire", id)
	if q := amtool("silence", "query", "-q"); q != "" {
		t.Fatalf("after expire, query -q: %q", q)
	}
	if q := amtool("silence", "query", "--expired", "-q"); !strings.Contains(q, id) {
		t.Fatalf("expired silence not listed: %q", q)
	}
	// Unmuted, the still-firing alert goes out on its group's next flush.
	waitUntil(t, "the alert to be delivered once its silence expired", 20*time.Second, func() bool {
		for _, m := range delivered() {
			if gl, _ := m["groupLabels"].(map[string]any); gl["alertname"] == "ITDisk" {
				return true
			}
		}
		return false
	})
}

func waitUntil(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
