package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSeriesCSVRejectsLoss runs `vigil metrics detect` and `vigil forecast`
// on files whose rows the reader once dropped, replaced or cut short
// without a word: each must fail naming the file, the line and why.
func TestSeriesCSVRejectsLoss(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	head := "timestamp,value\n2014-07-01 08:30:00,1\n2014-07-01 09:00:00,2\n2014-07-01 09:30:00,3\n"
	tests := []struct {
		name, path string
		want       []string
	}{
		{"step back", write("back.csv", head+"2014-07-01 09:00:00,4\n"),
			[]string{"back.csv", "line 5: timestamp 2014-07-01 09:00:00 is not after the previous row's 2014-07-01 09:30:00 (line 4)", "time order"}},
		{"repeat", write("repeat.csv", head+"2014-07-01 09:30:00,4\n"),
			[]string{"repeat.csv", "line 5: timestamp 2014-07-01 09:30:00 is not after the previous row's 2014-07-01 09:30:00"}},
		{"extra field", write("extra.csv", head+"2014-07-02 10:00:00,17311,999\n"),
			[]string{"extra.csv", "line 5: 3 fields where the header (line 1) has 2"}},
		{"missing field", write("short.csv", "time,value,host\n2014-07-02 10:00:00,1,a\n2014-07-02 10:30:00,2\n"),
			[]string{"short.csv", "line 3: 2 fields where the header (line 1) has 3"}},
	}
	for _, cmd := range [][]string{{"metrics", "detect"}, {"forecast"}} {
		for _, tc := range tests {
			t.Run(strings.Join(cmd, "-")+"/"+tc.name, func(t *testing.T) {
				_, _, err := runVigil(t, "", append(cmd, tc.path)...)
				if err == nil || exitCode(err) != exitError {
					t.Fatalf("err %v (exit %d), want a failure", err, exitCode(err))
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
			})
		}
	}
}

// TestSeriesCSVHeaderColumns reads the columns a header names, in any
// order and among others.
func TestSeriesCSVHeaderColumns(t *testing.T) {
	p := filepath.Join(t.TempDir(), "named.csv")
	body := "host,value,timestamp\n"
	for i := range 10 {
		body += "a," + []string{"1", "2"}[i%2] + ",2026-01-05 00:0" + string(rune('0'+i)) + ":00\n"
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runVigil(t, "", "metrics", "detect", p)
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	if !strings.Contains(out, "10 points") {
		t.Errorf("want 10 points read:\n%s", out)
	}
}

// TestSeriesCSVUnordered: --unordered reads a file whose rows step back or
// repeat, and says so on stderr naming the first such row; without it the
// error suggests the flag. A bad value stays an error either way.
func TestSeriesCSVUnordered(t *testing.T) {
	dir := t.TempDir()
	body := "timestamp,value\n"
	for i := range 300 {
		body += "2026-01-05 " + time2(i) + ",1\n"
	}
	body += "2026-01-05 00:10:00,2\n" // steps back
	p := filepath.Join(dir, "back.csv")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := runVigil(t, "", "metrics", "detect", p)
	if err == nil || !strings.Contains(err.Error(), "--unordered") {
		t.Fatalf("err %v, want it to suggest --unordered", err)
	}
	out, stderr, err := runVigil(t, "", "metrics", "detect", "--unordered", p)
	if err != nil {
		t.Fatalf("--unordered: %v (stderr %q)", err, stderr)
	}
	if !strings.Contains(stderr, "warning:") || !strings.Contains(stderr, "line 302") || !strings.Contains(stderr, "300 points") {
		t.Errorf("stderr %q, want a warning naming line 302 and the 300 points kept", stderr)
	}
	if !strings.Contains(out, "300 points") {
		t.Errorf("output %q, want 300 points", out)
	}
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte(body+"2026-01-05 06:00:00,oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runVigil(t, "", "metrics", "detect", "--unordered", bad); err == nil || !strings.Contains(err.Error(), "oops") {
		t.Errorf("bad value with --unordered: err %v, want it named", err)
	}
}

// time2 is minute i of a day as HH:MM:00.
func time2(i int) string {
	return fmt.Sprintf("%02d:%02d:00", i/60, i%60)
}
