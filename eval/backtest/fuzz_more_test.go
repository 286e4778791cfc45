package backtest

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vigilops/vigil/forecast"
)

// fuzzSeries is the one series the FuzzLoadNAB folder holds.
const fuzzSeries = "realKnownCause/fuzz.csv"

// FuzzLoadNAB writes the fuzzed CSV as the only series of a NAB-layout
// folder and loads it under a fuzzed name. Names that climb out of the
// folder are refused; every error names the series; only a name that
// cleans to the file's own loads anything, and what it loads is exactly
// what the CSV reader makes of the file: at least one point, times
// strictly increasing, values finite.
func FuzzLoadNAB(f *testing.F) {
	valid := "timestamp,value\n2014-07-01 00:00:00,10844\n2014-07-01 00:30:00,8127\n"
	for _, s := range []struct{ name, csv string }{
		{fuzzSeries, valid},
		{fuzzSeries, "1404173100,2\n1404173400000,3\n"},
		{fuzzSeries, "2014-07-01T00:00:00Z,1\n\"2014-07-01T00:05:00Z\",\"2\"\n"},
		{fuzzSeries, "\ufefftimestamp,value\n1,1\n1,2\n0,3\n"},
		{fuzzSeries, "timestamp,value\n"},
		{fuzzSeries, "timestamp,value\n2014-07-01 00:00:00,NaN\n"},
		{fuzzSeries, "timestamp,value\n2014-07-01 00:00:00,1\ngarbage\n"},
		{fuzzSeries, ""},
		{"realKnownCause/./fuzz.csv", valid},
		{"realKnownCause//fuzz.csv", valid},
		{"realKnownCause/missing.csv", valid},
		{"../data/realKnownCause/fuzz.csv", valid},
		{"realKnownCause/../realKnownCause/fuzz.csv", valid},
		{"/etc/passwd", valid},
		{"", valid},
		{".", valid},
		{"realKnownCause", valid},
		{"realKnownCause/fuzz.csv/", valid},
		{"realKnownCause/fuzz.csv\x00", valid},
	} {
		f.Add(s.name, []byte(s.csv))
	}
	f.Fuzz(func(t *testing.T, name string, csv []byte) {
		dir := t.TempDir()
		file := filepath.Join(dir, "data", filepath.FromSlash(fuzzSeries))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, csv, 0o644); err != nil {
			t.Fatal(err)
		}
		pts, err := LoadNAB(dir, name)
		if strings.Contains(name, "..") || filepath.IsAbs(name) {
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", name)) {
				t.Fatalf("LoadNAB(%q): %d points, err %v; want an error quoting the name", name, len(pts), err)
			}
			return
		}
		if err != nil {
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("LoadNAB(%q): error %q does not name the series", name, err)
			}
			if path.Clean(name) == fuzzSeries {
				if _, rerr := forecast.ReadCSV(bytes.NewReader(csv), 0); rerr == nil {
					t.Fatalf("LoadNAB(%q) failed on a file the CSV reader accepts: %v", name, err)
				}
			}
			return
		}
		if path.Clean(name) != fuzzSeries {
			t.Fatalf("LoadNAB(%q) loaded %d points; only %q exists", name, len(pts), fuzzSeries)
		}
		want, rerr := forecast.ReadCSV(bytes.NewReader(csv), 0)
		if rerr != nil || !reflect.DeepEqual(pts, want) {
			t.Fatalf("LoadNAB(%q) = %d points; the file reads as %d points, %v", name, len(pts), len(want), rerr)
		}
		if len(pts) == 0 {
			t.Fatalf("LoadNAB(%q): no points and no error", name)
		}
		for i, p := range pts {
			if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
				t.Fatalf("LoadNAB(%q): point %d value %v", name, i, p.V)
			}
			if i > 0 && p.T <= pts[i-1].T {
				t.Fatalf("LoadNAB(%q): times not increasing at %d", name, i)
			}
		}
	})
}
