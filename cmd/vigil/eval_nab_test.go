package main

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nabFixture writes a small NAB-layout folder: one 2,000-row series with a
// flat noisy signal and a level jump inside the one labelled window.
func nabFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"data/cat", "labels", "reference_scores"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2015, 3, 1, 0, 0, 0, 0, time.UTC)
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	var ref []string
	for i := 0; i < 2000; i++ {
		v := 10 + math.Sin(float64(i)*0.7) // deterministic wiggle
		if i >= 1500 && i < 1550 {
			v += 40
		}
		fmt.Fprintf(&b, "%s,%g\n", t0.Add(time.Duration(i)*5*time.Minute).Format("2006-01-02 15:04:05"), v)
		s := "0"
		if i == 1450 {
			s = "1"
		}
		ref = append(ref, s)
	}
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("data/cat/x.csv", b.String())
	ws := t0.Add(1400 * 5 * time.Minute).Format("2006-01-02 15:04:05.000000")
	we := t0.Add(1600 * 5 * time.Minute).Format("2006-01-02 15:04:05.000000")
	write("labels/combined_windows.json", fmt.Sprintf(`{"cat/x.csv": [[%q, %q]]}`, ws, we))
	fh, err := os.Create(filepath.Join(dir, "reference_scores", "early.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(fh)
	json.NewEncoder(gz).Encode(map[string][]string{"cat/x.csv": ref})
	gz.Close()
	fh.Close()
	return dir
}

func TestEvalNABJSON(t *testing.T) {
	dir := nabFixture(t)
	out, stderr, err := runVigil(t, "", "eval", "nab", "--data", dir, "--json")
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	var got map[string]float64
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	for _, k := range []string{"standard", "reward_low_FP_rate", "reward_low_FN_rate"} {
		v, ok := got[k]
		if !ok || v < -1000 || v > 100 {
			t.Errorf("%s = %v (present %v), want a normalised score <= 100", k, v, ok)
		}
	}
	// the jump of 40 on a ±1 wiggle is found inside the window
	if got["standard"] <= 50 {
		t.Errorf("standard %.2f: the obvious jump was not found early in its window", got["standard"])
	}
}

func TestEvalNABReferenceAndResults(t *testing.T) {
	dir := nabFixture(t)
	res := t.TempDir()
	out, stderr, err := runVigil(t, "", "eval", "nab", "--data", dir, "--reference", "early", "--write-results", res)
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	// one detection at row 1450 of a 201-row window that starts at 1400:
	// position -(1600-1450+1)/201 on NAB's scaled sigmoid
	pos := -151.0 / 201
	raw := (2/(1+math.Exp(5*pos)) - 1) / (2/(1+math.Exp(-5)) - 1)
	want := fmt.Sprintf("%.2f", 100*(raw+1)/2)
	if !strings.Contains(out, "standard") || !strings.Contains(out, want) {
		t.Errorf("output lacks standard score %s:\n%s", want, out)
	}
	b, err := os.ReadFile(filepath.Join(res, "early", "cat", "early_x.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "timestamp,value,anomaly_score,label,S(t)_standard,") {
		t.Errorf("results header: %q", strings.SplitN(string(b), "\n", 2)[0])
	}
}

func TestEvalNABBadInput(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"no data", []string{"eval", "nab"}, true, "--data DIR is required"},
		{"published without reference", []string{"eval", "nab", "--data", "x", "--published-thresholds"}, true, "needs --reference"},
		{"missing folder", []string{"eval", "nab", "--data", filepath.Join(t.TempDir(), "nope")}, false, "combined_windows.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runVigil(t, "", tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
			var ue usageError
			if errors.As(err, &ue) != tc.usage {
				t.Errorf("usage error = %v, want %v", !tc.usage, tc.usage)
			}
		})
	}
	dir := nabFixture(t)
	if err := os.WriteFile(filepath.Join(dir, "data", "cat", "x.csv"), []byte("timestamp,value\n2015-03-01 00:00:00,oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := runVigil(t, "", "eval", "nab", "--data", dir)
	if err == nil || !strings.Contains(err.Error(), "cat/x.csv") || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad value: err = %v, want the file and line named", err)
	}
}
