package ndjson

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

const benchLines = 10_000

// benchBody is 10,000 lines of about 200 bytes: slog-style JSON with a
// nested object, and one plain line in ten.
func benchBody() []byte {
	var b bytes.Buffer
	for i := range benchLines {
		if i%10 == 9 {
			fmt.Fprintf(&b, "2024-05-06 07:08:09,%03d ERROR [worker-%d] job failed: timeout after %dms\n", i%1000, i%8, i%5000)
			continue
		}
		fmt.Fprintf(&b, `{"time":"2024-05-06T07:08:09.%06dZ","level":"info","service":"api","msg":"request served","http":{"method":"GET","path":"/api/v1/items/%d","status":200},"duration_ms":%d,"trace_id":"%016x"}`+"\n", i, i, i%997, i*7919)
	}
	return b.Bytes()
}

func discard(b *testing.B) ingest.Sink {
	n := 0
	b.Cleanup(func() {
		if n != b.N*benchLines {
			b.Errorf("sink got %d lines, want %d", n, b.N*benchLines)
		}
	})
	return ingest.SinkFuncs{LogsFunc: func(_ context.Context, recs []telemetry.LogRecord) error {
		n += len(recs)
		return nil
	}}
}

// BenchmarkNDJSON posts the body to the handler and reports lines/s.
func BenchmarkNDJSON(b *testing.B) {
	body := benchBody()
	r, err := New(Options{Sink: discard(b)})
	if err != nil {
		b.Fatal(err)
	}
	h := r.Routes()[0].Handler
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		req := httptest.NewRequest("POST", Path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-ndjson")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 204 {
			b.Fatalf("status %d", w.Code)
		}
	}
	reportLines(b, cpu)
}

// BenchmarkNDJSONStream reads the same lines through ReadStream.
func BenchmarkNDJSONStream(b *testing.B) {
	body := benchBody()
	sink := discard(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		if _, err := ReadStream(context.Background(), bytes.NewReader(body), sink, StreamOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	reportLines(b, cpu)
}

// reportLines reports lines/s by the wall clock and, since the machines
// these run on are often shared, lines per CPU-second of the process from
// cpu, taken after setup.
func reportLines(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(b.N*benchLines)/b.Elapsed().Seconds(), "lines/s")
	if used := processCPU() - cpu; cpu > 0 && used > 0 {
		b.ReportMetric(float64(b.N*benchLines)/used.Seconds(), "lines/cpu-s")
	}
}
