package logparse

import "github.com/vigilops/vigil/telemetry"

// levelOf normalises a level spelling without allocating. It knows every
// spelling telemetry.ParseLevel knows (a test keeps the two in step) plus the
// short forms log libraries print in headers (zerolog's INF/WRN/FTL/PNC,
// PostgreSQL's LOG and DEBUG1..5). telemetry.ParseLevel lowercases by
// allocating a new string, which on the per-line path, where most tokens we
// try are not levels at all, would be one allocation per header word.
func levelOf(s string) telemetry.Level {
	if len(s) == 0 || len(s) > 13 {
		return telemetry.LevelUnknown
	}
	var buf [13]byte
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUpper(c) {
			c += 'a' - 'A'
			upper = true
		}
		buf[i] = c
	}
	switch string(buf[:len(s)]) {
	case "trace", "trc", "finest", "finer", "10":
		return telemetry.LevelTrace
	case "debug", "dbg", "fine", "verbose", "20", "7",
		"debug1", "debug2", "debug3", "debug4", "debug5":
		return telemetry.LevelDebug
	case "info", "inf", "information", "informational", "notice", "30", "6", "5", "log":
		return telemetry.LevelInfo
	case "warn", "warning", "wrn", "40", "4":
		return telemetry.LevelWarn
	case "error", "err", "eror", "severe", "50", "3":
		return telemetry.LevelError
	case "fatal", "critical", "crit", "panic", "alert", "emerg", "emergency", "dpanic", "60", "2", "1", "0",
		"ftl", "pnc":
		return telemetry.LevelFatal
	}
	if !upper {
		// A spelling telemetry learned after this table was written; it
		// does not allocate for lowercase input.
		return telemetry.ParseLevel(s)
	}
	return telemetry.LevelUnknown
}

// headerLevel is levelOf restricted to what may stand for a level in a line
// header: letters only, so that a pid or a count is never taken for a
// bunyan-style numeric level, and not "log", which is a common first word.
func headerLevel(s string) telemetry.Level {
	if len(s) < 3 {
		return telemetry.LevelUnknown
	}
	for i := 0; i < len(s); i++ {
		if !isAlpha(s[i]) && !(i == len(s)-1 && isDigit(s[i])) {
			return telemetry.LevelUnknown
		}
	}
	if len(s) == 3 && (s[0]|0x20) == 'l' && (s[1]|0x20) == 'o' && (s[2]|0x20) == 'g' {
		if s == "LOG" { // PostgreSQL's routine level is always upper case
			return telemetry.LevelInfo
		}
		return telemetry.LevelUnknown
	}
	return levelOf(s)
}

// isUpperWord reports whether s has no lowercase letters: headers print
// levels in upper case, messages use the same words in lower case ("error
// connecting to db").
func isUpperWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c-'a' < 26 {
			return false
		}
	}
	return true
}

// syslogSeverity maps RFC 5424 severities (PRI mod 8) to a Level.
func syslogSeverity(sev int) telemetry.Level {
	switch sev {
	case 0, 1, 2:
		return telemetry.LevelFatal
	case 3:
		return telemetry.LevelError
	case 4:
		return telemetry.LevelWarn
	case 5, 6:
		return telemetry.LevelInfo
	case 7:
		return telemetry.LevelDebug
	}
	return telemetry.LevelUnknown
}

// letterLevel reads the one-letter levels of Android's logcat and glog
// (V D I W E F, and A for assert).
func letterLevel(s string) telemetry.Level {
	if len(s) != 1 {
		return telemetry.LevelUnknown
	}
	switch s[0] {
	case 'V':
		return telemetry.LevelTrace
	case 'D':
		return telemetry.LevelDebug
	case 'I':
		return telemetry.LevelInfo
	case 'W':
		return telemetry.LevelWarn
	case 'E':
		return telemetry.LevelError
	case 'F', 'A':
		return telemetry.LevelFatal
	}
	return telemetry.LevelUnknown
}

// learnLevel is what the header learner takes for a level: a header level
// word or a one-letter level. A one-letter column is only a level when it
// is one in most of a source's lines, which the learner checks.
func learnLevel(s string) telemetry.Level {
	if lv := headerLevel(s); lv != telemetry.LevelUnknown {
		return lv
	}
	return letterLevel(s)
}

// layoutLevel reads a %{level} part: any level spelling, or one letter.
func layoutLevel(s string) telemetry.Level {
	if lv := levelOf(s); lv != telemetry.LevelUnknown {
		return lv
	}
	return letterLevel(s)
}
