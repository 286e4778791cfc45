package metricstore

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"time"
)

// evictHeadroom is the share of MemoryLimit an eviction pass frees beyond
// the limit, so that the pass (a scan and sort of all series) runs once per
// few percent of growth rather than on every append past the limit.
const evictHeadroom = 20 // 1/20 = 5%

// evict removes the least recently written series until the estimated
// memory is below the limit by the headroom. One pass runs at a time;
// appenders that find one running go on, since the pass will catch up
// with what they added.
func (st *Store) evict() {
	if !st.evictMu.TryLock() {
		return
	}
	defer st.evictMu.Unlock()
	limit := st.opts.MemoryLimit
	if st.memBytes.Load() <= limit {
		return
	}
	target := limit - limit/evictHeadroom

	type candidate struct {
		clock uint64
		s     *memSeries
		sh    *shard
	}
	cands := make([]candidate, 0, st.Len())
	for i := range st.shards {
		sh := &st.shards[i]
		sh.mu.RLock()
		for _, s := range sh.series {
			for ; s != nil; s = s.next {
				cands = append(cands, candidate{s.lastWrite, s, sh})
			}
		}
		sh.mu.RUnlock()
	}
	slices.SortFunc(cands, func(a, b candidate) int { return cmp.Compare(a.clock, b.clock) })

	var n, freed int64
	for _, c := range cands {
		if st.memBytes.Load() <= target {
			break
		}
		c.sh.mu.Lock()
		// Skip a series written since the scan: it is no longer among the
		// least recent.
		if c.s.lastWrite == c.clock && c.sh.remove(c.s) {
			st.memBytes.Add(-c.s.bytes)
			st.nseries.Add(-1)
			n++
			freed += c.s.bytes
		}
		c.sh.mu.Unlock()
	}
	st.stats.evicted.Add(uint64(n))
	// Under sustained pressure passes run often; say so once a minute
	// (wall clock, as this is about the operator's log, not the data).
	level := slog.LevelDebug
	if t := time.Now(); t.Sub(st.lastEvictLog) >= time.Minute {
		st.lastEvictLog, level = t, slog.LevelWarn
	}
	st.opts.Logger.Log(context.Background(), level, "metric store over its memory limit: evicted least recently written series",
		"evicted", n, "freed_bytes", freed, "memory_bytes", st.memBytes.Load(), "limit_bytes", limit)
}

// Prune ages the store to now: it folds raw points older than RawWindow
// before now into their buckets, drops buckets older than Retention before
// now, and removes series left with nothing, returning how many. Series
// that stop being written otherwise keep their last data until evicted, so
// the app calls Prune periodically with its clock (simulated time in the
// demo, the tick's time in serve).
func (st *Store) Prune(now time.Time) int {
	nowMs := now.UnixMilli()
	retention := st.opts.Retention.Milliseconds()
	removed := 0
	for i := range st.shards {
		sh := &st.shards[i]
		sh.mu.Lock()
		for _, head := range sh.series {
			for s := head; s != nil; {
				next := s.next
				grew, empty := s.expire(&st.lim, nowMs, retention)
				s.bytes += grew
				st.memBytes.Add(grew)
				if empty {
					sh.remove(s)
					st.memBytes.Add(-s.bytes)
					st.nseries.Add(-1)
					removed++
				}
				s = next
			}
		}
		sh.mu.Unlock()
	}
	st.stats.pruned.Add(uint64(removed))
	return removed
}
