//go:build integration

package promsource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/vigilops/vigil/internal/syncbuf"
	"github.com/vigilops/vigil/telemetry"
)

// startPrometheus runs a real Prometheus on loopback scraping itself
// every second, and returns its URL once it is ready.
func startPrometheus(t *testing.T) (url string, port int) {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("prometheus binary not found, and CI is set: install Debian's prometheus package")
		}
		t.Skip("prometheus binary not found")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:%d"]
`, port)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out syncbuf.Buffer
	cmd := exec.CommandContext(ctx, bin,
		"--config.file="+cfg,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port),
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out.String())
		}
	})
	url = "http://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return url, port
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 30s: %v\n%s", err, out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestIntegrationPrometheus(t *testing.T) {
	url, port := startPrometheus(t)
	ready := time.Now()
	// Let it scrape itself for about 20 seconds.
	time.Sleep(20 * time.Second)
	ctx := context.Background()
	s, err := New(Options{URL: url, Step: time.Second, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("up", func(t *testing.T) {
		got, err := s.Backfill(ctx, "up", ready, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf(`{__name__="up", instance="127.0.0.1:%d", job="prometheus", service="prometheus"}`, port)
		if len(got) != 1 || got[0].Labels.String() != want {
			t.Fatalf("series %v, want one %s", got, want)
		}
		pts := got[0].Points
		if len(pts) < 10 {
			t.Fatalf("%d points after 20s of scraping every second", len(pts))
		}
		for i, p := range pts {
			if p.V != 1 || p.T%1000 != 0 || (i > 0 && p.T != pts[i-1].T+1000) {
				t.Fatalf("point %d: %+v (previous %+v)", i, p, pts[max(i-1, 0)])
			}
		}
	})

	t.Run("build info", func(t *testing.T) {
		got, err := s.Backfill(ctx, "prometheus_build_info", ready, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Labels.Get("version") == "" || got[0].Labels.Get("goversion") == "" || len(got[0].Points) < 10 {
			t.Fatalf("got %v", got)
		}
		t.Logf("%s: %d points", got[0].Labels, len(got[0].Points))
	})

	t.Run("computed query", func(t *testing.T) {
		q := "sum(rate(prometheus_http_requests_total[5s]))"
		got, err := s.Backfill(ctx, q, ready.Add(10*time.Second), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !got[0].Labels.Equal(telemetry.LabelsFromStrings(QueryLabel, q)) {
			t.Fatalf("got %v", got)
		}
	})

	t.Run("chunked", func(t *testing.T) {
		small, err := New(Options{URL: url, Step: time.Second, MaxPoints: 4, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		end := time.Now()
		a, err := small.Backfill(ctx, "up", ready, end)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Backfill(ctx, "up", ready, end)
		if err != nil {
			t.Fatal(err)
		}
		if len(a) != 1 || len(b) != 1 || len(a[0].Points) != len(b[0].Points) {
			t.Fatalf("chunks of 4 points read %v, one request %v", a, b)
		}
	})

	t.Run("bad query", func(t *testing.T) {
		_, err := s.Backfill(ctx, "up{", ready, time.Now())
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Type != "bad_data" {
			t.Fatalf("err %v", err)
		}
		t.Log(err)
	})

	t.Run("loop", func(t *testing.T) {
		var c collector
		loop, err := New(Options{
			URL: url, Step: time.Second, Interval: time.Second, Backfill: 10 * time.Second,
			Queries: []string{"up"}, Sink: c.sink(), Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := loop.Start(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		if err := loop.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		pts := c.byJob()["prometheus"]
		if len(pts) < 12 {
			t.Fatalf("%d points after a 10s backfill and 5s of pulls", len(pts))
		}
		for i := 1; i < len(pts); i++ {
			if pts[i].T != pts[i-1].T+1000 {
				t.Fatalf("gap or duplicate at %d: %d after %d", i, pts[i].T, pts[i-1].T)
			}
		}
	})
}
