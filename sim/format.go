package sim

import (
	"math"
	"strconv"
	"time"
)

// The appenders below format timestamps and numbers straight into a reused
// buffer: the simulator writes millions of lines a simulated week, and
// fmt/time.Format would dominate the profile.

var monthAbbr = [...]string{"", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// clock is a broken-down UTC time.
type clock struct {
	year, month, day, hour, min, sec, nsec int
}

func clockOf(t time.Time) clock {
	t = t.UTC()
	y, m, d := t.Date()
	h, mi, s := t.Clock()
	return clock{y, int(m), d, h, mi, s, t.Nanosecond()}
}

func appendPad(b []byte, v, width int) []byte {
	var tmp [12]byte
	s := strconv.AppendInt(tmp[:0], int64(v), 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func (c clock) appendDate(b []byte, sep byte) []byte {
	b = appendPad(b, c.year, 4)
	b = append(b, sep)
	b = appendPad(b, c.month, 2)
	b = append(b, sep)
	return appendPad(b, c.day, 2)
}

func (c clock) appendHMS(b []byte) []byte {
	b = appendPad(b, c.hour, 2)
	b = append(b, ':')
	b = appendPad(b, c.min, 2)
	b = append(b, ':')
	return appendPad(b, c.sec, 2)
}

func (c clock) appendFrac(b []byte, sep byte, digits int) []byte {
	b = append(b, sep)
	v := c.nsec
	for i := digits; i < 9; i++ {
		v /= 10
	}
	return appendPad(b, v, digits)
}

// appendRFC3339 writes 2026-01-05T10:00:00.123Z with the given number of
// fractional digits (0 for none).
func appendRFC3339(b []byte, t time.Time, digits int) []byte {
	c := clockOf(t)
	b = c.appendDate(b, '-')
	b = append(b, 'T')
	b = c.appendHMS(b)
	if digits > 0 {
		b = c.appendFrac(b, '.', digits)
	}
	return append(b, 'Z')
}

// appendSpaced writes 2026-01-05 10:00:00.123 (logback, postgres).
func appendSpaced(b []byte, t time.Time, digits int) []byte {
	c := clockOf(t)
	b = c.appendDate(b, '-')
	b = append(b, ' ')
	b = c.appendHMS(b)
	if digits > 0 {
		b = c.appendFrac(b, '.', digits)
	}
	return b
}

// appendNginxAccess writes 05/Jan/2026:10:00:00 +0000.
func appendNginxAccess(b []byte, t time.Time) []byte {
	c := clockOf(t)
	b = appendPad(b, c.day, 2)
	b = append(b, '/')
	b = append(b, monthAbbr[c.month]...)
	b = append(b, '/')
	b = appendPad(b, c.year, 4)
	b = append(b, ':')
	b = c.appendHMS(b)
	return append(b, " +0000"...)
}

// appendNginxError writes 2026/01/05 10:00:00.
func appendNginxError(b []byte, t time.Time) []byte {
	c := clockOf(t)
	b = c.appendDate(b, '/')
	b = append(b, ' ')
	return c.appendHMS(b)
}

// appendRedisTime writes 05 Jan 2026 10:00:00.123.
func appendRedisTime(b []byte, t time.Time) []byte {
	c := clockOf(t)
	b = appendPad(b, c.day, 2)
	b = append(b, ' ')
	b = append(b, monthAbbr[c.month]...)
	b = append(b, ' ')
	b = appendPad(b, c.year, 4)
	b = append(b, ' ')
	b = c.appendHMS(b)
	return c.appendFrac(b, '.', 3)
}

// appendRFC3164Time writes "Jan  5 10:00:00" (day space-padded, no year).
func appendRFC3164Time(b []byte, t time.Time) []byte {
	c := clockOf(t)
	b = append(b, monthAbbr[c.month]...)
	b = append(b, ' ')
	if c.day < 10 {
		b = append(b, ' ')
	}
	b = strconv.AppendInt(b, int64(c.day), 10)
	b = append(b, ' ')
	return c.appendHMS(b)
}

// appendEpochSeconds writes seconds since the epoch with the given number of
// fractional digits (zap's "ts" field, OpenMetrics timestamps).
func appendEpochSeconds(b []byte, t time.Time, digits int) []byte {
	b = strconv.AppendInt(b, t.Unix(), 10)
	if digits == 0 {
		return b
	}
	b = append(b, '.')
	v := t.Nanosecond()
	for i := digits; i < 9; i++ {
		v /= 10
	}
	return appendPad(b, v, digits)
}

// appendFixed writes v with d decimals.
func appendFixed(b []byte, v float64, d int) []byte {
	return strconv.AppendFloat(b, v, 'f', d, 64)
}

// appendInt writes an integer.
func appendInt(b []byte, v int) []byte { return strconv.AppendInt(b, int64(v), 10) }

const hexDigits = "0123456789abcdef"

// appendHex writes the low n hex digits of v, zero padded.
func appendHex(b []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		b = append(b, hexDigits[(v>>(uint(i)*4))&0xf])
	}
	return b
}

// appendValue writes a metric value in the shortest form that round-trips.
func appendValue(b []byte, v float64) []byte {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.AppendInt(b, int64(v), 10)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// roundSig rounds v to n significant digits so exported values stay short and
// look like what an exporter would print.
func roundSig(v float64, n int) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	e := n - int(math.Ceil(math.Log10(math.Abs(v))))
	if e < 0 {
		// Round to a multiple of an integer power of ten: the product is
		// exact, so large values print as plain integers.
		q := math.Pow(10, float64(-e))
		return math.Round(v/q) * q
	}
	p := math.Pow(10, float64(e))
	return math.Round(v*p) / p
}

// appendJSONString writes s as a JSON string. Our lines are ASCII; other
// bytes are passed through, which is valid JSON for valid UTF-8 input.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
