// Package metricstore keeps recent metric history in memory for detection
// and forecasting: every series the pipeline carries (remote write, OTLP,
// Prometheus backfill, the simulator), raw at native resolution for a
// recent window and downsampled before it, within a global memory budget.
//
// Invariant: memory stays within Options.MemoryLimit as estimated from the
// rings' capacities and the label bytes; past it, the least recently
// written series are evicted whole (and counted), never parts of the
// newest. Time is the data's: the raw window and out-of-order tolerance
// are measured back from each series' newest sample, and the only
// wall-clock input is the now passed to Prune, so replays and simulated
// clocks behave as live ones.
//
// Vigil is not a TSDB: nothing here is persisted, and history lost to a
// restart is backfilled from Prometheus (ingest/promsource).
package metricstore

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/telemetry"
)

// Options configure a Store.
type Options struct {
	// RawWindow is how far back from a series' newest sample points are
	// kept at native resolution. Default 6h.
	RawWindow time.Duration
	// MaxRawPoints caps a series' raw ring; a series sampled faster than
	// RawWindow/MaxRawPoints keeps a shorter raw window. Default 2,160
	// (6h at 10s).
	MaxRawPoints int
	// DownsampleStep is the width of the buckets older points are folded
	// into. Default 5m.
	DownsampleStep time.Duration
	// Retention is how long buckets are kept, back from a series' newest
	// bucket (and, in Prune, from now). Default 14 days: two weeks of
	// weekly seasonality.
	Retention time.Duration
	// OutOfOrderWindow is how far behind a series' newest sample a late
	// sample is still merged (into the raw ring or its bucket); older ones
	// are dropped and counted. Default Retention, so that history
	// backfilled from Prometheus after live remote write has started is
	// kept; make it smaller to drop late data instead.
	OutOfOrderWindow time.Duration
	// MemoryLimit bounds the estimated memory of all series. Default
	// 256 MiB.
	MemoryLimit int64
	// Shards is the number of independently locked partitions (rounded up
	// to a power of two). Default 128.
	Shards int
	// Logger receives eviction notices. Default slog.Default().
	Logger *slog.Logger
	// Registerer receives the metrics. Nil leaves them unregistered.
	Registerer prometheus.Registerer
}

// DefaultOptions returns the options used by `vigil serve`.
func DefaultOptions() Options {
	return Options{
		RawWindow:        6 * time.Hour,
		MaxRawPoints:     2160,
		DownsampleStep:   5 * time.Minute,
		Retention:        14 * 24 * time.Hour,
		OutOfOrderWindow: 14 * 24 * time.Hour,
		MemoryLimit:      256 << 20,
		Shards:           128,
		Logger:           slog.Default(),
	}
}

func (o Options) validate() error {
	var errs []error
	if o.RawWindow < time.Millisecond {
		errs = append(errs, fmt.Errorf("RawWindow %v under 1ms", o.RawWindow))
	}
	if o.MaxRawPoints < 1 {
		errs = append(errs, fmt.Errorf("MaxRawPoints %d under 1", o.MaxRawPoints))
	}
	if o.DownsampleStep < time.Millisecond {
		errs = append(errs, fmt.Errorf("DownsampleStep %v under 1ms", o.DownsampleStep))
	}
	if o.Retention < o.DownsampleStep {
		errs = append(errs, fmt.Errorf("Retention %v shorter than DownsampleStep %v", o.Retention, o.DownsampleStep))
	}
	if o.OutOfOrderWindow < 0 || o.MemoryLimit < 0 || o.Shards < 0 {
		errs = append(errs, errors.New("negative OutOfOrderWindow, MemoryLimit or Shards"))
	}
	return errors.Join(errs...)
}

// withDefaults fills zero fields, so that Options{} works.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.RawWindow == 0 {
		o.RawWindow = d.RawWindow
	}
	if o.MaxRawPoints == 0 {
		o.MaxRawPoints = d.MaxRawPoints
	}
	if o.DownsampleStep == 0 {
		o.DownsampleStep = d.DownsampleStep
	}
	if o.Retention == 0 {
		o.Retention = d.Retention
	}
	if o.OutOfOrderWindow == 0 {
		o.OutOfOrderWindow = o.Retention
	}
	if o.MemoryLimit == 0 {
		o.MemoryLimit = d.MemoryLimit
	}
	if o.Shards == 0 {
		o.Shards = d.Shards
	}
	if o.Logger == nil {
		o.Logger = d.Logger
	}
	return o
}

// Store is the in-memory series store. It is safe for concurrent use:
// series are partitioned by fingerprint over shards, each with its own
// lock, so appends from many goroutines (bus workers) mostly proceed in
// parallel. No method holds two shard locks at once.
type Store struct {
	opts   Options
	lim    limits
	shards []shard
	mask   uint64
	seed   maphash.Seed

	// clock orders appends for least-recently-written eviction: each
	// Append call takes the next value and stamps the series it writes.
	clock atomic.Uint64
	// memBytes is the estimated memory of all series; nseries counts them.
	memBytes atomic.Int64
	nseries  atomic.Int64
	// evictMu lets one appender at a time run an eviction pass; the others
	// go on appending. It protects lastEvictLog.
	evictMu      sync.Mutex
	lastEvictLog time.Time

	stats counters
}

type shard struct {
	// mu protects series and every memSeries reachable from it.
	mu     sync.RWMutex
	series map[uint64]*memSeries
	_      [32]byte // keeps neighbouring shards' locks off one cache line
}

// counters are the store's running totals, read by Stats and the metrics.
type counters struct {
	appended, merged, duplicates, tooOld, bucketFull, invalid, evicted, pruned atomic.Uint64
}

// New returns an empty Store. It fails on invalid options and panics if
// its metrics are already registered with opts.Registerer.
func New(opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("metricstore: invalid options: %w", err)
	}
	n := 1
	for n < opts.Shards {
		n <<= 1
	}
	step := opts.DownsampleStep.Milliseconds()
	st := &Store{
		opts:   opts,
		shards: make([]shard, n),
		mask:   uint64(n - 1),
		seed:   maphash.MakeSeed(),
		lim: limits{
			rawWindow: opts.RawWindow.Milliseconds(),
			maxRaw:    opts.MaxRawPoints,
			oooWindow: opts.OutOfOrderWindow.Milliseconds(),
			step:      step,
			maxBucket: int((opts.Retention.Milliseconds() + step - 1) / step),
			minRawCap: min(16, opts.MaxRawPoints),
		},
	}
	for i := range st.shards {
		st.shards[i].series = make(map[uint64]*memSeries)
	}
	registerMetrics(opts.Registerer, st)
	return st, nil
}

// Append stores samples. Their Labels must be sorted (telemetry.Labels
// invariant); a sample with empty or unsorted labels is dropped and
// counted. A new series keeps the Labels of its first sample without
// copying, so producers must not modify Labels after publishing them
// (the bus shares them between subscribers anyway).
//
// Appending to an existing series does not allocate once its rings have
// grown to their caps.
func (st *Store) Append(samples []telemetry.Sample) {
	if len(samples) == 0 {
		return
	}
	clock := st.clock.Add(1)
	var (
		grew    int64
		created int64
		counts  [droppedBucketFull + 1]uint64
		invalid uint64
		sh      *shard
		cur     *memSeries
		// curLabels identifies cur's Labels slice: consecutive samples of
		// one series usually share it, which saves hashing them again.
		curLabels *telemetry.Label
		curLen    int
	)
	for i := range samples {
		smp := &samples[i]
		ls := smp.Labels
		if len(ls) == 0 {
			invalid++
			continue
		}
		if cur == nil || &ls[0] != curLabels || len(ls) != curLen {
			h := st.hashOf(ls)
			next := &st.shards[h&st.mask]
			if next != sh {
				if sh != nil {
					sh.mu.Unlock()
				}
				next.mu.Lock()
				sh = next
			}
			cur = sh.find(h, ls)
			if cur == nil {
				if !ls.Valid() {
					invalid++
					continue
				}
				cur = &memSeries{labels: ls, hash: h, fp: ls.Fingerprint(), bytes: seriesOverhead + labelBytes(ls)}
				cur.next = sh.series[h]
				sh.series[h] = cur
				grew += cur.bytes
				created++
			}
			cur.lastWrite = clock
			curLabels, curLen = &ls[0], len(ls)
		}
		outcome, g := cur.append(&st.lim, smp.T, smp.V)
		cur.bytes += g
		grew += g
		counts[outcome]++
	}
	if sh != nil {
		sh.mu.Unlock()
	}
	st.nseries.Add(created)
	st.count(counts, invalid)
	if st.memBytes.Add(grew) > st.opts.MemoryLimit {
		st.evict()
	}
}

func (st *Store) count(c [droppedBucketFull + 1]uint64, invalid uint64) {
	add := func(a *atomic.Uint64, n uint64) {
		if n > 0 {
			a.Add(n)
		}
	}
	add(&st.stats.appended, c[appendedInOrder]+c[mergedOutOfOrder]+c[duplicateReplaced])
	add(&st.stats.merged, c[mergedOutOfOrder])
	add(&st.stats.duplicates, c[duplicateReplaced])
	add(&st.stats.tooOld, c[droppedTooOld])
	add(&st.stats.bucketFull, c[droppedBucketFull])
	add(&st.stats.invalid, invalid)
}

// Handle is a bus handler shape for the samples topic:
// bus.Handle(store.Handle). It never fails.
func (st *Store) Handle(_ context.Context, _ string, samples []telemetry.Sample) error {
	st.Append(samples)
	return nil
}

// hashOf keys a label set in the shards' maps. It is not the
// Fingerprint: FNV-1a goes a byte at a time and was most of the cost of an
// append, while maphash (AES-based where the CPU has it) is several times
// faster. The Fingerprint is computed once per series, for Refs.
func (st *Store) hashOf(ls telemetry.Labels) uint64 {
	// Typical label sets fit a stack buffer, hashed in one call; the
	// streaming Hash costs a call per write.
	var buf [512]byte
	b := buf[:0]
	for i := range ls {
		if len(b)+len(ls[i].Name)+len(ls[i].Value)+2 > len(buf) {
			return st.hashLong(ls)
		}
		b = append(b, ls[i].Name...)
		b = append(b, 0xff)
		b = append(b, ls[i].Value...)
		b = append(b, 0xff)
	}
	return maphash.Bytes(st.seed, b)
}

// hashLong is hashOf for label sets too long for its buffer; maphash
// hashes equal byte streams equally however they are written.
func (st *Store) hashLong(ls telemetry.Labels) uint64 {
	var h maphash.Hash
	h.SetSeed(st.seed)
	for i := range ls {
		h.WriteString(ls[i].Name)
		h.WriteByte(0xff)
		h.WriteString(ls[i].Value)
		h.WriteByte(0xff)
	}
	return h.Sum64()
}

// find returns the series with exactly these labels, or nil. The shard
// lock must be held.
func (sh *shard) find(h uint64, ls telemetry.Labels) *memSeries {
	for s := sh.series[h]; s != nil; s = s.next {
		// Producers that cache label sets (promwrite) hand the same strings
		// every time, and string comparison checks pointers first.
		if s.labels.Equal(ls) {
			return s
		}
	}
	return nil
}

// remove unlinks s; it reports false if s was no longer there. The shard
// lock must be held for writing.
func (sh *shard) remove(s *memSeries) bool {
	head := sh.series[s.hash]
	if head == s {
		if s.next == nil {
			delete(sh.series, s.hash)
		} else {
			sh.series[s.hash] = s.next
		}
		return true
	}
	for p := head; p != nil; p = p.next {
		if p.next == s {
			p.next = s.next
			return true
		}
	}
	return false
}

// Len returns the number of series.
func (st *Store) Len() int { return int(st.nseries.Load()) }

// MemoryBytes returns the estimated memory held by all series.
func (st *Store) MemoryBytes() int64 { return st.memBytes.Load() }

// Stats are the store's running totals.
type Stats struct {
	Series      int
	MemoryBytes int64
	// Appended counts samples stored (in order, merged or replacing a
	// duplicate).
	Appended uint64
	// Merged counts late samples merged; Duplicates, samples whose
	// timestamp was already present (the value is replaced).
	Merged, Duplicates uint64
	// DroppedTooOld counts samples older than OutOfOrderWindow (or the
	// retention) behind their series' newest; DroppedBucketFull, samples
	// whose bucket already held 65,535 points; DroppedInvalid, samples
	// with empty or unsorted labels.
	DroppedTooOld, DroppedBucketFull, DroppedInvalid uint64
	// Evicted counts series removed to stay within MemoryLimit; Pruned,
	// series removed by Prune for holding nothing within the retention.
	Evicted, Pruned uint64
}

// Stats returns the running totals.
func (st *Store) Stats() Stats {
	return Stats{
		Series: st.Len(), MemoryBytes: st.MemoryBytes(),
		Appended: st.stats.appended.Load(), Merged: st.stats.merged.Load(), Duplicates: st.stats.duplicates.Load(),
		DroppedTooOld: st.stats.tooOld.Load(), DroppedBucketFull: st.stats.bucketFull.Load(), DroppedInvalid: st.stats.invalid.Load(),
		Evicted: st.stats.evicted.Load(), Pruned: st.stats.pruned.Load(),
	}
}
