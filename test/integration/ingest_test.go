//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilops/vigil/internal/syncbuf"
)

// TestPrometheusAlertsAndRemoteWrite runs a real Prometheus (Debian package)
// that evaluates an always-firing rule with Vigil as its Alertmanager and its
// remote-write target. Vigil must receive the alert and the samples, and
// amtool (Debian package) must list the alert when pointed at Vigil.
func TestPrometheusAlertsAndRemoteWrite(t *testing.T) {
	promBin := requireBinary(t, "prometheus")
	amtool := requireBinary(t, "amtool")
	dir := t.TempDir()
	v := startVigil(t, filepath.Join(dir, "vigil"))
	admin := readAdminToken(t, filepath.Join(dir, "vigil"))

	promAddr := freeAddr(t)
	rules := `groups:
  - name: integration
    rules:
      - alert: VigilIntegrationFiring
        expr: vector(1)
        labels: {severity: warning, service: integration}
        annotations: {summary: "always firing, for the integration test"}
`
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
alerting:
  alertmanagers:
    - api_version: v2
      static_configs:
        - targets: [%q]
remote_write:
  - url: http://%s/api/v1/write
    queue_config: {batch_send_deadline: 1s}
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: [%q]
`, filepath.Join(dir, "rules.yml"), v.addr, v.addr, promAddr)
	for name, body := range map[string]string{"rules.yml": rules, "prometheus.yml": cfg} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	prom := exec.Command(promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+promAddr)
	logBuf := &syncbuf.Buffer{}
	prom.Stdout, prom.Stderr = logBuf, logBuf
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		prom.Process.Signal(syscall.SIGTERM)
		prom.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", logBuf.String())
		}
	})

	var gotAlert, gotSamples bool
	deadline := time.Now().Add(90 * time.Second)
	for !(gotAlert && gotSamples) {
		if time.Now().After(deadline) {
			t.Fatalf("after 90s: alert received=%v, samples received=%v", gotAlert, gotSamples)
		}
		time.Sleep(500 * time.Millisecond)
		if !gotAlert {
			code, body := do(t, "GET", v.url("/api/v2/alerts?filter=alertname%3D%22VigilIntegrationFiring%22"), "", nil)
			var alerts []struct {
				Labels map[string]string `json:"labels"`
			}
			if code == 200 && json.Unmarshal(body, &alerts) == nil && len(alerts) == 1 && alerts[0].Labels["service"] == "integration" {
				gotAlert = true
			}
		}
		if !gotSamples {
			code, body := do(t, "GET", v.url(`/api/v1/series?match=%7B__name__%3D%22up%22%2Cjob%3D%22prometheus%22%7D`), admin, nil)
			var res struct {
				Total int `json:"total"`
			}
			if code == 200 && json.Unmarshal(body, &res) == nil && res.Total > 0 {
				gotSamples = true
			}
		}
	}

	out, err := exec.Command(amtool, "alert", "query", "--alertmanager.url=http://"+v.addr, "-o", "extended", "alertname=VigilIntegrationFiring").CombinedOutput()
	if err != nil {
		t.Fatalf("amtool alert query: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "VigilIntegrationFiring") || !strings.Contains(string(out), "integration") {
		t.Fatalf("amtool did not list the alert:\n%s", out)
	}
	t.Logf("amtool alert query against vigil:\n%s", out)

	// The alert was also stored in the alert history.
	code, body := do(t, "GET", v.url("/api/v1/alerts?active=true"), admin, nil)
	if code != 200 || !strings.Contains(string(body), "VigilIntegrationFiring") {
		t.Fatalf("alert history: %d %.300s", code, body)
	}
}
