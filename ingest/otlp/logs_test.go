package otlp

import (
	"math"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/vigilops/vigil/telemetry"
)

func testConverter() converter {
	return converter{maxLineBytes: 1 << 10, maxFields: 8, maxFieldBytes: 16, maxLabels: 4, unitSuffix: true}
}

func TestServiceName(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]any
		want  string
	}{
		{"service.name", map[string]any{"service.name": "cart", "k8s.deployment.name": "cart-v2"}, "cart"},
		{"deployment when unset", map[string]any{"k8s.deployment.name": "cart-v2", "k8s.container.name": "main"}, "cart-v2"},
		{"container after deployment", map[string]any{"k8s.container.name": "main"}, "main"},
		{"sdk default yields to k8s", map[string]any{"service.name": "unknown_service:java", "k8s.deployment.name": "cart"}, "cart"},
		{"sdk default kept when nothing better", map[string]any{"service.name": "unknown_service:java"}, "unknown_service:java"},
		{"nothing", map[string]any{"host.name": "h1"}, "unknown_service"},
		{"non-string service.name", map[string]any{"service.name": int64(7)}, "7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := pcommon.NewMap()
			if err := m.FromRaw(tc.attrs); err != nil {
				t.Fatal(err)
			}
			if got := serviceName(m); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSeverity(t *testing.T) {
	tests := []struct {
		n    plog.SeverityNumber
		text string
		want telemetry.Level
	}{
		{1, "", telemetry.LevelTrace}, {4, "", telemetry.LevelTrace},
		{5, "", telemetry.LevelDebug}, {8, "", telemetry.LevelDebug},
		{9, "", telemetry.LevelInfo}, {12, "", telemetry.LevelInfo},
		{13, "", telemetry.LevelWarn}, {16, "", telemetry.LevelWarn},
		{17, "", telemetry.LevelError}, {20, "", telemetry.LevelError},
		{21, "", telemetry.LevelFatal}, {24, "", telemetry.LevelFatal},
		{9, "ERROR", telemetry.LevelInfo}, // the number wins
		{0, "WARNING", telemetry.LevelWarn},
		{0, "crit", telemetry.LevelFatal},
		{25, "err", telemetry.LevelError}, // out of range: the text
		{0, "", telemetry.LevelUnknown},
		{0, "chatty", telemetry.LevelUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.text+"/"+tc.n.String(), func(t *testing.T) {
			if got := severity(tc.n, tc.text); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLogRecordMapping(t *testing.T) {
	now := t0
	build := func(f func(lr plog.LogRecord, res pcommon.Map)) telemetry.LogRecord {
		t.Helper()
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", "cart")
		lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		f(lr, rl.Resource().Attributes())
		var rej rejections
		c := testConverter()
		out := c.logs(ld, now, &rej)
		if len(out) != 1 || rej.count() != 0 {
			t.Fatalf("got %d records, %d rejected", len(out), rej.count())
		}
		return out[0]
	}
	t.Run("time fallbacks", func(t *testing.T) {
		at, seen := t0.Add(-time.Hour), t0.Add(-time.Minute)
		if r := build(func(lr plog.LogRecord, _ pcommon.Map) { lr.SetTimestamp(ts(at)); lr.SetObservedTimestamp(ts(seen)) }); !r.Time.Equal(at) {
			t.Errorf("timestamp: %v", r.Time)
		}
		if r := build(func(lr plog.LogRecord, _ pcommon.Map) { lr.SetObservedTimestamp(ts(seen)) }); !r.Time.Equal(seen) {
			t.Errorf("observed: %v", r.Time)
		}
		if r := build(func(plog.LogRecord, pcommon.Map) {}); !r.Time.Equal(now) {
			t.Errorf("now: %v", r.Time)
		}
		if r := build(func(lr plog.LogRecord, _ pcommon.Map) { lr.SetTimestamp(pcommon.Timestamp(math.MaxUint64)) }); !r.Time.Equal(now) {
			t.Errorf("out of range: %v", r.Time)
		}
	})
	t.Run("bodies", func(t *testing.T) {
		tests := []struct {
			name string
			set  func(v pcommon.Value)
			want string
		}{
			{"string", func(v pcommon.Value) { v.SetStr("hello") }, "hello"},
			{"map", func(v pcommon.Value) {
				m := v.SetEmptyMap() // wire order is kept
				m.PutInt("a", 1)
				_ = m.PutEmptySlice("b").FromRaw([]any{"x", true})
			}, `{"a":1,"b":["x",true]}`},
			{"map with NaN", func(v pcommon.Value) { v.SetEmptyMap().PutDouble("v", math.NaN()) }, `{"v":"NaN"}`},
			{"array", func(v pcommon.Value) { _ = v.SetEmptySlice().FromRaw([]any{1.5, "q\"\n"}) }, `[1.5,"q\"\n"]`},
			{"bytes", func(v pcommon.Value) { v.SetEmptyBytes().FromRaw([]byte("hi")) }, "aGk="},
			{"int", func(v pcommon.Value) { v.SetInt(-3) }, "-3"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := build(func(lr plog.LogRecord, _ pcommon.Map) { tc.set(lr.Body()) })
				if r.Raw != tc.want {
					t.Fatalf("raw %q, want %q", r.Raw, tc.want)
				}
			})
		}
		r := build(func(lr plog.LogRecord, _ pcommon.Map) { lr.SetEventName("user.login") })
		if r.Raw != "user.login" {
			t.Fatalf("empty body: raw %q, want the event name", r.Raw)
		}
	})
	t.Run("labels", func(t *testing.T) {
		r := build(func(_ plog.LogRecord, res pcommon.Map) {
			res.PutStr("service.namespace", "shop")
			res.PutStr("k8s.pod.name", "cart-1")
			res.PutStr("k8s.namespace.name", "prod")
			res.PutStr("host.name", "n1")
			res.PutStr("deployment.environment.name", "production")
			res.PutStr("process.pid", "1") // not a label: per process
		})
		want := telemetry.LabelsFromStrings("deployment_environment", "production", "host_name", "n1",
			"k8s_namespace_name", "prod", "k8s_pod_name", "cart-1", "service_name", "cart", "service_namespace", "shop")
		if !r.Labels.Equal(want) || !r.Labels.Valid() {
			t.Fatalf("labels %v, want %v", r.Labels, want)
		}
	})
	t.Run("fields bounded", func(t *testing.T) {
		r := build(func(lr plog.LogRecord, _ pcommon.Map) {
			a := lr.Attributes()
			a.PutStr("long", strings.Repeat("é", 20)) // 40 bytes, cut to 16 at a rune boundary
			a.PutEmptyMap("http").PutEmptyMap("request").PutInt("size", 10)
			a.PutEmptySlice("tags").FromRaw([]any{"a", "b"})
			for _, k := range []string{"k1", "k2", "k3", "k4", "k5", "k6", "k7"} {
				a.PutStr(k, "v")
			}
			lr.SetDroppedAttributesCount(2)
			lr.SetTraceID(pcommon.TraceID{1})
		})
		if r.Fields["long"] != strings.Repeat("é", 8) {
			t.Errorf("long = %q", r.Fields["long"])
		}
		if r.Fields["http.request.size"] != "10" || r.Fields["tags"] != `["a","b"]` {
			t.Errorf("flattening: %v", r.Fields)
		}
		// 10 attributes, 8 kept: 2 dropped here plus 2 by the sender.
		if r.Fields[fieldDroppedAttrs] != "4" || r.Fields[fieldTraceID] != "01000000000000000000000000000000" {
			t.Errorf("fields %v", r.Fields)
		}
		if _, ok := r.Fields[fieldSpanID]; ok {
			t.Error("span_id set for an empty span id")
		}
	})
	t.Run("no fields", func(t *testing.T) {
		if r := build(func(lr plog.LogRecord, _ pcommon.Map) { lr.Body().SetStr("x") }); r.Fields != nil {
			t.Fatalf("fields %v for a record without attributes", r.Fields)
		}
	})
}

func TestLogsRejectIndexes(t *testing.T) {
	ld := plog.NewLogs()
	for i := 0; i < 2; i++ {
		lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		for j := 0; j < 3; j++ {
			body := "ok"
			if i == 1 && j == 1 {
				body = strings.Repeat("x", 2000)
			}
			lrs.AppendEmpty().Body().SetStr(body)
		}
	}
	var rej rejections
	c := testConverter()
	out := c.logs(ld, t0, &rej)
	if len(out) != 5 || rej.count() != 1 || rej.res.Rejected[0].Index != 4 || rej.byWhy[reasonRecordTooLarge] != 1 {
		t.Fatalf("%d records, rejections %+v", len(out), rej.res)
	}
}
