package otlp

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/vigilops/vigil/telemetry"
)

// Label names set from the resource. They win over data point attributes
// of the same name, as target labels do in Prometheus.
const (
	labelService  = "service"
	labelJob      = "job"
	labelInstance = "instance"
)

// Rejection details that tell the sender what to change.
const (
	detailDelta = "delta temporality is not supported: export cumulative metrics " +
		"(SDK temporality preference, or the collector's deltatocumulative processor)"
	detailExpHistogram = "exponential histograms are not supported: export explicit-bucket histograms"
)

// samples converts every data point of md into samples (naming in
// naming.go) and returns them with the number of data points in md. Data
// points are numbered for rejections in the request's order (resource,
// scope, metric, point), counting from 0, whatever their type.
//
// Policy: gauges and sums need a finite value; sums and histograms must be
// cumulative (delta and unspecified temporality are rejected per point, as
// converting delta needs per-series state across requests); exponential
// histograms are rejected; points flagged NO_RECORDED_VALUE are skipped
// (counted, not rejected: they are staleness markers, not data). Summary
// quantiles whose value is not finite (NaN is what an empty summary window
// reports) are left out while the point's _sum and _count are kept.
func (c *converter) samples(md pmetric.Metrics, now time.Time, rej *rejections) ([]telemetry.Sample, int) {
	points := md.DataPointCount()
	out := make([]telemetry.Sample, 0, points)
	nowMs := now.UnixMilli()
	idx := 0
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		ri := newResourceInfo(rm.Resource().Attributes(), false)
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				out = c.metric(out, ms.At(k), &ri, nowMs, &idx, rej)
			}
		}
	}
	return out, points
}

func (c *converter) metric(out []telemetry.Sample, m pmetric.Metric, ri *resourceInfo, nowMs int64, idx *int, rej *rejections) []telemetry.Sample {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		name := promMetricName(m.Name(), m.Unit(), kindGauge, c.unitSuffix)
		return c.numberPoints(out, m.Gauge().DataPoints(), name, m.Name(), pmetric.AggregationTemporalityCumulative, ri, nowMs, idx, rej)
	case pmetric.MetricTypeSum:
		s := m.Sum()
		kind := kindGauge
		if s.IsMonotonic() {
			kind = kindCounter
		}
		name := promMetricName(m.Name(), m.Unit(), kind, c.unitSuffix)
		return c.numberPoints(out, s.DataPoints(), name, m.Name(), s.AggregationTemporality(), ri, nowMs, idx, rej)
	case pmetric.MetricTypeHistogram:
		h := m.Histogram()
		name := promMetricName(m.Name(), m.Unit(), kindOther, c.unitSuffix)
		dps := h.DataPoints()
		for i := 0; i < dps.Len(); i++ {
			out = c.histogramPoint(out, dps.At(i), name, m.Name(), h.AggregationTemporality(), ri, nowMs, *idx, rej)
			*idx++
		}
	case pmetric.MetricTypeSummary:
		name := promMetricName(m.Name(), m.Unit(), kindOther, c.unitSuffix)
		dps := m.Summary().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			out = c.summaryPoint(out, dps.At(i), name, m.Name(), ri, nowMs, *idx, rej)
			*idx++
		}
	case pmetric.MetricTypeExponentialHistogram:
		n := m.ExponentialHistogram().DataPoints().Len()
		for i := 0; i < n; i++ {
			rej.add(*idx, reasonExponentialHistogram, fmt.Sprintf("metric %q: %s", m.Name(), detailExpHistogram))
			*idx++
		}
	}
	return out
}

// checkPoint applies what every data point type shares: a usable name, a
// cumulative temporality, the attribute bound and the NO_RECORDED_VALUE
// flag. It returns the point's labels (with __name__) when the point is to
// be converted.
func (c *converter) checkPoint(name, orig string, temp pmetric.AggregationTemporality, flags pmetric.DataPointFlags,
	attrs pcommon.Map, ri *resourceInfo, idx int, rej *rejections) (telemetry.Labels, bool) {
	switch {
	case name == "":
		rej.add(idx, reasonBadName, fmt.Sprintf("metric name %q has no characters usable in a Prometheus name", orig))
		return nil, false
	case temp == pmetric.AggregationTemporalityDelta:
		rej.add(idx, reasonDelta, fmt.Sprintf("metric %q: %s", orig, detailDelta))
		return nil, false
	case temp != pmetric.AggregationTemporalityCumulative:
		rej.add(idx, reasonUnspecifiedTemporality, fmt.Sprintf("metric %q: aggregation temporality is unspecified", orig))
		return nil, false
	case flags.NoRecordedValue():
		rej.skipped++
		return nil, false
	case attrs.Len() > c.maxLabels:
		rej.add(idx, reasonTooManyAttributes, fmt.Sprintf("metric %q: %d attributes exceed the limit of %d", orig, attrs.Len(), c.maxLabels))
		return nil, false
	}
	return pointLabels(attrs, ri, name), true
}

func (c *converter) numberPoints(out []telemetry.Sample, dps pmetric.NumberDataPointSlice, name, orig string,
	temp pmetric.AggregationTemporality, ri *resourceInfo, nowMs int64, idx *int, rej *rejections) []telemetry.Sample {
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		at := *idx
		*idx++
		ls, ok := c.checkPoint(name, orig, temp, dp.Flags(), dp.Attributes(), ri, at, rej)
		if !ok {
			continue
		}
		var v float64
		switch dp.ValueType() {
		case pmetric.NumberDataPointValueTypeInt:
			v = float64(dp.IntValue())
		case pmetric.NumberDataPointValueTypeDouble:
			v = dp.DoubleValue()
		default:
			rej.add(at, reasonNoValue, fmt.Sprintf("metric %q: data point has no value", orig))
			continue
		}
		if !finite(v) {
			rej.add(at, reasonNonFinite, fmt.Sprintf("metric %q: value %v is not finite", orig, v))
			continue
		}
		out = append(out, telemetry.Sample{Labels: ls, T: pointMillis(dp.Timestamp(), nowMs), V: v})
	}
	return out
}

func (c *converter) histogramPoint(out []telemetry.Sample, dp pmetric.HistogramDataPoint, name, orig string,
	temp pmetric.AggregationTemporality, ri *resourceInfo, nowMs int64, idx int, rej *rejections) []telemetry.Sample {
	ls, ok := c.checkPoint(name, orig, temp, dp.Flags(), dp.Attributes(), ri, idx, rej)
	if !ok {
		return out
	}
	ls = without(ls, "le")
	bounds, counts := dp.ExplicitBounds(), dp.BucketCounts()
	if counts.Len() != 0 && counts.Len() != bounds.Len()+1 {
		rej.add(idx, reasonBadDistribution, fmt.Sprintf("metric %q: %d bucket counts for %d bounds, want %d", orig, counts.Len(), bounds.Len(), bounds.Len()+1))
		return out
	}
	for i := 0; i < bounds.Len(); i++ {
		if b := bounds.At(i); !finite(b) || i > 0 && b <= bounds.At(i-1) {
			rej.add(idx, reasonBadDistribution, fmt.Sprintf("metric %q: bucket bounds must be finite and increasing", orig))
			return out
		}
	}
	if dp.HasSum() && !finite(dp.Sum()) {
		rej.add(idx, reasonNonFinite, fmt.Sprintf("metric %q: sum %v is not finite", orig, dp.Sum()))
		return out
	}
	t := pointMillis(dp.Timestamp(), nowMs)
	bucket := name + "_bucket"
	var cum uint64
	for i := 0; i < counts.Len()-1; i++ {
		cum += counts.At(i)
		out = append(out, telemetry.Sample{Labels: derive(ls, bucket, "le", formatFloat(bounds.At(i))), T: t, V: float64(cum)})
	}
	// The +Inf bucket is the count, whatever the buckets add up to, so
	// that it always equals _count as Prometheus requires.
	out = append(out, telemetry.Sample{Labels: derive(ls, bucket, "le", "+Inf"), T: t, V: float64(dp.Count())})
	if dp.HasSum() {
		out = append(out, telemetry.Sample{Labels: derive(ls, name+"_sum", "", ""), T: t, V: dp.Sum()})
	}
	return append(out, telemetry.Sample{Labels: derive(ls, name+"_count", "", ""), T: t, V: float64(dp.Count())})
}

func (c *converter) summaryPoint(out []telemetry.Sample, dp pmetric.SummaryDataPoint, name, orig string,
	ri *resourceInfo, nowMs int64, idx int, rej *rejections) []telemetry.Sample {
	// Summaries have no temporality field: they are cumulative by
	// definition.
	ls, ok := c.checkPoint(name, orig, pmetric.AggregationTemporalityCumulative, dp.Flags(), dp.Attributes(), ri, idx, rej)
	if !ok {
		return out
	}
	ls = without(ls, "quantile")
	qs := dp.QuantileValues()
	for i := 0; i < qs.Len(); i++ {
		if q := qs.At(i).Quantile(); !(q >= 0 && q <= 1) {
			rej.add(idx, reasonBadDistribution, fmt.Sprintf("metric %q: quantile %v is outside [0, 1]", orig, q))
			return out
		}
	}
	if !finite(dp.Sum()) {
		rej.add(idx, reasonNonFinite, fmt.Sprintf("metric %q: sum %v is not finite", orig, dp.Sum()))
		return out
	}
	t := pointMillis(dp.Timestamp(), nowMs)
	for i := 0; i < qs.Len(); i++ {
		q := qs.At(i)
		if !finite(q.Value()) {
			continue
		}
		out = append(out, telemetry.Sample{Labels: derive(ls, name, "quantile", formatFloat(q.Quantile())), T: t, V: q.Value()})
	}
	out = append(out, telemetry.Sample{Labels: derive(ls, name+"_sum", "", ""), T: t, V: dp.Sum()})
	return append(out, telemetry.Sample{Labels: derive(ls, name+"_count", "", ""), T: t, V: float64(dp.Count())})
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// pointMillis converts a data point time to milliseconds; an unset time is
// the receive time.
func pointMillis(ts pcommon.Timestamp, nowMs int64) int64 {
	if ts == 0 {
		return nowMs
	}
	return int64(uint64(ts) / uint64(time.Millisecond))
}

// pointLabels builds a data point's sorted labels: __name__, the
// attributes (names sanitized, see naming.go), then service, job and
// instance from the resource, which win over attributes of those names.
// Empty values are left out, as Prometheus treats them as absent.
func pointLabels(attrs pcommon.Map, ri *resourceInfo, name string) telemetry.Labels {
	ls := make(telemetry.Labels, 0, attrs.Len()+4)
	ls = append(ls, telemetry.Label{Name: telemetry.MetricNameLabel, Value: name})
	attrs.Range(func(k string, v pcommon.Value) bool {
		n := sanitizeLabelName(k)
		if n == "" || n == labelService || n == labelJob || n == labelInstance && ri.instance != "" {
			return true
		}
		if val := valueString(v); val != "" {
			ls = append(ls, telemetry.Label{Name: n, Value: val})
		}
		return true
	})
	ls = append(ls, telemetry.Label{Name: labelService, Value: ri.service}, telemetry.Label{Name: labelJob, Value: ri.job})
	if ri.instance != "" {
		ls = append(ls, telemetry.Label{Name: labelInstance, Value: ri.instance})
	}
	slices.SortFunc(ls, func(a, b telemetry.Label) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(ls); i++ {
		if ls[i].Name == ls[i-1].Name {
			return mergeCollisions(attrs, ri, name, ls)
		}
	}
	return ls
}

// mergeCollisions is the slow path of pointLabels for attributes whose
// names collide once sanitized ("a.b" and "a_b"): their values are joined
// with ';' in the order of the original keys, so the result does not
// depend on the order the sender wrote them in.
func mergeCollisions(attrs pcommon.Map, ri *resourceInfo, name string, ls telemetry.Labels) telemetry.Labels {
	type kv struct{ name, key, value string }
	all := make([]kv, 0, attrs.Len())
	attrs.Range(func(k string, v pcommon.Value) bool {
		n := sanitizeLabelName(k)
		if n == "" || n == labelService || n == labelJob || n == labelInstance && ri.instance != "" {
			return true
		}
		if val := valueString(v); val != "" {
			all = append(all, kv{n, k, val})
		}
		return true
	})
	slices.SortFunc(all, func(a, b kv) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	out := ls[:0]
	out = append(out, telemetry.Label{Name: telemetry.MetricNameLabel, Value: name})
	for _, e := range all {
		if last := &out[len(out)-1]; last.Name == e.name {
			last.Value += ";" + e.value
			continue
		}
		out = append(out, telemetry.Label{Name: e.name, Value: e.value})
	}
	out = append(out, telemetry.Label{Name: labelService, Value: ri.service}, telemetry.Label{Name: labelJob, Value: ri.job})
	if ri.instance != "" {
		out = append(out, telemetry.Label{Name: labelInstance, Value: ri.instance})
	}
	slices.SortFunc(out, func(a, b telemetry.Label) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// without drops the label name, which histograms (le) and summaries
// (quantile) reserve: an attribute of that name would clash with the
// buckets' own, and a _sum or _count carrying it would name another series.
func without(ls telemetry.Labels, name string) telemetry.Labels {
	for i := range ls {
		if ls[i].Name == name {
			return slices.Delete(ls, i, i+1)
		}
	}
	return ls
}

// derive returns a copy of ls (which holds __name__) with __name__ set to
// name and, when extra is not "", the label extra=value set (le for
// buckets, quantile for summaries).
func derive(ls telemetry.Labels, name, extra, value string) telemetry.Labels {
	out := make(telemetry.Labels, 0, len(ls)+1)
	done := extra == ""
	for _, l := range ls {
		if !done && l.Name >= extra {
			out = append(out, telemetry.Label{Name: extra, Value: value})
			done = true
			if l.Name == extra {
				continue
			}
		}
		if l.Name == telemetry.MetricNameLabel {
			l.Value = name
		}
		out = append(out, l)
	}
	if !done {
		out = append(out, telemetry.Label{Name: extra, Value: value})
	}
	return out
}
