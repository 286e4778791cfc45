package otlp

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/vigilops/vigil/telemetry"
)

// converter turns decoded OTLP data into Vigil's values, within bounds. It
// holds no state, so one value serves concurrent requests.
type converter struct {
	maxLineBytes  int
	maxFields     int
	maxFieldBytes int
	maxLabels     int
	unitSuffix    bool
}

// Field names added beside the record's own attributes.
const (
	fieldTraceID      = "trace_id"
	fieldSpanID       = "span_id"
	fieldDroppedAttrs = "otlp.dropped_attributes"
)

// logs converts every record of ld. A record is numbered for rejections in
// the request's order (resource, scope, record), counting from 0.
//
// Mapping: Time is timeUnixNano, else observedTimeUnixNano, else now.
// Service and Labels come from the resource (see serviceName and
// logLabelAttrs). Raw is the body as text: a string as is, a map or array
// as compact JSON, bytes as base64; an empty body falls back to the event
// name. Level is from severityNumber when set, else severityText. Fields
// are the record's attributes flattened to dotted keys (bounded by
// MaxFields and MaxFieldBytes), plus trace_id and span_id in hex when set.
func (c *converter) logs(ld plog.Logs, now time.Time, rej *rejections) []telemetry.LogRecord {
	out := make([]telemetry.LogRecord, 0, ld.LogRecordCount())
	idx := 0
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		ri := newResourceInfo(rl.Resource().Attributes(), true)
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				if rec, ok := c.logRecord(lrs.At(k), &ri, now, idx, rej); ok {
					out = append(out, rec)
				}
				idx++
			}
		}
	}
	return out
}

func (c *converter) logRecord(lr plog.LogRecord, ri *resourceInfo, now time.Time, idx int, rej *rejections) (telemetry.LogRecord, bool) {
	raw := bodyString(lr.Body())
	if raw == "" {
		raw = lr.EventName()
	}
	if len(raw) > c.maxLineBytes {
		rej.add(idx, reasonRecordTooLarge, fmt.Sprintf("log record body of %d bytes exceeds the limit of %d", len(raw), c.maxLineBytes))
		return telemetry.LogRecord{}, false
	}
	rec := telemetry.LogRecord{
		Time:    recordTime(lr.Timestamp(), lr.ObservedTimestamp(), now),
		Service: ri.service,
		Labels:  ri.logLabels,
		Raw:     raw,
		Level:   severity(lr.SeverityNumber(), lr.SeverityText()),
	}
	attrs := lr.Attributes()
	tid, sid := lr.TraceID(), lr.SpanID()
	extra := 0
	if !tid.IsEmpty() {
		extra++
	}
	if !sid.IsEmpty() {
		extra++
	}
	if attrs.Len() == 0 && extra == 0 && lr.DroppedAttributesCount() == 0 {
		return rec, true
	}
	f := fieldSink{
		m:        make(map[string]string, min(attrs.Len(), c.maxFields)+extra),
		max:      c.maxFields,
		maxBytes: c.maxFieldBytes,
	}
	f.flatten("", attrs, 0)
	// trace and span ids are set after the attributes so that they win
	// over an attribute of the same name and are never cut by the bound:
	// they are what joins a log line to its trace.
	if !tid.IsEmpty() {
		f.m[fieldTraceID] = tid.String()
	}
	if !sid.IsEmpty() {
		f.m[fieldSpanID] = sid.String()
	}
	if d := f.dropped + int(lr.DroppedAttributesCount()); d > 0 {
		f.m[fieldDroppedAttrs] = strconv.Itoa(d)
	}
	rec.Fields = f.m
	return rec, true
}

// bodyString renders a log body as the raw line.
func bodyString(v pcommon.Value) string {
	if v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	if v.Type() == pcommon.ValueTypeEmpty {
		return ""
	}
	return valueString(v)
}

// recordTime picks the record's time: when it happened, else when a
// collector observed it, else now. Values beyond int64 nanoseconds (after
// 2262) are treated as unset rather than wrapped into the past.
func recordTime(ts, observed pcommon.Timestamp, now time.Time) time.Time {
	for _, t := range [...]pcommon.Timestamp{ts, observed} {
		if t != 0 && uint64(t) <= math.MaxInt64 {
			return time.Unix(0, int64(t)).UTC()
		}
	}
	return now.UTC()
}

// severity maps OTLP severity to a Level. severityNumber is the normalised
// one (1–4 trace, 5–8 debug, 9–12 info, 13–16 warn, 17–20 error, 21–24
// fatal) and wins when set; severityText is the source's own spelling,
// parsed by telemetry.ParseLevel ("WARNING", "Err", ...).
func severity(n plog.SeverityNumber, text string) telemetry.Level {
	if l := telemetry.LevelFromSeverityNumber(int(n)); l != telemetry.LevelUnknown {
		return l
	}
	if text == "" {
		return telemetry.LevelUnknown
	}
	return telemetry.ParseLevel(text)
}
