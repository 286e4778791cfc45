package act_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vigilops/vigil/act"
	"github.com/vigilops/vigil/act/audit"
	acthttp "github.com/vigilops/vigil/act/http"
	"github.com/vigilops/vigil/act/shell"
	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/telemetry"
)

// TestCraftedTelemetryCannotInject drives crafted alert labels and log text
// through matching, parameter binding and real shell and HTTP executors:
// what arrives is the value, whole, or nothing runs.
func TestCraftedTelemetryCannotInject(t *testing.T) {
	printf, err := exec.LookPath("printf")
	if err != nil {
		t.Skip("printf not found")
	}
	var mtx sync.Mutex
	var bodies [][]byte
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mtx.Lock()
		bodies = append(bodies, b)
		mtx.Unlock()
		w.WriteHeader(201)
	}))
	defer hook.Close()
	sx, _ := shell.New(shell.Options{Timeout: shell.DefaultTimeout, AllowedCommands: []string{printf}, Env: []string{"PATH=/usr/bin:/bin"}})
	hx, _ := acthttp.New(acthttp.DefaultOptions())
	execs := map[string]act.Executor{"shell": sx, "http": hx}
	rbs, err := act.ParseRunbooks(strings.NewReader(`
name: annotate
risk: low
level: 3
match: 'any(alerts, .labels.alertname == "Crafted") || any(anomalies, .type == "new_pattern")'
params:
  - name: note
    type: string
    pattern: '.{1,200}'
    from: 'len(alerts) > 0 ? alerts[0].labels.note : anomalies[0].template'
steps:
  - name: echo
    action: shell.exec
    with: {argv: [`+printf+`, "[%s][%s]", "${note}", "--note=${note}"]}
  - name: hook
    action: http.call
    with:
      method: POST
      url: `+hook.URL+`/hook/${note}
      body: {note: "${note}", list: ["${note}"]}
      expect_status: 201
`), "inline", execs)
	if err != nil {
		t.Fatal(err)
	}
	lg, err := audit.Open(filepath.Join(t.TempDir(), "audit.jsonl"), audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	o := act.DefaultOptions()
	o.Runbooks, o.Executors, o.Audit, o.Logger = rbs, execs, lg, slog.New(slog.DiscardHandler)
	o.Registerer = nil
	o.Guard.DryRun, o.Guard.MaxLevel = false, act.LevelAutoHigh
	o.Guard.RunbookPerHour, o.Guard.GlobalPerHour, o.Guard.MaxTargets = 100, 100, 100
	svc, err := act.New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop(context.Background())

	accepted := []string{"; rm -rf /", "$(reboot)", "`id`", "x\" || true; echo \"", "'q' \"q\"", "a: [b, c]", "!!binary AAAA", "{{.Secret}}", "${note}", "%s%n"}
	refused := []string{"--privileged", "-rf", "a\nb: c", "x\r\nX-Injected: 1", "nul\x00byte", "tab\tsep"}
	run := func(sit *act.Situation) act.Execution {
		t.Helper()
		ds, err := svc.Trigger(context.Background(), sit)
		if err != nil || len(ds) != 1 {
			t.Fatalf("Trigger = %+v, %v", ds, err)
		}
		if ds[0].Outcome != "executing" {
			return act.Execution{Status: act.ExecStatus(ds[0].Outcome), Error: ds[0].Reason}
		}
		svc.Wait()
		ex, _ := svc.Execution(ds[0].Execution)
		return ex
	}
	for i, v := range append(accepted, refused...) {
		want := i < len(accepted)
		for _, sit := range []*act.Situation{
			{IncidentID: "i", Diagnosis: &act.Diagnosis{Confidence: 1}, Alerts: []telemetry.Alert{{Labels: telemetry.Labels{{Name: "alertname", Value: "Crafted"}, {Name: "note", Value: v}}}}},
			{IncidentID: "i", Diagnosis: &act.Diagnosis{Confidence: 1}, Anomalies: []detect.Anomaly{{Type: detect.TypeNewPattern, Template: v}}},
		} {
			mtx.Lock()
			bodies = nil
			mtx.Unlock()
			ex := run(sit)
			if !want {
				if ex.Status != "unbound" || !strings.Contains(ex.Error, "invalid parameter") {
					t.Fatalf("%q: status %s (%s), want refused before any executor", v, ex.Status, ex.Error)
				}
				mtx.Lock()
				n := len(bodies)
				mtx.Unlock()
				if n != 0 {
					t.Fatalf("%q reached the webhook", v)
				}
				continue
			}
			if ex.Status != act.ExecSucceeded {
				t.Fatalf("%q: status %s (%s)", v, ex.Status, ex.Error)
			}
			if out := ex.Steps[0].Detail; !strings.HasSuffix(out, ": ["+v+"][--note="+v+"]") {
				t.Fatalf("%q: shell printed %q", v, out)
			}
			mtx.Lock()
			var got struct {
				Note string   `json:"note"`
				List []string `json:"list"`
			}
			if len(bodies) != 1 || json.Unmarshal(bodies[0], &got) != nil || got.Note != v || len(got.List) != 1 || got.List[0] != v {
				t.Fatalf("%q: webhook got %q", v, bodies)
			}
			mtx.Unlock()
		}
	}
}
