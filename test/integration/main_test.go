//go:build integration

// Package integration runs the vigil binary against real servers from
// Debian's packages (Prometheus). .ci/run installs them; locally, tests
// whose server is missing skip, except under CI=true where they fail.
package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/vigilops/vigil/internal/syncbuf"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var vigilBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vigil-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	vigilBin = filepath.Join(dir, "vigil")
	build := exec.Command("go", "build", "-o", vigilBin, "../../cmd/vigil")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build vigil:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireBinary skips (or, under CI, fails) when a server binary is absent.
func requireBinary(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed; .ci/run should have installed it", name)
		}
		t.Skipf("%s not installed (apt-get install %s)", name, name)
	}
	return p
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// vigilProc is a running vigil serve.
type vigilProc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncbuf.Buffer
	done   chan struct{}
}

func startVigil(t *testing.T, dataDir string, extra ...string) *vigilProc {
	t.Helper()
	addr := freeAddr(t)
	args := append([]string{"serve", "--data-dir", dataDir, "--listen", addr}, extra...)
	cmd := exec.Command(vigilBin, args...)
	p := &vigilProc{cmd: cmd, addr: addr, stderr: &syncbuf.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("vigil stderr:\n%s", p.stderr.String())
		}
	})
	p.waitHealthy(t, 20*time.Second)
	return p
}

func (p *vigilProc) url(path string) string { return "http://" + p.addr + path }

func (p *vigilProc) waitHealthy(t *testing.T, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		select {
		case <-p.done:
			t.Fatalf("vigil exited early:\n%s", p.stderr.String())
		default:
		}
		resp, err := http.Get(p.url("/healthz"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Since(start)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("vigil not healthy within %s:\n%s", within, p.stderr.String())
	return 0
}

// do sends a request with an optional bearer token and JSON body and returns
// the status and body.
func do(t *testing.T, method, url, token string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func readAdminToken(t *testing.T, dataDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "admin.token"))
	if err != nil {
		t.Fatalf("admin token: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// createToken makes a token with the given role using the admin token.
func createToken(t *testing.T, p *vigilProc, admin, role string) string {
	t.Helper()
	code, body := do(t, "POST", p.url("/api/v1/tokens"), admin, []byte(fmt.Sprintf(`{"name":"it-%s","role":%q}`, role, role)))
	if code != http.StatusCreated {
		t.Fatalf("create %s token: %d %s", role, code, body)
	}
	var out struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Secret == "" {
		t.Fatalf("create token answer %s: %v", body, err)
	}
	return out.Secret
}

func scanLines(r io.Reader, fn func(string)) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		fn(s.Text())
	}
}
