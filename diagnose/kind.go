package diagnose

import (
	"strings"

	"github.com/vigilops/vigil/telemetry"
)

// KindOf classifies a Prometheus-style series by its metric name and
// labels, for callers that feed raw samples: durations are latency, 5xx
// request counters errors, other request counters traffic, and so on.
// Unknown names are KindOther.
func KindOf(ls telemetry.Labels) Kind {
	name := ls.Get(telemetry.MetricNameLabel)
	switch {
	case name == "up":
		return KindAvailability
	case strings.Contains(name, "duration") || strings.Contains(name, "latency"):
		return KindLatency
	case strings.HasPrefix(name, "http_requests") && strings.HasPrefix(ls.Get("code"), "5"):
		return KindErrors
	case strings.Contains(name, "error") || strings.Contains(name, "fail"):
		return KindErrors
	case strings.Contains(name, "cpu") || strings.HasPrefix(name, "node_load"):
		return KindCPU
	case strings.Contains(name, "memory") || strings.Contains(name, "resident"):
		return KindMemory
	case strings.Contains(name, "connections") || strings.Contains(name, "in_flight") ||
		strings.Contains(name, "pending") || strings.Contains(name, "activity") ||
		strings.Contains(name, "evicted") || strings.Contains(name, "clients") || strings.Contains(name, "running"):
		return KindSaturation
	case strings.Contains(name, "requests") || strings.Contains(name, "commands") || strings.Contains(name, "commit"):
		return KindTraffic
	}
	return KindOther
}
