package logparse

import (
	"strings"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// Syslog: RFC 5424 ("<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG") and
// the older BSD form, RFC 3164 ("<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG"),
// which is also what /var/log/syslog holds (without the PRI). RFC 3164 has
// no year; it is inferred from the reference time (see civil.inferYear).
// Field names follow RFC 5424 for both: hostname, app_name, procid, msgid.

var facilityNames = [...]string{
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
}

// priAt reads "<PRI>" and returns the value and the bytes consumed.
func priAt(s string) (int, int, bool) {
	if len(s) < 3 || s[0] != '<' {
		return 0, 0, false
	}
	v := 0
	i := 1
	for ; i < len(s) && i <= 4 && isDigit(s[i]); i++ {
		v = v*10 + int(s[i]-'0')
	}
	if i == 1 || i >= len(s) || s[i] != '>' || v > 191 {
		return 0, 0, false
	}
	return v, i + 1, true
}

func (p *Parser) parseSyslog(rec *telemetry.LogRecord, line string, ref time.Time) bool {
	pri, n, ok := priAt(line)
	if !ok {
		return false
	}
	rest := line[n:]
	if len(rest) >= 2 && rest[0] == '1' && rest[1] == ' ' {
		return p.parse5424(rec, pri, rest[2:], ref)
	}
	return p.parse3164(rec, pri, rest, ref)
}

// nextField cuts the next space-separated field; "-" is RFC 5424's nil.
func nextField(s string) (field, rest string, ok bool) {
	i := strings.IndexByte(s, ' ')
	if i <= 0 {
		if s == "" {
			return "", "", false
		}
		return s, "", true
	}
	return s[:i], s[i+1:], true
}

func (p *Parser) parse5424(rec *telemetry.LogRecord, pri int, s string, ref time.Time) bool {
	ts, s, ok := nextField(s)
	if !ok {
		return false
	}
	var t time.Time
	if ts != "-" {
		if t, ok = parseTimeValue(ts, ref, p.o.Location); !ok {
			return false
		}
	}
	var hdr [4]string // hostname, app_name, procid, msgid
	for k := range hdr {
		if hdr[k], s, ok = nextField(s); !ok {
			return false
		}
	}
	f := make(map[string]string, 8)
	if s != "" && s[0] == '[' {
		var ok bool
		if s, ok = structuredData(s, f); !ok {
			return false
		}
	} else if strings.HasPrefix(s, "-") {
		s = s[1:]
	} else if s != "" {
		return false
	}
	msg := strings.TrimPrefix(trimLeft(s), "\ufeff") // RFC 5424 allows a BOM before UTF-8 text
	for k, name := range [4]string{"hostname", "app_name", "procid", "msgid"} {
		if hdr[k] != "-" {
			f[name] = hdr[k]
		}
	}
	f["facility"] = facilityNames[pri/8]
	if !t.IsZero() {
		rec.Time = t
	}
	rec.Level = syslogSeverity(pri % 8)
	rec.Message = trimRight(msg)
	rec.Fields = f
	rec.Format = string(FormatSyslog5424)
	return true
}

// structuredData reads [id k="v" ...][id2 ...] into f as "id.k" = "v" and
// returns what follows. Values escape '"', '\' and ']' with a backslash.
func structuredData(s string, f map[string]string) (string, bool) {
	for s != "" && s[0] == '[' {
		i := 1
		for i < len(s) && s[i] != ' ' && s[i] != ']' {
			i++
		}
		if i >= len(s) || i == 1 {
			return "", false
		}
		id := s[1:i]
		for i < len(s) && s[i] == ' ' {
			i++
			ks := i
			for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != ']' {
				i++
			}
			if i+1 >= len(s) || s[i] != '=' || s[i+1] != '"' {
				return "", false
			}
			name := s[ks:i]
			i += 2
			vs := i
			escaped := false
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' {
					escaped = true
					i++
				}
				i++
			}
			if i >= len(s) {
				return "", false
			}
			v := s[vs:i]
			if escaped {
				v = unescapeSD(v)
			}
			f[id+"."+name] = v
			i++
		}
		if i >= len(s) || s[i] != ']' {
			return "", false
		}
		s = s[i+1:]
	}
	return s, true
}

func unescapeSD(v string) string {
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) && (v[i+1] == '"' || v[i+1] == '\\' || v[i+1] == ']') {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// tagAt reads an RFC 3164 TAG: "name:" or "name[pid]:" followed by a space
// or the end. It returns the name, the pid and the rest.
func tagAt(s string) (name, pid, rest string, ok bool) {
	i := 0
	for i < len(s) && i <= 48 && s[i] != ':' && s[i] != '[' && s[i] != ' ' {
		i++
	}
	if i == 0 || i >= len(s) || i > 48 {
		return "", "", "", false
	}
	name = s[:i]
	if s[i] == '[' {
		j := strings.IndexByte(s[i:], ']')
		if j < 0 || j > 24 {
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
	return name, pid, trimLeft(s[i:]), true
}

// isHostname accepts what shows up in the HOSTNAME slot: names, IPv4 and
// IPv6 addresses.
func isHostname(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !isDigit(c) && c != '.' && c != '-' && c != '_' && c != ':' {
			return false
		}
	}
	return true
}

// parse3164 reads the BSD form after the PRI (pri < 0: no PRI, as in
// /var/log/syslog, where a tag is then required to tell the line apart from
// any other line that starts with a date).
func (p *Parser) parse3164(rec *telemetry.LogRecord, pri int, s string, ref time.Time) bool {
	t, n, kind := parseTimePrefix(s, ref, p.o.Location)
	if kind == tsNone {
		if pri < 0 {
			return false
		}
		n = 0 // a PRI with no timestamp is still syslog; the receive time stands
	}
	s = trimLeft(s[n:])
	var host, app, pid string
	name, pd, msg, ok := tagAt(s)
	if ok {
		app, pid = name, pd
	} else if h, rest, ok2 := nextField(s); ok2 && isHostname(h) {
		if name, pd, msg2, ok3 := tagAt(rest); ok3 {
			host, app, pid, msg = h, name, pd, msg2
		} else if pri >= 0 {
			host, msg = h, rest
		} else {
			return false
		}
	} else if pri >= 0 {
		msg = s
	} else {
		return false
	}
	f := make(map[string]string, 5)
	if host != "" {
		f["hostname"] = host
	}
	if app != "" {
		f["app_name"] = app
	}
	if pid != "" {
		f["procid"] = pid
	}
	if pri >= 0 {
		f["facility"] = facilityNames[pri/8]
		rec.Level = syslogSeverity(pri % 8)
	}
	if !t.IsZero() {
		rec.Time = t
	}
	rec.Message = trimRight(msg)
	rec.Fields = f
	rec.Format = string(FormatSyslog3164)
	return true
}
