package timeinterval

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/vigilops/vigil/telemetry"
)

func mustParse(t *testing.T, s Spec) Interval {
	t.Helper()
	iv, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return iv
}

func TestContains(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi int) time.Time { return time.Date(y, mo, d, h, mi, 0, 0, time.UTC) }
	tests := []struct {
		name string
		spec Spec
		in   []time.Time
		out  []time.Time
	}{
		{
			name: "times are half-open",
			spec: Spec{Times: []TimeSpec{{"09:00", "17:00"}}},
			in:   []time.Time{utc(2024, 5, 6, 9, 0), utc(2024, 5, 6, 16, 59)},
			out:  []time.Time{utc(2024, 5, 6, 8, 59), utc(2024, 5, 6, 17, 0)},
		},
		{
			name: "until midnight",
			spec: Spec{Times: []TimeSpec{{"22:00", "24:00"}}},
			in:   []time.Time{utc(2024, 5, 6, 23, 59)},
			out:  []time.Time{utc(2024, 5, 7, 0, 0)},
		},
		{
			name: "weekdays range and single",
			spec: Spec{Weekdays: []string{"Monday:wednesday", "saturday"}},
			in:   []time.Time{utc(2024, 5, 6, 0, 0), utc(2024, 5, 8, 23, 0), utc(2024, 5, 11, 12, 0)},
			out:  []time.Time{utc(2024, 5, 9, 0, 0), utc(2024, 5, 12, 0, 0)},
		},
		{
			name: "negative days of month follow the month's length",
			spec: Spec{DaysOfMonth: []string{"-1"}},
			in:   []time.Time{utc(2024, 1, 31, 5, 0), utc(2024, 2, 29, 5, 0), utc(2023, 2, 28, 5, 0), utc(2024, 4, 30, 1, 0)},
			out:  []time.Time{utc(2024, 1, 30, 5, 0), utc(2024, 2, 28, 5, 0), utc(2024, 4, 29, 1, 0)},
		},
		{
			name: "positive to negative day range",
			spec: Spec{DaysOfMonth: []string{"25:-1"}},
			in:   []time.Time{utc(2024, 2, 25, 0, 0), utc(2024, 2, 29, 0, 0)},
			out:  []time.Time{utc(2024, 2, 24, 0, 0), utc(2024, 3, 1, 0, 0)},
		},
		{
			name: "a start past the month's end matches nothing that month",
			spec: Spec{DaysOfMonth: []string{"30:31"}},
			in:   []time.Time{utc(2024, 1, 30, 0, 0)},
			out:  []time.Time{utc(2024, 2, 29, 0, 0), utc(2024, 3, 1, 0, 0)},
		},
		{
			name: "months by name and number, years",
			spec: Spec{Months: []string{"january:march", "12"}, Years: []string{"2024:2025"}},
			in:   []time.Time{utc(2024, 2, 1, 0, 0), utc(2025, 12, 31, 0, 0)},
			out:  []time.Time{utc(2024, 4, 1, 0, 0), utc(2026, 1, 1, 0, 0)},
		},
		{
			name: "location shifts the day",
			spec: Spec{Weekdays: []string{"tuesday"}, Times: []TimeSpec{{"00:00", "01:00"}}, Location: "Asia/Tokyo"},
			// Monday 15:30 UTC is Tuesday 00:30 in Tokyo.
			in:  []time.Time{utc(2024, 5, 6, 15, 30)},
			out: []time.Time{utc(2024, 5, 7, 0, 30)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iv := mustParse(t, tc.spec)
			for _, at := range tc.in {
				if !iv.Contains(at) {
					t.Errorf("%s not contained", at)
				}
			}
			for _, at := range tc.out {
				if iv.Contains(at) {
					t.Errorf("%s contained", at)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"end before start", Spec{Times: []TimeSpec{{"10:00", "09:00"}}}, "must be before end_time"},
		{"bad clock", Spec{Times: []TimeSpec{{"9am", "10:00"}}}, `"9am" is not a time of day`},
		{"24:30", Spec{Times: []TimeSpec{{"00:00", "24:30"}}}, "not a time of day"},
		{"missing end", Spec{Times: []TimeSpec{{StartTime: "00:00"}}}, "both required"},
		{"weekday name", Spec{Weekdays: []string{"mon"}}, `"mon" is not a weekday name`},
		{"weekday order", Spec{Weekdays: []string{"friday:monday"}}, "start day must come before end day"},
		{"day zero", Spec{DaysOfMonth: []string{"0"}}, "is not a day of the month"},
		{"day 32", Spec{DaysOfMonth: []string{"32"}}, "is not a day of the month"},
		{"negative to positive", Spec{DaysOfMonth: []string{"-5:3"}}, "end day must be negative"},
		{"day order", Spec{DaysOfMonth: []string{"10:2"}}, "start day must come before"},
		{"month", Spec{Months: []string{"13"}}, "not a month"},
		{"month order", Spec{Months: []string{"june:may"}}, "start month must come before"},
		{"year", Spec{Years: []string{"20x4"}}, "not a year"},
		{"year order", Spec{Years: []string{"2025:2024"}}, "start year must come before"},
		{"location", Spec{Location: "Not/AZone"}, "not a known time zone"},
		{"path location", Spec{Location: "../../etc/passwd"}, "not a time zone name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.spec)
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrInvalid with %q", err, tc.want)
			}
		})
	}
}

func TestWindow(t *testing.T) {
	iv := mustParse(t, Spec{Weekdays: []string{"monday"}})
	m, _ := labels.NewMatcher(labels.MatchEqual, "service", "db")
	w := &Window{Name: "upgrade", Matchers: labels.Matchers{m}, IntervalNames: []string{"mondays"}, Intervals: []Intervals{{iv}}}
	monday := time.Date(2024, 5, 6, 12, 0, 0, 0, time.UTC)
	db := telemetry.LabelsFromStrings("service", "db")
	if rs := (Windows{w}).Mutes(db, monday); len(rs) != 1 || !strings.Contains(rs[0], "maintenance window upgrade (time interval mondays)") {
		t.Errorf("monday db: %v", rs)
	}
	if rs := w.Mutes(db, monday.Add(24*time.Hour)); rs != nil {
		t.Errorf("tuesday db: %v", rs)
	}
	if rs := w.Mutes(telemetry.LabelsFromStrings("service", "web"), monday); rs != nil {
		t.Errorf("monday web: %v", rs)
	}
}

// FuzzParseRange feeds the range parsers and a time range arbitrary text:
// they must return a valid range or ErrInvalid, never panic.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"monday:friday", "-3:-1", "1:5", "january:march", "2024:2025", "09:00", "24:00", ":", "-0", "31:-1"} {
		f.Add(s, "17:00")
	}
	f.Fuzz(func(t *testing.T, s, end string) {
		for _, p := range []func(string) (Range, error){ParseWeekdays, ParseDaysOfMonth, ParseMonths, ParseYears} {
			r, err := p(s)
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("%q: error %v is not ErrInvalid", s, err)
				}
				continue
			}
			if (r.Begin > 0) == (r.End > 0) && r.Begin > r.End {
				t.Fatalf("%q: inverted range %v accepted", s, r)
			}
		}
		if tr, err := ParseTimeRange(s, end); err == nil && (tr.StartMinute >= tr.EndMinute || tr.EndMinute > 24*60 || tr.StartMinute < 0) {
			t.Fatalf("%q-%q: bad range %v accepted", s, end, tr)
		}
		iv, err := Parse(Spec{Weekdays: []string{s}, DaysOfMonth: []string{s}, Location: end})
		if err == nil {
			iv.Contains(time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC))
		}
	})
}
