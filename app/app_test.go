package app

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/config"
)

func testConfig(t *testing.T) config.Config {
	t.Helper()
	c := config.Default()
	c.DataDir = filepath.Join(t.TempDir(), "data")
	c.API.Listen = "127.0.0.1:0"
	return c
}

func get(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	return send(t, "GET", url, "", token)
}

func TestStartStop(t *testing.T) {
	cfg := testConfig(t)
	a, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	base := "http://" + a.Addr().String()
	if code, _ := get(t, base+"/healthz", ""); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code, body := get(t, base+"/readyz", ""); code != 200 {
		t.Fatalf("readyz %d %s", code, body)
	}
	// Reads need a token by default; the admin token was written on start.
	if code, _ := get(t, base+"/api/v1/status", ""); code != 401 {
		t.Fatalf("status without token: %d", code)
	}
	secret, err := os.ReadFile(filepath.Join(cfg.DataDir, AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(filepath.Join(cfg.DataDir, AdminTokenFile))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("admin token file mode %v, want 0600", fi.Mode().Perm())
	}
	if code, body := get(t, base+"/api/v1/status", strings.TrimSpace(string(secret))); code != 200 {
		t.Fatalf("status with admin token: %d %s", code, body)
	}
	if err := a.Start(ctx); err == nil {
		t.Fatal("second Start succeeded")
	}
	if err := a.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("still serving after Stop")
	}

	// A restart on the same data directory keeps the token and writes no new one.
	b, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Stop(ctx)
	again, _ := os.ReadFile(filepath.Join(cfg.DataDir, AdminTokenFile))
	if string(again) != string(secret) {
		t.Fatal("admin token rewritten on restart")
	}
	if code, _ := get(t, "http://"+b.Addr().String()+"/api/v1/status", strings.TrimSpace(string(secret))); code != 200 {
		t.Fatalf("token lost across restart: %d", code)
	}
}

func TestStartFailsCleanlyOnBusyPort(t *testing.T) {
	cfg := testConfig(t)
	a, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	cfg2 := testConfig(t)
	cfg2.API.Listen = a.Addr().String()
	b, _ := New(Options{Config: cfg2})
	err = b.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("want a listen error, got %v", err)
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	cfg := testConfig(t)
	cfg.Bus.QueueSize = 0
	if _, err := New(Options{Config: cfg}); err == nil || !strings.Contains(err.Error(), "bus.queue_size") {
		t.Fatalf("got %v", err)
	}
}

// TestDemoFlows runs the demo fast and checks that simulated telemetry
// reaches the pipeline and that alerts and events are stored.
func TestDemoFlows(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for a few seconds")
	}
	cfg := testConfig(t)
	cfg.Demo.Enabled = true
	cfg.Demo.Speed = 3600 // an hour per second
	cfg.API.AnonymousRole = "viewer"
	a, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	base := "http://" + a.Addr().String()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := get(t, base+"/api/v1/events?limit=10", "")
		var evs struct {
			Events []json.RawMessage `json:"events"`
		}
		_ = json.Unmarshal(body, &evs)
		_, metrics := get(t, base+"/metrics", "")
		if len(evs.Events) > 0 && strings.Contains(string(metrics), `vigil_pipeline_records_total{kind="log"}`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no events stored after 30s; events=%s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	code, body := get(t, base+"/api/v1/demo", "")
	if code != 200 {
		t.Fatalf("demo: %d %s", code, body)
	}
	var st demoStatus
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Topology.Services) < 8 || len(st.Faults) == 0 {
		t.Fatalf("demo status: %d services, %d faults", len(st.Topology.Services), len(st.Faults))
	}
}
