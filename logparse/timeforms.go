package logparse

import (
	"strconv"
	"time"
)

// The timestamp forms parseTimePrefix dispatches to, one reader each, and
// the whole-value readers structured formats use.

// ymdAt reads 2006-01-02[T ]15:04:05[.frac][zone] and 2006/01/02 15:04:05.
func ymdAt(s string, c *civil, ref time.Time, loc *time.Location) (time.Time, int, tsKind) {
	sep := s[4]
	var ok1, ok2, ok3 bool
	c.year, ok1 = digitsN(s, 0, 4)
	c.month, ok2 = digitsN(s, 5, 2)
	c.day, ok3 = digitsN(s, 8, 2)
	if !ok1 || !ok2 || !ok3 || s[7] != sep {
		return time.Time{}, 0, tsNone
	}
	switch s[10] {
	case 'T', 't', ' ', '_':
	default:
		return time.Time{}, 0, tsNone
	}
	end, ok := clockAt(s, 11, c, true)
	if !ok {
		return time.Time{}, 0, tsNone
	}
	end = zoneAt(s, end, c)
	if !boundary(s, end) {
		return time.Time{}, 0, tsNone
	}
	t, ok := c.time(loc)
	if !ok {
		return time.Time{}, 0, tsNone
	}
	if sep == '/' {
		return t, end, tsSlash
	}
	return t, end, tsISO
}

// dayMonthAt reads 02/Jan/2006:15:04:05 -0700 (Apache), 02-Jan-2006
// 15:04:05.000 (Tomcat) and 02 Jan 2006 15:04:05.000 (Redis).
func dayMonthAt(s string, c *civil, loc *time.Location) (time.Time, int, tsKind) {
	sep := s[2]
	var ok bool
	if c.day, ok = digitsN(s, 0, 2); !ok {
		return time.Time{}, 0, tsNone
	}
	if c.month, ok = monthAt(s, 3); !ok || s[6] != sep {
		return time.Time{}, 0, tsNone
	}
	if c.year, ok = digitsN(s, 7, 4); !ok {
		return time.Time{}, 0, tsNone
	}
	kind, want := tsDayMon, byte(' ')
	if sep == '/' {
		kind, want = tsApache, ':'
	}
	if len(s) < 12 || s[11] != want {
		return time.Time{}, 0, tsNone
	}
	end, ok := clockAt(s, 12, c, false)
	if !ok {
		return time.Time{}, 0, tsNone
	}
	end = zoneAt(s, end, c)
	if !boundary(s, end) {
		return time.Time{}, 0, tsNone
	}
	t, ok := c.time(loc)
	if !ok {
		return time.Time{}, 0, tsNone
	}
	return t, end, kind
}

// syslogAt reads Jan _2 15:04:05[.frac] (RFC 3164), with an optional year
// before the time (Jan  2 2006 15:04:05, as Cisco writes it).
func syslogAt(s string, month int, c *civil, ref time.Time, loc *time.Location) (time.Time, int, tsKind) {
	c.month = month
	i := 4
	if i < len(s) && s[i] == ' ' {
		i++ // space-padded day
	}
	d := 0
	start := i
	for i < len(s) && isDigit(s[i]) && i-start < 2 {
		d = d*10 + int(s[i]-'0')
		i++
	}
	if i == start || i >= len(s) || s[i] != ' ' {
		return time.Time{}, 0, tsNone
	}
	c.day = d
	i++
	hasYear := false
	if y, ok := digitsN(s, i, 4); ok && i+4 < len(s) && s[i+4] == ' ' {
		c.year, hasYear = y, true
		i += 5
	}
	end, ok := clockAt(s, i, c, false)
	if !ok {
		return time.Time{}, 0, tsNone
	}
	end = zoneAt(s, end, c)
	if !boundary(s, end) {
		return time.Time{}, 0, tsNone
	}
	var t time.Time
	if hasYear {
		t, ok = c.time(loc)
	} else {
		t, ok = c.inferYear(ref, loc)
	}
	if !ok {
		return time.Time{}, 0, tsNone
	}
	return t, end, tsSyslog
}

// weekdayTimeAt reads the C library's and HTTP's forms: Mon Jan _2
// 15:04:05[.frac] [zone ]2006 (ANSIC, UnixDate, Apache's error log) and Mon,
// 02 Jan 2006 15:04:05 zone (RFC 1123).
func weekdayTimeAt(s string, c *civil, loc *time.Location) (time.Time, int, tsKind) {
	i := 3
	if i < len(s) && s[i] == ',' {
		i++
	}
	if i >= len(s) || s[i] != ' ' {
		return time.Time{}, 0, tsNone
	}
	i++
	var ok bool
	if i < len(s) && isAlpha(s[i]) {
		if c.month, ok = monthAt(s, i); !ok || i+4 > len(s) || s[i+3] != ' ' {
			return time.Time{}, 0, tsNone
		}
		i += 4
		if i < len(s) && s[i] == ' ' {
			i++
		}
		start := i
		for i < len(s) && isDigit(s[i]) && i-start < 2 {
			c.day = c.day*10 + int(s[i]-'0')
			i++
		}
		if i == start || i >= len(s) || s[i] != ' ' {
			return time.Time{}, 0, tsNone
		}
		if i, ok = clockAt(s, i+1, c, false); !ok {
			return time.Time{}, 0, tsNone
		}
		i = zoneAt(s, i, c)
		if i >= len(s) || s[i] != ' ' {
			return time.Time{}, 0, tsNone
		}
		if c.year, ok = digitsN(s, i+1, 4); !ok {
			return time.Time{}, 0, tsNone
		}
		i += 5
	} else {
		if c.day, ok = digitsN(s, i, 2); !ok || i+3 > len(s) || s[i+2] != ' ' {
			return time.Time{}, 0, tsNone
		}
		if c.month, ok = monthAt(s, i+3); !ok || i+7 > len(s) || s[i+6] != ' ' {
			return time.Time{}, 0, tsNone
		}
		if c.year, ok = digitsN(s, i+7, 4); !ok || i+11 >= len(s) || s[i+11] != ' ' {
			return time.Time{}, 0, tsNone
		}
		if i, ok = clockAt(s, i+12, c, false); !ok {
			return time.Time{}, 0, tsNone
		}
		i = zoneAt(s, i, c)
	}
	if !boundary(s, i) {
		return time.Time{}, 0, tsNone
	}
	t, ok := c.time(loc)
	if !ok {
		return time.Time{}, 0, tsNone
	}
	return t, i, tsWeekday
}

// parseTimeValue reads a whole field value as a time: any form
// parseTimePrefix knows, or seconds, milliseconds, microseconds or
// nanoseconds since the epoch (told apart by magnitude, as zap, pino and
// OpenTelemetry write them).
func parseTimeValue(s string, ref time.Time, loc *time.Location) (time.Time, bool) {
	for len(s) > 0 && s[len(s)-1] == ' ' {
		s = s[:len(s)-1]
	}
	if s == "" {
		return time.Time{}, false
	}
	if isDigit(s[0]) {
		if t, ok := parseEpoch(s); ok {
			return t, true
		}
	}
	t, n, kind := parseTimePrefix(s, ref, loc)
	if kind == tsNone || n != len(s) {
		return time.Time{}, false
	}
	return t, true
}

// parseEpoch reads d+[.d+] as an epoch. The integer part's length tells the
// unit: up to 11 digits are seconds (until the year 5138), then milliseconds,
// microseconds and nanoseconds. Values below 1e8 seconds (1973) are more
// likely durations or counters than times and are refused.
func parseEpoch(s string) (time.Time, bool) {
	i := 0
	var whole int64
	for i < len(s) && isDigit(s[i]) {
		if i >= 19 {
			return time.Time{}, false
		}
		whole = whole*10 + int64(s[i]-'0')
		i++
	}
	intDigits := i
	var frac int64
	fracDigits := 0
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && isDigit(s[i]); i++ {
			if fracDigits < 9 {
				frac = frac*10 + int64(s[i]-'0')
				fracDigits++
			}
		}
	}
	if i != len(s) {
		if s[i] != 'e' && s[i] != 'E' {
			return time.Time{}, false // a date, most likely: 2024-...
		}
		// Exponent forms (1.7e+09) are rare enough for strconv.
		if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 1e8 && f < 1e11 {
			sec := int64(f)
			return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), true
		}
		return time.Time{}, false
	}
	for n := fracDigits; n < 9; n++ {
		frac *= 10
	}
	switch {
	case intDigits < 9:
		return time.Time{}, false
	case intDigits <= 11:
		return time.Unix(whole, frac).UTC(), true
	case intDigits <= 14:
		return time.Unix(whole/1e3, (whole%1e3)*1e6+frac/1e3).UTC(), true
	case intDigits <= 17:
		return time.Unix(whole/1e6, (whole%1e6)*1e3+frac/1e6).UTC(), true
	default:
		return time.Unix(0, whole).UTC(), true
	}
}
