package loki

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// The benchmarks push batches of 10 streams × 1,000 lines of about 150
// bytes (1.7 MB of JSON, 1.6 MB of protobuf before snappy) and report
// lines/s through the handler into a Sink that discards.
const (
	benchStreamCount = 10
	benchLinesEach   = 1000
	benchLines       = benchStreamCount * benchLinesEach
)

func benchHandler(b *testing.B) http.Handler {
	b.Helper()
	var n int
	r := newReceiver(b, Options{Sink: ingest.SinkFuncs{LogsFunc: func(_ context.Context, recs []telemetry.LogRecord) error {
		n += len(recs)
		return nil
	}}})
	b.Cleanup(func() {
		if n != b.N*benchLines {
			b.Errorf("sink got %d lines, want %d", n, b.N*benchLines)
		}
	})
	return handler(r)
}

// reportLines reports lines/s by the wall clock and, since the machines
// these run on are often shared, lines per CPU-second of the whole process
// (client, server and GC included) from cpu, taken after setup.
func reportLines(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(b.N*benchLines)/b.Elapsed().Seconds(), "lines/s")
	if used := processCPU() - cpu; cpu > 0 && used > 0 {
		b.ReportMetric(float64(b.N*benchLines)/used.Seconds(), "lines/cpu-s")
	}
}

func benchPush(b *testing.B, contentType string, body []byte) {
	h := benchHandler(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for b.Loop() {
		req := httptest.NewRequest("POST", PushPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 204 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	reportLines(b, cpu)
}

func BenchmarkLokiPushJSON(b *testing.B) {
	benchPush(b, "application/json", benchJSON(benchStreams(benchStreamCount, benchLinesEach)))
}

func BenchmarkLokiPushProto(b *testing.B) {
	benchPush(b, "application/x-protobuf", protoPush(benchStreams(benchStreamCount, benchLinesEach)...))
}

// BenchmarkLokiJSONStdlib decodes the same body with encoding/json into
// the simplest struct that fits, to show what the scanner buys.
func BenchmarkLokiJSONStdlib(b *testing.B) {
	body := benchJSON(benchStreams(benchStreamCount, benchLinesEach))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		var req struct {
			Streams []struct {
				Stream map[string]string `json:"stream"`
				Values [][]string        `json:"values"`
			} `json:"streams"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			b.Fatal(err)
		}
		recs := make([]telemetry.LogRecord, 0, benchLines)
		for _, s := range req.Streams {
			ls := telemetry.LabelsFromMap(s.Stream)
			for _, v := range s.Values {
				ns, err := strconv.ParseInt(v[0], 10, 64)
				if err != nil {
					b.Fatal(err)
				}
				recs = append(recs, telemetry.LogRecord{Time: unixNano(ns), Labels: ls, Raw: v[1]})
			}
		}
		if len(recs) != benchLines {
			b.Fatal(len(recs))
		}
	}
	reportLines(b, cpu)
}

// BenchmarkLokiJSONScanner is the scanner alone on the same body.
func BenchmarkLokiJSONScanner(b *testing.B) {
	body := benchJSON(benchStreams(benchStreamCount, benchLinesEach))
	cfg := decodeConfig{maxLine: 1 << 20, maxEntries: DefaultMaxEntries, serviceLabels: DefaultServiceLabels()}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		bt := newBatch(cfg, jsonSizeHint(body, cfg.maxEntries))
		if err := decodeJSON(bt, body); err != nil || len(bt.recs) != benchLines {
			b.Fatal(err, len(bt.recs))
		}
	}
	reportLines(b, cpu)
}

// BenchmarkLokiPushHTTP posts over loopback TCP with a real client, as a
// sender would: the figure BENCHMARKS.md quotes.
func BenchmarkLokiPushHTTP(b *testing.B) {
	streams := benchStreams(benchStreamCount, benchLinesEach)
	for _, tc := range []struct {
		name, contentType string
		body              []byte
	}{
		{"json", "application/json", benchJSON(streams)},
		{"protobuf", "application/x-protobuf", protoPush(streams...)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv := httptest.NewServer(benchHandler(b))
			defer srv.Close()
			client := srv.Client()
			b.SetBytes(int64(len(tc.body)))
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for b.Loop() {
				resp, err := client.Post(srv.URL+PushPath, tc.contentType, bytes.NewReader(tc.body))
				if err != nil {
					b.Fatal(err)
				}
				drain(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 204 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			reportLines(b, cpu)
		})
	}
}
