package act

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/telemetry"
)

func TestLoadTestdata(t *testing.T) {
	rbs, err := LoadDir(filepath.Join("testdata", "runbooks"), nil)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]*Runbook{}
	for _, rb := range rbs {
		names[rb.Name] = rb
	}
	for _, want := range []string{"redis-memory-scale-up", "checkout-restart", "node-cordon"} {
		if names[want] == nil {
			t.Fatalf("%s not loaded (got %v)", want, names)
		}
	}
	if r := names["checkout-restart"].EffectiveRisk(); r != RiskHigh {
		t.Fatalf("checkout-restart effective risk %s, want high (a step raises it)", r)
	}
	// With the executors known, unknown actions are refused.
	if _, err := LoadDir(filepath.Join("testdata", "runbooks"), map[string]Executor{"kube": &fakeExec{}}); !errors.Is(err, ErrUnknownAction) {
		t.Fatalf("load without an http executor: %v, want ErrUnknownAction", err)
	}
}

func TestMatchAndBind(t *testing.T) {
	rbs, err := LoadDir(filepath.Join("testdata", "runbooks"), nil)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Runbook{}
	for _, rb := range rbs {
		byName[rb.Name] = rb
	}
	alert := func(kv ...string) telemetry.Alert { return telemetry.Alert{Labels: telemetry.LabelsFromStrings(kv...)} }
	tests := []struct {
		name    string
		rb      string
		sit     *Situation
		match   bool
		params  map[string]string
		bindErr bool
	}{
		{"redis alert", "redis-memory-scale-up", &Situation{Alerts: []telemetry.Alert{alert("alertname", "RedisMemoryHigh", "service", "redis")}},
			true, map[string]string{"deployment": "redis", "namespace": "shop", "replicas": "2"}, false},
		{"redis diagnosis", "redis-memory-scale-up", &Situation{Diagnosis: &Diagnosis{Service: "redis", Component: "memory"}}, true, nil, false},
		{"other alert", "redis-memory-scale-up", &Situation{Alerts: []telemetry.Alert{alert("alertname", "HighLatency")}}, false, nil, false},
		{"empty situation", "redis-memory-scale-up", &Situation{}, false, nil, false},
		{"checkout burst", "checkout-restart", &Situation{Diagnosis: &Diagnosis{Service: "checkout"}, Anomalies: []detect.Anomaly{{Type: detect.TypeErrorBurst}}},
			true, map[string]string{"service": "checkout"}, false},
		// A crafted label value cannot become a parameter.
		{"hostile node label", "node-cordon", &Situation{Alerts: []telemetry.Alert{alert("alertname", "NodeNotReady", "node", "n1; rm -rf /")}}, true, nil, true},
		{"hostile newline label", "node-cordon", &Situation{Alerts: []telemetry.Alert{alert("alertname", "NodeNotReady", "node", "n1\nmalicious: true")}}, true, nil, true},
		{"node label", "node-cordon", &Situation{Alerts: []telemetry.Alert{alert("alertname", "NodeNotReady", "node", "node-3")}}, true, map[string]string{"node": "node-3"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rb := byName[tc.rb]
			ok, err := rb.Matches(tc.sit)
			if err != nil || ok != tc.match {
				t.Fatalf("Matches = %v, %v; want %v", ok, err, tc.match)
			}
			if !ok {
				return
			}
			vals, err := rb.Bind(tc.sit, nil)
			if tc.bindErr {
				if !errors.Is(err, ErrInvalidParam) {
					t.Fatalf("Bind = %v, want ErrInvalidParam", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.params {
				if got, _ := vals.Get(k); got != v {
					t.Fatalf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	base := "name: r\nrisk: low\nlevel: 2\nmatch: 'true'\nsteps: [{name: s, action: f.do}]\n"
	tests := []struct {
		name, src, want string
	}{
		{"bad name", strings.Replace(base, "name: r", "name: Bad Name", 1), "name"},
		{"bad risk", strings.Replace(base, "risk: low", "risk: extreme", 1), "risk"},
		{"bad level", strings.Replace(base, "level: 2", "level: 7", 1), "level"},
		{"no match", strings.Replace(base, "match: 'true'", "", 1), "match is required"},
		{"bad expr", strings.Replace(base, "'true'", "'diagnosis.service =='", 1), "match"},
		{"non-bool expr", strings.Replace(base, "'true'", "'diagnosis.service'", 1), "match"},
		{"no steps", strings.Replace(base, "steps: [{name: s, action: f.do}]", "steps: []", 1), "at least one step"},
		{"bad action", strings.Replace(base, "f.do", "nodot", 1), "family.op"},
		{"undeclared", strings.Replace(base, "action: f.do}", "action: f.do, with: {x: \"${ghost}\"}}", 1), "undeclared"},
		{"bad template", strings.Replace(base, "action: f.do}", "action: f.do, with: {x: \"${\"}}", 1), "unclosed"},
		{"lower step risk", strings.Replace(strings.Replace(base, "risk: low", "risk: high", 1), "action: f.do}", "action: f.do, risk: low}", 1), "cannot lower"},
		{"unknown field", base + "extra: 1\n", "extra"},
		{"duplicate param", base + "params: [{name: a, type: int}, {name: a, type: int}]\n", "twice"},
		{"string without pattern", base + "params: [{name: a, type: string}]\n", "pattern"},
		{"verify without check", base + "verify: {timeout: 1m}\n", "check"},
		{"bad duration", base + "verify: {check: c, timeout: soon}\n", "duration"},
		{"empty", "", "no runbook"},
		{"not yaml", "{{{", "document 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRunbooks(strings.NewReader(tc.src), "x.yaml", nil)
			if !errors.Is(err, ErrInvalidRunbook) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidRunbook mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := ParseRunbooks(strings.NewReader(base+"---\n"+base), "x.yaml", nil); err != nil {
		t.Fatalf("two documents: %v", err)
	}
	if _, err := ParseRunbooks(strings.NewReader(strings.Repeat("#", MaxRunbookBytes+1)), "x.yaml", nil); !errors.Is(err, ErrInvalidRunbook) {
		t.Fatalf("oversized: %v", err)
	}
}

// FuzzParseRunbooks checks that no input panics the runbook parser and
// that whatever it accepts is a runbook the service could use.
func FuzzParseRunbooks(f *testing.F) {
	f.Add("name: r\nrisk: low\nlevel: 2\nmatch: 'true'\nsteps: [{name: s, action: f.do, with: {a: \"${p}\"}}]\nparams: [{name: p, type: int, min: 1, max: 3, default: \"2\"}]\n")
	f.Add("name: r\nrisk: high\nlevel: 4\nmatch: 'any(alerts, .labels.x == \"y\")'\nsteps: [{action: k.scale}]\n")
	f.Add("---\n---\n")
	f.Fuzz(func(t *testing.T, src string) {
		rbs, err := ParseRunbooks(strings.NewReader(src), "fuzz.yaml", nil)
		if err != nil {
			if !errors.Is(err, ErrInvalidRunbook) {
				t.Fatalf("error %v is not ErrInvalidRunbook", err)
			}
			return
		}
		for _, rb := range rbs {
			if !rb.Level.Valid() || !rb.EffectiveRisk().Valid() || len(rb.Steps) == 0 {
				t.Fatalf("accepted an invalid runbook %+v", rb)
			}
			if _, err := rb.Matches(&Situation{}); err != nil && strings.Contains(err.Error(), "not loaded") {
				t.Fatal(err)
			}
		}
	})
}
