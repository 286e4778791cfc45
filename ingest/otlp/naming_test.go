package otlp

import "testing"

func TestPromMetricName(t *testing.T) {
	tests := []struct {
		name, unit string
		kind       metricKind
		suffix     bool
		want       string
	}{
		{"http.server.request.duration", "s", kindOther, true, "http_server_request_duration_seconds"},
		{"http.server.request.duration", "s", kindOther, false, "http_server_request_duration"},
		{"http.server.requests", "{request}", kindCounter, true, "http_server_requests_total"},
		{"http.server.requests", "1", kindCounter, true, "http_server_requests_total"},
		{"requests_total", "", kindCounter, true, "requests_total"},
		{"process.memory.usage", "By", kindGauge, true, "process_memory_usage_bytes"},
		{"process.memory.usage_bytes", "By", kindGauge, true, "process_memory_usage_bytes"},
		{"system.cpu.utilization", "1", kindGauge, true, "system_cpu_utilization_ratio"},
		{"system.cpu.utilization", "1", kindGauge, false, "system_cpu_utilization"},
		{"system.network.io", "By", kindCounter, true, "system_network_io_bytes_total"},
		{"throughput", "By/s", kindGauge, true, "throughput_bytes_per_second"},
		{"rate", "{packet}/s", kindGauge, true, "rate_per_second"},
		{"temp", "Cel", kindGauge, true, "temp_celsius"},
		{"weird", "furlongs", kindGauge, true, "weird_furlongs"},
		{"odd unit", "m/fortnight", kindGauge, true, "odd_unit_meters_per_fortnight"},
		{"queue.{depth}", "{item", kindGauge, true, "queue_depth"},
		{"9lives", "", kindGauge, true, "_9lives"},
		{"..a..b..", "", kindGauge, true, "a_b"},
		{"ns:metric.x", "ms", kindGauge, true, "ns:metric_x_milliseconds"},
		{"élan", "", kindGauge, true, "lan"},
		{"...", "s", kindGauge, true, ""},
		{"", "", kindCounter, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name+"|"+tc.unit, func(t *testing.T) {
			if got := promMetricName(tc.name, tc.unit, tc.kind, tc.suffix); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSanitizeLabelName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http.route", "http_route"},
		{"http_route", "http_route"},
		{"a..b", "a__b"},
		{"1st", "key_1st"},
		{"__name__", "key__name__"},
		{"_private", "_private"},
		{"k-8", "k_8"},
		{"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := sanitizeLabelName(tc.in); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
