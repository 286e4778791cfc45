package logtemplate

import (
	"testing"
	"time"
)

// The benchmarks need the Loghub-2k datasets (see loghubDir) and skip
// without them. They run single-threaded: lines/s is per core, by the
// wall clock; lines/cpu-s divides by the CPU time the process used instead
// (run with GOMAXPROCS=1 or -cpu 1 for a per-core figure that a busy
// machine does not distort).

// BenchmarkAddHDFS feeds HDFS message bodies, replicated to 1M lines, to
// one Miner. Target: >= 1,000,000 lines/s.
func BenchmarkAddHDFS(b *testing.B) {
	benchAdd(b, replicate(loghubContent(b, "HDFS"), 1_000_000))
}

// BenchmarkAddMixed feeds the 12 systems interleaved line by line to one
// Miner. Target: >= 300,000 lines/s.
func BenchmarkAddMixed(b *testing.B) {
	benchAdd(b, replicate(mixedLines(b), 1_000_000))
}

// BenchmarkMatchHDFS measures Match (no learning) on a trained Miner.
func BenchmarkMatchHDFS(b *testing.B) {
	lines := loghubContent(b, "HDFS")
	m := mustNew(b, DefaultOptions())
	for _, l := range lines {
		m.Add(l)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		m.Match(lines[i%len(lines)])
	}
	reportRate(b, start, cpu)
}

// BenchmarkMask measures tokenising and masking alone.
func BenchmarkMask(b *testing.B) {
	lines := mixedLines(b)
	s := getScratch()
	defer putScratch(s)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.mask(lines[i%len(lines)], 128)
	}
}

func benchAdd(b *testing.B, lines []string) {
	m := mustNew(b, DefaultOptions())
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		m.Add(lines[i%len(lines)])
	}
	reportRate(b, start, cpu)
}

func reportRate(b *testing.B, start time.Time, cpu time.Duration) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "lines/s")
	if d := cpuTime() - cpu; d > 0 {
		b.ReportMetric(float64(b.N)/d.Seconds(), "lines/cpu-s")
	}
}

// mixedLines interleaves the 12 systems line by line.
func mixedLines(tb testing.TB) []string {
	var sets [][]string
	for _, s := range loghubSystems {
		sets = append(sets, loghubContent(tb, s))
	}
	var out []string
	for i := 0; ; i++ {
		added := false
		for _, set := range sets {
			if i < len(set) {
				out = append(out, set[i])
				added = true
			}
		}
		if !added {
			return out
		}
	}
}

func mustNew(tb testing.TB, o Options) *Miner {
	tb.Helper()
	m, err := New(o)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}
