package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ReceiverOptions configure a Receiver.
type ReceiverOptions struct {
	// Log is the notification log; nil gives a private in-memory log.
	// Share one persisted Log between receivers to survive restarts.
	Log *Log
	// RepeatInterval re-sends unchanged content after this long, as
	// Alertmanager's repeat_interval; 0 never repeats while the log
	// remembers the send.
	RepeatInterval time.Duration
	// SendResolved sends messages whose alerts have all resolved.
	SendResolved bool
	// RateLimitPerMinute is the receiver's sustained rate; 0 is unlimited.
	RateLimitPerMinute int
	// RateLimitBurst is the bucket size; 0 means RateLimitPerMinute.
	RateLimitBurst int
	// MaxPending bounds the deferred messages (one per group key). When
	// full, the oldest is dropped and counted.
	MaxPending int
	Retry      RetryOptions
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// DefaultReceiverOptions returns the defaults: 4h repeat interval, send
// resolved, no rate limit, 1000 pending, DefaultRetryOptions.
func DefaultReceiverOptions() ReceiverOptions {
	return ReceiverOptions{
		RepeatInterval: 4 * time.Hour,
		SendResolved:   true,
		MaxPending:     1000,
		Retry:          DefaultRetryOptions(),
	}
}

func (o *ReceiverOptions) validate() error {
	if o.RepeatInterval < 0 {
		return fmt.Errorf("%w: repeat interval %v is negative", ErrInvalidOptions, o.RepeatInterval)
	}
	if o.RateLimitPerMinute < 0 || o.RateLimitBurst < 0 {
		return fmt.Errorf("%w: rate limit %d/min burst %d must not be negative", ErrInvalidOptions, o.RateLimitPerMinute, o.RateLimitBurst)
	}
	if o.RateLimitBurst == 0 {
		o.RateLimitBurst = max(o.RateLimitPerMinute, 1)
	}
	if o.MaxPending < 1 {
		return fmt.Errorf("%w: max pending %d must be positive", ErrInvalidOptions, o.MaxPending)
	}
	if err := o.Retry.validate(); err != nil {
		return err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Log == nil {
		l, err := NewLog(DefaultLogOptions())
		if err != nil {
			return err
		}
		o.Log = l
	}
	return nil
}

// Receiver is the pipeline of one named receiver: dedup against the
// notification log, the rate limit, then per integration (concurrently)
// retry around the integration, recording each delivery in the log. A
// Receiver is itself a Notifier. It is safe for concurrent use.
type Receiver struct {
	name         string
	integrations []Notifier
	names        []string // metric label per integration
	logNames     []string // unique per integration within the receiver
	opts         ReceiverOptions
	m            *metrics

	// mtx protects bucket, pending, seq and keyLocks.
	mtx      sync.Mutex
	bucket   *tokenBucket
	pending  map[string]pendingMsg // by group key: later messages replace earlier
	seq      uint64
	keyLocks map[string]*keyLock
}

type pendingMsg struct {
	m   *Message
	seq uint64 // arrival order, so the oldest goes first
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

var _ Notifier = (*Receiver)(nil)

// NewReceiver builds the pipeline for receiver name over integrations.
func NewReceiver(name string, integrations []Notifier, opts ReceiverOptions) (*Receiver, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: empty receiver name", ErrInvalidOptions)
	}
	if len(integrations) == 0 {
		return nil, fmt.Errorf("%w: receiver %q has no integrations", ErrInvalidOptions, name)
	}
	for i, n := range integrations {
		if n == nil {
			return nil, fmt.Errorf("%w: receiver %q integration %d is nil", ErrInvalidOptions, name, i)
		}
	}
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("receiver %q: %w", name, err)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	r := &Receiver{
		name:         name,
		integrations: append([]Notifier(nil), integrations...),
		opts:         opts,
		m:            m,
		bucket:       newTokenBucket(opts.RateLimitPerMinute, opts.RateLimitBurst),
		pending:      map[string]pendingMsg{},
		keyLocks:     map[string]*keyLock{},
	}
	seen := map[string]int{}
	for i, n := range integrations {
		in := integrationName(n, i)
		r.names = append(r.names, in)
		// Two integrations of one kind (two Slack channels) need their own
		// log entries; the index among those of the same name keeps the
		// key stable when other kinds are added.
		r.logNames = append(r.logNames, fmt.Sprintf("%s[%d]", in, seen[in]))
		seen[in]++
	}
	m.pending.WithLabelValues(name).Set(0)
	return r, nil
}

// Name returns the receiver's name.
func (r *Receiver) Name() string { return r.name }

// Pending returns the number of deferred messages.
func (r *Receiver) Pending() int {
	r.mtx.Lock()
	defer r.mtx.Unlock()
	return len(r.pending)
}

// Notify delivers m to every integration that has not already received
// its content. It returns ErrDeferred when the rate limit holds m back for
// a later Flush, and the joined integration errors otherwise. Calls for the
// same group key are serialized.
func (r *Receiver) Notify(ctx context.Context, m *Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if m.Receiver == "" {
		mm := *m
		mm.Receiver = r.name
		m = &mm
	}
	unlock := r.lockKey(m.GroupKey)
	defer unlock()

	todo, hash, err := r.needs(ctx, m)
	if err != nil {
		return err
	}
	r.mtx.Lock()
	if len(todo) == 0 {
		// What is pending for the group is stale: the recipients already
		// have the current state.
		r.dropPendingLocked(m.GroupKey)
		r.mtx.Unlock()
		return nil
	}
	if !r.bucket.take(m.Now) {
		r.deferLocked(m.clone())
		r.mtx.Unlock()
		for _, i := range todo {
			r.m.rateLimited.WithLabelValues(r.name, r.names[i]).Inc()
		}
		return ErrDeferred
	}
	r.dropPendingLocked(m.GroupKey) // m supersedes it
	r.mtx.Unlock()
	return r.send(ctx, m, todo, hash)
}

// Flush sends deferred messages, oldest first, while the rate limit allows
// at now. The app calls it on its tick.
func (r *Receiver) Flush(ctx context.Context, now time.Time) error {
	r.mtx.Lock()
	ps := make([]pendingMsg, 0, len(r.pending))
	for _, p := range r.pending {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].seq < ps[j].seq })
	var ready []*Message
	for _, p := range ps {
		if !r.bucket.take(now) {
			break
		}
		delete(r.pending, p.m.GroupKey)
		ready = append(ready, p.m)
	}
	r.m.pending.WithLabelValues(r.name).Set(float64(len(r.pending)))
	r.mtx.Unlock()

	var errs []error
	for _, m := range ready {
		if err := r.flushOne(ctx, m); err != nil {
			errs = append(errs, fmt.Errorf("group %q: %w", m.GroupKey, err))
		}
	}
	return errors.Join(errs...)
}

func (r *Receiver) flushOne(ctx context.Context, m *Message) error {
	unlock := r.lockKey(m.GroupKey)
	defer unlock()
	r.mtx.Lock()
	_, newer := r.pending[m.GroupKey]
	r.mtx.Unlock()
	if newer {
		return nil // a newer message for the group arrived meanwhile and waits its turn
	}
	todo, hash, err := r.needs(ctx, m)
	if err != nil || len(todo) == 0 {
		return err
	}
	return r.send(ctx, m, todo, hash)
}

// deferLocked keeps m for a later Flush, replacing what is pending for its
// group, and drops the oldest pending message when full.
func (r *Receiver) deferLocked(m *Message) {
	r.seq++
	if _, ok := r.pending[m.GroupKey]; !ok && len(r.pending) >= r.opts.MaxPending {
		var oldest pendingMsg
		for _, p := range r.pending {
			if oldest.m == nil || p.seq < oldest.seq {
				oldest = p
			}
		}
		delete(r.pending, oldest.m.GroupKey)
		for _, in := range r.names {
			r.m.dropped.WithLabelValues(r.name, in).Inc()
		}
		r.opts.Logger.Warn("notification dropped: pending queue full", "receiver", r.name, "group", oldest.m.GroupKey)
	}
	r.pending[m.GroupKey] = pendingMsg{m: m, seq: r.seq}
	r.m.pending.WithLabelValues(r.name).Set(float64(len(r.pending)))
}

func (r *Receiver) dropPendingLocked(key string) {
	if _, ok := r.pending[key]; ok {
		delete(r.pending, key)
		r.m.pending.WithLabelValues(r.name).Set(float64(len(r.pending)))
	}
}

// needs returns the integrations that must receive m, and m's content
// hash. It counts the ones the log says already have it.
func (r *Receiver) needs(ctx context.Context, m *Message) ([]int, string, error) {
	firing := 0
	for i := range m.Alerts {
		if !m.Alerts[i].Resolved(m.Now) {
			firing++
		}
	}
	if firing == 0 && m.Incident == nil && !r.opts.SendResolved {
		return nil, "", nil
	}
	hash := ContentHash(m)
	var todo []int
	for i := range r.integrations {
		e, ok, err := r.opts.Log.Query(ctx, LogKey(r.name, r.logNames[i], m.GroupKey), m.Now)
		if err != nil {
			// A store that cannot answer must not silence notifications:
			// a possible repeat is the lesser harm.
			r.opts.Logger.Warn("notification log unavailable, sending", "receiver", r.name, "integration", r.names[i], "err", err)
			ok = false
		}
		switch {
		case !ok && firing == 0 && m.Incident == nil:
			// Nothing was announced, so there is nothing to resolve.
			continue
		case ok && e.Hash == hash && (r.opts.RepeatInterval == 0 || m.Now.Before(e.SentAt.Add(r.opts.RepeatInterval))):
			r.m.deduplicated.WithLabelValues(r.name, r.names[i]).Inc()
			continue
		}
		todo = append(todo, i)
	}
	return todo, hash, nil
}

// send delivers m to the integrations in todo concurrently.
func (r *Receiver) send(ctx context.Context, m *Message, todo []int, hash string) error {
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	for j, i := range todo {
		wg.Go(func() {
			errs[j] = r.sendOne(ctx, m, i, hash)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (r *Receiver) sendOne(ctx context.Context, m *Message, i int, hash string) error {
	name := r.names[i]
	lat := r.m.latency.WithLabelValues(r.name, name)
	err := r.opts.Retry.retry(ctx, func(ctx context.Context) error {
		start := time.Now() // measures I/O, not evaluation
		err := r.integrations[i].Notify(ctx, m)
		lat.Observe(time.Since(start).Seconds())
		return err
	}, func(n int, err error, wait time.Duration) {
		r.m.retried.WithLabelValues(r.name, name).Inc()
		r.opts.Logger.Debug("notification failed, retrying", "receiver", r.name, "integration", name, "attempt", n, "wait", wait, "err", err)
	})
	if err != nil {
		r.m.failed.WithLabelValues(r.name, name).Inc()
		r.opts.Logger.Warn("notification failed", "receiver", r.name, "integration", name, "group", m.GroupKey, "err", err)
		return fmt.Errorf("%s: %w", name, err)
	}
	r.m.sent.WithLabelValues(r.name, name).Inc()
	if err := r.opts.Log.Record(ctx, LogKey(r.name, r.logNames[i], m.GroupKey), LogEntry{Hash: hash, SentAt: m.Now}); err != nil {
		// Delivered all the same; the risk is one repeat after a restart.
		r.opts.Logger.Warn("notification log not updated", "receiver", r.name, "integration", name, "err", err)
	}
	return nil
}

// lockKey serializes work on one group key, so that two concurrent calls
// cannot both see "not yet sent" and send twice.
func (r *Receiver) lockKey(key string) func() {
	r.mtx.Lock()
	kl := r.keyLocks[key]
	if kl == nil {
		kl = &keyLock{}
		r.keyLocks[key] = kl
	}
	kl.refs++
	r.mtx.Unlock()
	kl.mu.Lock()
	return func() {
		kl.mu.Unlock()
		r.mtx.Lock()
		kl.refs--
		if kl.refs == 0 {
			delete(r.keyLocks, key)
		}
		r.mtx.Unlock()
	}
}
