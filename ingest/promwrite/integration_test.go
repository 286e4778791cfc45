//go:build integration

package promwrite

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// TestIntegrationPrometheusRemoteWrite points a real Prometheus' remote
// write at the receiver and checks what arrives.
func TestIntegrationPrometheusRemoteWrite(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("prometheus binary not found, and CI is set: install Debian's prometheus package")
		}
		t.Skip("prometheus binary not found")
	}

	var (
		mu      sync.Mutex
		got     []telemetry.Sample
		headers http.Header
	)
	r, err := New(Options{
		Sink: ingest.SinkFuncs{SamplesFunc: func(_ context.Context, ss []telemetry.Sample) error {
			mu.Lock()
			got = append(got, ss...)
			mu.Unlock()
			return nil
		}},
		Auth:   ingest.Auth{BearerToken: "s3cret"},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, rt := range r.Routes() {
		h := rt.Handler
		mux.Handle(rt.Pattern, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			mu.Lock()
			headers = req.Header.Clone()
			mu.Unlock()
			h.ServeHTTP(w, req)
		}))
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: self
    static_configs:
      - targets: ["127.0.0.1:%d"]
remote_write:
  - url: %s%s
    authorization:
      credentials: s3cret
    queue_config:
      batch_send_deadline: 1s
`, port, srv.URL, Path)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port), "--log.level=warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()

	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		var ups []telemetry.Sample
		names := map[string]bool{}
		for _, s := range got {
			names[s.Labels.Get("__name__")] = true
			if s.Labels.Get("__name__") == "up" {
				ups = append(ups, s)
			}
		}
		h := headers
		mu.Unlock()
		if len(ups) >= 3 {
			want := fmt.Sprintf(`{__name__="up", instance="127.0.0.1:%d", job="self", service="self"}`, port)
			if ups[0].Labels.String() != want || ups[0].V != 1 {
				t.Fatalf("up sample %s %v, want %s 1", ups[0].Labels, ups[0].V, want)
			}
			if h.Get("Content-Encoding") != "snappy" || h.Get("X-Prometheus-Remote-Write-Version") != "0.1.0" {
				t.Fatalf("headers %v", h)
			}
			for i, c := range r.metrics.rejected {
				if n := counterValue(c); n != 0 {
					t.Errorf("%v samples from Prometheus rejected for %s", n, reasonNames[i])
				}
			}
			t.Logf("received %d samples of %d metric names; %d of up", len(got), len(names), len(ups))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no up samples after 60s (%d samples received)", len(got))
		}
		time.Sleep(500 * time.Millisecond)
	}
}
