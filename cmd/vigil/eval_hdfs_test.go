package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEvalHDFSBound: `vigil eval hdfs` reports the sequence-only ceiling in
// text and JSON. The abnormal test file repeats a training sequence, which
// no detector trained on it can flag: the trained ceiling is below 1.
func TestEvalHDFSBound(t *testing.T) {
	dir := t.TempDir()
	var train strings.Builder
	for range 300 {
		train.WriteString("5 22 11 9 26\n5 22 9 11 26\n")
	}
	for name, s := range map[string]string{
		"hdfs_train":         train.String(),
		"hdfs_test_normal":   "5 22 11 9 26\n5 22 9 11 26\n",
		"hdfs_test_abnormal": "5 22 26\n5 22 11 9 26\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, stderr, err := runVigil(t, "", "eval", "hdfs", "--data", dir, "--json")
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	var got struct {
		F1           float64 `json:"f1"`
		Bound        float64 `json:"sequence_f1_bound"`
		TrainedBound float64 `json:"trained_sequence_f1_bound"`
		SeenNormal   int     `json:"anomalous_with_normal_training_sequence"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	// Any verdict: flag both abnormal sequences, one normal session shares
	// "5 22 11 9 26": TP 2 FP 1, F1 0.8. Trained: only "5 22 26", F1 2/3.
	if got.SeenNormal != 1 || got.Bound != 0.8 || got.TrainedBound < 0.666 || got.TrainedBound > 0.667 || got.F1 > got.TrainedBound {
		t.Fatalf("got %+v from %s", got, out)
	}
	txt, _, err := runVigil(t, "", "eval", "hdfs", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt, "f1 bound   0.8000") || !strings.Contains(txt, "0.6667 for a detector trained") {
		t.Fatalf("text output lacks the bounds:\n%s", txt)
	}
	_, _, err = runVigil(t, "", "eval", "hdfs")
	var ue usageError
	if !errors.As(err, &ue) {
		t.Fatalf("no --data: %v, want a usage error", err)
	}
}
