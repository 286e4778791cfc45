package syslog

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// Formats recorded in telemetry.LogRecord.Format for the messages Parse
// reads; they are the names package logparse uses for the same formats.
const (
	Format5424 = "syslog5424"
	Format3164 = "syslog3164"
)

// ErrMalformed is wrapped by Parse's error for a message it cannot read.
var ErrMalformed = errors.New("malformed syslog message")

// Label and field names set on records.
const (
	LabelHost     = "host"
	LabelApp      = "app"
	LabelFacility = "facility"
	LabelSeverity = "severity"

	FieldProcID = "procid"
	FieldMsgID  = "msgid"
	// FieldSDPrefix starts the field of each structured-data parameter:
	// "sd.<SD-ID>.<PARAM-NAME>". A parameter repeated within an element
	// has its values joined with ",".
	FieldSDPrefix = "sd."
)

var facilityNames = [24]string{
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
}

var severityNames = [8]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

var severityLevels = [8]telemetry.Level{
	telemetry.LevelFatal, telemetry.LevelFatal, telemetry.LevelFatal, telemetry.LevelError,
	telemetry.LevelWarn, telemetry.LevelInfo, telemetry.LevelInfo, telemetry.LevelDebug,
}

// header is what a format parser extracts from one message.
type header struct {
	format string
	time   time.Time // zero when the message has none
	host   string
	app    string
	procid string
	msgid  string
	msg    string
	fields map[string]string // structured data; nil when none
}

// Parse reads one syslog message, without its transport framing, received
// at received (which stands in for a missing timestamp and anchors the year
// of an RFC 3164 one). loc is the zone of timestamps that carry none (nil
// means time.Local).
//
// It always returns a record with Raw set to raw. When the message cannot be
// read, the error wraps ErrMalformed and the record has no Format, no Fields
// and no Message (logparse may still make sense of Raw); its Level and the
// facility and severity labels are kept when the PRI could be read.
func Parse(raw string, received time.Time, loc *time.Location) (telemetry.LogRecord, error) {
	if loc == nil {
		loc = time.Local
	}
	rec := telemetry.LogRecord{Time: received, Raw: raw}
	pri, n, err := parsePRI(raw)
	if err != nil {
		return rec, err
	}
	var h header
	rest := raw[n:]
	if pri >= 0 && strings.HasPrefix(rest, "1 ") {
		err = parse5424(&h, rest[2:])
	} else {
		err = parse3164(&h, rest, pri >= 0, received, loc)
	}
	if err != nil {
		rec.Labels = appendLabels(nil, "", "", pri)
		if pri >= 0 {
			rec.Level = severityLevels[pri%8]
		}
		return rec, err
	}
	if !h.time.IsZero() {
		rec.Time = h.time
	}
	rec.Format = h.format
	rec.Service = h.app
	if rec.Service == "" {
		rec.Service = h.host
	}
	rec.Labels = appendLabels(make(telemetry.Labels, 0, 4), h.app, h.host, pri)
	if pri >= 0 {
		rec.Level = severityLevels[pri%8]
	}
	rec.Message = h.msg
	if h.procid != "" || h.msgid != "" {
		if h.fields == nil {
			h.fields = make(map[string]string, 2)
		}
		if h.procid != "" {
			h.fields[FieldProcID] = h.procid
		}
		if h.msgid != "" {
			h.fields[FieldMsgID] = h.msgid
		}
	}
	rec.Fields = h.fields
	return rec, nil
}

// appendLabels adds the non-empty labels in name order (app < facility <
// host < severity), so the result is sorted as telemetry.Labels requires.
func appendLabels(ls telemetry.Labels, app, host string, pri int) telemetry.Labels {
	if app != "" {
		ls = append(ls, telemetry.Label{Name: LabelApp, Value: app})
	}
	if pri >= 0 {
		ls = append(ls, telemetry.Label{Name: LabelFacility, Value: facilityNames[pri/8]})
	}
	if host != "" {
		ls = append(ls, telemetry.Label{Name: LabelHost, Value: host})
	}
	if pri >= 0 {
		ls = append(ls, telemetry.Label{Name: LabelSeverity, Value: severityNames[pri%8]})
	}
	return ls
}

// parsePRI reads "<PRI>" at the start of s. It returns pri -1 and n 0 when
// s does not start with '<' (RFC 3164 lines written to files carry none).
func parsePRI(s string) (pri, n int, err error) {
	if s == "" || s[0] != '<' {
		return -1, 0, nil
	}
	v, i := 0, 1
	for ; i < len(s) && i <= 3 && isDigit(s[i]); i++ {
		v = v*10 + int(s[i]-'0')
	}
	if i == 1 || i >= len(s) || s[i] != '>' {
		return -1, 0, fmt.Errorf("%w: bad PRI", ErrMalformed)
	}
	if v > 191 {
		return -1, 0, fmt.Errorf("%w: PRI %d out of range", ErrMalformed, v)
	}
	return v, i + 1, nil
}

// nextField cuts s at its first space. An empty field (two spaces, or
// nothing left) is not ok: RFC 5424 separates header fields by one space.
func nextField(s string) (field, rest string, ok bool) {
	i := strings.IndexByte(s, ' ')
	if i < 0 {
		return s, "", s != ""
	}
	return s[:i], s[i+1:], i > 0
}

// nilValue maps RFC 5424's NILVALUE "-" to "".
func nilValue(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func trimSpaces(s string) string {
	for s != "" && s[0] == ' ' {
		s = s[1:]
	}
	return s
}
