package logparse

import (
	"strings"
	"testing"

	"github.com/vigilops/vigil/telemetry"
)

// telemetrySpellings are the spellings telemetry.ParseLevel knows; levelOf
// must agree with it on every one, in every case.
var telemetrySpellings = []string{
	"trace", "trc", "finest", "finer", "10",
	"debug", "dbg", "fine", "verbose", "20", "7",
	"info", "inf", "information", "informational", "notice", "30", "6", "5",
	"warn", "warning", "wrn", "40", "4",
	"error", "err", "eror", "severe", "50", "3",
	"fatal", "critical", "crit", "panic", "alert", "emerg", "emergency", "dpanic", "60", "2", "1", "0",
}

func TestLevelOfAgreesWithTelemetry(t *testing.T) {
	for _, s := range telemetrySpellings {
		for _, v := range []string{s, strings.ToUpper(s), strings.ToUpper(s[:1]) + s[1:]} {
			if got, want := levelOf(v), telemetry.ParseLevel(v); got != want || got == telemetry.LevelUnknown {
				t.Errorf("levelOf(%q) = %v, telemetry.ParseLevel = %v", v, got, want)
			}
		}
	}
}

func TestLevelOf(t *testing.T) {
	cases := []struct {
		in   string
		want telemetry.Level
	}{
		{"INF", telemetry.LevelInfo},
		{"WRN", telemetry.LevelWarn},
		{"FTL", telemetry.LevelFatal},
		{"PNC", telemetry.LevelFatal},
		{"DEBUG3", telemetry.LevelDebug},
		{"LOG", telemetry.LevelInfo},
		{"Warning", telemetry.LevelWarn},
		{"", telemetry.LevelUnknown},
		{"informationalx", telemetry.LevelUnknown},
		{"mystery", telemetry.LevelUnknown},
		{"MYSTERY", telemetry.LevelUnknown},
		{"inf0", telemetry.LevelUnknown},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			if got := levelOf(c.in); got != c.want {
				t.Errorf("levelOf(%q) = %v, want %v", c.in, got, c.want)
			}
		})
	}
}

func TestHeaderLevel(t *testing.T) {
	cases := []struct {
		in   string
		want telemetry.Level
	}{
		{"WARN", telemetry.LevelWarn},
		{"warn", telemetry.LevelWarn},
		{"LOG", telemetry.LevelInfo},    // PostgreSQL
		{"log", telemetry.LevelUnknown}, // a common first word
		{"30", telemetry.LevelUnknown},  // a pid or a count, not bunyan's info
		{"E", telemetry.LevelUnknown},   // single letters only in klog
		{"DEBUG2", telemetry.LevelDebug},
		{"ERROR:", telemetry.LevelUnknown},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			if got := headerLevel(c.in); got != c.want {
				t.Errorf("headerLevel(%q) = %v, want %v", c.in, got, c.want)
			}
		})
	}
}

func TestSeverityMaps(t *testing.T) {
	otel := map[int]telemetry.Level{0: telemetry.LevelUnknown, 1: telemetry.LevelTrace, 5: telemetry.LevelDebug,
		9: telemetry.LevelInfo, 12: telemetry.LevelInfo, 13: telemetry.LevelWarn, 17: telemetry.LevelError,
		21: telemetry.LevelFatal, 24: telemetry.LevelFatal, 25: telemetry.LevelUnknown}
	for n, want := range otel {
		if got := telemetry.LevelFromSeverityNumber(n); got != want {
			t.Errorf("telemetry.LevelFromSeverityNumber(%d) = %v, want %v", n, got, want)
		}
	}
	sys := []telemetry.Level{telemetry.LevelFatal, telemetry.LevelFatal, telemetry.LevelFatal, telemetry.LevelError,
		telemetry.LevelWarn, telemetry.LevelInfo, telemetry.LevelInfo, telemetry.LevelDebug}
	for sev, want := range sys {
		if got := syslogSeverity(sev); got != want {
			t.Errorf("syslogSeverity(%d) = %v, want %v", sev, got, want)
		}
	}
}

func TestLevelOfDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = levelOf("WARNING"); _ = levelOf("Mystery") }); n != 0 {
		t.Errorf("levelOf allocates %v times", n)
	}
}
