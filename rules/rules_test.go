package rules

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigilops/vigil/slo"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestGenerateGolden(t *testing.T) {
	spec, err := LoadSpec(filepath.Join("testdata", "spec.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Generate(spec)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Encode(&buf, "spec.yaml"); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "spec.rules.yml")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./rules -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("generated rules differ from %s (go test ./rules -update to accept):\n%s", golden, buf.String())
	}

	// Stable: a second run from a fresh parse gives the same bytes.
	spec2, _ := LoadSpec(filepath.Join("testdata", "spec.yaml"))
	f2, _ := Generate(spec2)
	var buf2 bytes.Buffer
	f2.Encode(&buf2, "spec.yaml")
	if !bytes.Equal(buf.Bytes(), buf2.Bytes()) {
		t.Error("two generations of one spec differ")
	}

	groups, records, alerts := f.Counts()
	// 2 baselines x (4 records + 1 alert), 1 spike x (3 + 1), 2 SLOs x
	// (8 ratios + 1 budget + 4 alerts).
	if groups != 5 || records != 8+3+18 || alerts != 2+1+8 {
		t.Errorf("Counts = %d groups, %d records, %d alerts", groups, records, alerts)
	}
}

// TestGeneratedFileShape reads the output back as a Prometheus rule file
// and checks what Prometheus relies on: every rule is either a recording
// or an alerting rule, alerts carry severity and the annotations, and
// recorded names follow level:metric:operation.
func TestGeneratedFileShape(t *testing.T) {
	spec, err := LoadSpec(filepath.Join("testdata", "spec.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	f, _ := Generate(spec)
	var buf bytes.Buffer
	f.Encode(&buf, "")
	var back struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Record, Alert, Expr, For string
				Labels, Annotations      map[string]string
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, g := range back.Groups {
		if names[g.Name] {
			t.Errorf("group %s twice", g.Name)
		}
		names[g.Name] = true
		for _, r := range g.Rules {
			if (r.Record == "") == (r.Alert == "") {
				t.Errorf("group %s: rule is neither or both record and alert: %+v", g.Name, r)
			}
			if checkExpr(r.Expr) != nil || r.Expr == "" {
				t.Errorf("group %s: bad expr %q", g.Name, r.Expr)
			}
			if r.Record != "" && strings.Count(r.Record, ":") != 2 {
				t.Errorf("recorded name %s is not level:metric:operation", r.Record)
			}
			if r.Alert != "" {
				if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
					t.Errorf("alert %s lacks severity, summary or description: %+v", r.Alert, r)
				}
				if !strings.Contains(r.Annotations["summary"]+r.Annotations["description"], "$value") {
					t.Errorf("alert %s annotations do not show $value", r.Alert)
				}
			}
		}
	}
}

func TestSLOGroupMatchesEvaluatorLabels(t *testing.T) {
	sel := func(s string) slo.Selector {
		x, err := slo.ParseSelector(s)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	d := slo.Definition{Name: "a", Service: "svc", Objective: 99.5, Window: 28 * 24 * time.Hour,
		Good: sel(`req_total{ok="1"}`), Total: sel(`req_total`)}
	g := SLOGroup(&d)
	var alerts, records int
	for _, r := range g.Rules {
		if r.Alert == "" {
			records++
			continue
		}
		alerts++
		if r.Alert != slo.AlertName {
			t.Errorf("alert name %s, want %s", r.Alert, slo.AlertName)
		}
		if r.Labels.Get("slo") != "a" || r.Labels.Get("service") != "svc" || r.Labels.Get("window") == "" {
			t.Errorf("alert labels %v", r.Labels)
		}
		if !strings.Contains(r.Expr, "(1 - 99.5 / 100)") || !strings.Contains(r.Expr, `{slo="a"}`) {
			t.Errorf("alert expr %q", r.Expr)
		}
	}
	// 5m 30m 1h 2h 6h 1d 3d and the 28d budget window, plus the budget.
	if alerts != 4 || records != 9 {
		t.Errorf("%d alerts, %d records; want 4, 9", alerts, records)
	}
	if got := errorRatioExpr(&d, time.Hour); got != `1 - (sum(rate(req_total{ok="1"}[1h])) / sum(rate(req_total[1h])))` {
		t.Errorf("good ratio expr %s", got)
	}
}

func TestParseSpecErrors(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want []string // substrings, each must appear
	}{
		{"yaml syntax", "baselines: [\n", []string{"s.yaml: "}},
		{"empty", "", []string{"s.yaml: empty spec"}},
		{"not a mapping", "- a\n", []string{"s.yaml:1: want a mapping"}},
		{"unknown top key", "baseline:\n  - name: x\n", []string{`s.yaml:1: unknown key "baseline"`}},
		{"nothing", "baselines: []\n", []string{"no baselines, spikes or slos"}},
		{"not a list", "spikes: {name: x}\n", []string{"s.yaml:1: spikes: want a list"}},
		{"unknown field", "baselines:\n  - name: x\n    expr: up\n    zz: 3\n", []string{`s.yaml:4: baselines[0]: unknown field "zz"`}},
		{"bad name", "baselines:\n  - name: api-latency\n    expr: up\n", []string{"s.yaml:2: baselines[0].name:", "metric name"}},
		{"missing expr", "baselines:\n  - name: x\n", []string{"s.yaml:2: baselines[0].expr: missing"}},
		{"unbalanced expr", "baselines:\n  - name: x\n    expr: sum(rate(x[5m])\n", []string{"s.yaml:3: baselines[0].expr:", "never closed"}},
		{"bad z", "baselines:\n  - name: x\n    expr: up\n    z: -1\n", []string{"s.yaml:4: baselines[0].z:"}},
		{"z not a number", "baselines:\n  - name: x\n    expr: up\n    z: three\n", []string{`s.yaml:4: baselines[0].z: "three" is not a number`}},
		{"bad duration", "baselines:\n  - name: x\n    expr: up\n    for: 10 minutes\n", []string{"s.yaml:4: baselines[0].for:", "not a duration"}},
		{"bad direction", "baselines:\n  - name: x\n    expr: up\n    direction: sideways\n", []string{"s.yaml:4: baselines[0].direction:"}},
		{"bad by", "baselines:\n  - name: x\n    expr: up\n    by: [service, 1x]\n", []string{"s.yaml:4: baselines[0].by:", `"1x"`}},
		{"by not a list", "baselines:\n  - name: x\n    expr: up\n    by: service\n", []string{"s.yaml:4: baselines[0].by: want a list"}},
		{"reserved label", "baselines:\n  - name: x\n    expr: up\n    labels: {severity: page}\n", []string{"s.yaml:4: baselines[0].labels:"}},
		{"short deriv window", "spikes:\n  - name: x\n    expr: up\n    deriv_window: 10s\n", []string{"s.yaml:4: spikes[0].deriv_window:"}},
		{"zero factor", "spikes:\n  - name: x\n    expr: up\n    factor: 0\n", []string{"s.yaml:4: spikes[0].factor: must be positive"}},
		{"negative factor", "spikes:\n  - name: x\n    expr: up\n    factor: -2\n", []string{"s.yaml:4: spikes[0].factor:"}},
		{"duplicate names", "baselines:\n  - name: x\n    expr: up\nspikes:\n  - name: x\n    expr: up\n", []string{`s.yaml:5: spikes[0].name: "x" already used by baselines[0]`}},
		{"duplicate field", "baselines:\n  - name: x\n    name: y\n    expr: up\n", []string{"s.yaml:3: baselines[0].name: defined twice"}},
		{"objective 100", "slos:\n  - name: a\n    service: s\n    objective: 100\n    bad: e_total\n    total: r_total\n", []string{"s.yaml:4: slos[0].objective:", "between 0 and 100"}},
		{"objective 0", "slos:\n  - name: a\n    service: s\n    objective: 0\n    bad: e_total\n    total: r_total\n", []string{"s.yaml:4: slos[0].objective:"}},
		{"objective missing", "slos:\n  - name: a\n    service: s\n    bad: e_total\n    total: r_total\n", []string{"s.yaml:2: slos[0].objective: missing"}},
		{"bad selector", "slos:\n  - name: a\n    service: s\n    objective: 99\n    bad: rate(e_total[5m])\n    total: r_total\n", []string{"s.yaml:5: slos[0].bad:", "invalid series selector"}},
		{"no good or bad", "slos:\n  - name: a\n    service: s\n    objective: 99\n    total: r_total\n", []string{"s.yaml:2: slos[0].good:"}},
		{"slo window", "slos:\n  - name: a\n    service: s\n    objective: 99\n    window: 1h\n    bad: e\n    total: r\n", []string{"s.yaml:5: slos[0].window:"}},
		{"slo name", "slos:\n  - name: 'a b'\n    service: s\n    objective: 99\n    bad: e\n    total: r\n", []string{"s.yaml:2: slos[0].name:"}},
		{"several problems at once", "baselines:\n  - name: x\n    z: 0\n    window: 1m\n", []string{"s.yaml:3: baselines[0].z:", "s.yaml:4: baselines[0].window:", "s.yaml:2: baselines[0].expr: missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSpec("s.yaml", []byte(tt.spec))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("ParseSpec = %v, want nil (defaults apply)", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("ParseSpec = %v, want ErrInvalidSpec", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestSpecDefaults(t *testing.T) {
	spec, err := ParseSpec("s.yaml", []byte("baselines:\n  - {name: lat, expr: up}\nspikes:\n  - {name: err_spike, expr: up, min: 0}\n"))
	if err != nil {
		t.Fatal(err)
	}
	b := spec.Baselines[0]
	if b.Z != 3 || b.Window != 7*24*time.Hour || b.For != 10*time.Minute || b.Direction != Both || b.Severity != "warning" || b.Alert != "LatAnomaly" {
		t.Errorf("baseline defaults %+v", b)
	}
	s := spec.Spikes[0]
	if s.Factor != 1 || s.DerivWindow != 10*time.Minute || s.For != 2*time.Minute || s.Alert != "ErrSpike" || s.Min == nil || *s.Min != 0 {
		t.Errorf("spike defaults %+v", s)
	}
	if n := BaselineNames(&b); n.ZScore != "all:lat:zscore_1w" {
		t.Errorf("z-score name %s", n.ZScore)
	}
}

func TestValidateProgrammaticSpec(t *testing.T) {
	spec := &Spec{Baselines: []Baseline{{Name: "x", Expr: "up", Z: -1}}}
	_, err := Generate(spec)
	if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "baselines[0].z:") {
		t.Errorf("Generate = %v, want a baselines[0].z error", err)
	}
}

func TestCheckExpr(t *testing.T) {
	good := []string{`up`, `sum by (a) (rate(x{a="(["}[5m]))`, "x{a=`}`}", `x # comment (`, `x{a='\''}`}
	bad := []string{`sum(up`, `up)`, `x{a="}`, `x[5m}`, "x{a=\"b\nc\"}", string([]byte{0xff})}
	for _, e := range good {
		if err := checkExpr(e); err != nil {
			t.Errorf("checkExpr(%q) = %v", e, err)
		}
	}
	for _, e := range bad {
		if err := checkExpr(e); err == nil {
			t.Errorf("checkExpr(%q) = nil, want an error", e)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "spec.yaml")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("baselines:\n  - {name: x, expr: up}\n"))
	f.Add([]byte("slos: [{name: a, service: s, objective: 99, bad: e, total: r}]\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := ParseSpec("f.yaml", data)
		if err != nil {
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("error %v does not match ErrInvalidSpec", err)
			}
			return
		}
		// Whatever parses must generate and encode.
		out, err := Generate(spec)
		if err != nil {
			t.Fatalf("parsed spec does not generate: %v", err)
		}
		if err := out.Encode(&bytes.Buffer{}, "f.yaml"); err != nil {
			t.Fatal(err)
		}
	})
}

func BenchmarkGenerate(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "spec.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		spec, err := ParseSpec("spec.yaml", data)
		if err != nil {
			b.Fatal(err)
		}
		f, _ := Generate(spec)
		f.Encode(&bytes.Buffer{}, "spec.yaml")
	}
}
