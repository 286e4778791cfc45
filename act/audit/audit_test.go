package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeLog(t *testing.T, n int) (string, *Log) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	clock := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	l, err := Open(path, Options{Now: func() time.Time { clock = clock.Add(time.Second); return clock }})
	if err != nil {
		t.Fatal(err)
	}
	kinds := []Kind{KindApprovalReq, KindApproved, KindExecution, KindVerification, KindRollback}
	for i := 0; i < n; i++ {
		if _, err := l.Append(context.Background(), Entry{Kind: kinds[i%len(kinds)], Actor: "alice", Runbook: "rb",
			Detail: "step \"x\"; rm -rf / $(id)\nnext", Params: map[string]string{"k": "v"}}); err != nil {
			t.Fatal(err)
		}
	}
	return path, l
}

func TestAppendVerifyReopen(t *testing.T) {
	path, l := writeLog(t, 5)
	rep, err := l.Verify()
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Entries != 5 {
		t.Fatalf("entries = %d, want 5", rep.Entries)
	}
	l.Close()
	if _, err := l.Append(context.Background(), Entry{Kind: KindExecution}); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v, want ErrClosed", err)
	}
	// Reopen continues the chain.
	l2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	e, err := l2.Append(context.Background(), Entry{Kind: KindExecution})
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != 6 || e.Prev != rep.Head {
		t.Fatalf("appended seq %d prev %s; want 6 and %s", e.Seq, e.Prev, rep.Head)
	}
	f, _ := os.Open(path)
	defer f.Close()
	rep2, err := Verify(f)
	if err != nil || rep2.Entries != 6 {
		t.Fatalf("Verify after reopen = %+v, %v", rep2, err)
	}
}

// TestEveryByteFlipDetected changes each byte of a small log in turn and
// expects Verify to fail every time.
func TestEveryByteFlipDetected(t *testing.T) {
	path, l := writeLog(t, 4)
	l.Close()
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(bytes.NewReader(orig)); err != nil {
		t.Fatalf("pristine log fails: %v", err)
	}
	t.Logf("flipping each of %d bytes two ways", len(orig))
	for i := range orig {
		for _, delta := range []byte{1, 0x20} {
			mod := bytes.Clone(orig)
			mod[i] ^= delta
			_, err := Verify(bytes.NewReader(mod))
			if !errors.Is(err, ErrTampered) {
				t.Fatalf("byte %d (%q) xor %#x not detected: err = %v", i, orig[i], delta, err)
			}
		}
	}
}

func TestTamperReports(t *testing.T) {
	path, l := writeLog(t, 3)
	l.Close()
	orig, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(orig), "\n")
	lines = lines[:len(lines)-1] // trailing ""
	tests := []struct {
		name     string
		data     string
		wantLine int64
	}{
		{"line removed from the middle", lines[0] + lines[2], 2},
		{"lines swapped", lines[1] + lines[0] + lines[2], 1},
		{"detail edited", strings.Replace(lines[0], "alice", "mallet", 1) + lines[1] + lines[2], 1},
		{"last newline removed", strings.TrimSuffix(string(orig), "\n"), 3},
		{"garbage appended", string(orig) + "x\n", 4},
		{"line duplicated", lines[0] + lines[0] + lines[1], 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(strings.NewReader(tc.data))
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want *VerifyError", err)
			}
			if ve.Line != tc.wantLine {
				t.Fatalf("line = %d (%s), want %d", ve.Line, ve.Reason, tc.wantLine)
			}
		})
	}
}

func TestLogVerifyDetectsTailTruncation(t *testing.T) {
	path, l := writeLog(t, 3)
	defer l.Close()
	orig, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(orig), "\n")
	if err := os.WriteFile(path, []byte(lines[0]+lines[1]), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Verify(); !errors.Is(err, ErrTampered) {
		t.Fatalf("Log.Verify after dropping the last line: %v, want ErrTampered", err)
	}
}

func TestOpenRefusesTampered(t *testing.T) {
	path, l := writeLog(t, 2)
	l.Close()
	b, _ := os.ReadFile(path)
	b[10] ^= 1
	os.WriteFile(path, b, 0o600)
	if _, err := Open(path, Options{}); !errors.Is(err, ErrTampered) {
		t.Fatalf("Open of tampered log: %v, want ErrTampered", err)
	}
}

func TestTooLarge(t *testing.T) {
	_, l := writeLog(t, 0)
	defer l.Close()
	_, err := l.Append(context.Background(), Entry{Kind: KindExecution, Detail: strings.Repeat("x", MaxLineBytes)})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if n, _ := l.Head(); n != 0 {
		t.Fatalf("head moved to %d after a refused append", n)
	}
}

func FuzzVerify(f *testing.F) {
	dir := f.TempDir()
	lg, _ := Open(filepath.Join(dir, "a.jsonl"), Options{})
	lg.Append(context.Background(), Entry{Kind: KindExecution, Detail: "x"})
	lg.Append(context.Background(), Entry{Kind: KindRollback, Detail: "y"})
	lg.Close()
	seed, _ := os.ReadFile(filepath.Join(dir, "a.jsonl"))
	f.Add(seed)
	f.Add([]byte("{}\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := Verify(bytes.NewReader(data))
		if err == nil {
			// A log that verifies re-verifies line by line to the same head.
			if rep.Entries < 0 || len(rep.Head) != 64 {
				t.Fatalf("odd report %+v", rep)
			}
			if len(data) > 0 && data[len(data)-1] != '\n' {
				t.Fatalf("accepted a log without final newline")
			}
		} else if !errors.Is(err, ErrTampered) {
			t.Fatalf("non-tamper error from an in-memory reader: %v", err)
		}
	})
}
