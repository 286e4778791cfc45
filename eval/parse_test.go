package eval

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseEvalMini runs the real miner on testdata/mini, two hand-made
// systems (the folder "notes" holds no CSV and is skipped).
//
// Alpha: five lines, three templates the miner gets exactly (the quoted
// fields hold commas): GA = PA = FGA = FTA = 1.
//
// Beta: "VM Paused now", "VM Resumed now", "VM Started now" are one truth
// group "VM <*> now", but three words are not enough evidence for the miner
// (Variants is 4; the lines are short too), so it predicts three singleton
// templates; "disk full on sda1" is predicted as is (sda1 is a word).
//   - GA: truth E1 is split (not accurate); E2 maps to one predicted group
//     of the same size: 1 line of 4 = 0.25.
//   - PA: no predicted string equals its truth: 0.
//   - FGA: 1 accurate group; PGA = 1/4 (4 predicted), RGA = 1/2 (2 truths):
//     F1 = 2*(1/8)/(3/4) = 1/3.
//   - FTA: no predicted template equals its truth: 0.
//
// Mean: GA (1+0.25)/2 = 0.625, PA 0.5, FGA (1+1/3)/2 = 2/3, FTA 0.5.
func TestParseEvalMini(t *testing.T) {
	rep, err := ParseEval(context.Background(), filepath.Join("testdata", "mini"), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Systems) != 2 || rep.Systems[0].Name != "Alpha" || rep.Systems[1].Name != "Beta" {
		t.Fatalf("systems = %+v", rep.Systems)
	}
	want := []Scores{
		{GA: 1, PA: 1, FGA: 1, FTA: 1, PTA: 1, RTA: 1, Predicted: 3, Truth: 3},
		{GA: 0.25, PA: 0, FGA: 1.0 / 3, FTA: 0, Predicted: 4, Truth: 2},
	}
	for i, s := range rep.Systems {
		if !near(s.Scores, want[i]) {
			t.Errorf("%s: %+v, want %+v", s.Name, s.Scores, want[i])
		}
		if s.Lines == 0 || s.LinesPerSec <= 0 {
			t.Errorf("%s: lines %d, lines/s %v", s.Name, s.Lines, s.LinesPerSec)
		}
	}
	m := rep.Mean
	if !approx(m.GA, 0.625) || !approx(m.PA, 0.5) || !approx(m.FGA, 2.0/3) || !approx(m.FTA, 0.5) {
		t.Errorf("mean = %+v", m)
	}

	o := DefaultOptions()
	o.Systems = []string{"Beta"}
	rep, err = ParseEval(context.Background(), filepath.Join("testdata", "mini"), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Systems) != 1 || rep.Systems[0].Name != "Beta" || !approx(rep.Mean.GA, 0.25) {
		t.Errorf("filtered run = %+v", rep)
	}
}

func approx(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestParseEvalErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return filepath.Dir(filepath.Dir(p))
	}
	tests := []struct {
		name    string
		dir     string
		want    error
		message string // must appear in the error
	}{
		{"missing folder", filepath.Join(dir, "nope"), ErrNoData, "nope"},
		{"empty folder", func() string { p := filepath.Join(dir, "empty"); os.Mkdir(p, 0o755); return p }(), ErrNoData, "_2k.log_structured.csv"},
		{"no Content column", write("nocontent/X/X_2k.log_structured.csv", "LineId,EventTemplate\n1,a\n"), ErrMissingColumn, `X_2k.log_structured.csv has no "Content" column`},
		{"no EventTemplate column", write("notemplate/X/X_2k.log_structured.csv", "LineId,Content\n1,a\n"), ErrMissingColumn, `has no "EventTemplate" column`},
		{"header only", write("headeronly/X/X_2k.log_structured.csv", "Content,EventTemplate\n"), ErrNoData, "no rows"},
		{"empty file", write("emptyfile/X/X_2k.log_structured.csv", ""), ErrNoData, "is empty"},
		{"short row", write("shortrow/X/X_2k.log_structured.csv", "Content,EventTemplate\na,b\nc\n"), ErrBadCSV, ":3:"},
		{"bad quoting", write("badquote/X/X_2k.log_structured.csv", "Content,EventTemplate\n\"a,b\n"), ErrBadCSV, "X_2k.log_structured.csv"},
		{"ambiguous", func() string {
			write("ambiguous/X/X_full.log_structured.csv", "Content,EventTemplate\na,a\n")
			return write("ambiguous/X/Y.log_structured.csv", "Content,EventTemplate\na,a\n")
		}(), ErrNoData, "several structured CSVs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEval(context.Background(), tt.dir, DefaultOptions())
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("err = %q, does not mention %q", err, tt.message)
			}
		})
	}
}

func TestParseEvalCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ParseEval(ctx, filepath.Join("testdata", "mini"), DefaultOptions()); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// FuzzReadDataset feeds arbitrary CSV: no panic, and on success one truth
// per content line.
func FuzzReadDataset(f *testing.F) {
	f.Add("LineId,Content,EventId,EventTemplate\n1,\"a, b\",E1,\"a, <*>\"\n")
	f.Add("Content,EventTemplate\n\"x\"\"y\",z\n")
	f.Add("\ufeffContent,EventTemplate\r\na,b\r\n")
	f.Fuzz(func(t *testing.T, data string) {
		ds, err := readDataset(strings.NewReader(data), "fuzz.csv")
		if err != nil {
			return
		}
		if len(ds.Content) == 0 || len(ds.Content) != len(ds.Truth) {
			t.Fatalf("%d contents, %d truths", len(ds.Content), len(ds.Truth))
		}
	})
}
