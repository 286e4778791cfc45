package promwrite

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// TestNonContiguousLabels encodes labels interleaved with samples, which
// no known sender does but the format allows.
func TestNonContiguousLabels(t *testing.T) {
	label := func(b []byte, name, value string) []byte {
		var m []byte
		m = protowire.AppendTag(m, labelName, protowire.BytesType)
		m = protowire.AppendString(m, name)
		m = protowire.AppendTag(m, labelValue, protowire.BytesType)
		m = protowire.AppendString(m, value)
		b = protowire.AppendTag(b, tsLabels, protowire.BytesType)
		return protowire.AppendBytes(b, m)
	}
	sample := func(b []byte, v float64, ts int64) []byte {
		var m []byte
		// Timestamp first: off the fast path on purpose.
		m = protowire.AppendTag(m, sampleTimestamp, protowire.VarintType)
		m = protowire.AppendVarint(m, uint64(ts))
		m = protowire.AppendTag(m, sampleValue, protowire.Fixed64Type)
		m = protowire.AppendFixed64(m, math.Float64bits(v))
		b = protowire.AppendTag(b, tsSamples, protowire.BytesType)
		return protowire.AppendBytes(b, m)
	}
	var ts []byte
	ts = label(ts, "__name__", "m")
	ts = sample(ts, 1, nowMs-1)
	ts = label(ts, "job", "j")
	ts = protowire.AppendTag(ts, 15, protowire.VarintType) // unknown field
	ts = protowire.AppendVarint(ts, 42)
	ts = sample(ts, 2, nowMs)
	var req []byte
	req = protowire.AppendTag(req, v1Timeseries, protowire.BytesType)
	req = protowire.AppendBytes(req, ts)

	contiguous := marshalV1(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels: lbls("__name__", "m", "job", "j"), Samples: []prompb.Sample{{Value: 1, Timestamp: nowMs - 1}, {Value: 2, Timestamp: nowMs}},
	}}})
	for _, body := range [][]byte{req, contiguous} {
		var c capture
		r, _ := newTestReceiver(t, &c, nil)
		if w := post(r.Routes()[0].Handler, body); w.Code != 204 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		got := c.samples()
		if len(got) != 2 || got[0].Labels.String() != `{__name__="m", job="j", service="j"}` || got[0].V != 1 || got[1].V != 2 || got[1].T != nowMs {
			t.Fatalf("got %v", got)
		}
	}
}

func TestMalformedSeriesIsolated(t *testing.T) {
	good := prompb.TimeSeries{Labels: lbls("__name__", "m"), Samples: []prompb.Sample{{Value: 1, Timestamp: nowMs}}}
	goodBytes, _ := good.Marshal()
	var req []byte
	req = protowire.AppendTag(req, v1Timeseries, protowire.BytesType)
	req = protowire.AppendBytes(req, goodBytes)
	// A series whose own content is broken (a label field whose length
	// runs past the series) but whose framing in the request is sound.
	req = protowire.AppendTag(req, v1Timeseries, protowire.BytesType)
	req = protowire.AppendBytes(req, []byte{0x0a, 0x7f, 0x01})
	req = protowire.AppendTag(req, v1Timeseries, protowire.BytesType)
	req = protowire.AppendBytes(req, goodBytes)

	var c capture
	r, _ := newTestReceiver(t, &c, nil)
	w := post(r.Routes()[0].Handler, req)
	if w.Code != 400 {
		t.Fatalf("status %d", w.Code)
	}
	a := decodeAnswer(t, w)
	if a.Accepted != 2 || len(a.Rejected) != 1 || a.Rejected[0].Index != 1 {
		t.Fatalf("answer %+v", a)
	}
	if len(c.samples()) != 2 {
		t.Fatalf("delivered %d samples, want 2", len(c.samples()))
	}
}

func TestWithService(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{`job=api`, `{job="api", service="api"}`},
		{`service=cart job=api`, `{job="api", service="cart"}`},
		{`service_name=pay job=api`, `{job="api", service="pay", service_name="pay"}`},
		{`app=web container=c`, `{app="web", container="c", service="web"}`},
		{`app_kubernetes_io_name=shop container=c`, `{app_kubernetes_io_name="shop", container="c", service="shop"}`},
		{`container=c`, `{container="c", service="c"}`},
		{`instance=x`, `{instance="x"}`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			m := map[string]string{}
			for _, kv := range strings.Fields(tc.in) {
				k, v, _ := strings.Cut(kv, "=")
				m[k] = v
			}
			got := WithService(telemetry.LabelsFromMap(m), DefaultServiceLabels)
			if got.String() != tc.want || !got.Valid() {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("New without Sink succeeded")
	}
	if _, err := New(Options{Sink: ingest.SinkFuncs{}, BatchSize: -1}); err == nil {
		t.Fatal("negative BatchSize accepted")
	}
	r, err := New(Options{Sink: ingest.SinkFuncs{}})
	if err != nil {
		t.Fatal(err)
	}
	if r.opts.BatchSize != 10_000 || r.opts.MaxFutureSkew != 10*time.Minute || r.Name() != "promwrite" {
		t.Fatalf("defaults not applied: %+v", r.opts)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestVersion(t *testing.T) {
	tests := []struct {
		contentType, want string
		ok                bool
	}{
		{"", "1.0", true},
		{"application/x-protobuf", "1.0", true},
		{"application/x-protobuf;proto=prometheus.WriteRequest", "1.0", true},
		{"application/x-protobuf; proto=io.prometheus.write.v2.Request", "2.0", true},
		{"application/x-protobuf;proto=io.prometheus.write.v3.Request", "", false},
		{"application/json", "", false},
		{"application/x-protobuf; proto", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.contentType, func(t *testing.T) {
			got, err := version(tc.contentType)
			if got != tc.want || (err == nil) != tc.ok {
				t.Fatalf("got %q, %v", got, err)
			}
			if err != nil && !errors.Is(err, ErrUnsupportedMessage) {
				t.Fatalf("error %v is not ErrUnsupportedMessage", err)
			}
		})
	}
}
