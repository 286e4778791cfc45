package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
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
