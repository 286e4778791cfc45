package logparse

import (
	"strings"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// Access logs in the NCSA common and combined formats, which Apache and
// Nginx (log_format combined) both write:
//
//	127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "http://ref/" "Mozilla/4.08"
//
// with an optional leading virtual host (Apache's vhost_combined) and
// whatever a custom log_format appends after the user agent (kept in
// "extra"). The Message is "<request line> <status>": the request line is
// what varies by endpoint and the status is what separates failures from
// successes, so templates come out as "GET /api/users/<*> HTTP/1.1 500".

// quotedAt reads a double-quoted string at s[i], skipping backslash escapes
// (Apache writes \" and Nginx \x22 inside the request line).
func quotedAt(s string, i int) (val string, end int, ok bool) {
	if i >= len(s) || s[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return s[i+1 : j], j + 1, true
		}
	}
	return "", 0, false
}

// unescapeQuotes undoes Apache's \" and \\ (other escapes, such as the
// \xhh both servers write for bytes that are not printable, are kept: they
// are how the server chose to show those bytes).
func unescapeQuotes(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// looksAccess is the cheap test: " [dd/Mon/yyyy:" early in the line.
func looksAccess(line string) int {
	lim := len(line)
	if lim > 400 {
		lim = 400
	}
	b := strings.Index(line[:lim], " [")
	if b < 0 || b+14 > len(line) {
		return -1
	}
	if line[b+4] != '/' || line[b+8] != '/' || !isDigit(line[b+2]) || !isDigit(line[b+3]) {
		return -1
	}
	return b
}

func (p *Parser) parseAccess(rec *telemetry.LogRecord, line string, ref time.Time) bool {
	b := looksAccess(line)
	if b < 0 {
		return false
	}
	var toks [5]string
	n := 0
	for _, f := range strings.Fields(line[:b]) {
		if n == len(toks) {
			return false
		}
		toks[n] = f
		n++
	}
	if n != 3 && n != 4 {
		return false
	}
	t, tn, kind := parseTimePrefix(line[b+2:], ref, p.o.Location)
	i := b + 2 + tn
	if kind != tsApache || i >= len(line) || line[i] != ']' {
		return false
	}
	i++
	if i >= len(line) || line[i] != ' ' {
		return false
	}
	request, end, ok := quotedAt(line, i+1)
	request = unescapeQuotes(request)
	if !ok || end+4 > len(line) || line[end] != ' ' {
		return false
	}
	i = end + 1
	status := line[i : i+3]
	if _, ok := digitsN(status, 0, 3); !ok || (i+3 < len(line) && line[i+3] != ' ') {
		return false
	}
	i += 4
	bytes := ""
	if i < len(line) {
		j := i
		for j < len(line) && line[j] != ' ' {
			j++
		}
		bytes = line[i:j]
		i = j + 1
	}
	format := FormatAccessCommon
	var referer, agent string
	if r, e, ok := quotedAt(line, i); ok {
		if a, e2, ok := quotedAt(line, e+1); ok && e < len(line) && line[e] == ' ' {
			referer, agent, i, format = unescapeQuotes(r), unescapeQuotes(a), e2+1, FormatAccessCombined
		}
	}

	f := make(map[string]string, 10)
	k := 0
	if n == 4 {
		f["vhost"] = toks[0]
		k = 1
	}
	f["remote_addr"] = toks[k]
	if toks[k+1] != "-" {
		f["ident"] = toks[k+1]
	}
	if toks[k+2] != "-" {
		f["remote_user"] = toks[k+2]
	}
	f["status"] = status
	if bytes != "" && bytes != "-" {
		f["bytes"] = bytes
	}
	if format == FormatAccessCombined {
		if referer != "-" && referer != "" {
			f["referer"] = referer
		}
		if agent != "-" && agent != "" {
			f["user_agent"] = agent
		}
	}
	if i < len(line) {
		if extra := trimSpace(line[i:]); extra != "" {
			f["extra"] = extra
		}
	}
	// "GET /path HTTP/1.1"; anything else (probes send "-" or raw TLS
	// bytes) is kept whole.
	if m, rest, ok := strings.Cut(request, " "); ok && m != "" && isUpperWord(m) {
		path, proto, _ := strings.Cut(rest, " ")
		f["method"] = m
		f["path"] = path
		if proto != "" {
			f["protocol"] = proto
		}
	} else {
		f["request"] = request
	}
	rec.Time = t
	rec.Fields = f
	rec.Message = request + " " + status
	rec.Format = string(format)
	switch status[0] {
	case '5':
		rec.Level = telemetry.LevelError
	case '4':
		rec.Level = telemetry.LevelWarn
	default:
		rec.Level = telemetry.LevelInfo
	}
	return true
}
