package promwrite

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang/snappy"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// benchSamples is Prometheus' default max_samples_per_send; a steady
// Prometheus sends one sample per series per request.
const benchSamples = 2000

func benchBody(b *testing.B) []byte {
	rng := rand.New(rand.NewPCG(9, 10))
	return marshalV1(b, randomRequest(rng, benchSamples, 1, nowMs))
}

// reportSamples reports throughput per wall second and per CPU second
// used since cpu0 (the whole process: with loopback HTTP, the client
// too).
func reportSamples(b *testing.B, perOp int, cpu0 float64) {
	n := float64(b.N) * float64(perOp)
	b.ReportMetric(n/b.Elapsed().Seconds(), "samples/s")
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		b.ReportMetric(n/cpu, "samples/cpu-s")
	}
}

// BenchmarkDecode compares the hand-written decoder (with its series cache
// warm, as in steady state, and with a cache too small to hit) against the
// generated prompb code, on a 2,000-series request.
func BenchmarkDecode(b *testing.B) {
	raw := benchBody(b)
	b.Run("protowire", func(b *testing.B) {
		d := newDecoder(false, DefaultServiceLabels, 64<<20)
		var bt batch
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		cpu0 := cpuSeconds()
		for b.Loop() {
			bt.reset()
			if err := d.decodeV1(raw, &bt, 0, 0); err != nil {
				b.Fatal(err)
			}
		}
		reportSamples(b, benchSamples, cpu0)
	})
	b.Run("protowire-cold", func(b *testing.B) {
		d := newDecoder(false, DefaultServiceLabels, 1)
		var bt batch
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		cpu0 := cpuSeconds()
		for b.Loop() {
			bt.reset()
			if err := d.decodeV1(raw, &bt, 0, 0); err != nil {
				b.Fatal(err)
			}
		}
		reportSamples(b, benchSamples, cpu0)
	})
	b.Run("prompb", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		cpu0 := cpuSeconds()
		for b.Loop() {
			if _, _, err := decodeGogo(raw, false, DefaultServiceLabels, 0); err != nil {
				b.Fatal(err)
			}
		}
		reportSamples(b, benchSamples, cpu0)
	})
}

func discard() ingest.Sink {
	return ingest.SinkFuncs{SamplesFunc: func(context.Context, []telemetry.Sample) error { return nil }}
}

func benchReceiver(b *testing.B) *Receiver {
	opts := DefaultOptions()
	opts.Sink = discard()
	opts.Now = func() time.Time { return now }
	opts.Logger = nil
	r, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkRemoteWriteHandler measures the handler alone (snappy,
// decoding, validation, delivery to a discarding Sink) on Prometheus-sized
// requests of 2,000 samples.
func BenchmarkRemoteWriteHandler(b *testing.B) {
	body := snappy.Encode(nil, benchBody(b))
	h := benchReceiver(b).Routes()[0].Handler
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	cpu0 := cpuSeconds()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("POST", Path, bytes.NewReader(body))
			r.Header.Set("Content-Encoding", "snappy")
			r.Header.Set("Content-Type", "application/x-protobuf")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusNoContent {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
	reportSamples(b, benchSamples, cpu0)
}

// BenchmarkRemoteWriteHTTP sends the same requests over loopback HTTP
// from several concurrent clients, as Prometheus' remote write shards do:
// the figure for BENCHMARKS.md.
func BenchmarkRemoteWriteHTTP(b *testing.B) {
	body := snappy.Encode(nil, benchBody(b))
	mux := http.NewServeMux()
	for _, rt := range benchReceiver(b).Routes() {
		mux.Handle(rt.Pattern, rt.Handler)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	url := srv.URL + Path
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.SetParallelism(2)
	cpu0 := cpuSeconds()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
			req.Header.Set("Content-Encoding", "snappy")
			req.Header.Set("Content-Type", "application/x-protobuf")
			req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
	reportSamples(b, benchSamples, cpu0)
}
