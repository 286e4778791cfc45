package otlp

import (
	"math"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// The fuzz targets feed every input to both decoders, as a request body
// of either Content-Type would be, then convert what decodes and check the
// invariants the pipeline relies on: every item is either converted or
// rejected, labels are sorted and valid, values are finite, bounds hold,
// and the answer encodes.

var fuzzEncodings = []encoding{encProto, encJSON}

func FuzzLogs(f *testing.F) {
	for _, enc := range fuzzEncodings {
		f.Add(logsBody(f, enc, sampleLogs()))
	}
	f.Add([]byte(`{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"cart"}}]},"scopeLogs":[{"logRecords":[{"timeUnixNano":"1700000000000000000","severityNumber":13,"body":{"kvlistValue":{"values":[{"key":"a","value":{"arrayValue":{"values":[{"doubleValue":"NaN"}]}}}]}},"traceId":"5B8EFFF798038103D269B633813FC60C"}]}]}]}`))
	f.Add([]byte{})
	c := testConverter()
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, enc := range fuzzEncodings {
			req := plogotlp.NewExportRequest()
			if decode(enc, b, req.UnmarshalProto, req.UnmarshalJSON) != nil {
				continue
			}
			ld := req.Logs()
			var rej rejections
			recs := c.logs(ld, t0, &rej)
			if len(recs)+rej.count() != ld.LogRecordCount() {
				t.Fatalf("%d records + %d rejected != %d sent", len(recs), rej.count(), ld.LogRecordCount())
			}
			for _, r := range recs {
				if r.Service == "" || !r.Labels.Valid() || len(r.Raw) > c.maxLineBytes || r.Time.IsZero() {
					t.Fatalf("record %+v", r)
				}
				if len(r.Fields) > c.maxFields+3 {
					t.Fatalf("%d fields", len(r.Fields))
				}
				for k, v := range r.Fields {
					if len(v) > c.maxFieldBytes && k != fieldTraceID {
						t.Fatalf("field %s of %d bytes", k, len(v))
					}
				}
			}
			if _, err := logsResponse(enc, int64(rej.count()), partialMessage(&rej, ld.LogRecordCount(), kindLogRecords)); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzMetrics(f *testing.F) {
	md := sampleMetrics()
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	s := ms.AppendEmpty()
	s.SetName("gc.pause")
	sdp := s.SetEmptySummary().DataPoints().AppendEmpty()
	sdp.QuantileValues().AppendEmpty().SetQuantile(0.5)
	sdp.SetCount(1)
	d := ms.AppendEmpty()
	d.SetName("delta")
	d.SetEmptySum().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	d.Sum().DataPoints().AppendEmpty().SetDoubleValue(math.NaN())
	ms.AppendEmpty().SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
	for _, enc := range fuzzEncodings {
		f.Add(metricsBody(f, enc, md))
	}
	f.Add([]byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"a.b","unit":"By/s","gauge":{"dataPoints":[{"asInt":"9007199254740993","timeUnixNano":"1"}]}}]}]}]}`))
	c := testConverter()
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, enc := range fuzzEncodings {
			req := pmetricotlp.NewExportRequest()
			if decode(enc, b, req.UnmarshalProto, req.UnmarshalJSON) != nil {
				continue
			}
			var rej rejections
			samples, points := c.samples(req.Metrics(), t0, &rej)
			if rej.count()+rej.skipped > points || len(samples) > 0 && points == rej.count()+rej.skipped {
				t.Fatalf("%d points, %d rejected, %d skipped, %d samples", points, rej.count(), rej.skipped, len(samples))
			}
			for _, x := range samples {
				if !x.Labels.Valid() || x.Labels.Get("__name__") == "" || x.Labels.Get("service") == "" || !finite(x.V) {
					t.Fatalf("sample %v %v", x.Labels, x.V)
				}
			}
			if _, err := metricsResponse(enc, int64(rej.count()), partialMessage(&rej, points, kindDataPoints)); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzTraces(f *testing.F) {
	for _, enc := range fuzzEncodings {
		f.Add(tracesBody(f, enc, traces(
			call{trace: 1, client: 1, server: 2, caller: "web", callee: "api", start: t0, dur: time.Millisecond, sErr: true},
			call{trace: 2, client: 1, side: "client", caller: "api", callee: "db", start: t0, dur: time.Second, peerKey: "db.system", peerVal: "redis"},
			call{trace: 3, client: 1, server: 2, side: "server", caller: "web", callee: "api", start: t0, dur: time.Millisecond},
		)))
	}
	f.Add([]byte(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"web"}}]},"scopeSpans":[{"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","kind":3,"startTimeUnixNano":"2","endTimeUnixNano":"1","status":{"code":2},"attributes":[{"key":"peer.service","value":{"stringValue":"api"}}]}]}]}]}`))
	c := testConverter()
	f.Fuzz(func(t *testing.T, b []byte) {
		topo, err := NewTopology(TopologyOptions{MaxEdges: 4, MaxPending: 4, PendingTTL: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for _, enc := range fuzzEncodings {
			req := ptraceotlp.NewExportRequest()
			if decode(enc, b, req.UnmarshalProto, req.UnmarshalJSON) != nil {
				continue
			}
			td := req.Traces()
			var rej rejections
			spans := c.spans(td, &rej)
			if len(spans)+rej.count() != td.SpanCount() {
				t.Fatalf("%d spans + %d rejected != %d sent", len(spans), rej.count(), td.SpanCount())
			}
			topo.Add(t0, spans)
			if _, err := tracesResponse(enc, int64(rej.count()), partialMessage(&rej, td.SpanCount(), kindSpans)); err != nil {
				t.Fatal(err)
			}
		}
		topo.Flush(t0.Add(time.Minute))
		for _, e := range topo.Snapshot() {
			if e.Caller == "" || e.Callee == "" || e.Errors > e.Calls || e.Calls == 0 ||
				!(e.P50Seconds <= e.P95Seconds && e.P95Seconds <= e.P99Seconds && e.P99Seconds <= e.MaxSeconds) {
				t.Fatalf("edge %+v", e)
			}
		}
		if topo.Pending() != 0 {
			t.Fatalf("%d pending after Flush", topo.Pending())
		}
	})
}
