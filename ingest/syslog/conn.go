package syslog

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const (
	transportUDP = 0
	transportTCP = 1
)

var transportNames = [2]string{"udp", "tcp"}

// counters are the per-message series, resolved once: a label lookup per
// message would cost more than the parse of a short one.
type counters struct {
	received [2][3]prometheus.Counter // transport; 5424, 3164, malformed
	oversize [2]prometheus.Counter
}

func newCounters(m *metrics) counters {
	var c counters
	for t, tn := range transportNames {
		for k, kn := range [3]string{kind5424, kind3164, kindMalformed} {
			c.received[t][k] = m.received.WithLabelValues(tn, kn)
		}
		c.oversize[t] = m.rejected.WithLabelValues(tn, reasonOversize)
	}
	return c
}

// logLimiter lets one log line per key through every logEvery, so that a
// misbehaving sender cannot flood the log; the counters keep the totals.
type logLimiter struct {
	mtx  sync.Mutex // protects next
	next map[string]time.Time
}

const logEvery = 10 * time.Second

func (l *logLimiter) allow(key string) bool {
	now := time.Now()
	l.mtx.Lock()
	defer l.mtx.Unlock()
	if l.next == nil {
		l.next = make(map[string]time.Time)
	}
	if now.Before(l.next[key]) {
		return false
	}
	if len(l.next) > 1024 { // keys include peers; keep the map bounded
		clear(l.next)
	}
	l.next[key] = now.Add(logEvery)
	return true
}

// handle parses one frame and queues its record.
func (r *Receiver) handle(frame []byte, transport int) {
	for len(frame) > 0 {
		if c := frame[len(frame)-1]; c != '\n' && c != '\r' && c != 0 {
			break
		}
		frame = frame[:len(frame)-1]
	}
	if len(frame) == 0 {
		return
	}
	rec, err := Parse(string(frame), r.opts.Now(), r.opts.Location)
	switch {
	case err != nil:
		r.count.received[transport][2].Inc()
	case rec.Format == Format5424:
		r.count.received[transport][0].Inc()
	default:
		r.count.received[transport][1].Inc()
	}
	r.batch.add(rec)
}

func (r *Receiver) serveUDP(pc net.PacketConn) {
	defer r.readers.Done()
	buf := make([]byte, r.opts.MaxMessageBytes+1)
	// A *net.UDPConn reads without allocating the peer's address.
	uc, _ := pc.(*net.UDPConn)
	for {
		if d := r.drainBy.Load(); d != 0 {
			pc.SetReadDeadline(drainDeadline(d))
		}
		var (
			n    int
			err  error
			ap   netip.AddrPort
			peer net.Addr
		)
		if uc != nil {
			n, ap, err = uc.ReadFromUDPAddrPort(buf)
		} else {
			n, peer, err = pc.ReadFrom(buf)
		}
		if n > r.opts.MaxMessageBytes {
			// The kernel cut the datagram to fit buf: it was larger.
			r.count.oversize[transportUDP].Inc()
			if r.limit.allow("udp oversize") {
				if peer == nil {
					peer = net.UDPAddrFromAddrPort(ap)
				}
				r.log.Warn("syslog datagram over size limit skipped", "peer", peer.String(), "max_bytes", r.opts.MaxMessageBytes)
			}
		} else if n > 0 {
			r.handle(buf[:n], transportUDP)
		}
		if err == nil {
			continue
		}
		if errors.Is(err, net.ErrClosed) || r.drainBy.Load() != 0 {
			return
		}
		// ICMP errors and the like: nothing to do but keep reading.
		if r.limit.allow("udp read") {
			r.log.Warn("syslog udp read", "err", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *Receiver) acceptTCP(ln net.Listener) {
	defer r.readers.Done()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off as
			// net/http does rather than spin.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			r.log.Warn("syslog accept", "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		r.mtx.Lock()
		if r.state != stateRunning {
			r.mtx.Unlock()
			c.Close()
			continue
		}
		if len(r.conns) >= r.opts.MaxConnections {
			r.mtx.Unlock()
			c.Close()
			r.m.rejected.WithLabelValues("tcp", reasonMaxConnections).Inc()
			if r.limit.allow("max connections") {
				r.log.Warn("syslog connection refused: too many connections", "peer", c.RemoteAddr().String(), "max_connections", r.opts.MaxConnections)
			}
			continue
		}
		r.conns[c] = struct{}{}
		r.readers.Add(1)
		r.mtx.Unlock()
		r.m.accepted.Inc()
		r.m.connections.Inc()
		go r.serveConn(c)
	}
}

func (r *Receiver) serveConn(c net.Conn) {
	defer func() {
		r.mtx.Lock()
		delete(r.conns, c)
		r.mtx.Unlock()
		c.Close()
		r.m.connections.Dec()
		r.readers.Done()
	}()
	peer := c.RemoteAddr().String()
	fr := newFramer(&connReader{c: c, r: r}, r.opts.MaxMessageBytes)
	for {
		frame, err := fr.next()
		if len(frame) > 0 {
			r.handle(frame, transportTCP)
		}
		var ne net.Error
		switch {
		case err == nil:
		case errors.Is(err, errFrameTooLarge):
			r.count.oversize[transportTCP].Inc()
			if r.limit.allow("tcp oversize " + peer) {
				r.log.Warn("syslog frame over size limit skipped", "peer", peer, "max_bytes", r.opts.MaxMessageBytes, "err", err)
			}
		case errors.Is(err, errBadStream):
			r.m.rejected.WithLabelValues("tcp", reasonBadStream).Inc()
			r.log.Warn("syslog connection closed: not a syslog stream", "peer", peer, "err", err)
			return
		case errors.Is(err, io.EOF):
			return
		case errors.As(err, &ne) && ne.Timeout():
			if r.drainBy.Load() == 0 {
				r.log.Debug("syslog connection idle, closed", "peer", peer)
			}
			return
		default:
			if r.drainBy.Load() == 0 {
				r.log.Debug("syslog connection read", "peer", peer, "err", err)
			}
			return
		}
	}
}

// connReader extends the connection's read deadline before each read when
// an idle timeout is set, without overriding the drain deadline of Stop.
type connReader struct {
	c net.Conn
	r *Receiver
}

func (cr *connReader) Read(p []byte) (int, error) {
	if d := cr.r.drainBy.Load(); d != 0 {
		cr.c.SetReadDeadline(drainDeadline(d))
	} else if idle := cr.r.opts.IdleTimeout; idle > 0 {
		cr.c.SetReadDeadline(time.Now().Add(idle))
		if d := cr.r.drainBy.Load(); d != 0 {
			cr.c.SetReadDeadline(drainDeadline(d))
		}
	}
	return cr.c.Read(p)
}

// drainQuiet is how long a draining reader waits for more data before it
// concludes the peer has sent everything: what was sent before Stop is
// already in the socket buffer and reads at once, so a short pause means
// the sender is idle (syslog senders keep connections open for good), and
// Stop need not wait the whole DrainTimeout for it.
const drainQuiet = 50 * time.Millisecond

// drainDeadline is the read deadline of a reader while Stop drains: a
// quiet period from now, but never past Stop's deadline (Unix nanoseconds).
func drainDeadline(by int64) time.Time {
	d := time.Now().Add(drainQuiet)
	if limit := time.Unix(0, by); limit.Before(d) {
		return limit
	}
	return d
}
