package logparse

import (
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// benchLines are typical lines per format, as the hot path sees them.
var benchLines = []struct{ name, line string }{
	{"json_slog", `{"time":"2024-10-10T13:55:36.123456Z","level":"INFO","msg":"request served","method":"GET","path":"/api/v1/users/42","status":200,"duration_ms":12.5,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}`},
	{"json_zap", `{"level":"error","ts":1728568536.1234567,"caller":"server/handler.go:88","msg":"upstream timeout","service":"checkout","upstream":"payments:8443","attempt":3}`},
	{"json_nested_ecs", `{"@timestamp":"2024-10-10T13:55:36.123Z","log.level":"warn","message":"disk usage high","ecs.version":"1.6.0","host":{"name":"node-7","ip":"10.0.3.7"},"disk":{"used_pct":91.2,"mount":"/var"}}`},
	{"logfmt", `ts=2024-10-10T13:55:36.123Z level=info caller=api.go:12 msg="request served" method=GET path=/api/v1/users/42 status=200 duration=12.5ms`},
	{"access_combined", `10.0.0.7 - - [10/Oct/2024:13:55:36 +0000] "GET /api/v1/users/42?expand=orders HTTP/1.1" 200 5120 "https://shop.example.com/cart" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/129.0 Safari/537.36"`},
	{"syslog3164", `<34>Oct 10 13:55:36 web01 sshd[4242]: Failed password for invalid user admin from 203.0.113.9 port 52211 ssh2`},
	{"syslog5424", `<165>1 2024-10-10T13:55:36.003Z api-7.example.com checkout 4242 ORDER [meta@32473 tenant="acme" region="eu-1"] order 1234 placed`},
	{"bracketed", `[2024-10-10 13:55:36.123] [WARN] [RequestHandler] Request to /api/v1/orders took 1532ms (threshold 1000ms)`},
	{"logback", `2024-10-10 13:55:36.123  INFO 4242 --- [nio-8080-exec-7] c.e.shop.web.OrderController             : Order 1234 placed by user 42`},
	{"klog", `I1010 13:55:36.123456       1 controller.go:114] "Synced pod" pod="default/web-7c9f" duration="12ms"`},
	{"cri_json", `2024-10-10T13:55:36.123456789Z stdout F {"level":"info","ts":1728568536.12,"msg":"request served","status":200}`},
	{"plain", `Starting worker pool with 8 workers and queue size 1024`},
}

var benchNow = time.Date(2024, 10, 10, 14, 0, 0, 0, time.UTC)

func BenchmarkParse(b *testing.B) {
	p, err := New(DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	for _, bl := range benchLines {
		b.Run(bl.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bl.line)))
			var rec telemetry.LogRecord
			cpu := processCPU()
			for b.Loop() {
				rec = telemetry.LogRecord{Raw: bl.line}
				p.Parse(&rec, benchNow)
			}
			if rec.Format == "" {
				b.Fatal("not parsed")
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
			// On a shared machine the CPU time (of the whole process, GC
			// included) measures a change better than the wall clock.
			if used := processCPU() - cpu; cpu > 0 && used > 0 {
				b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
		})
	}
}
