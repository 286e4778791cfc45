package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// defaultQueueSize is the queue bound promised by SubscribeOptions when
// QueueSize is 0.
const defaultQueueSize = 1024

// LocalOptions configure a Local bus.
type LocalOptions struct {
	// Logger receives handler errors and recovered handler panics. Nil means
	// slog.Default().
	Logger *slog.Logger
	// Registerer receives the bus metrics. Nil leaves them unregistered
	// (they are still counted, which keeps tests and benchmarks simple).
	Registerer prometheus.Registerer
	// DefaultQueueSize bounds the queue of a subscription whose QueueSize
	// is 0. Zero means 1024.
	DefaultQueueSize int
}

// DefaultLocalOptions returns the options used by `vigil serve`.
func DefaultLocalOptions() LocalOptions {
	return LocalOptions{
		Logger:           slog.Default(),
		DefaultQueueSize: defaultQueueSize,
	}
}

func (o LocalOptions) validate() error {
	if o.DefaultQueueSize < 0 {
		return fmt.Errorf("negative DefaultQueueSize %d", o.DefaultQueueSize)
	}
	return nil
}

// Local is the in-process Bus: one bounded queue per subscription, split
// over the subscription's workers by key.
//
// Publishing first reserves room in every subscriber's queue and only then
// enqueues, so a message reaches all subscribers or none: TryPublish and a
// Publish whose ctx ends while waiting leave no partial delivery behind.
//
// Handlers must not Close the Local or their own Subscription (both wait for
// the handler to return), and should not Publish with a context that never
// ends to a topic they consume: with their own queue full they would wait for
// themselves.
type Local struct {
	opts    LocalOptions
	metrics *metrics

	// closing is closed by Close, after closed is set, to wake publishers
	// waiting for room so that they return ErrClosed.
	closing chan struct{}

	// mu protects closed, topics, each topic's subs and each subscription's
	// closed flag. Publishers hold it for reading while they enqueue but
	// never while they wait for room, so Close, once it has held it for
	// writing and set closed, knows that no enqueue is in flight or to come:
	// what is queued then is all there is to drain.
	mu     sync.RWMutex
	closed bool
	topics map[string]*topic
}

// topic is the per-topic state; it lives as long as the Local.
type topic struct {
	// subs is copy-on-write under Local.mu: replaced, never modified, so a
	// publisher may keep using its snapshot after unlocking. Its order is
	// subscription order and removal keeps the order of the rest, so every
	// snapshot orders any two subscriptions alike; publishers reserve room
	// in that order, which is what keeps two waiting publishers from each
	// holding room the other needs.
	subs []*subscription

	// Children cached so that the hot path skips the label lookup.
	published prometheus.Counter
	rejected  prometheus.Counter
}

var _ Bus = (*Local)(nil)

// NewLocal returns a running in-process bus. It panics if opts are invalid
// (a negative DefaultQueueSize) or if its metrics are already registered
// with opts.Registerer: both are programming errors, and the panic follows
// prometheus.MustRegister.
func NewLocal(opts LocalOptions) *Local {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.DefaultQueueSize == 0 {
		opts.DefaultQueueSize = defaultQueueSize
	}
	if err := opts.validate(); err != nil {
		panic(fmt.Sprintf("bus: invalid options: %v", err))
	}
	l := &Local{
		opts:    opts,
		closing: make(chan struct{}),
		topics:  make(map[string]*topic),
	}
	l.metrics = newMetrics(opts.Registerer, l)
	return l
}

// Publish enqueues m for every current subscriber of m.Topic. While a
// queue is full it waits, in FIFO order with other waiting publishers of
// that queue, until there is room, ctx is done (it returns ctx.Err()) or
// the bus is closed (ErrClosed). Either error means that no subscriber
// received m. A subscription closed while Publish waits for it is skipped.
// Publish does not fail because ctx is done if no wait is needed.
func (l *Local) Publish(ctx context.Context, m Message) error {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	t := l.topics[m.Topic]
	if t == nil {
		l.mu.RUnlock()
		l.metrics.published.WithLabelValues(m.Topic).Inc()
		l.metrics.publishWait.Observe(0)
		return nil
	}
	subs := t.subs
	n := tryReserve(subs)
	if n == len(subs) {
		// Fast path: room everywhere, enqueue under the same read lock.
		enqueue(subs, m)
		l.mu.RUnlock()
		t.published.Inc()
		l.metrics.publishWait.Observe(0)
		return nil
	}
	l.mu.RUnlock()

	start := time.Now()
	err := l.reserve(ctx, subs, n)
	if err == nil {
		err = l.commit(t, subs, m)
	}
	l.metrics.publishWait.Observe(time.Since(start).Seconds())
	return err
}

// TryPublish enqueues m for every current subscriber of m.Topic if each has
// room now; otherwise it enqueues nothing and returns ErrFull. Room held by
// publishers still waiting in Publish counts as taken, and two concurrent
// TryPublish calls racing for the last slots of several queues may both
// fail: ErrFull means "back off and retry", which is what receivers do.
func (l *Local) TryPublish(m Message) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	t := l.topics[m.Topic]
	if t == nil {
		l.metrics.published.WithLabelValues(m.Topic).Inc()
		return nil
	}
	subs := t.subs
	if n := tryReserve(subs); n < len(subs) {
		release(subs[:n])
		t.rejected.Inc()
		return ErrFull
	}
	enqueue(subs, m)
	t.published.Inc()
	return nil
}

// Subscribe starts opts.Workers goroutines delivering messages of topic to
// h until the subscription or the bus is closed. Messages published before
// Subscribe returns are not delivered to it.
func (l *Local) Subscribe(topicName string, opts SubscribeOptions, h Handler) (Subscription, error) {
	if err := l.checkSubscribe(topicName, &opts, h); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	t := l.topics[topicName]
	if t == nil {
		t = &topic{
			published: l.metrics.published.WithLabelValues(topicName),
			rejected:  l.metrics.rejected.WithLabelValues(topicName),
		}
		l.topics[topicName] = t
	}
	s := newSubscription(l, topicName, opts, h)
	subs := make([]*subscription, len(t.subs), len(t.subs)+1)
	copy(subs, t.subs)
	t.subs = append(subs, s)
	// Started under the lock so that a concurrent Close, which waits for
	// the workers, cannot miss them.
	s.start()
	return s, nil
}

// checkSubscribe validates opts and fills the zero values with defaults.
func (l *Local) checkSubscribe(topicName string, opts *SubscribeOptions, h Handler) error {
	switch {
	case topicName == "":
		return errors.New("bus: subscribe: empty topic")
	case h == nil:
		return fmt.Errorf("bus: subscribe %q: nil handler", topicName)
	case opts.QueueSize < 0:
		return fmt.Errorf("bus: subscribe %q: negative queue size %d", topicName, opts.QueueSize)
	case opts.Workers < 0:
		return fmt.Errorf("bus: subscribe %q: negative workers %d", topicName, opts.Workers)
	}
	if opts.QueueSize == 0 {
		opts.QueueSize = l.opts.DefaultQueueSize
	}
	if opts.Workers == 0 {
		opts.Workers = 1
	}
	return nil
}

// Close stops accepting messages (publishers, including those waiting for
// room, get ErrClosed), lets every subscription deliver what it has queued
// and waits for the workers to return. If ctx is done first, it cancels the
// handlers' context, drops what is still queued, waits for the handlers in
// progress to return and returns ctx.Err(); a handler that ignores its ctx
// therefore holds Close up, which we prefer to leaking its goroutine. A
// second Close returns ErrClosed.
func (l *Local) Close(ctx context.Context) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closed = true
	var subs []*subscription
	for _, t := range l.topics {
		subs = append(subs, t.subs...)
	}
	l.mu.Unlock()
	close(l.closing)

	done := make(chan struct{})
	go func() {
		for _, s := range subs {
			s.wg.Wait()
		}
		close(done)
	}()
	for _, s := range subs {
		close(s.drain)
	}

	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		for _, s := range subs {
			s.halt()
			s.cancel()
		}
		<-done
	}
	for _, s := range subs {
		s.cancel()
		s.discard()
	}

	l.mu.Lock()
	l.topics = nil // nothing left to report as queue depth
	l.mu.Unlock()
	return err
}

// reserve takes room in subs[from:], in order, waiting as needed. On error
// it gives back the room taken in all of subs.
func (l *Local) reserve(ctx context.Context, subs []*subscription, from int) error {
	for i := from; i < len(subs); i++ {
		s := subs[i]
		select {
		case s.slots <- struct{}{}:
		case <-s.stop:
			// Closed: commit skips it, and there is nothing to give back.
		case <-ctx.Done():
			release(subs[:i])
			return ctx.Err()
		case <-l.closing:
			release(subs[:i])
			return ErrClosed
		}
	}
	return nil
}

// commit enqueues m into subs, whose room is reserved, unless the bus has
// closed meanwhile.
func (l *Local) commit(t *topic, subs []*subscription, m Message) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		release(subs)
		return ErrClosed
	}
	enqueue(subs, m)
	t.published.Inc()
	return nil
}

// tryReserve takes room in subs, in order, without waiting, and returns how
// many it got room in.
func tryReserve(subs []*subscription) int {
	for i, s := range subs {
		select {
		case s.slots <- struct{}{}:
		default:
			return i
		}
	}
	return len(subs)
}

// release gives back room reserved in subs.
func release(subs []*subscription) {
	for _, s := range subs {
		s.release()
	}
}

// enqueue puts m on each of subs, whose room is reserved. The caller holds
// Local.mu for reading, which makes reading closed safe and guarantees the
// workers have not been told to finish draining.
func enqueue(subs []*subscription, m Message) {
	for _, s := range subs {
		if s.closed {
			s.release()
			continue
		}
		// Never blocks: each worker queue holds a whole queue's worth, and
		// our reservation is still counted in slots.
		s.queueFor(m.Key) <- m
	}
}
