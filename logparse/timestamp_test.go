package logparse

import (
	"testing"
	"time"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestParseTimePrefix(t *testing.T) {
	ref := time.Date(2024, time.October, 10, 14, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want string // RFC 3339 in UTC; "" means no timestamp
		n    int    // bytes consumed; 0 means len(in)
		kind tsKind
	}{
		{"2024-10-10T13:55:36Z", "2024-10-10T13:55:36Z", 0, tsISO},
		{"2024-10-10T13:55:36.123456789Z rest", "2024-10-10T13:55:36.123456789Z", 30, tsISO},
		{"2024-10-10T13:55:36.1234567891234Z", "2024-10-10T13:55:36.123456789Z", 0, tsISO},
		{"2024-10-10T13:55:36+02:00", "2024-10-10T11:55:36Z", 0, tsISO},
		{"2024-10-10T13:55:36-0530", "2024-10-10T19:25:36Z", 0, tsISO},
		{"2024-10-10T13:55:36+05", "2024-10-10T08:55:36Z", 0, tsISO},
		{"2024-10-10 13:55:36", "2024-10-10T13:55:36Z", 0, tsISO},
		{"2024-10-10 13:55:36,123 - x", "2024-10-10T13:55:36.123Z", 23, tsISO},
		{"2024-10-10 13:55:36.123 UTC [1]", "2024-10-10T13:55:36.123Z", 27, tsISO},
		{"2024-10-10 13:55:36 +0200 msg", "2024-10-10T11:55:36Z", 25, tsISO},
		{"2024-10-10 13:55:36 CEST msg", "2024-10-10T11:55:36Z", 24, tsISO},
		{"2024-10-10 13:55:36 INFO msg", "2024-10-10T13:55:36Z", 19, tsISO},
		{"2024-10-10 13:55:36 - name", "2024-10-10T13:55:36Z", 19, tsISO},
		{"2024-10-10_13:55:36", "2024-10-10T13:55:36Z", 0, tsISO},
		{"2024/10/10 13:55:36 msg", "2024-10-10T13:55:36Z", 19, tsSlash},
		{"2024/10/10 13:55:36.123456 msg", "2024-10-10T13:55:36.123456Z", 26, tsSlash},
		{"10/Oct/2000:13:55:36 -0700]", "2000-10-10T20:55:36Z", 26, tsApache},
		{"10-Oct-2024 13:55:36.123 INFO", "2024-10-10T13:55:36.123Z", 24, tsDayMon},
		{"05 Jan 2026 10:00:00.123 *", "2026-01-05T10:00:00.123Z", 24, tsDayMon},
		{"Oct 10 13:55:36 host", "2024-10-10T13:55:36Z", 15, tsSyslog},
		{"Oct  9 13:55:36 host", "2024-10-09T13:55:36Z", 15, tsSyslog},
		{"oct 9 13:55:36.250 host", "2024-10-09T13:55:36.25Z", 18, tsSyslog},
		{"Oct 10 2023 13:55:36 host", "2023-10-10T13:55:36Z", 20, tsSyslog},
		{"Wed Oct 11 14:32:52.123456 2000]", "2000-10-11T14:32:52.123456Z", 31, tsWeekday},
		{"Mon Jan  2 15:04:05 2006", "2006-01-02T15:04:05Z", 0, tsWeekday},
		{"Mon Jan  2 15:04:05 MST 2006", "2006-01-02T22:04:05Z", 0, tsWeekday},
		{"Mon, 02 Jan 2006 15:04:05 -0700", "2006-01-02T22:04:05Z", 0, tsWeekday},
		{"Mon, 02 Jan 2006 15:04:05 GMT", "2006-01-02T15:04:05Z", 0, tsWeekday},
		{"13:55:36.123 [main]", "2024-10-10T13:55:36.123Z", 12, tsClock},
		{"13:59:59 late", "2024-10-10T13:59:59Z", 8, tsClock},

		{"2024-13-10 13:55:36", "", 0, tsNone},
		{"2024-02-30 13:55:36", "", 0, tsNone},
		{"2024-10-10 24:00:00", "", 0, tsNone},
		{"2024-10-10 13:61:00", "", 0, tsNone},
		{"2024-10-10", "", 0, tsNone},
		{"2024-10-10 13:55", "", 0, tsNone},
		{"2024-10-10T13:55:36Zulu", "", 0, tsNone},
		{"2024-10-10 13:55:36x", "", 0, tsNone},
		{"127.0.0.1 - -", "", 0, tsNone},
		{"Octopus 1 2:3", "", 0, tsNone},
		{"Oct 32 13:55:36", "", 0, tsNone},
		{"May the force be with you", "", 0, tsNone},
		{"1728568536", "", 0, tsNone},
		{"", "", 0, tsNone},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, n, kind := parseTimePrefix(c.in, ref, time.UTC)
			if c.want == "" {
				if kind != tsNone {
					t.Fatalf("parsed %v (%d bytes, kind %d), want no timestamp", got, n, kind)
				}
				return
			}
			if kind != c.kind {
				t.Errorf("kind %d, want %d", kind, c.kind)
			}
			wantN := c.n
			if wantN == 0 {
				wantN = len(c.in)
			}
			if n != wantN {
				t.Errorf("consumed %d bytes, want %d", n, wantN)
			}
			if want := mustTime(t, c.want); !got.Equal(want) || got.Location() != time.UTC {
				t.Errorf("got %v, want %v in UTC", got, want)
			}
		})
	}
}

func TestParseTimeValue(t *testing.T) {
	ref := time.Date(2024, time.October, 10, 14, 0, 0, 0, time.UTC)
	cases := []struct {
		in, want string
	}{
		{"1728568536", "2024-10-10T13:55:36Z"},
		{"1728568536.5", "2024-10-10T13:55:36.5Z"},
		{"1728568536.1234567", "2024-10-10T13:55:36.1234567Z"},
		{"1728568536123", "2024-10-10T13:55:36.123Z"},
		{"1728568536123456", "2024-10-10T13:55:36.123456Z"},
		{"1728568536123456789", "2024-10-10T13:55:36.123456789Z"},
		{"1.7285685365e+09", "2024-10-10T13:55:36.5Z"},
		{"2024-10-10T13:55:36Z", "2024-10-10T13:55:36Z"},
		{"2024-10-10T13:55:36Z  ", "2024-10-10T13:55:36Z"},
		{"Oct 10 13:55:36", "2024-10-10T13:55:36Z"},
		{"12", ""},
		{"99999999", ""},
		{"0", ""},
		{"12345678901234567890123", ""},
		{"-1728568536", ""},
		{"1728568536abc", ""},
		{"2024-10-10T13:55:36Z trailing", ""},
		{"", ""},
		{"   ", ""},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, ok := parseTimeValue(c.in, ref, time.UTC)
			if c.want == "" {
				if ok {
					t.Fatalf("parsed %v, want failure", got)
				}
				return
			}
			if !ok {
				t.Fatal("failed")
			}
			if want := mustTime(t, c.want); !got.Equal(want) {
				t.Errorf("got %v, want %v", got.Format(time.RFC3339Nano), c.want)
			}
		})
	}
}

// TestYearInference checks that yearless stamps land in the year that puts
// them closest to, and not more than a day after, the reference.
func TestYearInference(t *testing.T) {
	cases := []struct {
		name, line, ref, want string
	}{
		{"same year", "Jun 15 12:00:00", "2024-06-15T12:05:00Z", "2024-06-15T12:00:00Z"},
		{"december line read on new year's day", "Dec 31 23:59:58", "2025-01-01T00:00:05Z", "2024-12-31T23:59:58Z"},
		{"january line read late on new year's eve", "Jan  1 00:00:02", "2024-12-31T23:59:50Z", "2025-01-01T00:00:02Z"},
		{"a day ahead is clock skew", "Jun 16 11:00:00", "2024-06-15T12:00:00Z", "2024-06-16T11:00:00Z"},
		{"more than a day ahead is last year", "Jun 17 12:00:00", "2024-06-15T12:00:00Z", "2023-06-17T12:00:00Z"},
		{"an old line from late last year", "Nov 20 08:00:00", "2025-01-10T00:00:00Z", "2024-11-20T08:00:00Z"},
		{"leap day in a leap year", "Feb 29 10:00:00", "2024-03-01T00:00:00Z", "2024-02-29T10:00:00Z"},
		{"leap day read the year after", "Feb 29 10:00:00", "2025-01-05T00:00:00Z", "2024-02-29T10:00:00Z"},
		{"leap day with no leap year near", "Feb 29 10:00:00", "2026-06-01T00:00:00Z", ""},
		{"time of day just before midnight", "23:59:59.500", "2024-10-10T00:00:30Z", "2024-10-09T23:59:59.5Z"},
		{"time of day just after midnight", "00:00:10", "2024-10-09T23:59:50Z", "2024-10-10T00:00:10Z"},
		{"klog across the new year", "I1231 23:59:59.500000 1 a.go:1] x", "2025-01-01T00:00:01Z", "2024-12-31T23:59:59.5Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ref := mustTime(t, c.ref)
			var got time.Time
			var ok bool
			if c.line[0] == 'I' {
				p, _ := New(DefaultOptions())
				rec := newRec(c.line)
				p.Parse(&rec, ref)
				got, ok = rec.Time, !rec.Time.IsZero()
			} else {
				var n int
				var kind tsKind
				got, n, kind = parseTimePrefix(c.line, ref, time.UTC)
				ok = kind != tsNone && n == len(c.line)
			}
			if c.want == "" {
				if ok {
					t.Fatalf("got %v, want no time", got)
				}
				return
			}
			if !ok || !got.Equal(mustTime(t, c.want)) {
				t.Fatalf("got %v (ok %v), want %s", got, ok, c.want)
			}
		})
	}
}

// TestTimeWithoutReference: yearless and dateless stamps are recognised
// without a reference (the line's format is still known) but give no time.
func TestTimeWithoutReference(t *testing.T) {
	for _, in := range []string{"Oct 10 13:55:36 host", "13:55:36.123 [main]"} {
		got, n, kind := parseTimePrefix(in, time.Time{}, time.UTC)
		if kind == tsNone || n == 0 || !got.IsZero() {
			t.Errorf("%q: got %v, %d, kind %d; want recognised with zero time", in, got, n, kind)
		}
	}
	p, _ := New(DefaultOptions())
	rec := newRec("Oct 10 13:55:36 web01 CRON[1]: job")
	p.Parse(&rec, time.Time{})
	if rec.Format != string(FormatSyslog3164) || !rec.Time.IsZero() {
		t.Errorf("got format %q time %v; want syslog3164 with zero time", rec.Format, rec.Time)
	}
}

func TestTimeLocation(t *testing.T) {
	loc := time.FixedZone("UTC+2", 2*3600)
	p, err := New(Options{Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRec("2024-10-10 13:55:36 [INFO] zoneless")
	p.Parse(&rec, time.Time{})
	if want := mustTime(t, "2024-10-10T11:55:36Z"); !rec.Time.Equal(want) {
		t.Errorf("zoneless stamp read as %v, want %v", rec.Time, want)
	}
	rec = newRec("2024-10-10T13:55:36Z [INFO] zoned")
	p.Parse(&rec, time.Time{})
	if want := mustTime(t, "2024-10-10T13:55:36Z"); !rec.Time.Equal(want) {
		t.Errorf("zoned stamp read as %v, want %v", rec.Time, want)
	}
}

func BenchmarkParseTimePrefix(b *testing.B) {
	ref := time.Date(2024, time.October, 10, 14, 0, 0, 0, time.UTC)
	for _, in := range []string{"2024-10-10T13:55:36.123456789Z", "2024-10-10 13:55:36,123", "Oct 10 13:55:36", "10/Oct/2000:13:55:36 -0700"} {
		b.Run(in, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, k := parseTimePrefix(in, ref, time.UTC); k == tsNone {
					b.Fatal("no time")
				}
			}
		})
	}
}
