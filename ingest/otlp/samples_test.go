package otlp

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/vigilops/vigil/telemetry"
)

// render prints samples as `labels value` lines for comparison.
func render(xs []telemetry.Sample) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		out = append(out, fmt.Sprintf("%s %v", x.Labels, x.V))
	}
	return out
}

func TestMetricMapping(t *testing.T) {
	// L renders a sample as render does, labels given in any order.
	L := func(v any, nv ...string) string {
		return fmt.Sprintf("%s %v", telemetry.LabelsFromStrings(nv...), v)
	}
	tests := []struct {
		name   string
		build  func(m pmetric.Metric)
		want   []string
		reject []reason
		skip   int
	}{
		{"int gauge", func(m pmetric.Metric) {
			m.SetName("queue.size")
			dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
			dp.SetIntValue(7)
			dp.Attributes().PutStr("queue", "orders")
		}, []string{L(7, "__name__", "queue_size", "job", "shop/checkout", "service", "checkout", "queue", "orders")}, nil, 0},
		{"double gauge ratio", func(m pmetric.Metric) {
			m.SetName("cpu.utilization")
			m.SetUnit("1")
			m.SetEmptyGauge().DataPoints().AppendEmpty().SetDoubleValue(0.25)
		}, []string{L(0.25, "__name__", "cpu_utilization_ratio", "job", "shop/checkout", "service", "checkout")}, nil, 0},
		{"monotonic cumulative sum is a counter", func(m pmetric.Metric) {
			m.SetName("http.server.requests")
			s := m.SetEmptySum()
			s.SetIsMonotonic(true)
			s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			s.DataPoints().AppendEmpty().SetIntValue(10)
		}, []string{L(10, "__name__", "http_server_requests_total", "job", "shop/checkout", "service", "checkout")}, nil, 0},
		{"non-monotonic sum is a gauge", func(m pmetric.Metric) {
			m.SetName("db.connections")
			s := m.SetEmptySum()
			s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			s.DataPoints().AppendEmpty().SetIntValue(-2)
		}, []string{L(-2, "__name__", "db_connections", "job", "shop/checkout", "service", "checkout")}, nil, 0},
		{"delta sum rejected", func(m pmetric.Metric) {
			m.SetName("x")
			s := m.SetEmptySum()
			s.SetIsMonotonic(true)
			s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
			s.DataPoints().AppendEmpty().SetIntValue(1)
			s.DataPoints().AppendEmpty().SetIntValue(2)
		}, nil, []reason{reasonDelta, reasonDelta}, 0},
		{"unspecified temporality rejected", func(m pmetric.Metric) {
			m.SetName("x")
			m.SetEmptySum().DataPoints().AppendEmpty().SetIntValue(1)
		}, nil, []reason{reasonUnspecifiedTemporality}, 0},
		{"histogram", func(m pmetric.Metric) {
			m.SetName("rpc.duration")
			m.SetUnit("ms")
			h := m.SetEmptyHistogram()
			h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			dp := h.DataPoints().AppendEmpty()
			dp.Attributes().PutStr("le", "ignored") // reserved for buckets
			dp.ExplicitBounds().FromRaw([]float64{5, 10.5})
			dp.BucketCounts().FromRaw([]uint64{1, 2, 3})
			dp.SetCount(6)
			dp.SetSum(70)
		}, []string{
			L(1, "__name__", "rpc_duration_milliseconds_bucket", "job", "shop/checkout", "service", "checkout", "le", "5"),
			L(3, "__name__", "rpc_duration_milliseconds_bucket", "job", "shop/checkout", "service", "checkout", "le", "10.5"),
			L(6, "__name__", "rpc_duration_milliseconds_bucket", "job", "shop/checkout", "service", "checkout", "le", "+Inf"),
			L(70, "__name__", "rpc_duration_milliseconds_sum", "job", "shop/checkout", "service", "checkout"),
			L(6, "__name__", "rpc_duration_milliseconds_count", "job", "shop/checkout", "service", "checkout"),
		}, nil, 0},
		{"histogram without buckets or sum", func(m pmetric.Metric) {
			m.SetName("h")
			h := m.SetEmptyHistogram()
			h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			h.DataPoints().AppendEmpty().SetCount(4)
		}, []string{
			L(4, "__name__", "h_bucket", "job", "shop/checkout", "service", "checkout", "le", "+Inf"),
			L(4, "__name__", "h_count", "job", "shop/checkout", "service", "checkout"),
		}, nil, 0},
		{"delta histogram rejected", func(m pmetric.Metric) {
			m.SetName("h")
			h := m.SetEmptyHistogram()
			h.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
			h.DataPoints().AppendEmpty()
		}, nil, []reason{reasonDelta}, 0},
		{"histogram with mismatched buckets", func(m pmetric.Metric) {
			m.SetName("h")
			h := m.SetEmptyHistogram()
			h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			dp := h.DataPoints().AppendEmpty()
			dp.ExplicitBounds().FromRaw([]float64{1})
			dp.BucketCounts().FromRaw([]uint64{1})
		}, nil, []reason{reasonBadDistribution}, 0},
		{"histogram with decreasing bounds", func(m pmetric.Metric) {
			m.SetName("h")
			h := m.SetEmptyHistogram()
			h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			dp := h.DataPoints().AppendEmpty()
			dp.ExplicitBounds().FromRaw([]float64{2, 1})
			dp.BucketCounts().FromRaw([]uint64{1, 1, 1})
		}, nil, []reason{reasonBadDistribution}, 0},
		{"histogram with NaN sum", func(m pmetric.Metric) {
			m.SetName("h")
			h := m.SetEmptyHistogram()
			h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			h.DataPoints().AppendEmpty().SetSum(math.NaN())
		}, nil, []reason{reasonNonFinite}, 0},
		{"summary", func(m pmetric.Metric) {
			m.SetName("gc.pause")
			m.SetUnit("s")
			dp := m.SetEmptySummary().DataPoints().AppendEmpty()
			dp.SetCount(10)
			dp.SetSum(1.5)
			q := dp.QuantileValues()
			q.AppendEmpty().SetQuantile(0.5)
			q.At(0).SetValue(0.1)
			q.AppendEmpty().SetQuantile(0.99)
			q.At(1).SetValue(math.NaN()) // empty window: left out
		}, []string{
			L(0.1, "__name__", "gc_pause_seconds", "job", "shop/checkout", "service", "checkout", "quantile", "0.5"),
			L(1.5, "__name__", "gc_pause_seconds_sum", "job", "shop/checkout", "service", "checkout"),
			L(10, "__name__", "gc_pause_seconds_count", "job", "shop/checkout", "service", "checkout"),
		}, nil, 0},
		{"summary with a bad quantile", func(m pmetric.Metric) {
			m.SetName("s")
			m.SetEmptySummary().DataPoints().AppendEmpty().QuantileValues().AppendEmpty().SetQuantile(1.5)
		}, nil, []reason{reasonBadDistribution}, 0},
		{"exponential histogram rejected", func(m pmetric.Metric) {
			m.SetName("e")
			m.SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
		}, nil, []reason{reasonExponentialHistogram}, 0},
		{"non-finite values rejected", func(m pmetric.Metric) {
			m.SetName("g")
			dps := m.SetEmptyGauge().DataPoints()
			dps.AppendEmpty().SetDoubleValue(math.NaN())
			dps.AppendEmpty().SetDoubleValue(math.Inf(1))
			dps.AppendEmpty().SetDoubleValue(1)
			dps.AppendEmpty() // no value at all
		}, []string{L(1, "__name__", "g", "job", "shop/checkout", "service", "checkout")}, []reason{reasonNonFinite, reasonNonFinite, reasonNoValue}, 0},
		{"no recorded value skipped", func(m pmetric.Metric) {
			m.SetName("g")
			dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
			dp.SetDoubleValue(3)
			dp.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
		}, nil, nil, 1},
		{"unusable name", func(m pmetric.Metric) {
			m.SetName("...")
			m.SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(1)
		}, nil, []reason{reasonBadName}, 0},
		{"too many attributes", func(m pmetric.Metric) {
			m.SetName("g")
			dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
			dp.SetIntValue(1)
			for i := range 5 {
				dp.Attributes().PutInt(fmt.Sprint("a", i), int64(i))
			}
		}, nil, []reason{reasonTooManyAttributes}, 0},
		{"attribute names: collisions, reserved, resource wins", func(m pmetric.Metric) {
			m.SetName("g")
			dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
			dp.SetIntValue(1)
			a := dp.Attributes()
			a.PutStr("a_b", "2") // written first, sorts second by key
			a.PutStr("a.b", "1")
			a.PutStr("service", "spoofed")
			a.PutStr("__name__", "spoofed")
		}, []string{L(1, "__name__", "g", "a_b", "1;2", "job", "shop/checkout", "service", "checkout", "key__name__", "spoofed")}, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			md := pmetric.NewMetrics()
			rm := md.ResourceMetrics().AppendEmpty()
			rm.Resource().Attributes().PutStr("service.name", "checkout")
			rm.Resource().Attributes().PutStr("service.namespace", "shop")
			tc.build(rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty())
			var rej rejections
			c := testConverter()
			got, points := c.samples(md, t0, &rej)
			if g := render(got); !slices.Equal(g, tc.want) {
				t.Fatalf("samples\n%q\nwant\n%q", g, tc.want)
			}
			var why []reason
			for r, n := range rej.byWhy {
				for range n {
					why = append(why, reason(r))
				}
			}
			slices.Sort(why)
			wantWhy := slices.Sorted(slices.Values(tc.reject))
			if !slices.Equal(why, wantWhy) || rej.skipped != tc.skip {
				t.Fatalf("rejections %v skipped %d, want %v and %d (%+v)", why, rej.skipped, wantWhy, tc.skip, rej.res.Rejected)
			}
			if points != md.DataPointCount() {
				t.Fatalf("points %d", points)
			}
			for _, s := range got {
				if !s.Labels.Valid() || s.T != t0.UnixMilli() {
					t.Fatalf("sample %v at %d: labels must be sorted and unset times be now", s.Labels, s.T)
				}
			}
		})
	}
}

func TestMetricJobInstance(t *testing.T) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("k8s.deployment.name", "cart")
	rm.Resource().Attributes().PutStr("service.instance.id", "cart-7f9")
	g := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	g.SetName("up")
	dp := g.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetIntValue(1)
	dp.SetTimestamp(pcommon.Timestamp(1_700_000_000_123_456_789))
	var rej rejections
	c := testConverter()
	got, _ := c.samples(md, t0, &rej)
	want := []string{`{__name__="up", instance="cart-7f9", job="cart", service="cart"} 1`}
	if g := render(got); !slices.Equal(g, want) || got[0].T != 1_700_000_000_123 {
		t.Fatalf("got %q at %d, want %q", g, got[0].T, want)
	}
}
