package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type evalForecastOut struct {
	Series []struct {
		Name              string   `json:"name"`
		Horizon           string   `json:"horizon"`
		Steps             int      `json:"steps"`
		MASE              *float64 `json:"mase"`
		SMAPE             *float64 `json:"smape"`
		BaselineMASE      *float64 `json:"baseline_mase"`
		SeasonalNaiveMASE *float64 `json:"seasonal_naive_mase"`
		Model             string   `json:"model"`
	} `json:"series"`
}

func nabDir(t *testing.T) string {
	dir := t.TempDir()
	writeSeriesCSV(t, filepath.Join(dir, "data", "realKnownCause", "nyc_taxi.csv"), 20, 30*time.Minute)
	writeSeriesCSV(t, filepath.Join(dir, "data", "realAWSCloudwatch", "cpu.csv"), 6, 5*time.Minute)
	return dir
}

func TestEvalForecastDefaultJobs(t *testing.T) {
	dir := nabDir(t)
	out, stderr, err := runVigil(t, "", "eval", "forecast", "--data", dir, "--json")
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	var rep evalForecastOut
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	var got []string
	for _, s := range rep.Series {
		got = append(got, s.Name+"@"+s.Horizon)
		if s.MASE == nil || s.BaselineMASE == nil || s.SMAPE == nil || s.Model == "" {
			t.Errorf("%s: missing figures in %s", s.Name, out)
			continue
		}
		// The series are a clean daily shape: the forecaster must beat the
		// last value.
		if *s.MASE >= *s.BaselineMASE {
			t.Errorf("%s@%s: MASE %.3f not below the last value's %.3f", s.Name, s.Horizon, *s.MASE, *s.BaselineMASE)
		}
	}
	want := "realAWSCloudwatch/cpu.csv@15m realKnownCause/nyc_taxi.csv@15m realKnownCause/nyc_taxi.csv@30m realKnownCause/nyc_taxi.csv@1h"
	if strings.Join(got, " ") != want {
		t.Errorf("jobs %q, want %q", strings.Join(got, " "), want)
	}
	if rep.Series[1].Steps != 1 || rep.Series[3].Steps != 2 || rep.Series[0].Steps != 3 {
		t.Errorf("steps: 15m on 30-minute data must be 1 step, 1h 2, 15m on 5-minute data 3: %s", out)
	}
}

func TestEvalForecastTable(t *testing.T) {
	dir := nabDir(t)
	out, stderr, err := runVigil(t, "", "eval", "forecast", "--data", dir,
		"--series", "realAWSCloudwatch/cpu.csv", "--horizons", "10m,20m", "--scale", "naive")
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	for _, want := range []string{"last-value MASE", "realAWSCloudwatch/cpu.csv  10m", "realAWSCloudwatch/cpu.csv  20m", "none of 2 worse than the last value"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestEvalForecastErrors(t *testing.T) {
	dir := nabDir(t)
	usage := []usageCase{
		{"no data", []string{"eval", "forecast"}, "--data DIR is required"},
		{"bad horizon", []string{"eval", "forecast", "--data", dir, "--horizons", "30m,x"}, `--horizons "x"`},
		{"bad scale", []string{"eval", "forecast", "--data", dir, "--scale", "mean"}, `--scale "mean"`},
		{"bad train", []string{"eval", "forecast", "--data", dir, "--train", "1.5"}, "--train"},
	}
	checkUsageErrors(t, usage)
	failures := []struct {
		name string
		argv []string
		want string
	}{
		{"empty dir", []string{"eval", "forecast", "--data", t.TempDir()}, "no series under"},
		{"unknown series", []string{"eval", "forecast", "--data", dir, "--series", "realX/none.csv"}, "realX/none.csv"},
		{"escaping name", []string{"eval", "forecast", "--data", dir, "--series", "../../etc/passwd"}, "want <category>/<file>.csv"},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runVigil(t, "", tc.argv...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || exitCode(err) != exitError {
				t.Fatalf("err %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}
