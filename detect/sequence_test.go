package detect

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// workflow returns n normal sessions of a small open/work/close workflow
// whose middle steps interleave in a few orders.
func workflow(n int) [][]string {
	orders := [][]string{
		{"open", "read", "write", "close"},
		{"open", "write", "read", "close"},
		{"open", "read", "read", "write", "close"},
	}
	out := make([][]string, n)
	for i := range out {
		out[i] = orders[i%len(orders)]
	}
	return out
}

func trainedModel(t testing.TB, o SequenceOptions) *SequenceModel {
	t.Helper()
	m := NewSequenceModel(o)
	for _, s := range workflow(600) {
		m.Train(s)
	}
	return m
}

func TestSequenceModelScore(t *testing.T) {
	m := trainedModel(t, DefaultSequenceOptions())
	tests := []struct {
		name    string
		seq     string
		want    bool
		pos     int
		inWords string
	}{
		{"seen order", "open read write close", false, -1, ""},
		{"other seen order", "open write read close", false, -1, ""},
		{"unseen key", "open read panic close", true, 2, `"panic" at position 2 was never seen`},
		{"unseen transition", "open close", true, 1, "event close never followed [<begin> open]"},
		{"starts mid-way", "read write close", true, 0, "event read never followed"},
		{"cut short", "open read write", true, 3, "the session's end never followed"},
		{"empty", "", true, 0, "the session's end never followed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := m.Score(strings.Fields(tt.seq))
			if r.Anomalous != tt.want || r.Position != tt.pos {
				t.Fatalf("Score(%q) = %+v, want anomalous %v at %d", tt.seq, r, tt.want, tt.pos)
			}
			if !strings.Contains(r.Reason, tt.inWords) {
				t.Errorf("reason %q does not say %q", r.Reason, tt.inWords)
			}
			if r.Score < 0 || r.Score > 1 || (tt.want && r.Score != 1) {
				t.Errorf("score %v", r.Score)
			}
		})
	}
}

// TestSequenceModelInvariant: a session plausible at every step (with
// history 1) whose counts break the ratio a:b = 1:2 of all normal ones.
func TestSequenceModelInvariant(t *testing.T) {
	o := DefaultSequenceOptions()
	o.History, o.MinSupport = 1, 50
	train := func(o SequenceOptions) *SequenceModel {
		m := NewSequenceModel(o)
		for i := 0; i < 100; i++ {
			m.Train([]string{"a", "b", "b"})
			m.Train([]string{"b", "a", "b"})
		}
		return m
	}
	m := train(o)
	if inv := m.Invariants(); !contains(inv, "c(a):c(b) = 1:2 in 100.00% of 200 sessions") {
		t.Fatalf("invariants %q lack a:b = 1:2", inv)
	}
	seq := []string{"a", "b", "b", "b"}
	r := m.Score(seq)
	if !r.Anomalous || r.Position != len(seq) || !strings.Contains(r.Reason, "counts of a (1) and b (3) break the ratio 1:2") {
		t.Fatalf("Score = %+v, want the broken ratio at the end", r)
	}
	if r := m.Score([]string{"b", "a", "b"}); r.Anomalous {
		t.Fatalf("normal session flagged: %+v", r)
	}
	o.Invariants = false
	if r := train(o).Score(seq); r.Anomalous {
		t.Fatalf("invariants disabled, still flagged: %+v", r)
	}
}

func contains(ss []string, prefix string) bool {
	for _, s := range ss {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// TestSequenceModelTopK: after a history with many successors, a rare one
// falls outside the top k even though it was seen.
func TestSequenceModelTopK(t *testing.T) {
	o := DefaultSequenceOptions()
	o.TopK, o.MinSupport, o.History, o.Invariants = 2, 10, 1, false
	m := NewSequenceModel(o)
	for i := 0; i < 100; i++ {
		m.Train([]string{"a", "b"})
		m.Train([]string{"a", "c"})
		if i%10 == 0 {
			m.Train([]string{"a", "d"})
		}
	}
	for _, tt := range []struct {
		seq  []string
		want bool
	}{{[]string{"a", "b"}, false}, {[]string{"a", "c"}, false}, {[]string{"a", "d"}, true}} {
		if r := m.Score(tt.seq); r.Anomalous != tt.want {
			t.Errorf("Score(%v) = %+v, want anomalous %v", tt.seq, r, tt.want)
		}
	}
	if r := m.Score([]string{"a", "d"}); !strings.Contains(r.Reason, "not among the top 2") {
		t.Errorf("reason %q", r.Reason)
	}
}

// TestSequenceModelBackoff: a long history seen too rarely to judge backs
// off to a shorter, well-supported one.
func TestSequenceModelBackoff(t *testing.T) {
	o := DefaultSequenceOptions()
	o.History, o.MinSupport, o.Invariants = 3, 50, false
	m := NewSequenceModel(o)
	for i := 0; i < 100; i++ {
		m.Train([]string{"x", "y", "z"})
		m.Train([]string{"w", "y", "q"})
	}
	for i := 0; i < 5; i++ {
		m.Train([]string{"v", "y", "z"}) // [v y] seen 5 times: too few
	}
	// [v y] → q was never seen, but [v y] has support 5 < 50, so the
	// judgement backs off to [y], after which q is common.
	if r := m.Score([]string{"v", "y", "q"}); r.Anomalous {
		t.Fatalf("backoff failed: %+v", r)
	}
	// [x y] has support 100: q after it is abnormal.
	if r := m.Score([]string{"x", "y", "q"}); !r.Anomalous || r.Position != 2 {
		t.Fatalf("Score = %+v, want anomalous at 2", r)
	}
}

func TestSequenceOptionsValidate(t *testing.T) {
	for _, mut := range []func(*SequenceOptions){
		func(o *SequenceOptions) { o.History = 0 },
		func(o *SequenceOptions) { o.TopK = 0 },
		func(o *SequenceOptions) { o.MinSupport = 0 },
		func(o *SequenceOptions) { o.InvariantSupport = 0.2 },
	} {
		o := DefaultSequenceOptions()
		mut(&o)
		if err := o.validate(); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	o := DefaultSequenceOptions()
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
}

// TestSequenceModelConcurrent runs Score in parallel with itself and with
// Train; run with -race.
func TestSequenceModelConcurrent(t *testing.T) {
	m := trainedModel(t, DefaultSequenceOptions())
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if g == 0 {
					m.Train(workflow(3)[i%3])
					continue
				}
				if r := m.Score(strings.Fields("open read write close")); r.Anomalous {
					t.Errorf("normal session flagged: %+v", r)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

func BenchmarkSequenceScore(b *testing.B) {
	m := NewSequenceModel(DefaultSequenceOptions())
	keys := make([]string, 30)
	for i := range keys {
		keys[i] = fmt.Sprintf("E%d", i+1)
	}
	seq := func(i, n int) []string {
		s := make([]string, n)
		for j := range s {
			s[j] = keys[(i*7+j*j+j/3)%len(keys)]
		}
		return s
	}
	for i := 0; i < 5000; i++ {
		m.Train(seq(i%50, 20))
	}
	probe := seq(3, 20)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Score(probe)
	}
}
