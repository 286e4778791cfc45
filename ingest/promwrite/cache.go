package promwrite

import (
	"hash/maphash"
	"sync"
)

// cacheShards spreads the cache over independently locked maps so that
// concurrent requests rarely wait for each other. A power of two.
const cacheShards = 64

// cache maps wire bytes to their decoded, validated form across requests,
// keyed by the bytes' hash so that a lookup hashes them once.
// Prometheus sends the same series every scrape interval, encoded
// identically, so after the first request a series costs one hash and one
// map lookup instead of a string allocation per label name and value and a
// validation. The decoded values share their strings with the key, which is
// what keeps label sets of many requests from duplicating memory.
//
// Memory is bounded by a byte budget with two generations per shard: when
// the current map is full it becomes the previous one and the old previous
// is dropped; entries still in use are promoted back on their next lookup.
// That approximates LRU at the cost of one map per shard, with no per-entry
// bookkeeping on the hot path.
type cache[V any] struct {
	seed maphash.Seed
	// genBytes is the budget of one generation of one shard.
	genBytes int64
	shards   [cacheShards]cacheShard[V]
}

type cacheEntry[V any] struct {
	key  string
	val  V
	size int64
}

type cacheShard[V any] struct {
	// mu protects cur, prev and curBytes.
	mu       sync.RWMutex
	cur      map[uint64]cacheEntry[V]
	prev     map[uint64]cacheEntry[V]
	curBytes int64
	// Pads shards apart so that two cores locking neighbours do not share
	// a cache line.
	_ [80]byte
}

// newCache returns a cache holding about maxBytes as estimated by the
// sizes passed to put (both generations together).
func newCache[V any](maxBytes int64) *cache[V] {
	c := &cache[V]{seed: maphash.MakeSeed(), genBytes: max(maxBytes/(2*cacheShards), 1)}
	for i := range c.shards {
		c.shards[i].cur = make(map[uint64]cacheEntry[V])
	}
	return c
}

// get returns the value cached for key. It does not allocate.
func (c *cache[V]) get(key []byte) (V, bool) {
	h := maphash.Bytes(c.seed, key)
	s := &c.shards[h&(cacheShards-1)]
	s.mu.RLock()
	e, ok := s.cur[h]
	if ok && e.key == string(key) {
		s.mu.RUnlock()
		return e.val, true
	}
	e, ok = s.prev[h]
	s.mu.RUnlock()
	if !ok || e.key != string(key) {
		var zero V
		return zero, false
	}
	// Promote, so that entries in steady use survive the next rotation.
	s.mu.Lock()
	s.putLocked(c.genBytes, h, e, e.size)
	s.mu.Unlock()
	return e.val, true
}

// put caches val under key; size estimates the memory val holds beyond
// the key.
func (c *cache[V]) put(key string, val V, size int64) {
	h := maphash.String(c.seed, key)
	s := &c.shards[h&(cacheShards-1)]
	size += int64(len(key)) + 64 // the key, the map slot and the entry
	s.mu.Lock()
	s.putLocked(c.genBytes, h, cacheEntry[V]{key: key, val: val, size: size}, size)
	s.mu.Unlock()
}

// putLocked stores e under its hash. A hash collision between two keys
// (2^-64 per pair) only replaces one entry by the other, which costs a
// later miss, never a wrong answer: get compares the whole key.
func (s *cacheShard[V]) putLocked(genBytes int64, h uint64, e cacheEntry[V], size int64) {
	if old, ok := s.cur[h]; ok && old.key == e.key {
		return
	}
	if s.curBytes+size > genBytes && len(s.cur) > 0 {
		s.prev = s.cur
		s.cur = make(map[uint64]cacheEntry[V], len(s.prev))
		s.curBytes = 0
	}
	s.cur[h] = e
	s.curBytes += size
}

// len returns the number of entries in both generations (duplicates
// between them counted twice); for metrics.
func (c *cache[V]) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.cur) + len(s.prev)
		s.mu.RUnlock()
	}
	return n
}
