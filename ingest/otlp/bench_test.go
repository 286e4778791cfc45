package otlp

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/vigilops/vigil/ingest"
)

const benchBatch = 1000 // items per request, a collector's default batch size order

// benchLogs is a batch as a collector sends it: a few services, records
// with a handful of attributes and trace context.
func benchLogs() plog.Logs {
	ld := plog.NewLogs()
	for s := 0; s < 4; s++ {
		rl := ld.ResourceLogs().AppendEmpty()
		ra := rl.Resource().Attributes()
		ra.PutStr("service.name", fmt.Sprint("svc-", s))
		ra.PutStr("k8s.namespace.name", "prod")
		ra.PutStr("k8s.pod.name", fmt.Sprint("svc-", s, "-7f9c"))
		ra.PutStr("host.name", "node-1")
		lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
		for i := 0; i < benchBatch/4; i++ {
			lr := lrs.AppendEmpty()
			lr.SetTimestamp(ts(t0.Add(time.Duration(i) * time.Millisecond)))
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.Body().SetStr(fmt.Sprintf("GET /api/v1/items/%d completed in %dms", i, i%300))
			a := lr.Attributes()
			a.PutStr("http.method", "GET")
			a.PutInt("http.status_code", 200)
			a.PutStr("user.id", fmt.Sprint("u-", i%97))
			lr.SetTraceID(pcommon.TraceID{1, byte(i)})
			lr.SetSpanID(pcommon.SpanID{2, byte(i)})
		}
	}
	return ld
}

// benchMetrics is benchBatch data points: gauges and counters with
// attributes, and histograms of 10 buckets (each one data point).
func benchMetrics() pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "checkout")
	rm.Resource().Attributes().PutStr("service.instance.id", "pod-1")
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	g := ms.AppendEmpty()
	g.SetName("queue.depth")
	c := ms.AppendEmpty()
	c.SetName("http.server.requests")
	sum := c.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	h := ms.AppendEmpty()
	h.SetName("http.server.request.duration")
	h.SetUnit("s")
	hist := h.SetEmptyHistogram()
	hist.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	gdps, cdps := g.SetEmptyGauge().DataPoints(), sum.DataPoints()
	for i := 0; i < benchBatch; i++ {
		switch i % 10 {
		case 0:
			dp := hist.DataPoints().AppendEmpty()
			dp.SetTimestamp(ts(t0))
			dp.Attributes().PutStr("http.route", fmt.Sprint("/r", i))
			dp.ExplicitBounds().FromRaw([]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5})
			dp.BucketCounts().FromRaw([]uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
			dp.SetCount(55)
			dp.SetSum(12.5)
		case 1, 2, 3, 4:
			dp := gdps.AppendEmpty()
			dp.SetTimestamp(ts(t0))
			dp.SetDoubleValue(float64(i))
			dp.Attributes().PutStr("queue", fmt.Sprint("q", i))
		default:
			dp := cdps.AppendEmpty()
			dp.SetTimestamp(ts(t0))
			dp.SetIntValue(int64(i))
			dp.Attributes().PutStr("http.route", fmt.Sprint("/r", i))
			dp.Attributes().PutInt("http.status_code", 200)
		}
	}
	return md
}

// benchHandler posts body to path b.N times through the routes, with a
// sink that discards, and reports items/s.
func benchHandler(b *testing.B, path string, body []byte, enc encoding, items int, unit string) {
	o := DefaultOptions()
	o.Sink = ingest.SinkFuncs{}
	rc, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	h := mux(rc)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType(enc))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	b.ReportMetric(float64(b.N*items)/b.Elapsed().Seconds(), unit+"/s")
}

func BenchmarkLogsHandler(b *testing.B) {
	for _, enc := range fuzzEncodings {
		b.Run(contentType(enc), func(b *testing.B) {
			benchHandler(b, "/v1/logs", logsBody(b, enc, benchLogs()), enc, benchBatch, "records")
		})
	}
}

func BenchmarkMetricsHandler(b *testing.B) {
	for _, enc := range fuzzEncodings {
		b.Run(contentType(enc), func(b *testing.B) {
			benchHandler(b, "/v1/metrics", metricsBody(b, enc, benchMetrics()), enc, benchBatch, "points")
		})
	}
}

// benchTraces is benchBatch spans: calls web→api→(cart|db), both sides of
// each service call in the batch.
func benchTraces(round int) ptrace.Traces {
	var calls []call
	for i := 0; len(calls)*2 < benchBatch; i++ {
		callee := "cart"
		if i%3 == 0 {
			callee = "api"
		}
		calls = append(calls, call{trace: uint16(i + 1), client: byte(round), server: byte(round + 1), caller: "web", callee: callee,
			start: t0, dur: time.Duration(i%50+1) * time.Millisecond, sErr: i%17 == 0})
	}
	return traces(calls...)
}

func BenchmarkTracesHandler(b *testing.B) {
	for _, enc := range fuzzEncodings {
		b.Run(contentType(enc), func(b *testing.B) {
			benchHandler(b, "/v1/traces", tracesBody(b, enc, benchTraces(1)), enc, benchBatch, "spans")
		})
	}
}

// BenchmarkTopologyAdd measures edge reduction alone, on spans already
// decoded: every span costs one pending lookup and an insert or a pairing,
// whether its other side is in the same batch or an earlier one.
func BenchmarkTopologyAdd(b *testing.B) {
	topo, err := NewTopology(DefaultTopologyOptions())
	if err != nil {
		b.Fatal(err)
	}
	var batches [][]Span
	for r := 0; r < 16; r++ {
		var rej rejections
		c := testConverter()
		spans := c.spans(benchTraces(2*r+1), &rej)
		// Give every batch its own trace ids so that calls stay distinct.
		for i := range spans {
			spans[i].TraceID[0] = byte(r)
		}
		batches = append(batches, spans)
	}
	b.ReportAllocs()
	b.ResetTimer()
	now := t0
	for i := 0; i < b.N; i++ {
		topo.Add(now, batches[i%len(batches)])
		now = now.Add(time.Millisecond)
	}
	b.ReportMetric(float64(b.N*len(batches[0]))/b.Elapsed().Seconds(), "spans/s")
}
