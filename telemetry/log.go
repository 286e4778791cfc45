package telemetry

import "time"

// Level is a normalised log severity.
type Level uint8

// Log levels, ordered by severity. LevelUnknown sorts below everything.
const (
	LevelUnknown Level = iota
	LevelTrace
	LevelDebug
	LevelInfo
	LevelWarn
	LevelError
	LevelFatal
)

var levelNames = [...]string{"unknown", "trace", "debug", "info", "warn", "error", "fatal"}

// String returns the lowercase level name.
func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "unknown"
}

// ParseLevel maps common spellings (WARNING, Err, crit, panic, 30, ...) to a
// Level. Unrecognised input yields LevelUnknown.
func ParseLevel(s string) Level {
	switch lowerASCII(s) {
	case "trace", "trc", "finest", "finer", "10":
		return LevelTrace
	case "debug", "dbg", "fine", "verbose", "20", "7":
		return LevelDebug
	case "info", "inf", "information", "informational", "notice", "30", "6", "5":
		return LevelInfo
	case "warn", "warning", "wrn", "40", "4":
		return LevelWarn
	case "error", "err", "eror", "severe", "50", "3":
		return LevelError
	case "fatal", "critical", "crit", "panic", "alert", "emerg", "emergency", "dpanic", "60", "2", "1", "0":
		return LevelFatal
	}
	return LevelUnknown
}

// LevelFromSeverityNumber maps an OpenTelemetry SeverityNumber to a Level:
// four steps per level, 1–4 trace, 5–8 debug, 9–12 info, 13–16 warn, 17–20
// error, 21–24 fatal. Anything else (0, unspecified) yields LevelUnknown.
func LevelFromSeverityNumber(n int) Level {
	switch {
	case n >= 1 && n <= 4:
		return LevelTrace
	case n >= 5 && n <= 8:
		return LevelDebug
	case n >= 9 && n <= 12:
		return LevelInfo
	case n >= 13 && n <= 16:
		return LevelWarn
	case n >= 17 && n <= 20:
		return LevelError
	case n >= 21 && n <= 24:
		return LevelFatal
	}
	return LevelUnknown
}

// MarshalText implements encoding.TextMarshaler.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (l *Level) UnmarshalText(b []byte) error { *l = ParseLevel(string(b)); return nil }

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// LogRecord is one log line (or one multi-line entry, such as a stack trace
// joined to its head line) as received and, once parsed, its structure.
type LogRecord struct {
	// Time is when the line was written: the parsed timestamp when the line
	// has one, otherwise the time it was received.
	Time time.Time `json:"time"`
	// Service is the emitting service, from labels or the receiver's config.
	Service string `json:"service"`
	// Labels are the stream labels (Loki stream, OTLP resource, file source).
	Labels Labels `json:"labels,omitempty"`
	// Raw is the line exactly as received.
	Raw string `json:"raw"`

	// The fields below are filled by logparse and logtemplate.

	// Format names the detected format (json, logfmt, nginx, syslog5424, ...).
	Format string `json:"format,omitempty"`
	// Level is the normalised severity.
	Level Level `json:"level,omitempty"`
	// Message is the body separated from headers, the input to templating.
	Message string `json:"message,omitempty"`
	// Fields are the structured fields extracted from the line.
	Fields map[string]string `json:"fields,omitempty"`
	// TemplateID is the stable ID of the template the message matched.
	TemplateID string `json:"template_id,omitempty"`
}
