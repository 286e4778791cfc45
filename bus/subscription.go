package bus

import (
	"context"
	"runtime/debug"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// subscription is one subscriber of a Local: a bounded queue split over
// worker goroutines by key.
//
// Room is counted apart from the queues, in slots, so that a publisher can
// take room in every subscriber's queue before it enqueues anywhere. A
// message holds its slot from reservation until a worker takes it off its
// queue, so len(slots) is the number of messages reserved or queued, and at
// most size. Each worker queue can hold size messages, so a send with a
// slot in hand never blocks, however the keys hash.
type subscription struct {
	l     *Local
	topic string
	name  string
	h     Handler

	// slots is a counting semaphore: send to reserve, receive to release.
	// Blocked senders are served in FIFO order, which is what makes
	// waiting publishers fair.
	slots chan struct{}
	// queues holds one FIFO per worker; a key always maps to the same one,
	// which is how per-key order survives several workers.
	queues []chan Message

	// stop is closed (once, by halt) when delivery must end after the
	// message in progress: by Close, or by Local.Close when its ctx ends.
	stop     chan struct{}
	stopOnce sync.Once
	// drain is closed by Local.Close once no more messages can be
	// enqueued: workers then deliver what is left and return.
	drain chan struct{}

	// ctx is passed to the handler; cancel ends it when the subscription
	// is done or Local.Close runs out of time.
	ctx    context.Context
	cancel context.CancelFunc

	// wg counts running workers.
	wg sync.WaitGroup

	// closed is set by Close. Local.mu protects it.
	closed bool

	delivered     prometheus.Counter
	handlerErrors prometheus.Counter
}

var _ Subscription = (*subscription)(nil)

// newSubscription builds a subscription from validated options; start runs it.
func newSubscription(l *Local, topicName string, opts SubscribeOptions, h Handler) *subscription {
	ctx, cancel := context.WithCancel(context.Background())
	s := &subscription{
		l:             l,
		topic:         topicName,
		name:          opts.Name,
		h:             h,
		slots:         make(chan struct{}, opts.QueueSize),
		queues:        make([]chan Message, opts.Workers),
		stop:          make(chan struct{}),
		drain:         make(chan struct{}),
		ctx:           ctx,
		cancel:        cancel,
		delivered:     l.metrics.delivered.WithLabelValues(topicName, opts.Name),
		handlerErrors: l.metrics.handlerErrors.WithLabelValues(topicName, opts.Name),
	}
	for i := range s.queues {
		s.queues[i] = make(chan Message, opts.QueueSize)
	}
	return s
}

func (s *subscription) start() {
	s.wg.Add(len(s.queues))
	for _, q := range s.queues {
		go s.work(q)
	}
}

// Close stops delivery after the messages in progress, drops what is queued
// and waits for the workers to return. It is safe to call more than once
// and after the bus is closed; each call waits for the workers.
func (s *subscription) Close() error {
	l := s.l
	l.mu.Lock()
	if !s.closed {
		s.closed = true
		if t := l.topics[s.topic]; t != nil {
			t.subs = without(t.subs, s)
		}
	}
	l.mu.Unlock()
	s.halt()
	s.wg.Wait()
	s.cancel()
	s.discard()
	return nil
}

// without returns subs minus s, as a new slice (subs is copy-on-write) in
// the same order (publishers rely on it).
func without(subs []*subscription, s *subscription) []*subscription {
	out := make([]*subscription, 0, len(subs))
	for _, x := range subs {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

func (s *subscription) halt() {
	s.stopOnce.Do(func() { close(s.stop) })
}

func (s *subscription) halted() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// release gives back one reserved slot. It does not wait: a live
// subscription always has the caller's slot to give back, and a closed one
// may have none, which no longer matters.
func (s *subscription) release() {
	select {
	case <-s.slots:
	default:
	}
}

// queueFor maps key to a worker queue with FNV-1a, inlined because it runs
// once per message per subscriber and hash/fnv would allocate.
func (s *subscription) queueFor(key string) chan<- Message {
	if len(s.queues) == 1 {
		return s.queues[0]
	}
	return s.queues[workerIndex(key, len(s.queues))]
}

func workerIndex(key string, n int) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % uint32(n))
}

// depth is the number of messages queued (not reserved, not in progress).
func (s *subscription) depth() int {
	n := 0
	for _, q := range s.queues {
		n += len(q)
	}
	return n
}

// discard empties the queues of a subscription whose workers have returned,
// so that dropped messages do not stay reachable through it.
func (s *subscription) discard() {
	for _, q := range s.queues {
		for len(q) > 0 {
			select {
			case <-q:
			default:
			}
		}
	}
}

// work delivers the messages of one worker queue until stop, or until drain
// and the queue is empty.
func (s *subscription) work(q <-chan Message) {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case m := <-q:
			if !s.deliver(m) {
				return
			}
		case <-s.drain:
			for {
				select {
				case <-s.stop:
					return
				case m := <-q:
					if !s.deliver(m) {
						return
					}
				default:
					return
				}
			}
		}
	}
}

// deliver frees m's slot and hands m to the handler unless delivery has
// stopped; it reports whether the worker should go on.
func (s *subscription) deliver(m Message) bool {
	// The slot is freed before the handler runs: QueueSize bounds the
	// messages waiting, not the one in progress. It must not wait: once the
	// subscription is halted, publishers that skipped it may have given
	// back slots they never took (see Local.reserve), and a worker blocked
	// here would hold Close up forever.
	s.release()
	if s.halted() {
		return false
	}
	s.handle(m)
	return true
}

// handle runs the handler, turning an error or a panic into a log line and
// a count: one bad batch must not take the process or the worker down.
func (s *subscription) handle(m Message) {
	s.delivered.Inc()
	defer func() {
		if r := recover(); r != nil {
			s.handlerErrors.Inc()
			s.l.opts.Logger.Error("bus handler panicked",
				"topic", s.topic, "subscriber", s.name, "key", m.Key,
				"panic", r, "stack", string(debug.Stack()))
		}
	}()
	if err := s.h(s.ctx, m); err != nil {
		s.handlerErrors.Inc()
		s.l.opts.Logger.Warn("bus handler failed",
			"topic", s.topic, "subscriber", s.name, "key", m.Key, "err", err)
	}
}
