package syslog

import (
	"fmt"
	"strings"
	"time"

	"github.com/vigilops/vigil/logparse"
)

// parse3164 reads what follows the PRI (hasPRI false: there was none) in
// the BSD form and its common variants:
//
//	Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG    RFC 3164
//	Mmm dd hh:mm:ss TAG[PID]: MSG             no hostname (local /dev/log)
//	Mmm dd yyyy hh:mm:ss.mmm HOSTNAME ...     with year and fraction (Cisco, "*" or "." first when unsynced)
//	2006-01-02T15:04:05.999Z07:00 HOST ...    ISO timestamp (rsyslog's forward formats)
//	free text                                  PRI with no header: all of it is MSG
//
// Without a PRI a timestamp is required, or any line would pass for
// syslog; such a line is malformed. A HOSTNAME is only taken when it
// follows a timestamp or precedes a TAG, so that "<13>disk full" keeps
// "disk" in its message.
func parse3164(h *header, s string, hasPRI bool, received time.Time, loc *time.Location) error {
	h.format = Format3164
	t, n, ok := parse3164Time(s, received, loc)
	if !ok && !hasPRI {
		return fmt.Errorf("%w: no PRI and no timestamp", ErrMalformed)
	}
	h.time = t
	s = trimSpaces(s[n:])
	if name, pid, msg, ok := tagAt(s); ok {
		h.app, h.procid, h.msg = name, pid, msg
		return nil
	}
	if host, rest, ok2 := nextField(s); ok2 && isHostname(host) {
		if name, pid, msg, ok3 := tagAt(rest); ok3 {
			h.host, h.app, h.procid, h.msg = host, name, pid, msg
			return nil
		}
		if ok {
			h.host, h.msg = host, rest
			return nil
		}
	}
	h.msg = s
	return nil
}

// tagAt reads a TAG, "name:" or "name[pid]:", followed by a space or the
// end, and returns the name, the pid and the message after it. Names may
// hold '/', '.' and '-' (postfix/smtpd, systemd-logind), beyond the RFC's
// alphanumerics.
func tagAt(s string) (name, pid, rest string, ok bool) {
	i := 0
	for i < len(s) && i <= 64 && s[i] != ':' && s[i] != '[' && s[i] != ' ' {
		i++
	}
	if i == 0 || i >= len(s) || i > 64 {
		return "", "", "", false
	}
	name = s[:i]
	if s[i] == '[' {
		j := strings.IndexByte(s[i:], ']')
		if j < 2 || j > 33 || strings.IndexByte(s[i:i+j], ' ') >= 0 {
			return "", "", "", false
		}
		pid = s[i+1 : i+j]
		i += j + 1
	}
	if i >= len(s) || s[i] != ':' {
		return "", "", "", false
	}
	i++
	if i < len(s) && s[i] != ' ' {
		return "", "", "", false
	}
	return name, pid, trimSpaces(s[i:]), true
}

// isHostname accepts names, IPv4 and IPv6 addresses.
func isHostname(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !isDigit(c) && c != '.' && c != '-' && c != '_' && c != ':' {
			return false
		}
	}
	return true
}

// parse3164Time reads a timestamp at the start of s and returns it with the
// bytes consumed (not the following space).
func parse3164Time(s string, received time.Time, loc *time.Location) (time.Time, int, bool) {
	if len(s) >= 10 && isDigit(s[0]) && isDigit(s[1]) && isDigit(s[2]) && isDigit(s[3]) && s[4] == '-' {
		return parseISOTime(s, loc)
	}
	off := 0
	if s != "" && (s[0] == '*' || s[0] == '.') {
		off = 1 // Cisco marks a clock that is not (or no longer) synchronised
	}
	t, n, ok := parseBSDTime(s[off:], received, loc)
	return t, n + off, ok
}

// parseISOTime reads an RFC 3339 timestamp, or one without a zone (taken
// in loc), up to the next space.
func parseISOTime(s string, loc *time.Location) (time.Time, int, bool) {
	n := strings.IndexByte(s, ' ')
	if n < 0 {
		n = len(s)
	}
	tok := s[:n]
	if t, err := time.Parse(time.RFC3339Nano, tok); err == nil {
		return t, n, true
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", tok, loc); err == nil {
		return t, n, true
	}
	return time.Time{}, 0, false
}

var months = [12]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

// parseBSDTime reads "Mmm dd hh:mm:ss", with the day space- or
// zero-padded, an optional year before the time and an optional fraction.
func parseBSDTime(s string, received time.Time, loc *time.Location) (time.Time, int, bool) {
	if len(s) < 14 || s[3] != ' ' {
		return time.Time{}, 0, false
	}
	month := 0
	for i, m := range months {
		if strings.EqualFold(s[:3], m) {
			month = i + 1
			break
		}
	}
	if month == 0 {
		return time.Time{}, 0, false
	}
	i := 4
	if s[i] == ' ' { // "Jan  1"
		i++
	}
	day, i, ok := digits(s, i, 1, 2)
	if !ok || day < 1 || day > 31 || i >= len(s) || s[i] != ' ' {
		return time.Time{}, 0, false
	}
	i++
	year := 0
	if y, j, ok := digits(s, i, 4, 4); ok && j < len(s) && s[j] == ' ' {
		year, i = y, j+1
	}
	hour, i, ok1 := digits(s, i, 2, 2)
	ok2 := i < len(s) && s[i] == ':'
	minute, i, ok3 := digits(s, i+1, 2, 2)
	ok4 := i < len(s) && s[i] == ':'
	sec, i, ok5 := digits(s, i+1, 2, 2)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, 0, false
	}
	if sec == 60 {
		sec = 59 // a leap second; time.Date would roll into the next minute
	}
	nsec := 0
	if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
		i++
		scale := int(time.Second)
		for ; i < len(s) && isDigit(s[i]); i++ {
			if scale > 1 {
				scale /= 10
				nsec += int(s[i]-'0') * scale
			}
		}
	}
	if i < len(s) && s[i] != ' ' {
		return time.Time{}, 0, false
	}
	if year != 0 {
		t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc)
		if t.Day() != day {
			return time.Time{}, 0, false
		}
		return t, i, true
	}
	t, ok := inferYear(time.Month(month), day, hour, minute, sec, nsec, received, loc)
	return t, i, ok
}

// inferYear places a year-less date the way logparse does for every other
// source, so that a line gets the same time whichever way it arrived.
func inferYear(month time.Month, day, hour, minute, sec, nsec int, received time.Time, loc *time.Location) (time.Time, bool) {
	t, ok := logparse.InferYear(month, day, hour, minute, sec, nsec, received, loc)
	return t.In(loc), ok
}

// digits reads between min and max decimal digits at s[i:].
func digits(s string, i, min, max int) (v, next int, ok bool) {
	j := i
	for j < len(s) && j-i < max && isDigit(s[j]) {
		v = v*10 + int(s[j]-'0')
		j++
	}
	return v, j, j-i >= min
}
