package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/kedascaler"
)

func TestEvalScalerFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "scaler", "--history-days", "0"}, "--history-days 0"},
		{[]string{"eval", "scaler", "--onset-hour", "23"}, "--onset-hour 23"},
		{[]string{"eval", "scaler", "--target", "-1"}, "--target -1"},
		{[]string{"eval", "scaler", "extra"}, "unknown command"},
		{[]string{"eval", "scaler", "--trace", "--json"}, "--trace prints text"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			root := newRootCmd()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(tc.args)
			err := root.Execute()
			var ue usageError
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one mentioning %q", err, tc.want)
			}
			if tc.want != "unknown command" && !errors.As(err, &ue) {
				t.Fatalf("err %T %v is not a usage error", err, err)
			}
		})
	}
}

func TestEvalScalerJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates three days")
	}
	for _, extra := range [][]string{nil, {"--no-replicas"}} {
		t.Run(strings.Join(append([]string{"flags"}, extra...), " "), func(t *testing.T) {
			evalScalerJSON(t, extra...)
		})
	}
}

func evalScalerJSON(t *testing.T, extra ...string) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs(append([]string{"eval", "scaler", "--history-days", "2", "--json"}, extra...))
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Surge struct {
			Reactive, Predictive struct {
				UnderMinutes   float64 `json:"under_minutes"`
				ReplicaMinutes float64 `json:"replica_minutes"`
			}
		} `json:"surge"`
		Model string `json:"model"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v in %s", err, out.String())
	}
	if res.Surge.Reactive.ReplicaMinutes <= 0 || res.Surge.Predictive.ReplicaMinutes <= 0 || res.Model == "" {
		t.Fatalf("empty result %s", out.String())
	}
}

func TestEvalScalerShortCause(t *testing.T) {
	onset := time.Date(2026, 1, 9, 10, 0, 0, 0, time.UTC)
	// step builds a trace step at onset+sec seconds; the scaler's HPA
	// had rep replicas, the policy ready/total pods; target is 10.
	step := func(sec int, load float64, ready, total, rep int, guarded, value float64) kedascaler.ReplayStep {
		return kedascaler.ReplayStep{
			Time: onset.Add(time.Duration(sec) * time.Second), Load: load,
			PredictiveReady: ready, PredictiveTotal: total,
			Decision: kedascaler.Decision{Replicas: rep, Guarded: guarded, Value: value},
		}
	}
	for _, tc := range []struct {
		name  string
		steps []kedascaler.ReplayStep
		want  string
	}{
		{"enough ready", []kedascaler.ReplayStep{step(0, 99, 10, 10, 10, 100, 100)}, ""},
		{"pods starting in the surge", []kedascaler.ReplayStep{step(60, 150, 10, 16, 16, 160, 160)}, "surge:starting"},
		{"asked for too few", []kedascaler.ReplayStep{step(60, 200, 10, 16, 10, 160, 160)}, "surge:ordered-too-few"},
		{"step refused before the onset", []kedascaler.ReplayStep{step(-600, 104, 10, 10, 10, 104, 109.9)}, "slow:step-refused"},
		{"no signal after the surge phase", []kedascaler.ReplayStep{step(3600, 104, 10, 10, 10, 99, 100)}, "slow:no-signal"},
		{"released within the lookback", []kedascaler.ReplayStep{
			step(3000, 100, 11, 11, 11, 100, 100.1), step(3015, 100, 10, 10, 11, 100, 100.1), step(3400, 104, 10, 10, 10, 104, 109.9),
		}, "slow:released"},
		{"released too long ago", []kedascaler.ReplayStep{
			step(2000, 100, 11, 11, 11, 100, 100.1), step(2015, 100, 10, 10, 11, 100, 100.1), step(3400, 104, 10, 10, 10, 104, 109.9),
		}, "slow:step-refused"},
		{"released count would not have carried it", []kedascaler.ReplayStep{
			step(3000, 100, 11, 11, 11, 100, 100.1), step(3015, 100, 10, 10, 11, 100, 100.1), step(3400, 115, 10, 10, 10, 104, 109.9),
		}, "slow:step-refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := shortCause(tc.steps, len(tc.steps)-1, onset, 10, 0.1); got != tc.want {
				t.Fatalf("shortCause = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestEvalScalerTrace checks that the minutes by cause add up to the
// predictive policy's under-provisioned minutes in the surge window.
func TestEvalScalerTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates three days")
	}
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"eval", "scaler", "--history-days", "2", "--trace"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	sum := regexp.MustCompile(`by cause \(surge window, ([0-9.]+) in all\):((?: [a-z:-]+ [0-9.]+)*)\n`).FindStringSubmatch(text)
	table := regexp.MustCompile(`(?m)^surge .*  predictive +([0-9.]+) `).FindStringSubmatch(text)
	if sum == nil || table == nil {
		t.Fatalf("no cause summary or surge row in\n%s", text)
	}
	total, _ := strconv.ParseFloat(sum[1], 64)
	want, _ := strconv.ParseFloat(table[1], 64)
	if total != want {
		t.Fatalf("causes add up to %g minutes, the table says %g", total, want)
	}
	parts := strings.Fields(sum[2])
	add := 0.0
	for i := 1; i < len(parts); i += 2 {
		v, _ := strconv.ParseFloat(parts[i], 64)
		add += v
	}
	if d := add - total; d > 0.01 || d < -0.01 {
		t.Fatalf("causes %v add up to %g, summary says %g", parts, add, total)
	}
	if n := strings.Count(text, "\n"); n < 600 {
		t.Fatalf("trace has %d lines, want one per 15 s of the surge window", n)
	}
}
