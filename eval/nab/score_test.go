package nab

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestScaledSigmoid(t *testing.T) {
	tests := []struct{ x, want float64 }{
		{-1, 2/(1+math.Exp(-5)) - 1}, // 0.98661: the window's left edge
		{-0.5, 0.84828},
		{0, 0},
		{1, -(2/(1+math.Exp(-5)) - 1)},
		{3, -1},
		{10, -1},
	}
	for _, tc := range tests {
		if got := scaledSigmoid(tc.x); math.Abs(got-tc.want) > 1e-5 {
			t.Errorf("scaledSigmoid(%v) = %v, want %v", tc.x, got, tc.want)
		}
	}
}

func TestProbationLength(t *testing.T) {
	for _, tc := range []struct{ n, want int }{{20, 3}, {1000, 150}, {4032, 604}, {5000, 750}, {22695, 750}} {
		if got := ProbationLength(tc.n); got != tc.want {
			t.Errorf("ProbationLength(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

// tiny builds a 20-row file with one window over rows 10..13.
func tiny() *Corpus {
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	f := File{Name: "a/x.csv"}
	for i := 0; i < 20; i++ {
		f.Rows = append(f.Rows, Row{Time: t0.Add(time.Duration(i) * time.Minute), Value: float64(i)})
	}
	f.Windows = []Window{{Start: f.Rows[10].Time, End: f.Rows[13].Time}}
	return &Corpus{Files: []File{f}}
}

func TestSweepScoring(t *testing.T) {
	maxTP := scaledSigmoid(-1)
	std := DefaultProfiles()[0]
	tests := []struct {
		name    string
		detect  []int // rows scored 1
		wantRaw float64
	}{
		{"nothing: one missed window", nil, -1},
		{"first row of the window", []int{10}, 1},
		{"last row of the window", []int{13}, scaledSigmoid(-1.0/4) / maxTP},
		{"only the earliest detection counts", []int{12, 11, 13}, scaledSigmoid(-3.0/4) / maxTP},
		{"probation rows are ignored", []int{0, 1, 2}, -1},
		{"false positive before any window", []int{5}, -1 - 0.11},
		{"false positive after the window, weighted by distance", []int{10, 15}, 1 + 0.11*scaledSigmoid(2.0/3)},
		{"far after the window costs the full weight", []int{10, 19}, 1 + 0.11*scaledSigmoid(6.0/3)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tiny()
			s := make([]float64, 20)
			for _, i := range tc.detect {
				s[i] = 1
			}
			sw, err := NewSweep(c, Scores{"a/x.csv": s}, std)
			if err != nil {
				t.Fatal(err)
			}
			got := sw.At(0.5).Score
			if math.Abs(got-tc.wantRaw) > 1e-9 {
				t.Errorf("raw = %.6f, want %.6f", got, tc.wantRaw)
			}
			res, err := Evaluate(c, Scores{"a/x.csv": s}, []Profile{std}, map[string]float64{Standard: 0.5})
			if err != nil {
				t.Fatal(err)
			}
			// NAB's null detector is scored like any other, threshold
			// optimised: here flagging every row beats flagging none.
			all := 1 - 7*0.11
			for i := 14; i < 20; i++ {
				all += 0.11 * scaledSigmoid(float64(i-13)/3)
			}
			null := math.Max(-1, all)
			if math.Abs(res[0].Null-null) > 1e-9 || res[0].Perfect != 1 {
				t.Errorf("null %.6f perfect %v, want %.6f and 1", res[0].Null, res[0].Perfect, null)
			}
			if want := 100 * (tc.wantRaw - null) / (1 - null); math.Abs(res[0].Normalized-want) > 1e-9 {
				t.Errorf("normalized = %.6f, want %.6f", res[0].Normalized, want)
			}
		})
	}
}

func TestBestThresholdPrefersHigherOnTies(t *testing.T) {
	c := tiny()
	s := make([]float64, 20)
	s[10] = 0.9 // the only detection that helps
	s[11] = 0.8 // adds nothing (same window, later)
	sw, err := NewSweep(c, Scores{"a/x.csv": s}, DefaultProfiles()[0])
	if err != nil {
		t.Fatal(err)
	}
	b := sw.Best()
	if b.Threshold != 0.9 || math.Abs(b.Score-1) > 1e-9 {
		t.Fatalf("best = %+v, want threshold 0.9 score 1", b)
	}
	curve := sw.Curve()
	if curve[0].Threshold != 1.1 || curve[0].Score != -1 {
		t.Fatalf("curve starts %+v, want threshold 1.1 score -1", curve[0])
	}
}

func TestSweepMismatch(t *testing.T) {
	c := tiny()
	if _, err := NewSweep(c, Scores{"a/x.csv": make([]float64, 3)}, DefaultProfiles()[0]); !errors.Is(err, ErrMismatch) {
		t.Fatalf("short scores: err %v, want ErrMismatch", err)
	}
	if _, err := NewSweep(c, Scores{}, DefaultProfiles()[0]); !errors.Is(err, ErrMismatch) {
		t.Fatalf("missing file: err %v, want ErrMismatch", err)
	}
	c.Files[0].Windows[0].End = c.Files[0].Windows[0].End.Add(time.Second)
	if _, err := NewSweep(c, Scores{"a/x.csv": make([]float64, 20)}, DefaultProfiles()[0]); !errors.Is(err, ErrMismatch) {
		t.Fatalf("window off the rows: err %v, want ErrMismatch", err)
	}
}

func TestReadCSVErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", "empty file"},
		{"no value column", "timestamp,x\n", "lacks timestamp and value"},
		{"bad time", "timestamp,value\n2014-13-01 00:00:00,1\n", "line 2"},
		{"bad number", "timestamp,value\n2014-01-01 00:00:00,abc\n", "not a number"},
		{"short row", "timestamp,value\n2014-01-01 00:00:00\n", "fields"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(tc.in))
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrFormat mentioning %q", err, tc.want)
			}
		})
	}
	rows, err := ReadCSV(strings.NewReader("value,timestamp\r\n1.5,2014-01-01 00:00:00\r\n\r\n2,2014-01-01 00:05:00.000000\r\n"))
	if err != nil || len(rows) != 2 || rows[0].Value != 1.5 || rows[1].Time.Minute() != 5 {
		t.Fatalf("rows %+v err %v", rows, err)
	}
}

func TestReadWindowsErrors(t *testing.T) {
	for _, in := range []string{
		`{"a.csv": [["2014-01-01 00:00:00.000000"]]}`,
		`{"a.csv": [["2014-01-02 00:00:00", "2014-01-01 00:00:00"]]}`,
		`{"a.csv": [["2014-01-01 00:00:00", "2014-01-02 00:00:00"], ["2014-01-01 12:00:00", "2014-01-03 00:00:00"]]}`,
		`{"a.csv": [["yesterday", "today"]]}`,
		`[1,2]`,
	} {
		if _, err := ReadWindows(strings.NewReader(in)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: err %v, want ErrFormat", in, err)
		}
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,2.5\n"))
	f.Add([]byte("value,timestamp\n1e3,2014-01-01 00:00:00.123\n"))
	f.Add([]byte("timestamp,value\n2014-01-01 00:00:00,NaN\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, err := ReadCSV(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v is not ErrFormat", err)
			}
			return
		}
		if len(rows) > bytes.Count(b, []byte("\n"))+1 {
			t.Fatalf("%d rows from %d lines", len(rows), bytes.Count(b, []byte("\n"))+1)
		}
	})
}

func FuzzReadWindows(f *testing.F) {
	f.Add([]byte(`{"a/b.csv": [["2014-04-10 07:15:00.000000", "2014-04-11 16:45:00.000000"]], "c.csv": []}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ws, err := ReadWindows(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v is not ErrFormat", err)
			}
			return
		}
		for name, list := range ws {
			for i, w := range list {
				if w.End.Before(w.Start) || (i > 0 && !w.Start.After(list[i-1].End)) {
					t.Fatalf("%s: window %d out of order: %+v", name, i, list)
				}
			}
		}
	})
}

func FuzzReadScoresJSON(f *testing.F) {
	f.Add([]byte(`{"a.csv": ["0.5", "1", 0.25]}`))
	f.Add([]byte(`{"a.csv": ["NaN"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ReadScoresJSON(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v is not ErrFormat", err)
			}
			return
		}
		for _, vs := range s {
			for _, v := range vs {
				if math.IsNaN(v) {
					t.Fatal("NaN accepted")
				}
			}
		}
	})
}
