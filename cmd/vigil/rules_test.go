package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/rules"
)

const rulesSpecPath = "../../rules/testdata/spec.yaml"

func runRules(t *testing.T, argv ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetArgs(argv)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.Execute()
	return out.String(), err
}

func TestRulesGenerateCmd(t *testing.T) {
	golden, err := os.ReadFile("../../rules/testdata/spec.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("stdout", func(t *testing.T) {
		out, err := runRules(t, "rules", "generate", "-f", rulesSpecPath)
		if err != nil {
			t.Fatal(err)
		}
		if out != string(golden) {
			t.Errorf("stdout differs from the golden rules file")
		}
	})
	t.Run("file and json summary", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "rules.yml")
		out, err := runRules(t, "rules", "generate", "-f", rulesSpecPath, "-o", path, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var sum rulesSummary
		if err := json.Unmarshal([]byte(out), &sum); err != nil {
			t.Fatalf("summary %q: %v", out, err)
		}
		if sum.Output != path || sum.Groups != 5 || sum.SLOs != 2 || sum.AlertingRules != 11 {
			t.Errorf("summary %+v", sum)
		}
		written, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(written, golden) {
			t.Error("written file differs from the golden rules file")
		}
		entries, _ := os.ReadDir(filepath.Dir(path))
		if len(entries) != 1 {
			t.Errorf("temporary files left behind: %v", entries)
		}
	})
	t.Run("check", func(t *testing.T) {
		out, err := runRules(t, "rules", "check", "-f", rulesSpecPath)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "2 baselines, 1 spikes, 2 SLOs -> 5 groups") || !strings.Contains(out, "valid") {
			t.Errorf("check output %q", out)
		}
	})
}

func TestRulesCmdErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("slos:\n  - name: a\n    service: s\n    objective: 100\n    bad: e_total\n    total: r_total\n"), 0o644)
	tests := []struct {
		name      string
		argv      []string
		usage     bool
		invalid   bool
		wantInErr string
	}{
		{"no spec", []string{"rules", "generate"}, true, false, "-f SPEC is required"},
		{"json without -o", []string{"rules", "generate", "-f", rulesSpecPath, "--json"}, true, false, "--json"},
		{"extra argument", []string{"rules", "check", "-f", rulesSpecPath, "x"}, true, false, "unknown command"},
		{"missing file", []string{"rules", "check", "-f", filepath.Join(dir, "nope.yaml")}, false, false, "read spec"},
		{"bad spec", []string{"rules", "generate", "-f", bad}, false, true, "bad.yaml:4: slos[0].objective:"},
		{"bad spec check", []string{"rules", "check", "-f", bad}, false, true, "between 0 and 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runRules(t, tt.argv...)
			if err == nil {
				t.Fatal("no error")
			}
			var ue usageError
			if got := errors.As(err, &ue); got != tt.usage {
				t.Errorf("usage error = %v, want %v (%v)", got, tt.usage, err)
			}
			if got := errors.Is(err, config.ErrInvalid); got != tt.invalid {
				t.Errorf("invalid = %v, want %v (%v)", got, tt.invalid, err)
			}
			if tt.invalid && exitCode(err) != exitInvalid {
				t.Errorf("exit code %d, want %d", exitCode(err), exitInvalid)
			}
			if !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("error %q lacks %q", err, tt.wantInErr)
			}
		})
	}
}

// TestRulesHelpSpecParses keeps the spec shown in --help valid.
func TestRulesHelpSpecParses(t *testing.T) {
	start := strings.Index(rulesSpecHelp, "\n  baselines:")
	end := strings.Index(rulesSpecHelp, "\n\nEach baseline")
	if start < 0 || end < start {
		t.Fatal("help text lost its spec example")
	}
	var b strings.Builder
	for _, line := range strings.Split(rulesSpecHelp[start+1:end], "\n") {
		b.WriteString(strings.TrimPrefix(line, "  "))
		b.WriteByte('\n')
	}
	spec, err := rules.ParseSpec("help", []byte(b.String()))
	if err != nil {
		t.Fatalf("spec in --help does not parse: %v\n%s", err, b.String())
	}
	if len(spec.Baselines) != 1 || len(spec.Spikes) != 1 || len(spec.SLOs) != 1 {
		t.Errorf("help spec parsed to %d baselines, %d spikes, %d slos", len(spec.Baselines), len(spec.Spikes), len(spec.SLOs))
	}
}
