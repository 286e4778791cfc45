package file

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

const benchLine = `2024-06-15T12:00:00.123Z INFO payment accepted order_id=8812731 amount=42.50 currency=EUR latency_ms=12`

func BenchmarkLineSplitter(b *testing.B) {
	var buf bytes.Buffer
	for buf.Len() < readChunk*4 {
		buf.WriteString(benchLine + "\n")
	}
	data := buf.Bytes()
	lines := bytes.Count(data, []byte("\n"))
	s := lineSplitter{max: 256 << 10}
	emit := func([]byte, int64, bool) {}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		s.reset(0)
		for p := data; len(p) > 0; {
			n := min(readChunk-17, len(p)) // chunks that cut lines
			s.feed(p[:n], emit)
			p = p[n:]
		}
	}
	b.ReportMetric(float64(b.N)*float64(lines)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkTail measures a tailer catching up on a file of b.N lines:
// read, split, batched, delivered, positions saved after each batch (to
// an in-memory store).
func BenchmarkTail(b *testing.B) {
	path := filepath.Join(b.TempDir(), "app.log")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	for i := range b.N {
		fmt.Fprintf(&buf, "%s seq=%d\n", benchLine, i)
		if buf.Len() > 1<<20 {
			f.Write(buf.Bytes())
			buf.Reset()
		}
	}
	f.Write(buf.Bytes())
	f.Close()
	var got atomic.Int64
	done := make(chan struct{})
	o := DefaultOptions()
	o.Include = []string{path}
	o.StartAt = StartAtBeginning
	o.PollInterval = 10 * time.Millisecond
	o.Offsets = &memStore{}
	o.Sink = ingest.SinkFuncs{LogsFunc: func(_ context.Context, recs []telemetry.LogRecord) error {
		if got.Add(int64(len(recs))) == int64(b.N) {
			close(done)
		}
		return nil
	}}
	tl, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	if err := tl.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	<-done
	b.StopTimer()
	tl.Stop(context.Background())
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
