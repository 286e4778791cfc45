package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rcaFixture writes an incident where db's latency jumps and its caller
// api follows.
func rcaFixture(t *testing.T) string {
	t.Helper()
	t0 := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	type pt struct {
		T int64   `json:"t"`
		V float64 `json:"v"`
	}
	mk := func(base, bad float64) []pt {
		var out []pt
		for m := -60; m < 15; m++ {
			v := base * (1 + 0.02*float64(m%3))
			if m >= 0 {
				v = bad
			}
			out = append(out, pt{t0.Add(time.Duration(m) * time.Minute).UnixMilli(), v})
		}
		return out
	}
	in := map[string]any{
		"normal":    map[string]any{"start": t0.Add(-time.Hour), "end": t0},
		"anomalous": map[string]any{"start": t0, "end": t0.Add(15 * time.Minute)},
		"series": []map[string]any{
			{"service": "api", "name": "latency_p99", "kind": "latency", "points": mk(0.1, 2)},
			{"service": "db", "name": "latency_p99", "kind": "latency", "points": mk(0.01, 1.5)},
		},
		"edges":    []map[string]string{{"from": "api", "to": "db"}},
		"incident": map[string]any{"id": "inc-1", "title": "API slow", "start": t0.Add(2 * time.Minute), "resolve": t0.Add(40 * time.Minute)},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "incident.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRCADiagnose(t *testing.T) {
	file := rcaFixture(t)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"table", []string{"rca", "diagnose", file}, []string{"1     db", "chain:", "db -> api (call)", "next step:"}},
		{"json", []string{"rca", "diagnose", file, "--json"}, []string{`"service": "db"`, `"chain"`}},
		{"postmortem", []string{"rca", "diagnose", file, "--postmortem"}, []string{"# Postmortem: API slow", "## Root cause", "**db**", "## Follow-up actions", "Time to resolve: 38m0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			root := newRootCmd()
			root.SetOut(&out)
			root.SetArgs(tt.args)
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestRCADiagnoseErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"no file", []string{"rca", "diagnose"}, true, "accepts 1 arg"},
		{"both outputs", []string{"rca", "diagnose", "x", "--json", "--postmortem"}, true, "exclude each other"},
		{"missing file", []string{"rca", "diagnose", filepath.Join(dir, "nope.json")}, false, "no such file"},
		{"bad json", []string{"rca", "diagnose", write("bad.json", "{")}, false, "parse"},
		{"bad kind", []string{"rca", "diagnose", write("kind.json", `{"anomalous":{"start":"2026-01-05T10:00:00Z","end":"2026-01-05T10:10:00Z"},"series":[{"service":"a","kind":"speed"}]}`)}, false, `unknown kind "speed"`},
		{"no window", []string{"rca", "diagnose", write("win.json", `{}`)}, false, "anomalous.start is required"},
		// every kind the ranker knows is accepted: this one fails later, for want of points
		{"network kind", []string{"rca", "diagnose", write("net.json", `{"anomalous":{"start":"2026-01-05T10:00:00Z","end":"2026-01-05T10:10:00Z"},"series":[{"service":"a","kind":"network"}]}`)}, false, "no data to diagnose"},
		{"no data", []string{"rca", "diagnose", write("empty.json", `{"anomalous":{"start":"2026-01-05T10:00:00Z","end":"2026-01-05T10:10:00Z"}}`)}, false, "no data to diagnose"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRootCmd()
			root.SetOut(&bytes.Buffer{})
			root.SetArgs(tt.args)
			err := root.Execute()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
			var ue usageError
			if errors.As(err, &ue) != tt.usage {
				t.Errorf("usage error: %v, want %v", fmt.Sprint(errors.As(err, &ue)), tt.usage)
			}
		})
	}
}
