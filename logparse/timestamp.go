package logparse

import "time"

// Timestamps are read by hand, dispatching on the characters at fixed
// positions, instead of trying time.Parse with dozens of layouts: one shape
// check costs a few nanoseconds, a failed time.Parse costs hundreds, and most
// lines carry a timestamp. Because the dispatch is direct there is no layout
// worth caching per source.
//
// Every instant is returned in UTC. Timestamps without a zone are read in the
// Options' Location; timestamps without a year (syslog, klog) or without a
// date (logback's default HH:mm:ss.SSS) are placed relative to a reference
// time, usually the time the line was received.

// tsKind is the shape of a timestamp; header parsing uses it to tell formats
// apart (Go's log package writes 2006/01/02, Apache 02/Jan/2006:...).
type tsKind uint8

const (
	tsNone    tsKind = iota
	tsISO            // 2006-01-02T15:04:05.000Z, 2006-01-02 15:04:05,000
	tsSlash          // 2006/01/02 15:04:05
	tsSyslog         // Jan _2 15:04:05
	tsApache         // 02/Jan/2006:15:04:05 -0700
	tsDayMon         // 02 Jan 2006 15:04:05.000 (Redis), 02-Jan-2006 15:04:05 (Tomcat)
	tsWeekday        // Mon Jan _2 15:04:05 2006, Mon, 02 Jan 2006 15:04:05 MST
	tsClock          // 15:04:05.000 (no date)
)

// yearAhead is how far ahead of the reference a yearless timestamp may land
// before the previous year is chosen instead: clocks drift and buffers
// reorder, but a syslog line is never written a year in the future.
const yearAhead = 24 * time.Hour

func isDigit(c byte) bool { return c-'0' < 10 }

func isUpper(c byte) bool { return c-'A' < 26 }

func isAlpha(c byte) bool { return (c|0x20)-'a' < 26 }

// digitsN reads exactly n decimal digits at s[i:].
func digitsN(s string, i, n int) (int, bool) {
	if i < 0 || i+n > len(s) {
		return 0, false
	}
	v := 0
	for k := i; k < i+n; k++ {
		c := s[k]
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

var monthNames = [...]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

// monthAt reads a three-letter English month abbreviation, in any case.
func monthAt(s string, i int) (int, bool) {
	if i+3 > len(s) {
		return 0, false
	}
	a, b, c := s[i]|0x20, s[i+1]|0x20, s[i+2]|0x20
	for m, n := range monthNames {
		if n[0] == a && n[1] == b && n[2] == c {
			return m + 1, true
		}
	}
	return 0, false
}

var weekdayNames = [...]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

func weekdayAt(s string, i int) bool {
	if i+3 > len(s) {
		return false
	}
	a, b, c := s[i]|0x20, s[i+1]|0x20, s[i+2]|0x20
	for _, n := range weekdayNames {
		if n[0] == a && n[1] == b && n[2] == c {
			return true
		}
	}
	return false
}

func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// civil is a broken-down timestamp before it becomes an instant.
type civil struct {
	year, month, day, hour, min, sec, nsec int
	off                                    int // zone offset in seconds, when zone
	zone                                   bool
}

func (c *civil) valid() bool {
	return c.month >= 1 && c.month <= 12 && c.day >= 1 && c.day <= daysIn(c.month, c.year) &&
		c.hour <= 23 && c.min <= 59 && c.sec <= 60
}

func (c *civil) time(loc *time.Location) (time.Time, bool) {
	if !c.valid() {
		return time.Time{}, false
	}
	if c.zone {
		t := time.Date(c.year, time.Month(c.month), c.day, c.hour, c.min, c.sec, c.nsec, time.UTC)
		return t.Add(-time.Duration(c.off) * time.Second), true
	}
	return time.Date(c.year, time.Month(c.month), c.day, c.hour, c.min, c.sec, c.nsec, loc).UTC(), true
}

// inferYear picks, among the reference's year and its neighbours, the latest
// year that puts the timestamp no more than yearAhead after ref. This is how a
// "Dec 31 23:59:59" line read on January 1st lands in the old year and a
// "Jan  1 00:00:01" line read late on December 31st in the new one.
//
// Without a reference the timestamp is only checked (against a leap year, so
// Feb 29 passes) and a zero time returned: the line is still recognised.
func (c *civil) inferYear(ref time.Time, loc *time.Location) (time.Time, bool) {
	if ref.IsZero() {
		c.year = 2000
		return time.Time{}, c.valid()
	}
	y := ref.In(loc).Year()
	for _, cy := range [3]int{y + 1, y, y - 1} {
		c.year = cy
		t, ok := c.time(loc)
		if ok && t.Sub(ref) <= yearAhead {
			return t, true
		}
	}
	return time.Time{}, false
}

// InferYear places a date written without a year (as in RFC 3164 syslog)
// in a year: the latest of ref's year and its neighbours that puts it no
// more than a day after ref. Logs describe the past, so a line from months
// ago stays in the past, while a sender whose clock runs slightly ahead
// across New Year still lands in the new year. The result is in UTC; loc
// is the zone the date was written in. ok is false for impossible dates
// (Apr 31, or Feb 29 near no leap year) and for a zero ref.
func InferYear(month time.Month, day, hour, minute, sec, nsec int, ref time.Time, loc *time.Location) (t time.Time, ok bool) {
	if ref.IsZero() {
		return time.Time{}, false
	}
	c := civil{month: int(month), day: day, hour: hour, min: minute, sec: sec, nsec: nsec}
	return c.inferYear(ref, loc)
}

// inferDate places a time of day on the day (of ref's, the day before or the
// day after) that puts it closest to ref.
func (c *civil) inferDate(ref time.Time, loc *time.Location) (time.Time, bool) {
	if c.hour > 23 || c.min > 59 || c.sec > 60 {
		return time.Time{}, false
	}
	if ref.IsZero() {
		return time.Time{}, true
	}
	r := ref.In(loc)
	y, m, d := r.Date()
	base := time.Date(y, m, d, c.hour, c.min, c.sec, c.nsec, loc)
	if c.zone {
		base = time.Date(y, m, d, c.hour, c.min, c.sec, c.nsec, time.UTC).Add(-time.Duration(c.off) * time.Second)
	}
	best := base
	for _, dd := range [2]int{-1, 1} {
		cand := base.AddDate(0, 0, dd)
		if absDur(cand.Sub(ref)) < absDur(best.Sub(ref)) {
			best = cand
		}
	}
	return best.UTC(), true
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// clockAt reads hh:mm:ss and an optional fraction (after '.', or after ','
// when comma is set, as Python and log4j write it) at s[i:].
func clockAt(s string, i int, c *civil, comma bool) (int, bool) {
	if i+8 > len(s) || s[i+2] != ':' || s[i+5] != ':' {
		return 0, false
	}
	var ok1, ok2, ok3 bool
	c.hour, ok1 = digitsN(s, i, 2)
	c.min, ok2 = digitsN(s, i+3, 2)
	c.sec, ok3 = digitsN(s, i+6, 2)
	if !ok1 || !ok2 || !ok3 {
		return 0, false
	}
	i += 8
	if i+1 < len(s) && (s[i] == '.' || (comma && s[i] == ',')) && isDigit(s[i+1]) {
		i++
		ns, n := 0, 0
		for ; i < len(s) && isDigit(s[i]); i++ {
			if n < 9 {
				ns = ns*10 + int(s[i]-'0')
				n++
			}
		}
		for ; n < 9; n++ {
			ns *= 10
		}
		c.nsec = ns
	}
	return i, true
}

// boundary reports whether a timestamp may end before s[i]: it must not run
// into a word or number, or "10:00:00x" would be read as a time.
func boundary(s string, i int) bool {
	if i >= len(s) {
		return true
	}
	switch s[i] {
	case ' ', '\t', ']', ')', ',', '|', ';', '"', '\'', '>':
		return true
	}
	return false
}

// zoneAt reads an optional zone at s[i:]: Z, ±hh:mm, ±hhmm or ±hh directly
// after the time, or after one space ±hhmm or a common abbreviation.
func zoneAt(s string, i int, c *civil) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case 'Z', 'z':
		if boundary(s, i+1) {
			c.zone, c.off = true, 0
			return i + 1
		}
	case '+', '-':
		if end, ok := offsetAt(s, i, c); ok && boundary(s, end) {
			return end
		}
	case ' ':
		if i+1 >= len(s) {
			return i
		}
		if s[i+1] == '+' || s[i+1] == '-' {
			if end, ok := offsetAt(s, i+1, c); ok && end-i >= 5 && boundary(s, end) {
				return end
			}
			c.zone = false
			return i
		}
		j := i + 1
		for j < len(s) && j-i <= 5 && isUpper(s[j]) {
			j++
		}
		if j-i >= 2 && boundary(s, j) {
			if off, ok := zoneAbbrev(s[i+1 : j]); ok {
				c.zone, c.off = true, off
				return j
			}
		}
	}
	return i
}

// offsetAt reads ±hh[[:]mm] at s[i:].
func offsetAt(s string, i int, c *civil) (int, bool) {
	sign := 1
	if s[i] == '-' {
		sign = -1
	}
	h, ok := digitsN(s, i+1, 2)
	if !ok || h > 14 {
		return 0, false
	}
	end, m := i+3, 0
	if end < len(s) && s[end] == ':' {
		if m, ok = digitsN(s, end+1, 2); !ok {
			return 0, false
		}
		end += 3
	} else if mm, ok := digitsN(s, end, 2); ok {
		m, end = mm, end+2
	}
	if m > 59 {
		return 0, false
	}
	c.zone, c.off = true, sign*(h*3600+m*60)
	return end, true
}

// zoneAbbrev knows the abbreviations that show up in logs. Some are
// ambiguous (CST is also China, IST also Ireland); we take the most common
// meaning, which is what every log tool does.
func zoneAbbrev(z string) (int, bool) {
	const h = 3600
	switch z {
	case "UTC", "GMT", "Z", "UT":
		return 0, true
	case "EST":
		return -5 * h, true
	case "EDT":
		return -4 * h, true
	case "CDT":
		return -5 * h, true
	case "CST":
		return -6 * h, true
	case "MST":
		return -7 * h, true
	case "MDT":
		return -6 * h, true
	case "PST":
		return -8 * h, true
	case "PDT":
		return -7 * h, true
	case "WET":
		return 0, true
	case "CET", "BST", "WEST":
		return 1 * h, true
	case "CEST", "EET":
		return 2 * h, true
	case "EEST", "MSK":
		return 3 * h, true
	case "IST":
		return 5*h + 30*60, true
	case "HKT", "SGT":
		return 8 * h, true
	case "JST", "KST":
		return 9 * h, true
	case "AEST":
		return 10 * h, true
	case "AEDT":
		return 11 * h, true
	}
	return 0, false
}

// parseTimePrefix reads a timestamp at the start of s. It returns the
// instant, the bytes consumed and the shape, or tsNone.
func parseTimePrefix(s string, ref time.Time, loc *time.Location) (time.Time, int, tsKind) {
	if len(s) < 8 {
		return time.Time{}, 0, tsNone
	}
	var c civil
	switch b := s[0]; {
	case isDigit(b):
		switch {
		case len(s) >= 19 && isDigit(s[1]) && isDigit(s[2]) && isDigit(s[3]) && (s[4] == '-' || s[4] == '/'):
			return ymdAt(s, &c, ref, loc)
		case isDigit(s[1]) && s[2] == ':':
			end, ok := clockAt(s, 0, &c, true)
			if !ok {
				break
			}
			end = zoneAt(s, end, &c)
			if !boundary(s, end) {
				break
			}
			if t, ok := c.inferDate(ref, loc); ok {
				return t, end, tsClock
			}
		case isDigit(s[1]) && len(s) >= 20 && (s[2] == '/' || s[2] == '-' || s[2] == ' ') && isAlpha(s[3]):
			return dayMonthAt(s, &c, loc)
		}
	case isAlpha(b):
		if m, ok := monthAt(s, 0); ok && s[3] == ' ' {
			return syslogAt(s, m, &c, ref, loc)
		}
		if weekdayAt(s, 0) {
			return weekdayTimeAt(s, &c, loc)
		}
	}
	return time.Time{}, 0, tsNone
}
