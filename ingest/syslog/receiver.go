package syslog

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilops/vigil/ingest"
)

var _ ingest.Receiver = (*Receiver)(nil)

const (
	stateNew = iota
	stateRunning
	stateStopped
)

// Receiver listens for syslog over UDP and TCP and delivers what it reads
// to the Sink in batches.
type Receiver struct {
	opts  Options
	log   *slog.Logger
	m     *metrics
	count counters
	limit logLimiter

	// drainBy is the read deadline Stop set, in Unix nanoseconds, or 0
	// while running. A reader that extends its own idle deadline checks it
	// again afterwards, so it never pushes Stop's deadline back.
	drainBy atomic.Int64

	mtx    sync.Mutex // protects the fields below
	state  int
	udp    net.PacketConn
	tcp    net.Listener
	conns  map[net.Conn]struct{}
	batch  *batcher
	cancel context.CancelFunc // ends deliveries when Stop runs out of time

	// readers counts the UDP loop, the accept loop and one goroutine per
	// connection: everything that may still add records to batch.
	readers sync.WaitGroup
}

// New returns a Receiver; nothing listens until Start.
func New(o Options) (*Receiver, error) {
	o.fillDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	return &Receiver{
		opts:  o,
		log:   o.Logger,
		m:     m,
		count: newCounters(m),
		conns: make(map[net.Conn]struct{}),
	}, nil
}

// Name implements ingest.Receiver.
func (r *Receiver) Name() string { return "syslog" }

// Start listens on the configured addresses and serves in the background.
// Listen errors are returned here. ctx bounds only the listening: the
// receiver runs until Stop.
func (r *Receiver) Start(ctx context.Context) error {
	r.mtx.Lock()
	defer r.mtx.Unlock()
	switch r.state {
	case stateRunning:
		return ErrStarted
	case stateStopped:
		return ErrStopped
	}
	var lc net.ListenConfig
	if r.opts.UDPListen != "" {
		pc, err := lc.ListenPacket(ctx, "udp", r.opts.UDPListen)
		if err != nil {
			return fmt.Errorf("listen udp %s: %w", r.opts.UDPListen, err)
		}
		r.udp = pc
	}
	if r.opts.TCPListen != "" {
		ln, err := lc.Listen(ctx, "tcp", r.opts.TCPListen)
		if err != nil {
			if r.udp != nil {
				r.udp.Close()
				r.udp = nil
			}
			return fmt.Errorf("listen tcp %s: %w", r.opts.TCPListen, err)
		}
		r.tcp = ln
	}
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	r.batch = newBatcher(bctx, r.opts, r.m)
	go r.batch.run()
	if r.udp != nil {
		r.readers.Add(1)
		go r.serveUDP(r.udp)
		r.log.Info("syslog listening", "transport", "udp", "addr", r.udp.LocalAddr().String())
	}
	if r.tcp != nil {
		r.readers.Add(1)
		go r.acceptTCP(r.tcp)
		r.log.Info("syslog listening", "transport", "tcp", "addr", r.tcp.Addr().String())
	}
	r.state = stateRunning
	return nil
}

// UDPAddr returns the UDP address listened on (useful with port 0), or nil.
func (r *Receiver) UDPAddr() net.Addr {
	r.mtx.Lock()
	defer r.mtx.Unlock()
	if r.udp == nil {
		return nil
	}
	return r.udp.LocalAddr()
}

// TCPAddr returns the TCP address listened on, or nil.
func (r *Receiver) TCPAddr() net.Addr {
	r.mtx.Lock()
	defer r.mtx.Unlock()
	if r.tcp == nil {
		return nil
	}
	return r.tcp.Addr()
}

// Stop closes the listeners and keeps reading what connections and the UDP
// socket already hold, until each has been quiet for a moment (50ms) and
// for no longer than DrainTimeout (or ctx's deadline, if sooner); then it
// delivers the last batch. Connections still in the listen backlog, not
// yet accepted, are reset by the kernel. When ctx ends first, what is left
// is dropped, counted in vigil_ingest_syslog_dropped_total{reason="shutdown"},
// and ctx's error returned.
func (r *Receiver) Stop(ctx context.Context) error {
	r.mtx.Lock()
	if r.state != stateRunning {
		r.state = stateStopped
		r.mtx.Unlock()
		return nil
	}
	r.state = stateStopped
	deadline := time.Now().Add(r.opts.DrainTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	r.drainBy.Store(deadline.UnixNano())
	if r.tcp != nil {
		r.tcp.Close()
	}
	// Wake blocked readers; from now on each read sets its own deadline
	// (see drainDeadline).
	if r.udp != nil {
		r.udp.SetReadDeadline(drainDeadline(deadline.UnixNano()))
	}
	for c := range r.conns {
		c.SetReadDeadline(drainDeadline(deadline.UnixNano()))
	}
	r.mtx.Unlock()

	var err error
	if !wait(ctx, r.readers.Wait) {
		err = ctx.Err()
		r.cancel()
		r.mtx.Lock()
		for c := range r.conns {
			c.Close()
		}
		r.mtx.Unlock()
		r.readers.Wait()
	}
	// Every reader has returned: nothing sends on batch.in any more.
	close(r.batch.in)
	if !wait(ctx, func() { <-r.batch.done }) {
		err = ctx.Err()
		r.cancel()
		<-r.batch.done
	}
	r.cancel()
	if r.udp != nil {
		r.udp.Close()
	}
	return err
}

// wait runs fn (a blocking wait) and reports whether it returned before
// ctx was done.
func wait(ctx context.Context, fn func()) bool {
	done := make(chan struct{})
	go func() { fn(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}
