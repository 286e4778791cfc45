package ndjson

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

var now = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func testDecoder() *lineDecoder {
	return &lineDecoder{cfg: lineConfig{maxLine: 1 << 20, maxFields: DefaultMaxFields, defaultService: "default"}}
}

func TestDecodeLine(t *testing.T) {
	deep := `{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":1}}}}}}}}}}`
	tests := []struct {
		name    string
		line    string
		json    bool
		time    time.Time
		service string
		message string
		level   telemetry.Level
		fields  map[string]string
	}{
		{
			name: "typical", json: true,
			line: `{"time":"2024-05-06T07:08:09.5Z","level":"warn","service":"api","msg":"slow request","path":"/x","status":503,"cached":false,"took":1.5e-3}`,
			time: time.Date(2024, 5, 6, 7, 8, 9, 5e8, time.UTC), service: "api", message: "slow request", level: telemetry.LevelWarn,
			fields: map[string]string{"path": "/x", "status": "503", "cached": "false", "took": "1.5e-3"},
		},
		{
			name: "nested objects flatten, arrays stay JSON, nulls drop", json: true,
			line: `{"service":{"name":"pay","version":"1.2"},"message":"paid","http":{"req":{"method":"POST"}},"tags":["a", "b"],"err":null,"empty":{}}`,
			time: now, service: "pay", message: "paid",
			fields: map[string]string{"service.version": "1.2", "http.req.method": "POST", "tags": `["a", "b"]`},
		},
		{
			name: "objects deeper than the flattening bound stay JSON", json: true,
			line: deep, time: now, service: "default",
			fields: map[string]string{"a.b.c.d.e.f.g.h.i": `{"j":1}`},
		},
		{
			name: "key precedence: time before ts, service before app, msg before log", json: true,
			line: `{"ts":1,"time":"2024-01-02T03:04:05+02:00","app":"a","service":"s","log":"l","msg":"m","line":"x"}`,
			time: time.Date(2024, 1, 2, 1, 4, 5, 0, time.UTC), service: "s", message: "m",
			fields: map[string]string{"ts": "1", "app": "a", "log": "l", "line": "x"},
		},
		{
			name: "the later of duplicate keys wins", json: true,
			line: `{"msg":"first","msg":"second","k":"1","k":"2"}`,
			time: now, service: "default", message: "second", fields: map[string]string{"k": "2"},
		},
		{
			name: "unparseable time stays a field, next key is tried", json: true,
			line: `{"time":"yesterday","@timestamp":"2024-05-06 07:08:09","message":{"text":"not a string"}}`,
			time: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), service: "default",
			fields: map[string]string{"time": "yesterday", "message.text": "not a string"},
		},
		{
			name: "epoch seconds", json: true, line: `{"ts":1714979289}`,
			time: time.Unix(1714979289, 0).UTC(), service: "default",
		},
		{
			name: "epoch fractional seconds", json: true, line: `{"ts":1714979289.25}`,
			time: time.Unix(1714979289, 25e7).UTC(), service: "default",
		},
		{
			name: "epoch milliseconds as a string", json: true, line: `{"timestamp":"1714979289123"}`,
			time: time.UnixMilli(1714979289123).UTC(), service: "default",
		},
		{
			name: "epoch microseconds", json: true, line: `{"ts":1714979289123456}`,
			time: time.UnixMicro(1714979289123456).UTC(), service: "default",
		},
		{
			name: "epoch nanoseconds", json: true, line: `{"ts":1714979289123456789}`,
			time: time.Unix(0, 1714979289123456789).UTC(), service: "default",
		},
		{
			name: "negative and exponent epochs are not times", json: true, line: `{"ts":-5,"time":"1e9"}`,
			time: now, service: "default", fields: map[string]string{"ts": "-5", "time": "1e9"},
		},
		{
			name: "level as a number, unknown level kept", json: true, line: `{"level":"chatty","severity":50}`,
			time: now, service: "default", level: telemetry.LevelError, fields: map[string]string{"level": "chatty"},
		},
		{
			name: "escapes and unicode", json: true,
			line: `{"msg":"caf\u00e9 \"quoted\"\n\ud83d\ude00","k\u00e9y":"żółć","raw":"日本"}`,
			time: now, service: "default", message: "café \"quoted\"\n😀",
			fields: map[string]string{"kéy": "żółć", "raw": "日本"},
		},
		{
			name: "empty service is no service", json: true, line: `{"service":"","app":"a"}`,
			time: now, service: "a", fields: map[string]string{"service": ""},
		},
		{name: "plain text", line: `GET /index.html 200`, time: now, service: "default"},
		{name: "broken JSON is plain", line: `{"msg":"unterminated`, time: now, service: "default"},
		{name: "JSON then garbage is plain", line: `{"msg":"x"} trailing`, time: now, service: "default"},
		{name: "JSON array is plain", line: `["a","b"]`, time: now, service: "default"},
		{name: "JSON string is plain", line: `"just a string"`, time: now, service: "default"},
		{name: "invalid UTF-8 plain line", line: "bad \xff\xfe bytes", time: now, service: "default"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, isJSON := testDecoder().decode([]byte(tc.line), now)
			if isJSON != tc.json {
				t.Fatalf("json = %v, want %v", isJSON, tc.json)
			}
			if rec.Raw != tc.line {
				t.Errorf("raw %q", rec.Raw)
			}
			wantFormat := ""
			if tc.json {
				wantFormat = "json"
			}
			if rec.Format != wantFormat || !rec.Time.Equal(tc.time) || rec.Service != tc.service || rec.Message != tc.message || rec.Level != tc.level {
				t.Errorf("got format %q time %v service %q message %q level %v\nwant format %q time %v service %q message %q level %v",
					rec.Format, rec.Time, rec.Service, rec.Message, rec.Level, wantFormat, tc.time, tc.service, tc.message, tc.level)
			}
			if len(rec.Fields) != 0 || len(tc.fields) != 0 {
				if !reflect.DeepEqual(rec.Fields, tc.fields) {
					t.Errorf("fields %v\nwant   %v", rec.Fields, tc.fields)
				}
			}
		})
	}
}

func TestDecodeLineMaxFields(t *testing.T) {
	d := testDecoder()
	d.cfg.maxFields = 3
	rec, ok := d.decode([]byte(`{"a":1,"b":2,"msg":"m","c":3,"d":4}`), now)
	if !ok || len(rec.Fields) != 2 || rec.Message != "m" {
		t.Fatalf("fields %v message %q", rec.Fields, rec.Message)
	}
	// A line with many fields keeps its bound and its Raw.
	line := "{" + strings.Repeat(`"k":1,`, 1000) + `"msg":"m"}`
	rec, ok = d.decode([]byte(line), now)
	if !ok || rec.Raw != line || len(rec.Fields) > 3 {
		t.Fatalf("fields %v", rec.Fields)
	}
}

func TestDecodeLineSharesLabels(t *testing.T) {
	d := testDecoder()
	d.cfg.labels = telemetry.LabelsFromStrings("source", "stdin")
	a, _ := d.decode([]byte(`{"msg":"a"}`), now)
	b, _ := d.decode([]byte(`plain`), now)
	if !a.Labels.Equal(d.cfg.labels) || &a.Labels[0] != &b.Labels[0] {
		t.Fatal("records must share the configured labels")
	}
}
