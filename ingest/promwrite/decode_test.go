package promwrite

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// decodeGogo is the straightforward decoder over the generated prompb
// code, kept as the reference the hand-written decoder is checked against
// (and as the baseline of BenchmarkDecode). It applies the same rules.
func decodeGogo(buf []byte, legacy bool, service []string, maxT int64) ([]telemetry.Sample, ingest.Result, error) {
	var req prompb.WriteRequest
	if err := req.Unmarshal(buf); err != nil {
		return nil, ingest.Result{}, err
	}
	out, res := gogoSamples(&req, legacy, service, maxT)
	return out, res, nil
}

func gogoSamples(req *prompb.WriteRequest, legacy bool, service []string, maxT int64) ([]telemetry.Sample, ingest.Result) {
	var res ingest.Result
	var out []telemetry.Sample
	for i, ts := range req.Timeseries {
		raw := make(telemetry.Labels, len(ts.Labels))
		for j, l := range ts.Labels {
			raw[j] = telemetry.Label{Name: l.Name, Value: l.Value}
		}
		ls, prob := checkLabels(raw, legacy, service)
		if prob != nil {
			res.Reject(i, prob.msg)
			continue
		}
		future := 0
		for _, s := range ts.Samples {
			if maxT != 0 && s.Timestamp > maxT {
				future++
				continue
			}
			out = append(out, telemetry.Sample{Labels: ls, T: s.Timestamp, V: s.Value})
		}
		if future > 0 {
			res.Reject(i, "future")
		} else {
			res.Accepted++
		}
	}
	return out, res
}

// randomRequest builds a request shaped like Prometheus': nseries series
// of a few metrics with realistic labels, samples samples each.
func randomRequest(rng *rand.Rand, nseries, samples int, t0 int64) *prompb.WriteRequest {
	metrics := []string{"http_requests_total", "http_request_duration_seconds_bucket", "process_cpu_seconds_total", "go_goroutines", "node_network_receive_bytes_total"}
	req := &prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, nseries)}
	for i := range req.Timeseries {
		ls := lbls(
			"__name__", metrics[i%len(metrics)],
			"code", fmt.Sprint(200+100*(i%4)),
			"instance", fmt.Sprintf("10.0.%d.%d:8080", i/250%250, i%250),
			"job", fmt.Sprintf("service-%d", i%17),
			"le", fmt.Sprint(0.005*float64(i%11)),
			"method", []string{"GET", "POST", "PUT"}[i%3],
			"namespace", "production",
			"pod", fmt.Sprintf("service-%d-7d9f8c6b5-%05d", i%17, i),
		)
		ss := make([]prompb.Sample, samples)
		for j := range ss {
			ss[j] = prompb.Sample{Value: rng.Float64() * 1000, Timestamp: t0 + int64(j)*15000}
		}
		req.Timeseries[i] = prompb.TimeSeries{Labels: ls, Samples: ss}
	}
	return req
}

func sameSamples(t testing.TB, got, want []telemetry.Sample) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d samples, reference %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.Labels.Equal(w.Labels) || g.T != w.T || math.Float64bits(g.V) != math.Float64bits(w.V) {
			t.Fatalf("sample %d: got %s %d %v, reference %s %d %v", i, g.Labels, g.T, g.V, w.Labels, w.T, w.V)
		}
	}
}

func TestDecodeMatchesGogo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	d := newDecoder(false, DefaultServiceLabels, 1<<20)
	for round := range 20 {
		req := randomRequest(rng, 1+rng.IntN(300), 1+rng.IntN(3), nowMs-60000)
		if round%3 == 0 {
			// Break some series to exercise rejection on both sides.
			req.Timeseries[0].Labels[0].Name = "zzz"
			req.Timeseries[len(req.Timeseries)-1].Samples[0].Timestamp = nowMs + int64(time.Hour/time.Millisecond)
		}
		raw := marshalV1(t, req)
		var b batch
		if err := d.decodeV1(raw, &b, nowMs+600000, 10*time.Minute); err != nil {
			t.Fatal(err)
		}
		ref, res, err := decodeGogo(raw, false, DefaultServiceLabels, nowMs+600000)
		if err != nil {
			t.Fatal(err)
		}
		sameSamples(t, b.samples, ref)
		if b.res.Accepted != res.Accepted || b.res.RejectedCount() != res.RejectedCount() {
			t.Fatalf("round %d: accepted/rejected %d/%d, reference %d/%d", round, b.res.Accepted, b.res.RejectedCount(), res.Accepted, res.RejectedCount())
		}
	}
}

// TestDecodeV2MatchesV1 sends the same series in both versions.
func TestDecodeV2MatchesV1(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	req := randomRequest(rng, 200, 2, nowMs-60000)
	symIdx := map[string]uint32{"": 0}
	v2 := &writev2.Request{Symbols: []string{""}}
	sym := func(s string) uint32 {
		if i, ok := symIdx[s]; ok {
			return i
		}
		symIdx[s] = uint32(len(v2.Symbols))
		v2.Symbols = append(v2.Symbols, s)
		return symIdx[s]
	}
	for _, ts := range req.Timeseries {
		var s2 writev2.TimeSeries
		for _, l := range ts.Labels {
			s2.LabelsRefs = append(s2.LabelsRefs, sym(l.Name), sym(l.Value))
		}
		for _, s := range ts.Samples {
			s2.Samples = append(s2.Samples, writev2.Sample{Value: s.Value, Timestamp: s.Timestamp})
		}
		v2.Timeseries = append(v2.Timeseries, s2)
	}
	raw2, err := v2.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	d := newDecoder(false, DefaultServiceLabels, 1<<20)
	var b1, b2 batch
	if err := d.decodeV1(marshalV1(t, req), &b1, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := d.decodeV2(raw2, &b2, 0, 0); err != nil {
		t.Fatal(err)
	}
	sameSamples(t, b2.samples, b1.samples)
}

func TestDecodeV2Malformed(t *testing.T) {
	tests := []struct {
		name string
		req  *writev2.Request
		want string
	}{
		{"odd refs", &writev2.Request{Symbols: []string{"", "__name__", "m"}, Timeseries: []writev2.TimeSeries{{LabelsRefs: []uint32{1, 2, 1}, Samples: []writev2.Sample{{Value: 1, Timestamp: 1}}}}}, "odd number"},
		{"ref out of range", &writev2.Request{Symbols: []string{"", "__name__", "m"}, Timeseries: []writev2.TimeSeries{{LabelsRefs: []uint32{1, 9}, Samples: []writev2.Sample{{Value: 1, Timestamp: 1}}}}}, "past the symbol table"},
		{"no name", &writev2.Request{Symbols: []string{"", "job", "m"}, Timeseries: []writev2.TimeSeries{{LabelsRefs: []uint32{1, 2}, Samples: []writev2.Sample{{Value: 1, Timestamp: 1}}}}}, "no __name__"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := tc.req.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			d := newDecoder(false, nil, 1<<20)
			var b batch
			if err := d.decodeV2(raw, &b, 0, 0); err != nil {
				t.Fatal(err)
			}
			if len(b.samples) != 0 || len(b.res.Rejected) != 1 || !strings.Contains(b.res.Rejected[0].Reason, tc.want) {
				t.Fatalf("samples %d, rejected %+v", len(b.samples), b.res.Rejected)
			}
		})
	}
}

func TestSeriesCacheBounded(t *testing.T) {
	c := newCache[telemetry.Labels](64 << 10)
	for i := range 100_000 {
		k := fmt.Sprintf("series-%d-with-some-padding-to-look-like-labels", i)
		c.put(k, nil, 100)
		if _, ok := c.get([]byte(k)); !ok {
			t.Fatalf("entry %d not found right after put", i)
		}
	}
	// Two generations of 64 KiB / 2 spread over the shards, at ~200 bytes
	// an entry, hold a few hundred entries, never 100,000.
	if n := c.len(); n > 2000 {
		t.Fatalf("cache holds %d entries", n)
	}
}

func TestDecodeAllocations(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	raw := marshalV1(t, randomRequest(rng, 2000, 1, nowMs))
	d := newDecoder(false, DefaultServiceLabels, 64<<20)
	var b batch
	_ = d.decodeV1(raw, &b, 0, 0) // warm the cache
	allocs := testing.AllocsPerRun(20, func() {
		b.reset()
		if err := d.decodeV1(raw, &b, 0, 0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Fatalf("decoding a cached request allocates %v times", allocs)
	}
}

// FuzzRemoteWrite feeds decompressed bodies to both decoders and to the
// handler. When the generated prompb code accepts a body, ours must
// deliver exactly the same samples.
func FuzzRemoteWrite(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 8))
	f.Add(marshalV1(f, randomRequest(rng, 3, 2, nowMs)), false)
	bad := randomRequest(rng, 2, 1, nowMs)
	bad.Timeseries[0].Labels[1].Name = "a-b"
	f.Add(marshalV1(f, bad), false)
	v2, _ := (&writev2.Request{Symbols: []string{"", "__name__", "m", "job", "x"}, Timeseries: []writev2.TimeSeries{
		{LabelsRefs: []uint32{1, 2, 3, 4}, Samples: []writev2.Sample{{Value: 1, Timestamp: 5}}, Histograms: []writev2.Histogram{{Timestamp: 5}}},
	}}).Marshal()
	f.Add(v2, true)
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00}, false)
	f.Add([]byte{}, true)

	d := newDecoder(false, DefaultServiceLabels, 1<<20)
	var c capture
	r, _ := newTestReceiver(f, &c, nil)
	h := r.Routes()[0].Handler
	f.Fuzz(func(t *testing.T, body []byte, useV2 bool) {
		var b batch
		err := d.decodeV1(body, &b, nowMs, 10*time.Minute)
		checkBatch(t, &b, err)
		var req prompb.WriteRequest
		if req.Unmarshal(body) == nil {
			ref, res := gogoSamples(&req, false, DefaultServiceLabels, nowMs)
			// The generated code tolerates some non-canonical encodings
			// that protowire refuses (a 10-byte varint overflowing 64
			// bits, say), so the comparison is made on the canonical
			// re-encoding of what it read, and on the body as sent only
			// where we found nothing malformed.
			stripUnknown(reflect.ValueOf(&req))
			canon, merr := req.Marshal()
			if merr != nil {
				t.Fatal(merr)
			}
			var bc batch
			if err := d.decodeV1(canon, &bc, nowMs, 10*time.Minute); err != nil {
				t.Fatalf("canonical encoding of a body prompb accepts: %v", err)
			}
			sameSamples(t, bc.samples, ref)
			if bc.res.RejectedCount() != res.RejectedCount() || bc.res.Accepted != res.Accepted {
				t.Fatalf("accepted/rejected %d/%d, reference %d/%d", bc.res.Accepted, bc.res.RejectedCount(), res.Accepted, res.RejectedCount())
			}
			if err == nil && b.malformed == 0 {
				sameSamples(t, b.samples, ref)
			}
		}
		var b2 batch
		checkBatch(t, &b2, d.decodeV2(body, &b2, nowMs, 10*time.Minute))

		ct := "application/x-protobuf"
		if useV2 {
			ct += ";proto=io.prometheus.write.v2.Request"
		}
		c.batches = nil
		w := post(h, body, "Content-Type", ct)
		if w.Code != http.StatusNoContent && w.Code != http.StatusBadRequest {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	})
}

// stripUnknown clears the unknown fields the generated code keeps
// (XXX_unrecognized) throughout a message, so that its re-encoding is
// canonical: it keeps them verbatim, malformed groups included.
func stripUnknown(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			stripUnknown(v.Elem())
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.Uint8 {
			for i := range v.Len() {
				stripUnknown(v.Index(i))
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).Name == "XXX_unrecognized" {
				v.Field(i).SetBytes(nil)
				continue
			}
			if v.Type().Field(i).IsExported() {
				stripUnknown(v.Field(i))
			}
		}
	}
}

// checkBatch asserts the decoder's promises on any input.
func checkBatch(t *testing.T, b *batch, err error) {
	t.Helper()
	if err != nil {
		return
	}
	if b.res.Accepted+b.res.RejectedCount() != b.series {
		t.Fatalf("accepted %d + rejected %d != series %d", b.res.Accepted, b.res.RejectedCount(), b.series)
	}
	for _, s := range b.samples {
		if !s.Labels.Valid() || s.Labels.Get("__name__") == "" || s.T > nowMs {
			t.Fatalf("invalid sample delivered: %s %d", s.Labels, s.T)
		}
	}
}
