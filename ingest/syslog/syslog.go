// Package syslog receives syslog messages over UDP (RFC 5426) and TCP
// (RFC 6587: octet counting or newline framing, detected per frame) and
// turns each one into a telemetry.LogRecord. It reads RFC 5424 (with
// structured data) and RFC 3164 with its common variants (no hostname, ISO
// timestamps, no PRI), inferring the missing year of a 3164 timestamp from
// the receive time.
//
// Invariant: every message read is either delivered to the Sink or counted
// (and logged) as dropped; a message that cannot be parsed is delivered as a
// raw line with no Format and counted as malformed, never dropped. Memory is
// bounded: a frame larger than MaxMessageBytes is skipped without being
// buffered, and while the Sink answers ingest.ErrBackpressure the receiver
// stops reading, so TCP senders are slowed by TCP flow control (UDP senders
// lose datagrams in the kernel's socket buffer, as UDP syslog always does).
package syslog

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/ingest"
)

// ErrStarted is returned by Start on a receiver that is already running.
var ErrStarted = errors.New("syslog receiver already started")

// ErrStopped is returned by Start after Stop: a receiver does not restart.
var ErrStopped = errors.New("syslog receiver stopped")

// Options configure a Receiver. Zero fields take the DefaultOptions value,
// except UDPListen and TCPListen, where empty means off.
type Options struct {
	// UDPListen is the UDP address to listen on ("127.0.0.1:5514"); empty
	// disables UDP.
	UDPListen string
	// TCPListen is the TCP address to listen on; empty disables TCP.
	TCPListen string
	// MaxMessageBytes bounds one message (datagram or frame). Larger ones
	// are counted as rejected (reason "oversize") and skipped.
	MaxMessageBytes int
	// MaxConnections bounds concurrent TCP connections; a connection over
	// the limit is closed at once and counted.
	MaxConnections int
	// IdleTimeout closes a TCP connection that sent nothing for this long.
	// 0 (the default) never does: plain-TCP syslog senders (rsyslog,
	// syslog-ng) notice a closed connection only on their next write, which
	// is then lost, so idle connections are kept; MaxConnections and TCP
	// keep-alives bound what dead peers can hold.
	IdleTimeout time.Duration
	// DrainTimeout bounds how long Stop keeps reading what connections
	// and the UDP socket already hold; each stops sooner, once it has been
	// quiet for 50ms.
	DrainTimeout time.Duration
	// BatchSize and BatchWait bound a batch handed to the Sink: it is
	// delivered when it holds BatchSize records or its first record is
	// BatchWait old, whichever comes first.
	BatchSize int
	BatchWait time.Duration
	// Location is the time zone of timestamps that carry none (RFC 3164).
	// Default: time.Local, the usual zone of senders on the same host.
	Location *time.Location
	// Sink receives the records. Required. A Sink in blocking mode
	// (ingest.NewBusSink(b, true)) is preferred; ErrBackpressure is retried
	// with a short backoff either way.
	Sink ingest.Sink
	// Logger and Registerer: nil means discard and do not register.
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Now gives the receive time (default time.Now).
	Now func() time.Time
}

// DefaultOptions returns options listening on loopback port 5514 for both
// UDP and TCP (514 needs privileges; point senders or a firewall redirect at
// 5514).
func DefaultOptions() Options {
	return Options{
		UDPListen:       "127.0.0.1:5514",
		TCPListen:       "127.0.0.1:5514",
		MaxMessageBytes: 64 << 10,
		MaxConnections:  256,
		DrainTimeout:    time.Second,
		BatchSize:       512,
		BatchWait:       100 * time.Millisecond,
		Location:        time.Local,
		Now:             time.Now,
	}
}

func (o *Options) fillDefaults() {
	d := DefaultOptions()
	if o.MaxMessageBytes == 0 {
		o.MaxMessageBytes = d.MaxMessageBytes
	}
	if o.MaxConnections == 0 {
		o.MaxConnections = d.MaxConnections
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = d.DrainTimeout
	}
	if o.BatchSize == 0 {
		o.BatchSize = d.BatchSize
	}
	if o.BatchWait == 0 {
		o.BatchWait = d.BatchWait
	}
	if o.Location == nil {
		o.Location = d.Location
	}
	if o.Now == nil {
		o.Now = d.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// maxFrameDigits bounds the length prefix of an octet-counted frame: ten
// digits cover any length worth discarding; more means the stream is not
// octet-counted at all.
const maxFrameDigits = 10

func (o Options) validate() error {
	switch {
	case o.Sink == nil:
		return errors.New("syslog: sink is required")
	case o.UDPListen == "" && o.TCPListen == "":
		return errors.New("syslog: neither udp nor tcp listen address set")
	case o.MaxMessageBytes < 16 || o.MaxMessageBytes > 1<<30:
		return fmt.Errorf("syslog: max message bytes %d out of range [16, 1GiB]", o.MaxMessageBytes)
	case o.MaxConnections < 1:
		return fmt.Errorf("syslog: max connections %d must be positive", o.MaxConnections)
	case o.IdleTimeout < 0 || o.DrainTimeout < 0 || o.BatchWait < 0:
		return errors.New("syslog: negative timeout")
	case o.BatchSize < 1:
		return fmt.Errorf("syslog: batch size %d must be positive", o.BatchSize)
	}
	for _, a := range []string{o.UDPListen, o.TCPListen} {
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("syslog: listen address %q: %w", a, err)
		}
	}
	return nil
}
