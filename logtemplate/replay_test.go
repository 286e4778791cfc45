package logtemplate

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestReplayIsStable replays the 12 labelled systems ten times: the
// template count must not move after the first pass (no cluster explosion)
// and the heap must stay flat. It needs the Loghub-2k datasets.
func TestReplayIsStable(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: replays 24,000 lines ten times")
	}
	replayStable(t, mixedLines(t))
}

// TestReplaySynthetic does the same without the datasets, on lines whose
// parameters never repeat.
func TestReplaySynthetic(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: replays 5,000 lines ten times")
	}
	r := rand.New(rand.NewPCG(1, 2))
	var lines []string
	for i := range 5000 {
		switch i % 5 {
		case 0:
			lines = append(lines, fmt.Sprintf("Received block blk_%d of size %d from /10.%d.%d.%d", r.Int64(), r.IntN(1<<26), r.IntN(256), r.IntN(256), r.IntN(256)))
		case 1:
			lines = append(lines, fmt.Sprintf("session %x opened for user u%d by (uid=%d) in %dms", r.Uint64(), r.IntN(50), r.IntN(1000), r.IntN(900)))
		case 2:
			lines = append(lines, fmt.Sprintf("GET /api/v1/items/%d?q=%x 200 %d bytes %.3fs", r.IntN(1e6), r.Uint32(), r.IntN(1e5), r.Float64()))
		case 3:
			lines = append(lines, fmt.Sprintf("worker-%d processed job %08x for tenant %s", r.IntN(8), r.Uint32(), []string{"acme", "globex", "initech", "umbrella", "hooli", "stark"}[r.IntN(6)]))
		default:
			lines = append(lines, fmt.Sprintf("cache %s hit ratio %.2f%% after %d lookups", []string{"users", "orders"}[r.IntN(2)], r.Float64()*100, r.IntN(1e6)))
		}
	}
	replayStable(t, lines)
}

func replayStable(t *testing.T, lines []string) {
	m := mustNew(t, DefaultOptions())
	var counts []int
	var heap2 uint64
	for pass := 1; pass <= 10; pass++ {
		for _, l := range lines {
			m.Add(l)
		}
		counts = append(counts, m.Len())
		if pass == 2 {
			heap2 = heapInuse()
		}
	}
	heap10 := heapInuse()
	for i, c := range counts {
		if c != counts[0] {
			t.Fatalf("template counts per pass %v: pass %d differs from pass 1", counts, i+1)
		}
	}
	t.Logf("%d lines, %d templates; heap in use after pass 2: %d KiB, after pass 10: %d KiB",
		len(lines), counts[0], heap2>>10, heap10>>10)
	if limit := heap2 + heap2/20 + 512<<10; heap10 > limit {
		t.Errorf("heap grew from %d KiB (pass 2) to %d KiB (pass 10)", heap2>>10, heap10>>10)
	}
	if st := m.Stats(); st.Created != int64(counts[0])+st.Merged+st.Evicted {
		t.Errorf("stats do not add up: %+v", st)
	}
}

func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}
