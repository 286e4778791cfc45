package logparse

import "time"

// Compact timestamps: the digit-only and short-date forms that many
// application and HPC logs write and that parseTimePrefix does not take,
// because on their own, at the start of an arbitrary line, they are too easy
// to confuse with counters and ids. They are read only where a source's
// header is being learned or read by a learned layout, where a column that
// parses as a time in 90% of a source's lines is a time:
//
//	081109 203615               yymmdd hhmmss
//	17/06/09 20:10:40           yy/mm/dd hh:mm:ss (or mm/dd/yy when that is the only valid reading)
//	03-17 16:13:38.811          mm-dd hh:mm:ss.fff, the year inferred
//	20171223-22:15:29:606       yyyymmdd-hh:mm:ss:fff
//	2005-06-03-15.42.50.675872  yyyy-mm-dd-hh.mm.ss.ffffff
//	10.30 16:49:06              mm.dd hh:mm:ss
//	1117838570                  Unix seconds (or 13-digit milliseconds), 2000 to 2039
//
// The date and the time of day may be joined by a space, '-', '_', 'T' or
// ':'; the time's parts by ':' or '.', or not at all (hhmmss); a fraction by
// '.', ',' or ':'.

// epoch bounds: a 10-digit number is taken for Unix seconds only between
// 2000 and 2040, where log lines are written.
const (
	minEpoch = 946684800
	maxEpoch = 2208988800
)

func digitRun(s string, i int) int {
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	return j - i
}

// compactEnd reports whether a compact timestamp may end before s[i]: not
// inside a word or number.
func compactEnd(s string, i int) bool {
	return i >= len(s) || !(isAlpha(s[i]) || isDigit(s[i]) || s[i] == '_')
}

// learnTimePrefix reads a timestamp at the start of s in any form the
// header learner knows: parseTimePrefix's, then the compact ones.
func learnTimePrefix(s string, ref time.Time, loc *time.Location) (time.Time, int, tsKind) {
	if t, n, kind := parseTimePrefix(s, ref, loc); kind != tsNone {
		return t, n, kind
	}
	if t, n, ok := compactTimeAt(s, ref, loc); ok {
		return t, n, tsISO
	}
	return time.Time{}, 0, tsNone
}

// compactTimeAt reads a compact timestamp at the start of s.
func compactTimeAt(s string, ref time.Time, loc *time.Location) (time.Time, int, bool) {
	n := digitRun(s, 0)
	if n == 0 {
		return time.Time{}, 0, false
	}
	if (n == 10 || n == 13) && (n == len(s) || s[n] != '-' && s[n] != '/' && s[n] != '.' && s[n] != ':') {
		if t, end, ok := epochAt(s, n); ok {
			return t, end, true
		}
		return time.Time{}, 0, false
	}
	var c civil
	i, yearless, ok := compactDateAt(s, n, &c)
	if !ok || i >= len(s) {
		return time.Time{}, 0, false
	}
	switch s[i] {
	case ' ', '-', '_', 'T', ':':
		i++
	default:
		return time.Time{}, 0, false
	}
	end, ok := compactClockAt(s, i, &c)
	if !ok || !compactEnd(s, end) {
		return time.Time{}, 0, false
	}
	var t time.Time
	if yearless {
		t, ok = c.inferYear(ref, loc)
	} else {
		t, ok = c.time(loc)
	}
	if !ok {
		return time.Time{}, 0, false
	}
	return t, end, true
}

// epochAt reads Unix seconds (n = 10) or milliseconds (n = 13), with an
// optional fraction.
func epochAt(s string, n int) (time.Time, int, bool) {
	v := int64(0)
	for k := 0; k < n; k++ {
		v = v*10 + int64(s[k]-'0')
	}
	ns := int64(0)
	if n == 13 {
		v, ns = v/1000, (v%1000)*1e6
	}
	if v < minEpoch || v >= maxEpoch {
		return time.Time{}, 0, false
	}
	end := n
	if n == 10 && end+1 < len(s) && s[end] == '.' && isDigit(s[end+1]) {
		f, k := 0, 0
		for end++; end < len(s) && isDigit(s[end]); end++ {
			if k < 9 {
				f = f*10 + int(s[end]-'0')
				k++
			}
		}
		for ; k < 9; k++ {
			f *= 10
		}
		ns = int64(f)
	}
	if !compactEnd(s, end) {
		return time.Time{}, 0, false
	}
	return time.Unix(v, ns).UTC(), end, true
}

// compactDateAt reads the date part; n is the length of the leading digit
// run. It returns where the date ends and whether it had no year.
func compactDateAt(s string, n int, c *civil) (int, bool, bool) {
	get := func(i, w int) int { v, _ := digitsN(s, i, w); return v }
	switch n {
	case 8: // yyyymmdd
		c.year, c.month, c.day = get(0, 4), get(4, 2), get(6, 2)
		return 8, false, c.year >= 1970 && c.year < 2100 && c.valid()
	case 6: // yymmdd
		c.year, c.month, c.day = 2000+get(0, 2), get(2, 2), get(4, 2)
		return 6, false, c.valid()
	case 4, 2:
	default:
		return 0, false, false
	}
	if n >= len(s) {
		return 0, false, false
	}
	sep := s[n]
	if sep != '-' && sep != '/' && sep != '.' || digitRun(s, n+1) != 2 {
		return 0, false, false
	}
	a, b := get(0, n), get(n+1, 2)
	if n+3 < len(s) && s[n+3] == sep && digitRun(s, n+4) == 2 {
		cc := get(n+4, 2)
		if n == 4 { // yyyy-mm-dd
			c.year, c.month, c.day = a, b, cc
			return n + 6, false, c.valid()
		}
		// yy/mm/dd, else mm/dd/yy, else dd.mm.yy
		for _, ymd := range [3][3]int{{a, b, cc}, {cc, a, b}, {cc, b, a}} {
			c.year, c.month, c.day = 2000+ymd[0], ymd[1], ymd[2]
			if c.valid() {
				return n + 6, false, true
			}
		}
		return 0, false, false
	}
	if n != 2 {
		return 0, false, false
	}
	c.year, c.month, c.day = 2000, a, b // mm-dd; the year is inferred
	return n + 3, true, c.valid()
}

// compactClockAt reads hh:mm:ss, hh.mm.ss or hhmmss, and a fraction.
func compactClockAt(s string, i int, c *civil) (int, bool) {
	var ok1, ok2, ok3 bool
	switch digitRun(s, i) {
	case 6:
		c.hour, ok1 = digitsN(s, i, 2)
		c.min, ok2 = digitsN(s, i+2, 2)
		c.sec, ok3 = digitsN(s, i+4, 2)
		i += 6
	case 1, 2:
		// Some loggers do not pad: 22:16:0 is 22:16:00.
		var parts [3]int
		sep := byte(0)
		for k := range parts {
			if k > 0 {
				if i >= len(s) || (s[i] != ':' && s[i] != '.') || (sep != 0 && s[i] != sep) {
					return 0, false
				}
				sep = s[i]
				i++
			}
			w := digitRun(s, i)
			if w < 1 || w > 2 {
				return 0, false
			}
			parts[k], _ = digitsN(s, i, w)
			i += w
		}
		c.hour, c.min, c.sec = parts[0], parts[1], parts[2]
		ok1, ok2, ok3 = true, true, true
	default:
		return 0, false
	}
	if !ok1 || !ok2 || !ok3 || c.hour > 23 || c.min > 59 || c.sec > 60 {
		return 0, false
	}
	if i+1 < len(s) && (s[i] == '.' || s[i] == ',' || s[i] == ':') && isDigit(s[i+1]) {
		k := digitRun(s, i+1)
		if k > 9 {
			return 0, false
		}
		ns := 0
		for j := 0; j < k; j++ {
			ns = ns*10 + int(s[i+1+j]-'0')
		}
		for j := k; j < 9; j++ {
			ns *= 10
		}
		c.nsec = ns
		i += 1 + k
	}
	return i, true
}
