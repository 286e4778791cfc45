package syslog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// collector is a Sink that keeps what it accepts. refuse, when set, is
// asked before each delivery whether to answer ErrBackpressure.
type collector struct {
	mtx    sync.Mutex
	recs   []telemetry.LogRecord
	calls  int
	refuse func(call int) bool
}

func (c *collector) sink() ingest.Sink {
	return ingest.SinkFuncs{LogsFunc: func(ctx context.Context, recs []telemetry.LogRecord) error {
		c.mtx.Lock()
		defer c.mtx.Unlock()
		c.calls++
		if c.refuse != nil && c.refuse(c.calls) {
			return ingest.ErrBackpressure
		}
		c.recs = append(c.recs, recs...)
		return nil
	}}
}

func (c *collector) snapshot() []telemetry.LogRecord {
	c.mtx.Lock()
	defer c.mtx.Unlock()
	return append([]telemetry.LogRecord(nil), c.recs...)
}

// wait returns once n records arrived, failing the test after 10s.
func (c *collector) wait(t *testing.T, n int) []telemetry.LogRecord {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs := c.snapshot()
		if len(recs) >= n {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d records, want %d", len(recs), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func startReceiver(t *testing.T, mod func(*Options)) (*Receiver, *collector) {
	t.Helper()
	c := &collector{}
	o := DefaultOptions()
	o.UDPListen = "127.0.0.1:0"
	o.TCPListen = "127.0.0.1:0"
	o.BatchWait = 5 * time.Millisecond
	o.Location = time.UTC
	o.Sink = c.sink()
	o.Registerer = prometheus.NewRegistry()
	if mod != nil {
		mod(&o)
	}
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r.Stop(ctx)
	})
	return r, c
}

func dialTCP(t *testing.T, r *Receiver) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", r.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func write(t *testing.T, c net.Conn, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if _, err := c.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
		// Give the receiver a chance to read each part on its own.
		time.Sleep(5 * time.Millisecond)
	}
}

func msg5424(i int) string { return fmt.Sprintf("<13>1 2024-01-02T03:04:05Z host app - - - msg %d", i) }

func octet(m string) string { return fmt.Sprintf("%d %s", len(m), m) }

func messages(recs []telemetry.LogRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Message
	}
	return out
}

func wantMessages(t *testing.T, recs []telemetry.LogRecord, from, to int) {
	t.Helper()
	if len(recs) != to-from+1 {
		t.Fatalf("got %d records, want %d: %q", len(recs), to-from+1, messages(recs))
	}
	for i, r := range recs {
		if want := fmt.Sprintf("msg %d", from+i); r.Message != want {
			t.Fatalf("record %d: message %q, want %q (raw %q)", i, r.Message, want, r.Raw)
		}
	}
}

func TestTCPOctetCounting(t *testing.T) {
	r, c := startReceiver(t, nil)
	conn := dialTCP(t, r)
	f3, f4 := octet(msg5424(3)), octet(msg5424(4))
	write(t, conn,
		octet(msg5424(1))+octet(msg5424(2)), // two frames in one write
		f3[:10], f3[10:30], f3[30:],         // one frame over three writes
		f4[:1], f4[1:], // split inside the length prefix
		octet(msg5424(5))+"\n"+octet(msg5424(6)), // trailing LF tolerated
	)
	recs := c.wait(t, 6)
	wantMessages(t, recs, 1, 6)
	if recs[0].Format != Format5424 || recs[0].Service != "app" || recs[0].Raw != msg5424(1) {
		t.Errorf("record = %+v", recs[0])
	}
	if got := value(r.m.received.WithLabelValues("tcp", kind5424)); got != 6 {
		t.Errorf("received{tcp,rfc5424} = %v, want 6", got)
	}
}

func TestTCPNewlineFraming(t *testing.T) {
	r, c := startReceiver(t, nil)
	conn := dialTCP(t, r)
	l3 := msg5424(3) + "\n"
	write(t, conn,
		msg5424(1)+"\n"+msg5424(2)+"\x00",
		l3[:7], l3[7:20], l3[20:],
		msg5424(4)+"\r\n"+octet(msg5424(5)), // framing chosen per frame
	)
	wantMessages(t, c.wait(t, 5), 1, 5)
}

func TestTCPLastLineAtClose(t *testing.T) {
	r, c := startReceiver(t, nil)
	conn := dialTCP(t, r)
	write(t, conn, msg5424(1)+"\n"+msg5424(2))
	conn.Close()
	wantMessages(t, c.wait(t, 2), 1, 2)
}

func TestUDP(t *testing.T) {
	r, c := startReceiver(t, nil)
	conn, err := net.Dial("udp", r.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := 1; i <= 3; i++ {
		m := msg5424(i)
		if i == 2 {
			m += "\n" // some senders end datagrams with a newline
		}
		if _, err := conn.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	recs := c.wait(t, 3)
	wantMessages(t, recs, 1, 3)
	if recs[1].Raw != msg5424(2) {
		t.Errorf("Raw = %q, want the trailing newline trimmed", recs[1].Raw)
	}
}

func TestOversize(t *testing.T) {
	r, c := startReceiver(t, func(o *Options) { o.MaxMessageBytes = 64 })
	conn := dialTCP(t, r)
	big := "<13>1 - h a - - - " + strings.Repeat("x", 200)
	write(t, conn,
		octet(big)+octet(msg5424(1)),
		big+"\n"+msg5424(2)+"\n",
	)
	wantMessages(t, c.wait(t, 2), 1, 2)

	u, err := net.Dial("udp", r.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.Write([]byte(big))
	u.Write([]byte(msg5424(3)))
	wantMessages(t, c.wait(t, 3), 1, 3)

	if got := value(r.m.rejected.WithLabelValues("tcp", reasonOversize)); got != 2 {
		t.Errorf("rejected{tcp,oversize} = %v, want 2", got)
	}
	if got := value(r.m.rejected.WithLabelValues("udp", reasonOversize)); got != 1 {
		t.Errorf("rejected{udp,oversize} = %v, want 1", got)
	}
}

func TestBadStreamClosesConnection(t *testing.T) {
	r, _ := startReceiver(t, nil)
	conn := dialTCP(t, r)
	write(t, conn, "9999999999 GET / HTTP/1.1\r\n")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("read = %v, want the connection closed", err)
	}
	if got := value(r.m.rejected.WithLabelValues("tcp", reasonBadStream)); got != 1 {
		t.Errorf("rejected{tcp,bad_stream} = %v, want 1", got)
	}
}

func isReset(err error) bool { return err != nil && strings.Contains(err.Error(), "reset") }

func TestMalformedKept(t *testing.T) {
	r, c := startReceiver(t, nil)
	conn := dialTCP(t, r)
	write(t, conn, "hello world\n<999>x\n<13>1 bad-time h a - - - m\n")
	recs := c.wait(t, 3)
	for i, want := range []string{"hello world", "<999>x", "<13>1 bad-time h a - - - m"} {
		if recs[i].Raw != want || recs[i].Format != "" || recs[i].Fields != nil {
			t.Errorf("record %d = %+v, want raw %q without format or fields", i, recs[i], want)
		}
	}
	if got := value(r.m.received.WithLabelValues("tcp", kindMalformed)); got != 3 {
		t.Errorf("received{tcp,malformed} = %v, want 3", got)
	}
}

// TestBackpressure has the sink refuse deliveries for a while: nothing may
// be lost or repeated, and order is kept.
func TestBackpressure(t *testing.T) {
	const n = 3000
	r, c := startReceiver(t, func(o *Options) { o.BatchSize = 64 })
	c.refuse = func(call int) bool { return call <= 5 || call%2 == 0 }
	conn := dialTCP(t, r)
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(octet(msg5424(i)))
	}
	write(t, conn, b.String())
	wantMessages(t, c.wait(t, n), 1, n)
	time.Sleep(20 * time.Millisecond)
	wantMessages(t, c.snapshot(), 1, n)
	if got := value(r.m.backpressure); got < 5 {
		t.Errorf("backpressure = %v, want at least 5", got)
	}
	if got := value(r.m.delivered); got != n {
		t.Errorf("delivered = %v, want %d", got, n)
	}
}

func TestMaxConnections(t *testing.T) {
	r, _ := startReceiver(t, func(o *Options) { o.MaxConnections = 1 })
	dialTCP(t, r)
	waitGauge(t, r.m.connections, 1)
	second := dialTCP(t, r)
	second.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := second.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("read = %v, want the connection closed", err)
	}
	if got := value(r.m.rejected.WithLabelValues("tcp", reasonMaxConnections)); got != 1 {
		t.Errorf("rejected{tcp,max_connections} = %v, want 1", got)
	}
}

func waitGauge(t *testing.T, g prometheus.Gauge, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for value(g) != want {
		if time.Now().After(deadline) {
			t.Fatalf("gauge = %v, want %v", value(g), want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestIdleTimeout(t *testing.T) {
	r, _ := startReceiver(t, func(o *Options) { o.IdleTimeout = 50 * time.Millisecond })
	conn := dialTCP(t, r)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("read = %v, want the idle connection closed", err)
	}
	waitGauge(t, r.m.connections, 0)
}

// TestStopDrains: what was sent before Stop is delivered by the time it
// returns.
func TestStopDrains(t *testing.T) {
	r, c := startReceiver(t, func(o *Options) { o.BatchWait = time.Hour; o.IdleTimeout = time.Minute })
	conn := dialTCP(t, r)
	waitGauge(t, r.m.connections, 1)
	u, err := net.Dial("udp", r.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	var b strings.Builder
	for i := 1; i <= 100; i++ {
		b.WriteString(msg5424(i) + "\n")
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	for i := 101; i <= 110; i++ {
		u.Write([]byte(msg5424(i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Stop took %v", d)
	}
	recs := c.snapshot()
	if len(recs) != 110 {
		t.Fatalf("got %d records after Stop, want 110", len(recs))
	}
	// TCP and UDP records interleave; each transport keeps its order.
	var tcp, udp []telemetry.LogRecord
	for _, rec := range recs {
		var i int
		fmt.Sscanf(rec.Message, "msg %d", &i)
		if i <= 100 {
			tcp = append(tcp, rec)
		} else {
			udp = append(udp, rec)
		}
	}
	wantMessages(t, tcp, 1, 100)
	wantMessages(t, udp, 101, 110)
}

func TestStopDeadlineCountsDropped(t *testing.T) {
	r, c := startReceiver(t, nil)
	c.refuse = func(int) bool { return true }
	conn := dialTCP(t, r)
	write(t, conn, msg5424(1)+"\n")
	deadline := time.Now().Add(5 * time.Second)
	for value(r.m.backpressure) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := r.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v, want deadline exceeded", err)
	}
	if got := value(r.m.dropped.WithLabelValues(dropShutdown)); got != 1 {
		t.Errorf("dropped{shutdown} = %v, want 1", got)
	}
}

func TestLifecycle(t *testing.T) {
	r, _ := startReceiver(t, nil)
	if err := r.Start(t.Context()); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start = %v, want ErrStarted", err)
	}
	o := DefaultOptions()
	o.Sink = ingest.SinkFuncs{}
	o.UDPListen = ""
	o.TCPListen = r.TCPAddr().String()
	busy, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := busy.Start(t.Context()); err == nil {
		t.Error("Start on a busy address succeeded")
	}
	if err := r.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(t.Context()); err != nil {
		t.Errorf("second Stop = %v", err)
	}
	if err := r.Start(t.Context()); !errors.Is(err, ErrStopped) {
		t.Errorf("Start after Stop = %v, want ErrStopped", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	sink := ingest.SinkFuncs{}
	tests := []struct {
		name string
		mod  func(*Options)
		ok   bool
	}{
		{"defaults with sink", func(o *Options) {}, true},
		{"udp only", func(o *Options) { o.TCPListen = "" }, true},
		{"no sink", func(o *Options) { o.Sink = nil }, false},
		{"nothing to listen on", func(o *Options) { o.UDPListen, o.TCPListen = "", "" }, false},
		{"bad address", func(o *Options) { o.TCPListen = "localhost" }, false},
		{"tiny max message", func(o *Options) { o.MaxMessageBytes = 4 }, false},
		{"negative connections", func(o *Options) { o.MaxConnections = -1 }, false},
		{"negative timeout", func(o *Options) { o.IdleTimeout = -time.Second }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			o.Sink = sink
			tc.mod(&o)
			_, err := New(o)
			if (err == nil) != tc.ok {
				t.Errorf("New = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// TestSharedRegistry: two receivers on one registry share their series.
func TestSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	for range 2 {
		o := DefaultOptions()
		o.Sink = ingest.SinkFuncs{}
		o.Registerer = reg
		if _, err := New(o); err != nil {
			t.Fatal(err)
		}
	}
}
