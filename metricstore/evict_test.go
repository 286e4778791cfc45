package metricstore

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/vigilops/vigil/telemetry"
)

func TestEviction(t *testing.T) {
	st := newStore(t, func(o *Options) { o.MemoryLimit = 200 << 10 })
	keep := series("keep")
	for i := range 1000 {
		st.Append([]telemetry.Sample{{Labels: series("m", "i", fmt.Sprint(i)), T: 1, V: 1}})
		// keep is written after every other series: never the least recent.
		st.Append([]telemetry.Sample{{Labels: keep, T: int64(i + 1), V: 1}})
	}
	s := st.Stats()
	if s.Evicted == 0 {
		t.Fatalf("nothing evicted: %+v", s)
	}
	if s.MemoryBytes > 200<<10 {
		t.Fatalf("memory %d over the limit", s.MemoryBytes)
	}
	if _, ok := st.Latest(RefOf(keep)); !ok {
		t.Fatal("the most recently written series was evicted")
	}
	// The survivors are the most recent ones.
	refs := st.Series(mustMatcher(labels.MatchEqual, "__name__", "m"))
	if len(refs) == 0 || st.Range(RefOf(series("m", "i", "999")), time.UnixMilli(0), t0, 0) == nil {
		t.Fatalf("newest series evicted (%d left)", len(refs))
	}
	if st.Range(RefOf(series("m", "i", "0")), time.Unix(0, 0), t0, 0) != nil {
		t.Fatal("oldest series survived")
	}
	if s.Series+int(s.Evicted) != 1001 {
		t.Fatalf("series %d + evicted %d != 1001", s.Series, s.Evicted)
	}
	checkAccounting(t, st)
}

// checkAccounting recomputes every series' memory from its rings and
// compares with the running totals.
func checkAccounting(t *testing.T, st *Store) {
	t.Helper()
	var total int64
	n := 0
	for i := range st.shards {
		sh := &st.shards[i]
		sh.mu.RLock()
		for _, s := range sh.series {
			for ; s != nil; s = s.next {
				want := seriesOverhead + labelBytes(s.labels) + int64(len(s.raw))*pointBytes + int64(len(s.buckets.sum))*bucketBytes
				if s.bytes != want {
					t.Errorf("series %s: accounted %d bytes, holds %d", s.labels, s.bytes, want)
				}
				total += s.bytes
				n++
			}
		}
		sh.mu.RUnlock()
	}
	if total != st.MemoryBytes() || n != st.Len() {
		t.Fatalf("accounted %d bytes in %d series, store says %d in %d", total, n, st.MemoryBytes(), st.Len())
	}
}

func TestPrune(t *testing.T) {
	st := newStore(t, func(o *Options) { o.RawWindow = time.Hour; o.Retention = 24 * time.Hour })
	old, fresh := series("old"), series("fresh")
	appendEvery(st, old, 0, 2*time.Hour, time.Minute, func(int) float64 { return 1 })
	appendEvery(st, fresh, 0, 30*time.Hour, time.Minute, func(int) float64 { return 1 })
	if n := st.Prune(t0.Add(30 * time.Hour)); n != 1 {
		t.Fatalf("pruned %d, want 1", n)
	}
	if _, ok := st.Latest(RefOf(old)); ok {
		t.Fatal("series beyond retention survived Prune")
	}
	// Prune at a later now folds fresh's raw points into buckets.
	st.Prune(t0.Add(32 * time.Hour))
	st.lookup(RefOf(fresh), func(s *memSeries) {
		if s.rawLen != 0 {
			t.Fatalf("raw points older than the window before now: %d", s.rawLen)
		}
	})
	if p, ok := st.Latest(RefOf(fresh)); !ok || p.T > ms(30*time.Hour) {
		t.Fatalf("latest after fold: %v %v", p, ok)
	}
	if st.Stats().Pruned != 1 {
		t.Fatalf("stats %+v", st.Stats())
	}
	checkAccounting(t, st)
}

func TestConcurrentUse(t *testing.T) {
	st := newStore(t, func(o *Options) { o.MemoryLimit = 2 << 20; o.Shards = 8 })
	var wg sync.WaitGroup
	const writers, perWriter = 4, 3000
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := make([]telemetry.Sample, 0, 50)
			for i := range perWriter {
				ls := series("m", "w", fmt.Sprint(w), "i", fmt.Sprint(i%200))
				shared := series("shared", "i", fmt.Sprint(i%10))
				batch = append(batch, telemetry.Sample{Labels: ls, T: int64(i), V: 1}, telemetry.Sample{Labels: shared, T: int64(i), V: 1})
				if len(batch) == cap(batch) {
					st.Append(batch)
					batch = batch[:0]
				}
			}
			st.Append(batch)
		}()
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, r := range st.Series(mustMatcher(labels.MatchEqual, "__name__", "shared")) {
				st.Range(r, time.UnixMilli(0), time.UnixMilli(perWriter), time.Second)
				st.Latest(r)
			}
			st.Prune(time.UnixMilli(0))
		}
	}()
	wg.Wait()
	close(stop)
	readers.Wait()
	s := st.Stats()
	if s.Appended+s.Duplicates == 0 || s.Series != 4*200+10 && s.Evicted == 0 {
		t.Fatalf("stats %+v", s)
	}
	checkAccounting(t, st)
}
