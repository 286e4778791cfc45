package main

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestSLOBudgetCmd(t *testing.T) {
	out, err := runRules(t, "slo", "budget", "--objective", "99.9", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var b sloBudget
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	if b.Window != "30d" || math.Abs(b.ErrorBudget-0.001) > 1e-12 || b.FullOutage != "43m12s" || len(b.Alerts) != 4 {
		t.Errorf("budget %+v", b)
	}
	// 14.4x over 1h of 30 days spends 2%; the budget lasts 50 hours.
	if a := b.Alerts[0]; a.Severity != "page" || a.Long != "1h" || a.Short != "5m" || math.Abs(a.BudgetSpent-0.02) > 1e-9 || a.ExhaustedIn != "2d2h" {
		t.Errorf("first alert %+v", a)
	}
	if a := b.Alerts[3]; a.Severity != "ticket" || a.Long != "3d" || a.ExhaustedIn != "30d" {
		t.Errorf("last alert %+v", a)
	}

	text, err := runRules(t, "slo", "budget", "--objective", "99", "--window", "28d")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "99% over 4w") || !strings.Contains(text, "6h43m12s") {
		t.Errorf("text output:\n%s", text)
	}

	for _, argv := range [][]string{
		{"slo", "budget"},
		{"slo", "budget", "--objective", "100"},
		{"slo", "budget", "--objective", "-1"},
		{"slo", "budget", "--objective", "99", "--window", "a month"},
		{"slo", "budget", "--objective", "99", "--window", "1h"},
		{"slo", "budget", "--objective", "99.9", "--window", "0d"},
		{"slo", "budget", "--objective", "99.9", "--window", "0s"},
		{"slo", "budget", "--objective", "99.9", "--window", "-1d"},
		{"slo", "budget", "--objective", "0"},
		{"slo", "budget", "--objective", "NaN"},
	} {
		_, err := runRules(t, argv...)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: error %v, want a usage error", argv, err)
		}
	}
}

// TestSLOBudgetHelp keeps a meaningless default out of the help.
func TestSLOBudgetHelp(t *testing.T) {
	out, err := runRules(t, "slo", "budget", "--help")
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "--objective") && strings.Contains(l, "float") {
			line = l
		}
	}
	if line == "" || strings.Contains(line, "NaN") || strings.Contains(line, "(default") {
		t.Errorf("--objective help line %q", line)
	}
}
