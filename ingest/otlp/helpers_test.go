package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// t0 is the fixed clock of the tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ts(t time.Time) pcommon.Timestamp { return pcommon.NewTimestampFromTime(t) }

// recordingSink keeps what it is given; err, when set, is returned instead.
type recordingSink struct {
	mu      sync.Mutex
	logs    []telemetry.LogRecord
	samples []telemetry.Sample
	calls   int
	err     error
}

func (s *recordingSink) sink() ingest.Sink {
	return ingest.SinkFuncs{
		LogsFunc: func(_ context.Context, recs []telemetry.LogRecord) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.calls++
			if s.err != nil {
				return s.err
			}
			s.logs = append(s.logs, recs...)
			return nil
		},
		SamplesFunc: func(_ context.Context, xs []telemetry.Sample) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.calls++
			if s.err != nil {
				return s.err
			}
			s.samples = append(s.samples, xs...)
			return nil
		},
	}
}

// newTestReceiver returns a receiver over a recording sink, on the fixed
// clock, with its own registry.
func newTestReceiver(t testing.TB, edit func(*Options)) (*Receiver, *recordingSink, *prometheus.Registry) {
	t.Helper()
	rs := &recordingSink{}
	reg := prometheus.NewRegistry()
	o := DefaultOptions()
	o.Sink = rs.sink()
	o.Registerer = reg
	o.Now = func() time.Time { return t0 }
	if edit != nil {
		edit(&o)
	}
	rc, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return rc, rs, reg
}

// mux mounts the receiver's routes as the app would.
func mux(rc *Receiver) *http.ServeMux {
	m := http.NewServeMux()
	for _, r := range rc.Routes() {
		m.Handle(r.Pattern, r.Handler)
	}
	return m
}

type reqOpts struct {
	contentType string
	gzip        bool
	header      map[string]string
}

func post(t testing.TB, h http.Handler, path string, body []byte, o reqOpts) *httptest.ResponseRecorder {
	t.Helper()
	if o.gzip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(body)
		_ = zw.Close()
		body = buf.Bytes()
	}
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	if o.contentType != "" {
		r.Header.Set("Content-Type", o.contentType)
	}
	if o.gzip {
		r.Header.Set("Content-Encoding", "gzip")
	}
	for k, v := range o.header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// encode marshals a request the way an exporter does for enc.
func encode(t testing.TB, enc encoding, proto, json func() ([]byte, error)) []byte {
	t.Helper()
	f := proto
	if enc == encJSON {
		f = json
	}
	b, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func logsBody(t testing.TB, enc encoding, ld plog.Logs) []byte {
	req := plogotlp.NewExportRequestFromLogs(ld)
	return encode(t, enc, req.MarshalProto, req.MarshalJSON)
}

func metricsBody(t testing.TB, enc encoding, md pmetric.Metrics) []byte {
	req := pmetricotlp.NewExportRequestFromMetrics(md)
	return encode(t, enc, req.MarshalProto, req.MarshalJSON)
}

func tracesBody(t testing.TB, enc encoding, td ptrace.Traces) []byte {
	req := ptraceotlp.NewExportRequestFromTraces(td)
	return encode(t, enc, req.MarshalProto, req.MarshalJSON)
}

func contentType(enc encoding) string {
	if enc == encJSON {
		return typeJSON
	}
	return typeProto
}

// sampleLogs is what an application's SDK sends through a collector: two
// records of one service, one of them with trace context.
func sampleLogs() plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	ra := rl.Resource().Attributes()
	ra.PutStr("service.name", "checkout")
	ra.PutStr("k8s.namespace.name", "shop")
	ra.PutStr("process.pid", "4242")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	a := lrs.AppendEmpty()
	a.SetTimestamp(ts(t0.Add(-time.Second)))
	a.SetSeverityNumber(plog.SeverityNumberError)
	a.SetSeverityText("ERROR")
	a.Body().SetStr("payment declined")
	a.Attributes().PutStr("order.id", "o-17")
	a.SetTraceID(pcommon.TraceID{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c})
	a.SetSpanID(pcommon.SpanID{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74})
	b := lrs.AppendEmpty()
	b.SetObservedTimestamp(ts(t0.Add(-2 * time.Second)))
	b.Body().SetStr("cart loaded")
	b.SetSeverityText("info")
	return ld
}

// sampleMetrics has one metric of each kind the receiver converts.
func sampleMetrics() pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	ra := rm.Resource().Attributes()
	ra.PutStr("service.name", "checkout")
	ra.PutStr("service.namespace", "shop")
	ra.PutStr("service.instance.id", "pod-1")
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()

	g := ms.AppendEmpty()
	g.SetName("process.memory.usage")
	g.SetUnit("By")
	dp := g.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(ts(t0))
	dp.SetIntValue(1024)

	c := ms.AppendEmpty()
	c.SetName("http.server.requests")
	c.SetUnit("{request}")
	s := c.SetEmptySum()
	s.SetIsMonotonic(true)
	s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	dp = s.DataPoints().AppendEmpty()
	dp.SetTimestamp(ts(t0))
	dp.SetDoubleValue(42)
	dp.Attributes().PutStr("http.route", "/pay")

	h := ms.AppendEmpty()
	h.SetName("http.server.request.duration")
	h.SetUnit("s")
	hist := h.SetEmptyHistogram()
	hist.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	hp := hist.DataPoints().AppendEmpty()
	hp.SetTimestamp(ts(t0))
	hp.ExplicitBounds().FromRaw([]float64{0.1, 0.5})
	hp.BucketCounts().FromRaw([]uint64{3, 2, 1})
	hp.SetCount(6)
	hp.SetSum(2.5)
	return md
}

// call builds a client span in caller and its server child in callee.
type call struct {
	trace          uint16
	client, server byte // span ids (last byte)
	// side, when set to "client" or "server", builds that side only.
	side             string
	caller, callee   string
	start            time.Time
	dur              time.Duration
	clientErr, sErr  bool
	peerKey, peerVal string
}

// traces turns calls into one Traces value with a resource per service.
func traces(calls ...call) ptrace.Traces {
	td := ptrace.NewTraces()
	byService := map[string]ptrace.SpanSlice{}
	spans := func(svc string) ptrace.SpanSlice {
		if s, ok := byService[svc]; ok {
			return s
		}
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc)
		s := rs.ScopeSpans().AppendEmpty().Spans()
		byService[svc] = s
		return s
	}
	for _, c := range calls {
		tid := pcommon.TraceID{14: byte(c.trace >> 8), 15: byte(c.trace)}
		if c.side != "server" {
			sp := spans(c.caller).AppendEmpty()
			sp.SetTraceID(tid)
			sp.SetSpanID(pcommon.SpanID{7: c.client})
			sp.SetParentSpanID(pcommon.SpanID{7: 0xff})
			sp.SetKind(ptrace.SpanKindClient)
			sp.SetName("call " + c.callee)
			sp.SetStartTimestamp(ts(c.start))
			sp.SetEndTimestamp(ts(c.start.Add(c.dur)))
			if c.clientErr {
				sp.Status().SetCode(ptrace.StatusCodeError)
			}
			if c.peerKey != "" {
				sp.Attributes().PutStr(c.peerKey, c.peerVal)
			}
		}
		if c.side != "client" {
			sp := spans(c.callee).AppendEmpty()
			sp.SetTraceID(tid)
			sp.SetSpanID(pcommon.SpanID{7: c.server})
			sp.SetParentSpanID(pcommon.SpanID{7: c.client})
			sp.SetKind(ptrace.SpanKindServer)
			sp.SetName("serve")
			sp.SetStartTimestamp(ts(c.start.Add(c.dur / 10)))
			sp.SetEndTimestamp(ts(c.start.Add(c.dur * 9 / 10)))
			if c.sErr {
				sp.Status().SetCode(ptrace.StatusCodeError)
			}
		}
	}
	return td
}

// gather flattens reg into "name{label=\"value\",...}" → value, labels
// sorted by name; histograms give name_count. prometheus/testutil is not
// used because it needs a module go.mod does not list.
func gather(t testing.TB, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := make(map[string]float64)
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(ls)
			labels := ""
			if len(ls) > 0 {
				labels = "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case m.GetCounter() != nil:
				out[mf.GetName()+labels] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[mf.GetName()+labels] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				out[mf.GetName()+"_count"+labels] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}
