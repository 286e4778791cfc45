package syslog

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

const (
	bench5424 = `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 4242 ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry from the payment service`
	bench3164 = "<86>Jun  5 17:32:18 web01.example.com sshd[1234]: Accepted publickey for deploy from 10.0.0.99 port 52311 ssh2"
)

func benchParse(b *testing.B, msg string) {
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := Parse(msg, received, time.UTC); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkParse5424(b *testing.B) { benchParse(b, bench5424) }
func BenchmarkParse3164(b *testing.B) { benchParse(b, bench3164) }

func BenchmarkFramer(b *testing.B) {
	var sb strings.Builder
	for range 1000 {
		sb.WriteString(octet(bench5424))
		sb.WriteString(bench3164 + "\n")
	}
	data := sb.String()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		f := newFramer(strings.NewReader(data), 64<<10)
		for {
			if _, err := f.next(); err != nil {
				break
			}
		}
	}
	b.ReportMetric(float64(b.N)*2000/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkTCPLoopback measures the receiver end to end: octet-counted
// frames over one loopback connection, parsed, batched and delivered.
func BenchmarkTCPLoopback(b *testing.B) {
	var got atomic.Int64
	o := DefaultOptions()
	o.UDPListen = ""
	o.TCPListen = "127.0.0.1:0"
	o.Location = time.UTC
	o.Sink = ingest.SinkFuncs{LogsFunc: func(_ context.Context, recs []telemetry.LogRecord) error {
		got.Add(int64(len(recs)))
		return nil
	}}
	r, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer r.Stop(context.Background())
	conn, err := net.Dial("tcp", r.TCPAddr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	frame := []byte(octet(bench5424))
	chunk := make([]byte, 0, 256*len(frame))
	for range 256 {
		chunk = append(chunk, frame...)
	}
	b.SetBytes(int64(len(frame)))
	b.ResetTimer()
	for sent := 0; sent < b.N; {
		n := min(256, b.N-sent)
		if _, err := conn.Write(chunk[:n*len(frame)]); err != nil {
			b.Fatal(err)
		}
		sent += n
	}
	for got.Load() < int64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
