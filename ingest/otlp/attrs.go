package otlp

import (
	"encoding/base64"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/vigilops/vigil/telemetry"
)

// unknownService is the name of last resort, as OpenTelemetry SDKs use it.
const unknownService = "unknown_service"

// serviceName names the service a resource belongs to, in this order:
//
//  1. service.name, unless it is an SDK default ("unknown_service" or
//     "unknown_service:<process>"), which says nobody configured it;
//  2. k8s.deployment.name, then k8s.container.name, as the collector's
//     k8sattributes processor adds them;
//  3. the SDK default service.name when there was one, else
//     "unknown_service".
func serviceName(attrs pcommon.Map) string {
	name := attrString(attrs, "service.name")
	if name != "" && !strings.HasPrefix(name, unknownService) {
		return name
	}
	for _, k := range [...]string{"k8s.deployment.name", "k8s.container.name"} {
		if v := attrString(attrs, k); v != "" {
			return v
		}
	}
	if name != "" {
		return name
	}
	return unknownService
}

func attrString(attrs pcommon.Map, key string) string {
	v, ok := attrs.Get(key)
	if !ok {
		return ""
	}
	if v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	return v.AsString()
}

// logLabelAttrs are the resource attributes that become log stream labels,
// with the label names they take: dots become underscores, as in Loki's own
// OTLP ingestion, so that the same stream has the same labels whichever
// way it arrives. The set is fixed to bound label cardinality: per-process
// attributes (process.pid, host.id, ...) would make every restart a new
// stream. deployment.environment.name is the newer semantic-convention
// spelling of deployment.environment; the first one present wins.
var logLabelAttrs = [...]struct{ attr, label string }{
	{"deployment.environment", "deployment_environment"},
	{"deployment.environment.name", "deployment_environment"},
	{"host.name", "host_name"},
	{"k8s.namespace.name", "k8s_namespace_name"},
	{"k8s.pod.name", "k8s_pod_name"},
	{"service.name", "service_name"},
	{"service.namespace", "service_namespace"},
}

// resourceInfo is what every item of one resource shares.
type resourceInfo struct {
	service string
	// logLabels is shared by every record of the resource: it is
	// immutable, and built with len == cap so that an append by a
	// consumer copies rather than writes into a neighbour's labels.
	logLabels telemetry.Labels
	// job and instance follow Prometheus' OTLP conventions: job is
	// service.namespace/service.name (or the service alone), instance is
	// service.instance.id.
	job, instance string
}

func newResourceInfo(attrs pcommon.Map, forLogs bool) resourceInfo {
	ri := resourceInfo{service: serviceName(attrs)}
	if forLogs {
		ls := make(telemetry.Labels, 0, len(logLabelAttrs))
		for _, a := range logLabelAttrs {
			v := attrString(attrs, a.attr)
			if v == "" || (len(ls) > 0 && ls[len(ls)-1].Name == a.label) {
				continue
			}
			ls = append(ls, telemetry.Label{Name: a.label, Value: v})
		}
		ri.logLabels = ls[:len(ls):len(ls)] // sorted: logLabelAttrs is in label order
		if len(ls) == 0 {
			ri.logLabels = nil
		}
		return ri
	}
	ri.job = ri.service
	if ns := attrString(attrs, "service.namespace"); ns != "" {
		ri.job = ns + "/" + ri.service
	}
	ri.instance = attrString(attrs, "service.instance.id")
	return ri
}

// maxFlattenDepth bounds how deep nested map attributes are flattened into
// dotted keys; deeper values are kept whole as JSON.
const maxFlattenDepth = 4

// fieldSink flattens attributes into a bounded map of fields.
type fieldSink struct {
	m        map[string]string
	max      int // fields
	maxBytes int // per value
	dropped  int
}

func (f *fieldSink) set(k, v string) {
	if _, ok := f.m[k]; !ok && len(f.m) >= f.max {
		f.dropped++
		return
	}
	f.m[k] = truncateUTF8(v, f.maxBytes)
}

// flatten adds attrs under prefix: nested maps become dotted keys (up to
// maxFlattenDepth), arrays and bytes become JSON and base64 strings.
func (f *fieldSink) flatten(prefix string, attrs pcommon.Map, depth int) {
	attrs.Range(func(k string, v pcommon.Value) bool {
		if prefix != "" {
			k = prefix + "." + k
		}
		if v.Type() == pcommon.ValueTypeMap && depth < maxFlattenDepth {
			f.flatten(k, v.Map(), depth+1)
			return true
		}
		f.set(k, valueString(v))
		return true
	})
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// valueString renders a value as text: strings as they are, scalars in
// their usual form, maps and arrays as compact JSON (see appendJSON).
func valueString(v pcommon.Value) string {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeMap, pcommon.ValueTypeSlice:
		return string(appendJSON(nil, v, 0))
	}
	return v.AsString()
}

// maxJSONDepth bounds recursion when rendering values: OTLP allows
// arbitrarily nested values, and a hostile body must not exhaust the stack.
const maxJSONDepth = 64

// appendJSON renders v as compact JSON. It is written out rather than taken
// from pcommon's AsString because that goes through AsRaw and
// encoding/json, which allocates a copy of the whole tree and yields an
// empty string for a map holding NaN; here non-finite doubles become the
// strings "NaN", "Infinity" and "-Infinity" (the proto3 JSON forms) and
// bytes become base64, so no body is lost.
func appendJSON(b []byte, v pcommon.Value, depth int) []byte {
	if depth > maxJSONDepth {
		return append(b, `"…"`...)
	}
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return appendJSONString(b, v.Str())
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(b, v.Int(), 10)
	case pcommon.ValueTypeDouble:
		d := v.Double()
		switch {
		case math.IsNaN(d):
			return append(b, `"NaN"`...)
		case math.IsInf(d, 1):
			return append(b, `"Infinity"`...)
		case math.IsInf(d, -1):
			return append(b, `"-Infinity"`...)
		}
		return strconv.AppendFloat(b, d, 'g', -1, 64)
	case pcommon.ValueTypeBool:
		return strconv.AppendBool(b, v.Bool())
	case pcommon.ValueTypeBytes:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, v.Bytes().AsRaw())
		return append(b, '"')
	case pcommon.ValueTypeMap:
		b = append(b, '{')
		first := true
		v.Map().Range(func(k string, e pcommon.Value) bool {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSON(b, e, depth+1)
			return true
		})
		return append(b, '}')
	case pcommon.ValueTypeSlice:
		b = append(b, '[')
		s := v.Slice()
		for i := 0; i < s.Len(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, s.At(i), depth+1)
		}
		return append(b, ']')
	}
	return append(b, "null"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as a JSON string; invalid UTF-8 becomes U+FFFD
// so the result is always valid JSON.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\ufffd"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
