package sim

import (
	"context"
	"testing"
	"time"
)

// BenchmarkExportWeek exports seven simulated days of the whole shop with
// one fault. The target is under 30s per op with GOMAXPROCS=1:
//
//	GOMAXPROCS=1 go test -run XXX -bench BenchmarkExportWeek -benchtime 1x ./sim
func BenchmarkExportWeek(b *testing.B) {
	o := DefaultOptions()
	o.Faults = []Fault{{Scenario: ScenarioRedisMemory, Onset: o.Start.Add(3*24*time.Hour + 19*time.Hour)}}
	var sum Summary
	for i := 0; i < b.N; i++ {
		s, err := New(o)
		if err != nil {
			b.Fatal(err)
		}
		sum, err = Export(context.Background(), s, o.Start.Add(7*24*time.Hour), b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(sum.Logs), "lines/op")
	b.ReportMetric(float64(sum.Samples), "samples/op")
}

// BenchmarkAdvanceDay generates one simulated day in memory.
func BenchmarkAdvanceDay(b *testing.B) {
	o := DefaultOptions()
	var lines, samples int
	for i := 0; i < b.N; i++ {
		s, err := New(o)
		if err != nil {
			b.Fatal(err)
		}
		lines, samples = 0, 0
		for s.Now().Before(o.Start.Add(24 * time.Hour)) {
			bt := s.Advance(s.Now().Add(time.Hour))
			lines += len(bt.Logs)
			samples += len(bt.Samples)
		}
	}
	b.ReportMetric(float64(lines), "lines/op")
	b.ReportMetric(float64(samples), "samples/op")
}

func BenchmarkAdvanceDayNoLogs(b *testing.B) {
	o := DefaultOptions()
	o.LogScale = 0
	for i := 0; i < b.N; i++ {
		s, _ := New(o)
		s.Advance(o.Start.Add(24 * time.Hour))
	}
}
