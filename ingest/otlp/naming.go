package otlp

import "strings"

// Metric and label naming follows Prometheus' OTLP translation (the
// "underscore escaping with suffixes" strategy of Prometheus' own OTLP
// receiver and the collector's prometheus exporter) in a simplified form,
// so that a metric has the same name here as in the user's Prometheus:
//
//  1. Every character outside [a-zA-Z0-9_:] becomes '_', runs of '_' are
//     collapsed and leading/trailing '_' trimmed ("http.server.duration"
//     becomes http_server_duration). A name starting with a digit gets a
//     leading '_'.
//  2. Unless Options.NoUnitSuffix: the unit is appended when the name does
//     not already end with it. Annotations in braces are dropped ("{req}"),
//     UCUM units are spelled out (s seconds, ms milliseconds, By bytes, ...,
//     see unitNames), "a/b" becomes a_per_b with b singular (By/s
//     bytes_per_second), other units are sanitized as in 1. Unit "1" on a
//     gauge appends _ratio and is otherwise dropped.
//  3. Monotonic cumulative sums are counters and get _total (after the
//     unit) unless the name already ends with it. Non-monotonic sums are
//     gauges and keep their name.
//  4. Histograms yield <name>_bucket{le}, <name>_sum and <name>_count;
//     summaries <name>{quantile}, <name>_sum and <name>_count.
//
// Label names: every character outside [a-zA-Z0-9_] becomes '_' (no
// collapsing, as in Prometheus), a leading digit gets the prefix "key_" and
// a leading "__" the prefix "key", so attributes cannot set reserved
// labels. Attributes whose names collide after this are joined with ';' in
// the order of their original names. An attribute named le on a histogram
// point, or quantile on a summary point, is dropped: those names belong to
// the buckets and quantiles.

// metricKind is what naming needs to know of a metric's type.
type metricKind uint8

const (
	kindGauge   metricKind = iota // gauges and non-monotonic sums
	kindCounter                   // monotonic cumulative sums
	kindOther                     // histograms and summaries
)

// promMetricName returns the Prometheus name of an OTLP metric, or "" when
// nothing usable is left of the name.
func promMetricName(name, unit string, kind metricKind, unitSuffix bool) string {
	n := sanitizeMetricName(name)
	if n == "" {
		return ""
	}
	if unitSuffix {
		if unit == "1" {
			if kind == kindGauge && !strings.HasSuffix(n, "_ratio") {
				n += "_ratio"
			}
		} else if u := unitSuffixFor(unit); u != "" && !strings.HasSuffix(n, "_"+u) && n != u {
			n += "_" + u
		}
	}
	if kind == kindCounter && !strings.HasSuffix(n, "_total") {
		n += "_total"
	}
	return n
}

func sanitizeMetricName(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 1)
	underscore := true // at start: drop leading '_'
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isNameChar(c, true) && c != '_' {
			if b.Len() == 0 && c >= '0' && c <= '9' {
				b.WriteByte('_')
			}
			b.WriteByte(c)
			underscore = false
			continue
		}
		if !underscore {
			b.WriteByte('_')
			underscore = true
		}
	}
	return strings.TrimRight(b.String(), "_")
}

func isNameChar(c byte, colon bool) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || colon && c == ':'
}

// unitNames spells out the UCUM units OpenTelemetry instrumentation uses.
var unitNames = map[string]string{
	"d": "days", "h": "hours", "min": "minutes", "s": "seconds",
	"ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds",
	"By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes", "TiBy": "tebibytes",
	"KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes",
	"bit": "bits", "m": "meters", "V": "volts", "A": "amperes", "J": "joules",
	"W": "watts", "g": "grams", "Cel": "celsius", "Hz": "hertz", "%": "percent",
}

// perUnitNames spells out the denominators of rate units, singular.
var perUnitNames = map[string]string{
	"s": "second", "m": "minute", "min": "minute", "h": "hour", "d": "day",
	"w": "week", "mo": "month", "y": "year",
}

// unitSuffixFor returns the name suffix for a UCUM unit, "" for none.
func unitSuffixFor(unit string) string {
	unit = stripAnnotations(unit)
	if unit == "" || unit == "1" {
		return ""
	}
	num, den, per := strings.Cut(unit, "/")
	main := unitWord(num, unitNames)
	if !per {
		return main
	}
	d := unitWord(den, perUnitNames)
	switch {
	case d == "":
		return main
	case main == "":
		return "per_" + d
	}
	return main + "_per_" + d
}

func unitWord(u string, names map[string]string) string {
	u = strings.TrimSpace(u)
	if u == "" || u == "1" {
		return ""
	}
	if w, ok := names[u]; ok {
		return w
	}
	return sanitizeMetricName(u)
}

// stripAnnotations removes UCUM annotations in braces ("{request}/s" is
// "/s"); an unclosed brace drops the rest.
func stripAnnotations(u string) string {
	if !strings.Contains(u, "{") {
		return strings.TrimSpace(u)
	}
	var b strings.Builder
	depth := 0
	for i := 0; i < len(u); i++ {
		switch c := u[i]; {
		case c == '{':
			depth++
		case c == '}' && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return strings.TrimSpace(b.String())
}

// sanitizeLabelName maps an attribute key to a Prometheus label name.
func sanitizeLabelName(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if !isNameChar(s[i], false) {
			clean = false
			break
		}
	}
	if !clean {
		b := []byte(s)
		for i, c := range b {
			if !isNameChar(c, false) {
				b[i] = '_'
			}
		}
		s = string(b)
	}
	switch {
	case s == "":
		return ""
	case s[0] >= '0' && s[0] <= '9':
		return "key_" + s
	case strings.HasPrefix(s, "__"):
		return "key" + s
	}
	return s
}
