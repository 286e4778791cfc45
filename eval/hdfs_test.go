package eval

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vigilops/vigil/detect"

	"github.com/vigilops/vigil/internal/datasets"
)

// TestConfusionGolden checks precision, recall and F1 on hand-computed cases.
func TestConfusionGolden(t *testing.T) {
	tests := []struct {
		name    string
		c       Confusion
		p, r, f float64
	}{
		{"perfect", Confusion{TP: 5, TN: 10}, 1, 1, 1},
		{"half right", Confusion{TP: 1, FP: 1, FN: 1}, 0.5, 0.5, 0.5},
		{"3 of 4 found, 1 false alarm", Confusion{TP: 3, FP: 1, FN: 1, TN: 95}, 0.75, 0.75, 0.75},
		{"precise, low recall", Confusion{TP: 30, FP: 1, FN: 27}, 30.0 / 31, 30.0 / 57, 60.0 / 88},
		{"nothing flagged", Confusion{FN: 4, TN: 9}, 0, 0, 0},
		{"nothing to find", Confusion{FP: 2, TN: 9}, 0, 0, 0},
		{"empty", Confusion{}, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, x := range []struct {
				what      string
				got, want float64
			}{{"precision", tt.c.Precision(), tt.p}, {"recall", tt.c.Recall(), tt.r}, {"F1", tt.c.F1(), tt.f}} {
				if math.Abs(x.got-x.want) > 1e-12 {
					t.Errorf("%s = %v, want %v", x.what, x.got, x.want)
				}
			}
		})
	}
	var c Confusion
	for _, v := range [][2]bool{{true, true}, {true, false}, {false, true}, {false, false}, {false, false}} {
		c.Add(v[0], v[1])
	}
	if c != (Confusion{TP: 1, FN: 1, FP: 1, TN: 2}) {
		t.Errorf("Add: %+v", c)
	}
}

func TestReadDeepLogSessions(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want [][]string
		err  error
	}{
		{"deeplog keys", "5 5 5 22 11 9\n5 22\n", [][]string{{"5", "5", "5", "22", "11", "9"}, {"5", "22"}}, nil},
		{"blank lines, CRLF, tabs, no final newline", "\n1 2\r\n\n 3\t4 ", [][]string{{"1", "2"}, {"3", "4"}}, nil},
		{"empty", "", nil, nil},
		{"binary", "1 2\n3\x004\n", nil, ErrBadSession},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadDeepLogSessions(strings.NewReader(tt.in))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err == nil && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzReadDeepLogSessions: no panic; every session is non-empty, holds no
// white space, and writing the sessions back reads the same sessions.
func FuzzReadDeepLogSessions(f *testing.F) {
	for _, s := range []string{"5 5 22\n11 9\n", "", "\n\n", "1\r\n2 3", "a\x00b", "E1 E2\tE3\v\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ss, err := ReadDeepLogSessions(strings.NewReader(in))
		if err != nil {
			return
		}
		var b strings.Builder
		for _, s := range ss {
			if len(s) == 0 {
				t.Fatal("empty session")
			}
			for _, k := range s {
				if k == "" || len(strings.Fields(k)) != 1 {
					t.Fatalf("key %q", k)
				}
			}
			b.WriteString(strings.Join(s, " ") + "\n")
		}
		again, err := ReadDeepLogSessions(strings.NewReader(b.String()))
		if err != nil || !reflect.DeepEqual(ss, again) {
			t.Fatalf("round trip: %q, %v, want %q", again, err, ss)
		}
	})
}

func TestParseEventSequence(t *testing.T) {
	for in, want := range map[string][]string{
		"E1 E2 E2":      {"E1", "E2", "E2"},
		"[E5,E22,E11]":  {"E5", "E22", "E11"},
		"['E5', 'E22']": {"E5", "E22"},
		`["E5","E22"]`:  {"E5", "E22"},
		"  E3  ":        {"E3"},
		"":              {},
		"[]":            {},
	} {
		got := parseEventSequence(in)
		if len(got) == 0 && len(want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("parseEventSequence(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReadSessionsCSVErrors(t *testing.T) {
	tests := []struct {
		name, in string
		err      error
		says     string
	}{
		{"no label", "BlockId,Split,EventIdSequence\nb,train,E1\n", ErrMissingColumn, `"Label"`},
		{"no sequence", "BlockId,Label,Split\nb,0,train\n", ErrMissingColumn, `"EventIdSequence"`},
		{"bad label", "BlockId,Label,Split,EventIdSequence\nb,0,train,E1\nc,maybe,test,E2\n", ErrBadSession, "x.csv:3: column Label"},
		{"bad split", "BlockId,Label,Split,EventIdSequence\nb,0,dev,E1\n", ErrBadSession, "x.csv:2: column Split"},
		{"short row", "BlockId,Label,Split,EventIdSequence\nb,0\n", ErrBadCSV, "x.csv:2"},
		{"header only", "BlockId,Label,Split,EventIdSequence\n", ErrNoData, "no rows"},
		{"empty", "", ErrNoData, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readSessionsCSV(strings.NewReader(tt.in), "x.csv")
			if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("err = %v, want %v saying %q", err, tt.err, tt.says)
			}
		})
	}
	ss, err := readSessionsCSV(strings.NewReader("\ufeffBlockId,Label,Split,EventIdSequence\nblk_1,Anomaly,Test,\"[E1, E2]\"\n"), "x.csv")
	if err != nil || len(ss) != 1 || !ss[0].Anomalous || ss[0].Train || ss[0].ID != "blk_1" || len(ss[0].Events) != 2 {
		t.Fatalf("got %+v, %v", ss, err)
	}
}

// TestHDFSDeepLogFolder runs the harness on a DeepLog-format folder whose
// abnormal test file is absent, then present.
func TestHDFSDeepLogFolder(t *testing.T) {
	dir := t.TempDir()
	var train strings.Builder
	for i := 0; i < 300; i++ {
		train.WriteString("5 22 11 9 26\n5 22 9 11 26\n")
	}
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("hdfs_train", train.String())
	write("hdfs_test_normal", "5 22 11 9 26\n5 22 9 11 26\n")
	rep, err := HDFSEval(context.Background(), dir, detect.DefaultSequenceOptions())
	if err != nil {
		t.Fatal(err)
	}
	if rep.TrainNormal != 600 || rep.TestNormal != 2 || rep.TestAnomalous != 0 || rep.FP != 0 {
		t.Fatalf("report %+v", rep)
	}
	write("hdfs_test_abnormal", "5 22 11 9 26 7\n5 22 26\n5 22 11 9 26\n")
	rep, err = HDFSEval(context.Background(), dir, detect.DefaultSequenceOptions())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Confusion != (Confusion{TP: 2, FN: 1, TN: 2}) {
		t.Fatalf("confusion %+v, examples %q", rep.Confusion, rep.Examples)
	}
	if _, err := HDFSEval(context.Background(), t.TempDir(), detect.DefaultSequenceOptions()); !errors.Is(err, ErrNoData) {
		t.Fatalf("empty folder: %v", err)
	}
	write("hdfs_train", "1 2\x00\n")
	if _, err := HDFSEval(context.Background(), dir, detect.DefaultSequenceOptions()); !errors.Is(err, ErrBadSession) || !strings.Contains(err.Error(), "hdfs_train") {
		t.Fatalf("binary train file: %v", err)
	}
}

// hdfsDir finds the HDFS dataset folder or skips.
func hdfsDir(t testing.TB) string { return datasets.Dir(t, "hdfs") }

// TestHDFS100k scores the default model on HDFS_100k's test split (run with
// -v for the figures).
//
// The brief's target, F1 >= 0.97, is NOT reached and cannot be by any
// detector that sees only the event sequence: 26 of the 57 anomalous test
// sessions have exactly the event sequence of some normal training session
// (their anomaly lies in lines outside the 100k-line sample).
// TestHDFS100kBound computes the exact ceiling from the data: F1 0.711 for
// any function of the event sequence (32 tp, 1 fp, 25 fn), 0.705 for one
// trained on the normal training sessions. The test therefore guards what
// we reach, F1 >= 0.68 with at most 2 false alarms, and checks the ceiling
// argument itself.
func TestHDFS100k(t *testing.T) {
	dir := hdfsDir(t)
	rep, err := HDFSEval(context.Background(), dir, detect.DefaultSequenceOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("precision %.4f recall %.4f F1 %.4f (tp %d fp %d fn %d tn %d); train %d normal; scored %d in %v",
		rep.Precision, rep.Recall, rep.F1, rep.TP, rep.FP, rep.FN, rep.TN, rep.TrainNormal,
		rep.TestNormal+rep.TestAnomalous, rep.ScoreTime)
	for _, e := range rep.Examples {
		t.Log("  ", e)
	}
	if rep.F1 >= 0.97 {
		t.Logf("target F1 >= 0.97 reached")
	} else {
		t.Logf("target F1 >= 0.97 NOT reached (ceiling for sequence-only detectors: 0.711)")
	}
	if rep.F1 < 0.68 || rep.FP > 2 {
		t.Errorf("F1 %.4f, fp %d: regression below F1 0.68 / 2 false alarms", rep.F1, rep.FP)
	}

	// The ceiling: anomalous test sessions indistinguishable from a normal
	// training session.
	sessions, _, err := LoadHDFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	normal := map[string]bool{}
	for _, s := range sessions {
		if s.Train && !s.Anomalous {
			normal[strings.Join(s.Events, " ")] = true
		}
	}
	same := 0
	for _, s := range sessions {
		if !s.Train && s.Anomalous && normal[strings.Join(s.Events, " ")] {
			same++
		}
	}
	t.Logf("%d of %d anomalous test sessions repeat a normal training sequence exactly", same, rep.TestAnomalous)
	if maxRecall := float64(rep.TestAnomalous-same) / float64(rep.TestAnomalous); maxRecall > 0.6 {
		t.Errorf("ceiling argument no longer holds: %d indistinguishable", same)
	}
}
