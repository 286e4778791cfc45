//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vigilops/vigil/internal/syncbuf"
)

// TestPrometheusScrapesVigil runs a real Prometheus (Debian package) that
// scrapes Vigil's /metrics and checks, through Prometheus' own query API, that
// the target is up and Vigil's metrics arrived.
func TestPrometheusScrapesVigil(t *testing.T) {
	promBin := requireBinary(t, "prometheus")
	dir := t.TempDir()
	v := startVigil(t, filepath.Join(dir, "vigil"), "--demo")

	promAddr := freeAddr(t)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: vigil
    static_configs:
      - targets: [%q]
`, v.addr)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	prom := exec.Command(promBin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+promAddr,
	)
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

	query := func(q string) (float64, bool) {
		// Prometheus takes a moment to listen: connection errors are retried.
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return 0, false
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return 0, false
		}
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.Unmarshal(body, &r) != nil || len(r.Data.Result) == 0 {
			return 0, false
		}
		s, _ := r.Data.Result[0].Value[1].(string)
		var f float64
		fmt.Sscanf(s, "%g", &f)
		return f, true
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		up, ok1 := query(`up{job="vigil"}`)
		build, ok2 := query(`vigil_build_info{job="vigil"}`)
		logs, ok3 := query(`vigil_pipeline_records_total{job="vigil",kind="log"}`)
		if ok1 && ok2 && ok3 && up == 1 && build == 1 && logs > 0 {
			t.Logf("prometheus scraped vigil: up=%g vigil_build_info=%g log records=%g", up, build, logs)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus did not scrape vigil within 60s (up=%v/%v build=%v/%v logs=%v/%v)", up, ok1, build, ok2, logs, ok3)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
