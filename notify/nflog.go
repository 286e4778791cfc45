package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/vigilops/vigil/store"
)

// StateStore persists the notification log. It has the shape of
// store.StateStore, so any Vigil store serves; GetState returns an error
// matching store.ErrNotFound for a missing key.
type StateStore interface {
	PutState(ctx context.Context, key string, value []byte) error
	GetState(ctx context.Context, key string) ([]byte, error)
}

// Any Vigil store serves as the notification log's persistence.
var _ StateStore = store.StateStore(nil)

// LogOptions configure a notification log.
type LogOptions struct {
	// Store persists the log; nil keeps it in memory only.
	Store StateStore
	// KeyPrefix namespaces the log's keys in Store.
	KeyPrefix string
	// Retention is how long an entry is remembered after its send.
	Retention time.Duration
	// MaxEntries bounds the log; the oldest entries go first.
	MaxEntries int
	// Shards splits the log into this many stored values, so that one
	// send rewrites one shard, not the whole log.
	Shards int
	Logger *slog.Logger
}

// DefaultLogOptions returns the defaults: 120h retention (Alertmanager's
// default), 10,000 entries in 16 shards, keys under "notify/nflog/".
func DefaultLogOptions() LogOptions {
	return LogOptions{
		KeyPrefix:  "notify/nflog/",
		Retention:  120 * time.Hour,
		MaxEntries: 10000,
		Shards:     16,
	}
}

func (o *LogOptions) validate() error {
	if o.Retention <= 0 {
		return fmt.Errorf("%w: log retention %v must be positive", ErrInvalidOptions, o.Retention)
	}
	if o.Shards < 1 || o.Shards > 4096 {
		return fmt.Errorf("%w: log shards %d not in 1..4096", ErrInvalidOptions, o.Shards)
	}
	if o.MaxEntries < o.Shards {
		return fmt.Errorf("%w: log max entries %d below shards %d", ErrInvalidOptions, o.MaxEntries, o.Shards)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// LogEntry records one delivery.
type LogEntry struct {
	// Hash is the content hash of what was sent (see ContentHash).
	Hash string `json:"h"`
	// SentAt is the evaluation time of the delivered message.
	SentAt time.Time `json:"t"`
}

// Log is the notification log: it remembers, per receiver, integration and
// group, the content last delivered. It is safe for concurrent use.
type Log struct {
	opts LogOptions

	// mtx protects shards; a shard is loaded from the store on first use.
	mtx    sync.Mutex
	shards map[int]map[string]LogEntry
}

// NewLog returns a notification log.
func NewLog(opts LogOptions) (*Log, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return &Log{opts: opts, shards: map[int]map[string]LogEntry{}}, nil
}

// LogKey is the log key for one integration of one receiver and a group.
func LogKey(receiver, integration, groupKey string) string {
	// Lengths make the join unambiguous whatever the parts contain.
	return strconv.Itoa(len(receiver)) + ":" + receiver + "/" + strconv.Itoa(len(integration)) + ":" + integration + "/" + groupKey
}

// Query returns the live entry under key at now.
func (l *Log) Query(ctx context.Context, key string, now time.Time) (LogEntry, bool, error) {
	l.mtx.Lock()
	defer l.mtx.Unlock()
	sh, err := l.shard(ctx, l.shardOf(key))
	if err != nil {
		return LogEntry{}, false, err
	}
	e, ok := sh[key]
	if !ok || !now.Before(e.SentAt.Add(l.opts.Retention)) {
		return LogEntry{}, false, nil
	}
	return e, true, nil
}

// Record stores e under key, prunes the shard as of e.SentAt and persists
// it.
func (l *Log) Record(ctx context.Context, key string, e LogEntry) error {
	l.mtx.Lock()
	defer l.mtx.Unlock()
	i := l.shardOf(key)
	sh, err := l.shard(ctx, i)
	if err != nil {
		return err
	}
	sh[key] = e
	l.prune(sh, e.SentAt)
	if l.opts.Store == nil {
		return nil
	}
	b, err := json.Marshal(shardFile{Version: 1, Entries: sh})
	if err != nil {
		return fmt.Errorf("encode notification log: %w", err)
	}
	if err := l.opts.Store.PutState(ctx, l.shardKey(i), b); err != nil {
		return fmt.Errorf("persist notification log: %w", err)
	}
	return nil
}

// Len returns the number of entries loaded, live or not yet pruned.
func (l *Log) Len() int {
	l.mtx.Lock()
	defer l.mtx.Unlock()
	n := 0
	for _, sh := range l.shards {
		n += len(sh)
	}
	return n
}

// prune drops expired entries and then the oldest beyond the shard's share
// of MaxEntries.
func (l *Log) prune(sh map[string]LogEntry, now time.Time) {
	for k, e := range sh {
		if !now.Before(e.SentAt.Add(l.opts.Retention)) {
			delete(sh, k)
		}
	}
	limit := l.opts.MaxEntries / l.opts.Shards
	if len(sh) <= limit {
		return
	}
	keys := make([]string, 0, len(sh))
	for k := range sh {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := sh[keys[i]].SentAt, sh[keys[j]].SentAt
		if a.Equal(b) {
			return keys[i] < keys[j]
		}
		return a.Before(b)
	})
	for _, k := range keys[:len(keys)-limit] {
		delete(sh, k)
	}
}

type shardFile struct {
	Version int                 `json:"v"`
	Entries map[string]LogEntry `json:"entries"`
}

func (l *Log) shardOf(key string) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(l.opts.Shards))
}

func (l *Log) shardKey(i int) string { return l.opts.KeyPrefix + strconv.Itoa(i) }

// shard returns shard i, loading it on first use. mtx must be held. A
// stored shard that does not decode is logged and started afresh: losing
// dedup state risks a repeated notification, refusing to notify risks a
// missed one, and the latter is worse.
func (l *Log) shard(ctx context.Context, i int) (map[string]LogEntry, error) {
	if sh, ok := l.shards[i]; ok {
		return sh, nil
	}
	sh := map[string]LogEntry{}
	if l.opts.Store != nil {
		b, err := l.opts.Store.GetState(ctx, l.shardKey(i))
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("load notification log: %w", err)
		default:
			if dec, err := DecodeLogShard(b); err != nil {
				l.opts.Logger.Warn("notification log shard unreadable, starting it empty", "key", l.shardKey(i), "err", err)
			} else {
				sh = dec
			}
		}
	}
	l.shards[i] = sh
	return sh, nil
}

// maxShardBytes bounds a stored shard we are willing to decode.
const maxShardBytes = 16 << 20

// DecodeLogShard decodes one stored shard of the log.
func DecodeLogShard(b []byte) (map[string]LogEntry, error) {
	if len(b) > maxShardBytes {
		return nil, fmt.Errorf("decode notification log: %d bytes, more than %d", len(b), maxShardBytes)
	}
	var f shardFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("decode notification log: %w", err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("decode notification log: unknown version %d", f.Version)
	}
	if f.Entries == nil {
		f.Entries = map[string]LogEntry{}
	}
	return f.Entries, nil
}

// ContentHash hashes what a message says: its status, the fingerprints of
// its firing and of its resolved alerts (as sets), and the incident's id
// and status. Two messages with the same hash tell the recipient nothing
// new.
func ContentHash(m *Message) string {
	firing := make([]uint64, 0, len(m.Alerts))
	var resolved []uint64
	for i := range m.Alerts {
		fp := uint64(m.Alerts[i].Fingerprint())
		if m.Alerts[i].Resolved(m.Now) {
			resolved = append(resolved, fp)
		} else {
			firing = append(firing, fp)
		}
	}
	sortU64 := func(s []uint64) { sort.Slice(s, func(i, j int) bool { return s[i] < s[j] }) }
	sortU64(firing)
	sortU64(resolved)
	h := sha256.New()
	h.Write([]byte(m.Status))
	var buf []byte
	writeSet := func(tag byte, s []uint64) {
		buf = append(buf[:0], tag)
		prev := uint64(0)
		for i, v := range s {
			if i > 0 && v == prev {
				continue // duplicate alerts count once
			}
			buf = strconv.AppendUint(append(buf, ','), v, 16)
			prev = v
		}
		h.Write(buf)
	}
	writeSet('F', firing)
	writeSet('R', resolved)
	if inc := m.Incident; inc != nil {
		h.Write([]byte{'I'})
		h.Write([]byte(strconv.Itoa(len(inc.ID)) + ":" + inc.ID + "/" + inc.Status))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// MemStateStore is an in-memory StateStore, for tests and for running
// without persistence. It is safe for concurrent use.
type MemStateStore struct {
	mtx sync.Mutex
	m   map[string][]byte // protected by mtx
}

// PutState stores a copy of value.
func (s *MemStateStore) PutState(_ context.Context, key string, value []byte) error {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[key] = append([]byte(nil), value...)
	return nil
}

// GetState returns a copy of the value, or store.ErrNotFound.
func (s *MemStateStore) GetState(_ context.Context, key string) ([]byte, error) {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	v, ok := s.m[key]
	if !ok {
		return nil, store.ErrNotFound
	}
	return append([]byte(nil), v...), nil
}
