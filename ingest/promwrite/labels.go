package promwrite

import (
	"strings"
	"unicode/utf8"

	"github.com/vigilops/vigil/telemetry"
)

// DefaultServiceLabels is the order in which a series' service is looked
// up when it has no service label: the explicit names first, then the
// scrape job (which kube-prometheus sets to the Kubernetes Service name),
// then the application labels of Kubernetes workloads, then the container.
var DefaultServiceLabels = []string{
	"service", "service_name", "job", "app", "app_kubernetes_io_name", "k8s_app", "container",
}

// WithService returns ls with a service label added from the first label
// in order that is present, so that the bus can partition samples by
// service (ingest.BusSink keys on "service") and later steps can attribute
// them. When ls already has a service label, or none of the labels in
// order is present, ls is returned unchanged (not copied). ls must be
// sorted.
//
// promsource applies the same function, so that a series received by
// remote write and the same series backfilled from Prometheus get the same
// label set.
func WithService(ls telemetry.Labels, order []string) telemetry.Labels {
	if ls.Has("service") {
		return ls
	}
	for _, name := range order {
		if v := ls.Get(name); v != "" {
			return ls.With("service", v)
		}
	}
	return ls
}

// Rejection reasons, used as the reason label of the rejected metric.
const (
	reasonMissingName     = "missing_name"
	reasonInvalidName     = "invalid_label_name"
	reasonInvalidValue    = "invalid_label_value"
	reasonUnsorted        = "unsorted_labels"
	reasonDuplicate       = "duplicate_label"
	reasonMalformed       = "malformed"
	reasonFutureTimestamp = "future_timestamp"
)

// labelProblem is why a label set was refused: a metric reason and a
// message for the sender.
type labelProblem struct {
	reason string
	msg    string
}

// checkLabels validates a label set as it came off the wire (empty values
// included) and returns the set to deliver: empty values dropped, as
// Prometheus treats them as absent, and the service label derived.
//
// Label sets must be sorted by name with unique names: the remote write
// specification requires it and fingerprints downstream depend on it, so an
// unsorted set is refused rather than silently re-sorted (a sender that
// does not sort has other bugs the operator should hear about).
func checkLabels(raw telemetry.Labels, legacy bool, service []string) (telemetry.Labels, *labelProblem) {
	hasName := false
	empty := 0
	for i := range raw {
		l := &raw[i]
		if !validName(l.Name, legacy) {
			return nil, &labelProblem{reasonInvalidName, "invalid label name " + quote(l.Name) + " in " + display(raw)}
		}
		if !utf8.ValidString(l.Value) {
			return nil, &labelProblem{reasonInvalidValue, "label " + quote(l.Name) + " has a value that is not valid UTF-8 in " + display(raw)}
		}
		if i > 0 {
			switch prev := raw[i-1].Name; {
			case prev == l.Name:
				return nil, &labelProblem{reasonDuplicate, "duplicate label " + quote(l.Name) + " in " + display(raw)}
			case prev > l.Name:
				return nil, &labelProblem{reasonUnsorted, "labels not sorted by name (" + quote(prev) + " before " + quote(l.Name) + ") in " + display(raw)}
			}
		}
		if l.Value == "" {
			empty++
			continue
		}
		if l.Name == telemetry.MetricNameLabel {
			if legacy && !validLegacyMetricName(l.Value) {
				return nil, &labelProblem{reasonInvalidName, "invalid metric name " + quote(l.Value)}
			}
			hasName = true
		}
	}
	if !hasName {
		return nil, &labelProblem{reasonMissingName, "series has no __name__ label: " + display(raw)}
	}
	ls := raw
	if empty > 0 {
		ls = make(telemetry.Labels, 0, len(raw)-empty)
		for _, l := range raw {
			if l.Value != "" {
				ls = append(ls, l)
			}
		}
	}
	return WithService(ls, service), nil
}

// validName reports whether s may be a label name: with legacy validation,
// Prometheus' classic [a-zA-Z_][a-zA-Z0-9_]*; otherwise, as in Prometheus 3,
// any non-empty valid UTF-8.
func validName(s string, legacy bool) bool {
	if s == "" {
		return false
	}
	if !legacy {
		return utf8.ValidString(s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// validLegacyMetricName is [a-zA-Z_:][a-zA-Z0-9_:]*.
func validLegacyMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// maxDisplay bounds a label set rendered into a rejection reason, so that a
// hostile series cannot make the answer or the log line large.
const maxDisplay = 256

func display(ls telemetry.Labels) string {
	s := ls.String()
	if len(s) > maxDisplay {
		s = strings.ToValidUTF8(s[:maxDisplay], "") + "…"
	}
	return s
}

func quote(s string) string {
	if len(s) > 64 {
		s = strings.ToValidUTF8(s[:64], "") + "…"
	}
	return `"` + strings.ToValidUTF8(s, "\uFFFD") + `"`
}
