package syslog

import (
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

var received = time.Date(2024, 6, 15, 12, 0, 0, 0, time.UTC)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParse(t *testing.T) {
	tests := []struct {
		name      string
		raw       string
		malformed bool
		format    string
		time      time.Time
		service   string
		labels    telemetry.Labels
		level     telemetry.Level
		fields    map[string]string
		message   string
	}{
		{
			name:    "5424 rfc example 1 with BOM",
			raw:     "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xef\xbb\xbf'su root' failed for lonvick on /dev/pts/8",
			format:  Format5424,
			time:    ts("2003-10-11T22:14:15.003Z"),
			service: "su",
			labels:  telemetry.LabelsFromStrings("app", "su", "facility", "auth", "host", "mymachine.example.com", "severity", "crit"),
			level:   telemetry.LevelFatal,
			fields:  map[string]string{"msgid": "ID47"},
			message: "'su root' failed for lonvick on /dev/pts/8",
		},
		{
			name:    "5424 rfc example 2 with offset and procid",
			raw:     "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
			format:  Format5424,
			time:    ts("2003-08-24T05:14:15.000003-07:00"),
			service: "myproc",
			labels:  telemetry.LabelsFromStrings("app", "myproc", "facility", "local4", "host", "192.0.2.1", "severity", "notice"),
			level:   telemetry.LevelInfo,
			fields:  map[string]string{"procid": "8710"},
			message: "%% It's time to make the do-nuts.",
		},
		{
			name:    "5424 structured data and message",
			raw:     `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event`,
			format:  Format5424,
			time:    ts("2003-10-11T22:14:15.003Z"),
			service: "evntslog",
			labels:  telemetry.LabelsFromStrings("app", "evntslog", "facility", "local4", "host", "mymachine.example.com", "severity", "notice"),
			level:   telemetry.LevelInfo,
			fields: map[string]string{"msgid": "ID47", "sd.exampleSDID@32473.iut": "3",
				"sd.exampleSDID@32473.eventSource": "Application", "sd.exampleSDID@32473.eventID": "1011"},
			message: "An application event",
		},
		{
			name:    "5424 two SD elements and no message",
			raw:     `<165>1 2003-10-11T22:14:15.003Z host app - - [a@1 x="1"][b@2 class="high"]`,
			format:  Format5424,
			time:    ts("2003-10-11T22:14:15.003Z"),
			service: "app",
			labels:  telemetry.LabelsFromStrings("app", "app", "facility", "local4", "host", "host", "severity", "notice"),
			level:   telemetry.LevelInfo,
			fields:  map[string]string{"sd.a@1.x": "1", "sd.b@2.class": "high"},
		},
		{
			name:    "5424 SD escapes and repeated param",
			raw:     `<14>1 2024-01-02T03:04:05Z h a - - [x@1 q="say \"hi\"" b="c:\\dir" k="a\]b" o="keep\n" r="1" r="2"] m`,
			format:  Format5424,
			time:    ts("2024-01-02T03:04:05Z"),
			service: "a",
			labels:  telemetry.LabelsFromStrings("app", "a", "facility", "user", "host", "h", "severity", "info"),
			level:   telemetry.LevelInfo,
			fields: map[string]string{"sd.x@1.q": `say "hi"`, "sd.x@1.b": `c:\dir`, "sd.x@1.k": "a]b",
				"sd.x@1.o": `keep\n`, "sd.x@1.r": "1,2"},
			message: "m",
		},
		{
			name:    "5424 all nil: receive time, no service",
			raw:     "<13>1 - - - - - -",
			format:  Format5424,
			time:    received,
			labels:  telemetry.LabelsFromStrings("facility", "user", "severity", "notice"),
			level:   telemetry.LevelInfo,
			message: "",
		},
		{
			name:    "5424 service falls back to hostname",
			raw:     "<11>1 2024-01-02T03:04:05Z web01 - - - - disk failed",
			format:  Format5424,
			time:    ts("2024-01-02T03:04:05Z"),
			service: "web01",
			labels:  telemetry.LabelsFromStrings("facility", "user", "host", "web01", "severity", "err"),
			level:   telemetry.LevelError,
			message: "disk failed",
		},
		{
			name: "5424 bad timestamp is malformed, PRI kept", raw: "<12>1 yesterday host app - - - msg", malformed: true,
			time: received, labels: telemetry.LabelsFromStrings("facility", "user", "severity", "warning"), level: telemetry.LevelWarn,
		},
		{
			name: "5424 unterminated SD", raw: `<13>1 2024-01-02T03:04:05Z h a - - [x a="b] msg`, malformed: true,
			time: received, labels: telemetry.LabelsFromStrings("facility", "user", "severity", "notice"), level: telemetry.LevelInfo,
		},
		{
			name: "5424 header cut short", raw: "<13>1 2024-01-02T03:04:05Z host app", malformed: true,
			time: received, labels: telemetry.LabelsFromStrings("facility", "user", "severity", "notice"), level: telemetry.LevelInfo,
		},
		{
			name: "5424 message glued to SD", raw: `<13>1 - h a - - [x a="b"]msg`, malformed: true,
			time: received, labels: telemetry.LabelsFromStrings("facility", "user", "severity", "notice"), level: telemetry.LevelInfo,
		},
		{
			name:    "3164 rfc example",
			raw:     "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
			format:  Format3164,
			time:    time.Date(2023, 10, 11, 22, 14, 15, 0, time.UTC), // logs describe the past: not 2024-10-11, which is months ahead
			service: "su",
			labels:  telemetry.LabelsFromStrings("app", "su", "facility", "auth", "host", "mymachine", "severity", "crit"),
			level:   telemetry.LevelFatal,
			message: "'su root' failed for lonvick on /dev/pts/8",
		},
		{
			name:    "3164 with pid and IP host, space-padded day",
			raw:     "<86>Jun  5 17:32:18 10.0.0.99 sshd[1234]: Accepted publickey for root",
			format:  Format3164,
			time:    time.Date(2024, 6, 5, 17, 32, 18, 0, time.UTC),
			service: "sshd",
			labels:  telemetry.LabelsFromStrings("app", "sshd", "facility", "authpriv", "host", "10.0.0.99", "severity", "info"),
			level:   telemetry.LevelInfo,
			fields:  map[string]string{"procid": "1234"},
			message: "Accepted publickey for root",
		},
		{
			name:    "3164 without hostname",
			raw:     "<30>Jun 15 11:59:58 systemd-logind[88]: New session 3 of user bob.",
			format:  Format3164,
			time:    time.Date(2024, 6, 15, 11, 59, 58, 0, time.UTC),
			service: "systemd-logind",
			labels:  telemetry.LabelsFromStrings("app", "systemd-logind", "facility", "daemon", "severity", "info"),
			level:   telemetry.LevelInfo,
			fields:  map[string]string{"procid": "88"},
			message: "New session 3 of user bob.",
		},
		{
			name:    "3164 ISO timestamp",
			raw:     "<13>2024-03-01T10:00:00.123+02:00 host app[9]: hi",
			format:  Format3164,
			time:    ts("2024-03-01T10:00:00.123+02:00"),
			service: "app",
			labels:  telemetry.LabelsFromStrings("app", "app", "facility", "user", "host", "host", "severity", "notice"),
			level:   telemetry.LevelInfo,
			fields:  map[string]string{"procid": "9"},
			message: "hi",
		},
		{
			name:    "3164 ISO timestamp without zone",
			raw:     "<13>2024-03-01T10:00:00 host app: hi",
			format:  Format3164,
			time:    time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC),
			service: "app",
			labels:  telemetry.LabelsFromStrings("app", "app", "facility", "user", "host", "host", "severity", "notice"),
			level:   telemetry.LevelInfo,
			message: "hi",
		},
		{
			name:    "3164 without PRI (as in /var/log/syslog)",
			raw:     "Jun 15 06:25:01 web01 CRON[4242]: (root) CMD (run-parts)",
			format:  Format3164,
			time:    time.Date(2024, 6, 15, 6, 25, 1, 0, time.UTC),
			service: "CRON",
			labels:  telemetry.LabelsFromStrings("app", "CRON", "host", "web01"),
			fields:  map[string]string{"procid": "4242"},
			message: "(root) CMD (run-parts)",
		},
		{
			name:    "3164 year and fraction, unsynced marker",
			raw:     "<189>*Mar  1 2023 18:48:50.483 router1 ospf: neighbour down",
			format:  Format3164,
			time:    time.Date(2023, 3, 1, 18, 48, 50, 483e6, time.UTC),
			service: "ospf",
			labels:  telemetry.LabelsFromStrings("app", "ospf", "facility", "local7", "host", "router1", "severity", "notice"),
			level:   telemetry.LevelInfo,
			message: "neighbour down",
		},
		{
			name:    "3164 host without tag",
			raw:     "<13>Jun 15 11:00:00 web01 something happened",
			format:  Format3164,
			time:    time.Date(2024, 6, 15, 11, 0, 0, 0, time.UTC),
			service: "web01",
			labels:  telemetry.LabelsFromStrings("facility", "user", "host", "web01", "severity", "notice"),
			level:   telemetry.LevelInfo,
			message: "something happened",
		},
		{
			name:    "3164 IPv6 host",
			raw:     "<13>Jun 15 11:00:00 fe80::1 app: x",
			format:  Format3164,
			time:    time.Date(2024, 6, 15, 11, 0, 0, 0, time.UTC),
			service: "app",
			labels:  telemetry.LabelsFromStrings("app", "app", "facility", "user", "host", "fe80::1", "severity", "notice"),
			level:   telemetry.LevelInfo,
			message: "x",
		},
		{
			name:    "PRI then free text",
			raw:     "<13>disk full on /var",
			format:  Format3164,
			time:    received,
			labels:  telemetry.LabelsFromStrings("facility", "user", "severity", "notice"),
			level:   telemetry.LevelInfo,
			message: "disk full on /var",
		},
		{
			name:    "PRI 0 and 191",
			raw:     "<191>x",
			format:  Format3164,
			time:    received,
			labels:  telemetry.LabelsFromStrings("facility", "local7", "severity", "debug"),
			level:   telemetry.LevelDebug,
			message: "x",
		},
		{name: "no PRI, no timestamp", raw: "hello world", malformed: true, time: received},
		{name: "PRI out of range", raw: "<192>Oct 11 22:14:15 h a: m", malformed: true, time: received},
		{name: "PRI not numeric", raw: "<abc>hello", malformed: true, time: received},
		{name: "PRI unterminated", raw: "<13", malformed: true, time: received},
		{name: "bad month", raw: "Foo 11 22:14:15 h a: m", malformed: true, time: received},
		{name: "bad day", raw: "Oct 32 22:14:15 h a: m", malformed: true, time: received},
		{name: "bad hour", raw: "Oct 11 25:14:15 h a: m", malformed: true, time: received},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := Parse(tc.raw, received, time.UTC)
			if tc.malformed != (err != nil) {
				t.Fatalf("err = %v, want malformed %v", err, tc.malformed)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("err %v does not wrap ErrMalformed", err)
			}
			if rec.Raw != tc.raw {
				t.Errorf("Raw = %q, want the input", rec.Raw)
			}
			if rec.Format != tc.format {
				t.Errorf("Format = %q, want %q", rec.Format, tc.format)
			}
			if !rec.Time.Equal(tc.time) {
				t.Errorf("Time = %v, want %v", rec.Time, tc.time)
			}
			if rec.Service != tc.service {
				t.Errorf("Service = %q, want %q", rec.Service, tc.service)
			}
			if !rec.Labels.Equal(tc.labels) || !rec.Labels.Valid() {
				t.Errorf("Labels = %v, want %v", rec.Labels, tc.labels)
			}
			if rec.Level != tc.level {
				t.Errorf("Level = %v, want %v", rec.Level, tc.level)
			}
			if !maps.Equal(rec.Fields, tc.fields) {
				t.Errorf("Fields = %v, want %v", rec.Fields, tc.fields)
			}
			if rec.Message != tc.message {
				t.Errorf("Message = %q, want %q", rec.Message, tc.message)
			}
		})
	}
}

func TestInferYear(t *testing.T) {
	ny := time.FixedZone("EST", -5*3600)
	tests := []struct {
		name     string
		received time.Time
		raw      string
		loc      *time.Location
		want     time.Time
	}{
		{"late december line read on new year's day", time.Date(2025, 1, 1, 0, 0, 5, 0, time.UTC),
			"Dec 31 23:59:58 h a: m", time.UTC, time.Date(2024, 12, 31, 23, 59, 58, 0, time.UTC)},
		{"new year line from a clock ahead, read on dec 31", time.Date(2024, 12, 31, 23, 59, 0, 0, time.UTC),
			"Jan  1 00:00:01 h a: m", time.UTC, time.Date(2025, 1, 1, 0, 0, 1, 0, time.UTC)},
		{"a line from months ago stays in the past", time.Date(2024, 6, 15, 12, 0, 0, 0, time.UTC),
			"Oct 11 08:00:00 h a: m", time.UTC, time.Date(2023, 10, 11, 8, 0, 0, 0, time.UTC)},
		{"same day", received, "Jun 15 11:00:00 h a: m", time.UTC, time.Date(2024, 6, 15, 11, 0, 0, 0, time.UTC)},
		{"feb 29 read in a non-leap year", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC),
			"Feb 29 12:00:00 h a: m", time.UTC, time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)},
		{"zone decides the year", time.Date(2025, 1, 1, 3, 0, 0, 0, time.UTC), // still Dec 31 in EST
			"Dec 31 21:59:00 h a: m", ny, time.Date(2024, 12, 31, 21, 59, 0, 0, ny)},
		{"zone: new year in the sender's zone", time.Date(2025, 1, 1, 5, 30, 0, 0, time.UTC), // 00:30 EST
			"Jan  1 00:29:00 h a: m", ny, time.Date(2025, 1, 1, 0, 29, 0, 0, ny)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := Parse(tc.raw, tc.received, tc.loc)
			if err != nil {
				t.Fatal(err)
			}
			if !rec.Time.Equal(tc.want) {
				t.Errorf("Time = %v, want %v", rec.Time, tc.want)
			}
		})
	}
}
