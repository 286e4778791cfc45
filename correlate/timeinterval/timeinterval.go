// Package timeinterval evaluates Alertmanager's time_intervals: named sets of
// periods (times of day, weekdays, days of the month, months, years, in a
// location) used by routes to mute notifications (mute_time_intervals) or to
// allow them only then (active_time_intervals), and by maintenance windows.
//
// Invariant: an Interval is only built by Parse, so every range in it is
// valid; Contains never fails and never reads the clock: the instant is
// always passed in.
package timeinterval

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid is matched by errors.Is for every parse failure.
var ErrInvalid = errors.New("invalid time interval")

// Range is an inclusive range of integers: weekdays (0 is Sunday), days of
// the month (negative counts from the month's end, -1 being the last day),
// months (1 is January) or years.
type Range struct {
	Begin, End int
}

// TimeRange is a half-open range of minutes of the day, [Start, End), as in
// Alertmanager: "09:00" to "17:00" includes 16:59 but not 17:00.
type TimeRange struct {
	StartMinute, EndMinute int
}

// Interval is one entry of a named time interval. A field left empty places
// no constraint; an instant is in the Interval when every non-empty field
// contains it.
type Interval struct {
	Times       []TimeRange
	Weekdays    []Range
	DaysOfMonth []Range
	Months      []Range
	Years       []Range
	// Location is where the fields are read; nil is UTC, as in Alertmanager.
	Location *time.Location
}

// Intervals is a named time interval: an instant is in it when it is in any
// of its entries.
type Intervals []Interval

// Contains reports whether t falls in any of the intervals.
func (is Intervals) Contains(t time.Time) bool {
	for i := range is {
		if is[i].Contains(t) {
			return true
		}
	}
	return false
}

// Contains reports whether t falls in the interval.
func (iv *Interval) Contains(t time.Time) bool {
	if iv.Location != nil {
		t = t.In(iv.Location)
	} else {
		t = t.UTC()
	}
	if len(iv.Times) > 0 {
		m := t.Hour()*60 + t.Minute()
		ok := false
		for _, tr := range iv.Times {
			if m >= tr.StartMinute && m < tr.EndMinute {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(iv.DaysOfMonth) > 0 && !dayOfMonthIn(iv.DaysOfMonth, t) {
		return false
	}
	if len(iv.Months) > 0 && !in(iv.Months, int(t.Month())) {
		return false
	}
	if len(iv.Weekdays) > 0 && !in(iv.Weekdays, int(t.Weekday())) {
		return false
	}
	if len(iv.Years) > 0 && !in(iv.Years, t.Year()) {
		return false
	}
	return true
}

func in(rs []Range, v int) bool {
	for _, r := range rs {
		if v >= r.Begin && v <= r.End {
			return true
		}
	}
	return false
}

// dayOfMonthIn resolves negative days against the month t is in, so "-1"
// is the 31st in January and the 28th or 29th in February. A range whose
// start lies past the month's end (30 in February) matches nothing that
// month rather than spilling into the next.
func dayOfMonthIn(rs []Range, t time.Time) bool {
	days := daysIn(t)
	for _, r := range rs {
		b, e := r.Begin, r.End
		if b < 0 {
			b = days + b + 1
		}
		if e < 0 {
			e = days + e + 1
		}
		if b > days {
			continue
		}
		b, e = max(b, 1), min(e, days)
		if t.Day() >= b && t.Day() <= e {
			return true
		}
	}
	return false
}

func daysIn(t time.Time) int {
	return time.Date(t.Year(), t.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// Spec is the YAML form of one interval entry, as in alertmanager.yml.
type Spec struct {
	Times       []TimeSpec `yaml:"times" json:"times,omitempty"`
	Weekdays    []string   `yaml:"weekdays" json:"weekdays,omitempty"`
	DaysOfMonth []string   `yaml:"days_of_month" json:"days_of_month,omitempty"`
	Months      []string   `yaml:"months" json:"months,omitempty"`
	Years       []string   `yaml:"years" json:"years,omitempty"`
	Location    string     `yaml:"location" json:"location,omitempty"`
}

// TimeSpec is one times entry: "HH:MM" to "HH:MM", end exclusive, "24:00"
// allowed as the end.
type TimeSpec struct {
	StartTime string `yaml:"start_time" json:"start_time"`
	EndTime   string `yaml:"end_time" json:"end_time"`
}

// Parse builds an Interval from its specification. The error names the
// field and the offending value.
func Parse(s Spec) (Interval, error) {
	var iv Interval
	for _, ts := range s.Times {
		tr, err := ParseTimeRange(ts.StartTime, ts.EndTime)
		if err != nil {
			return Interval{}, fmt.Errorf("times: %w", err)
		}
		iv.Times = append(iv.Times, tr)
	}
	type field struct {
		name  string
		in    []string
		parse func(string) (Range, error)
		out   *[]Range
	}
	for _, f := range []field{
		{"weekdays", s.Weekdays, ParseWeekdays, &iv.Weekdays},
		{"days_of_month", s.DaysOfMonth, ParseDaysOfMonth, &iv.DaysOfMonth},
		{"months", s.Months, ParseMonths, &iv.Months},
		{"years", s.Years, ParseYears, &iv.Years},
	} {
		for _, v := range f.in {
			r, err := f.parse(v)
			if err != nil {
				return Interval{}, fmt.Errorf("%s: %w", f.name, err)
			}
			*f.out = append(*f.out, r)
		}
	}
	if s.Location != "" {
		loc, err := LoadLocation(s.Location)
		if err != nil {
			return Interval{}, fmt.Errorf("location: %w", err)
		}
		iv.Location = loc
	}
	return iv, nil
}

// LoadLocation resolves an IANA zone name ("Europe/Amsterdam"), "UTC" or
// "Local".
func LoadLocation(name string) (*time.Location, error) {
	if strings.ContainsAny(name, "\x00") || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
		return nil, fmt.Errorf("%w: %q is not a time zone name", ErrInvalid, name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not a known time zone", ErrInvalid, name)
	}
	return loc, nil
}

// ParseTimeRange parses start and end times of day ("09:00", "17:30").
func ParseTimeRange(start, end string) (TimeRange, error) {
	if start == "" || end == "" {
		return TimeRange{}, fmt.Errorf("%w: start_time and end_time are both required", ErrInvalid)
	}
	s, err := parseClock(start)
	if err != nil {
		return TimeRange{}, err
	}
	e, err := parseClock(end)
	if err != nil {
		return TimeRange{}, err
	}
	if s >= e {
		return TimeRange{}, fmt.Errorf("%w: start_time %s must be before end_time %s", ErrInvalid, start, end)
	}
	if s == 24*60 {
		return TimeRange{}, fmt.Errorf("%w: start_time cannot be 24:00", ErrInvalid)
	}
	return TimeRange{StartMinute: s, EndMinute: e}, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	bad := fmt.Errorf("%w: %q is not a time of day HH:MM", ErrInvalid, s)
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return 0, bad
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, bad
	}
	return hh*60 + mm, nil
}

var weekdays = map[string]int{
	"sunday": 0, "monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5, "saturday": 6,
}

var months = map[string]int{
	"january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6,
	"july": 7, "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
}

// ParseWeekdays parses "monday" or "monday:friday" (case-insensitive).
func ParseWeekdays(s string) (Range, error) {
	r, err := parseRange(s, "weekday", func(v string) (int, error) {
		d, ok := weekdays[strings.ToLower(v)]
		if !ok {
			return 0, fmt.Errorf("%w: %q is not a weekday name", ErrInvalid, v)
		}
		return d, nil
	})
	if err != nil {
		return r, err
	}
	if r.Begin > r.End {
		return Range{}, fmt.Errorf("%w: weekday range %q: start day must come before end day (ranges run sunday to saturday)", ErrInvalid, s)
	}
	return r, nil
}

// ParseMonths parses "january", "1", "january:march" or "1:3".
func ParseMonths(s string) (Range, error) {
	r, err := parseRange(s, "month", func(v string) (int, error) {
		if m, ok := months[strings.ToLower(v)]; ok {
			return m, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 12 {
			return 0, fmt.Errorf("%w: %q is not a month name or number 1-12", ErrInvalid, v)
		}
		return n, nil
	})
	if err != nil {
		return r, err
	}
	if r.Begin > r.End {
		return Range{}, fmt.Errorf("%w: month range %q: start month must come before end month", ErrInvalid, s)
	}
	return r, nil
}

// ParseYears parses "2024" or "2024:2026".
func ParseYears(s string) (Range, error) {
	r, err := parseRange(s, "year", func(v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 9999 {
			return 0, fmt.Errorf("%w: %q is not a year", ErrInvalid, v)
		}
		return n, nil
	})
	if err != nil {
		return r, err
	}
	if r.Begin > r.End {
		return Range{}, fmt.Errorf("%w: year range %q: start year must come before end year", ErrInvalid, s)
	}
	return r, nil
}

// ParseDaysOfMonth parses "1", "1:5", "-1" or "-7:-1". Days are 1 to 31 or
// -31 to -1; a range may go from a positive to a negative day ("15:-1",
// the 15th to the last day) but not the other way.
func ParseDaysOfMonth(s string) (Range, error) {
	r, err := parseRange(s, "day of month", func(v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n == 0 || n < -31 || n > 31 {
			return 0, fmt.Errorf("%w: %q is not a day of the month (1 to 31, or -31 to -1 from the end)", ErrInvalid, v)
		}
		return n, nil
	})
	if err != nil {
		return r, err
	}
	switch {
	case r.Begin < 0 && r.End > 0:
		return Range{}, fmt.Errorf("%w: day of month range %q: end day must be negative if start day is negative", ErrInvalid, s)
	case (r.Begin > 0) == (r.End > 0) && r.Begin > r.End:
		return Range{}, fmt.Errorf("%w: day of month range %q: start day must come before end day", ErrInvalid, s)
	}
	return r, nil
}

func parseRange(s, what string, one func(string) (int, error)) (Range, error) {
	if s == "" {
		return Range{}, fmt.Errorf("%w: empty %s", ErrInvalid, what)
	}
	b, e, isRange := strings.Cut(s, ":")
	if !isRange {
		v, err := one(strings.TrimSpace(s))
		return Range{Begin: v, End: v}, err
	}
	bv, err := one(strings.TrimSpace(b))
	if err != nil {
		return Range{}, err
	}
	ev, err := one(strings.TrimSpace(e))
	if err != nil {
		return Range{}, err
	}
	return Range{Begin: bv, End: ev}, nil
}
