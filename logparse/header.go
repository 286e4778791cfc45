package logparse

import (
	"strings"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// Timestamp-led lines ("headers") are read by one scanner rather than one
// parser per library: after the timestamp it consumes, a token at a time,
// what headers are made of (a level word, [bracketed] groups, a pid, a
// logger name before " - " or " : ", separators) and stops at the first token
// that is none of these, where the message begins. The parts found name the
// format:
//
//	[2024-10-10 13:55:36.123] [WARN] [RequestHandler] msg        bracketed
//	2023-10-27 10:00:01 [INFO] msg                               bracketed
//	2024-01-01T10:00:00Z INFO [main] c.e.Foo - msg               logback
//	2024-01-01 10:00:00.123  INFO 1 --- [main] c.e.Foo : msg     logback (Spring Boot)
//	2024-01-01 10:00:00,123 - name - ERROR - msg                 python
//	2024/01/01 10:00:00 main.go:12: msg                          golog
//	2024/01/01 10:00:00 [error] 12#12: *5 msg                    nginx_error
//	2024-01-01 10:00:00.123 UTC [42] LOG:  msg                   header (PostgreSQL)
//
// Upper-case level words are taken anywhere in the header, lower-case ones
// only right after the timestamp or before a colon, because messages use
// the same words ("2024-.. [db] error connecting" is a message about an
// error, its level unknown).

type header struct {
	level        telemetry.Level
	levelBracket bool
	groups       [2]string
	ng           int
	logger       string
	pid, tid     string
	caller       string
	conn         string
	module       string
	client       string
	comp         string // a component between | separators
	lastSep      byte
	dashes       int  // separator dashes seen so far
	pyDash       bool // a dash came before the logger: Python's "ts - name - LEVEL"
	nginx        bool
}

// maxHeaderTokens bounds the header scan; real headers have at most six
// parts, and the bound keeps long messages from being walked twice.
const maxHeaderTokens = 10

func (p *Parser) parseHeader(rec *telemetry.LogRecord, line string, ref time.Time) bool {
	var t time.Time
	kind := tsNone
	i := 0
	tsBracket := false
	if line[0] == '[' {
		if tt, n, k := parseTimePrefix(line[1:], ref, p.o.Location); k != tsNone && 1+n < len(line) && line[1+n] == ']' {
			t, kind, i, tsBracket = tt, k, n+2, true
		}
	} else if tt, n, k := parseTimePrefix(line, ref, p.o.Location); k != tsNone {
		t, kind, i = tt, k, n
	}
	if kind == tsNone && line[0] != '[' && !isUpper(line[0]) {
		return false
	}
	var h header
	i = h.scan(line, i, kind != tsNone)
	if kind == tsNone && h.level == telemetry.LevelUnknown {
		return false
	}
	msg := trimSpace(line[i:])

	format := FormatHeader
	switch {
	case kind == tsSlash && h.nginx:
		format = FormatNginxError
	case kind == tsSlash:
		format = FormatGoLog
	case h.logger != "" && h.pyDash:
		format = FormatPython
	case h.logger != "":
		format = FormatLogback
	case tsBracket || h.levelBracket || h.ng > 0:
		format = FormatBracketed
	}
	if format == FormatHeader && h.level == telemetry.LevelUnknown && h.pid == "" &&
		kind == tsISO && len(line) > 10 && line[10] == 'T' {
		// rsyslog's file format: an RFC 3339 stamp, then "host tag[pid]: msg".
		if p.parse3164(rec, -1, line, ref) {
			return true
		}
	}

	if !t.IsZero() {
		rec.Time = t
	}
	rec.Level = h.level
	rec.Message = msg
	rec.Format = string(format)
	h.fields(rec)
	p.structuredBody(rec, msg, ref, kind != tsNone)
	return true
}

// scan consumes header tokens from s[i:] and returns where the message
// starts.
func (h *header) scan(s string, i int, timed bool) int {
	first := true
	for n := 0; n < maxHeaderTokens; n++ {
		j := i
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		if j >= len(s) {
			return j
		}
		switch c := s[j]; c {
		case '[':
			lim := len(s)
			if lim > j+200 {
				lim = j + 200
			}
			end := strings.IndexByte(s[j+1:lim], ']')
			if end < 0 || !h.group(trimSpace(s[j+1:j+1+end])) {
				return j
			}
			i = j + 2 + end
		case '-', '|', ':':
			k := j
			for k < len(s) && s[k] == c {
				k++
			}
			if k-j > 3 || (k < len(s) && s[k] != ' ' && s[k] != '\t') {
				return j
			}
			if c == '-' {
				h.dashes++
			}
			h.lastSep = c
			i = k
		default:
			k := j
			for k < len(s) && s[k] != ' ' && s[k] != '\t' {
				k++
			}
			if !h.token(s, s[j:k], k, timed && first) {
				return j
			}
			i = k
		}
		first = false
	}
	return i
}

// group takes a [bracketed] header part.
func (h *header) group(g string) bool {
	if g == "" {
		return false
	}
	if h.level == telemetry.LevelUnknown {
		if lv := headerLevel(g); lv != telemetry.LevelUnknown {
			h.level, h.levelBracket = lv, true
			return true
		}
		// Apache's error log: [core:error], [proxy_fcgi:warn].
		if k := strings.LastIndexByte(g, ':'); k > 0 {
			if lv := headerLevel(g[k+1:]); lv != telemetry.LevelUnknown {
				h.level, h.levelBracket, h.module = lv, true, g[:k]
				return true
			}
		}
	}
	switch {
	case h.pid == "" && allDigits(g):
		h.pid = g // PostgreSQL's [%p], Apache's [pid N]
		return true
	case h.pid == "" && strings.HasPrefix(g, "pid "):
		h.pid, h.tid, _ = strings.Cut(g[4:], ":tid ")
		return true
	case h.client == "" && strings.HasPrefix(g, "client "):
		h.client = g[7:]
		return true
	case h.ng < len(h.groups):
		h.groups[h.ng] = g
		h.ng++
		return true
	}
	return false
}

// token takes a bare header word; next is the index just after it.
func (h *header) token(s, tok string, next int, afterTime bool) bool {
	core := strings.TrimSuffix(tok, ":")
	colon := len(core) != len(tok)
	if h.level == telemetry.LevelUnknown {
		if lv := headerLevel(core); lv != telemetry.LevelUnknown && (isUpperWord(core) || colon || afterTime) {
			h.level = lv
			return true
		}
	}
	switch {
	case h.pid == "" && h.level != telemetry.LevelUnknown && allDigits(tok) && nextToken(s, next) == "---":
		h.pid = tok // Spring Boot: "INFO 4242 --- [main]"
		return true
	case h.pid == "" && colon && strings.IndexByte(core, '#') > 0:
		// Nginx: "4242#4242:" is pid#tid.
		pid, tid, _ := strings.Cut(core, "#")
		if allDigits(pid) && allDigits(tid) {
			h.pid, h.tid, h.nginx = pid, tid, true
			return true
		}
	case h.nginx && h.conn == "" && len(tok) > 1 && tok[0] == '*' && allDigits(tok[1:]):
		h.conn = tok[1:]
		return true
	case h.comp == "" && h.lastSep == '|' && h.level != telemetry.LevelUnknown && nextToken(s, next) == "|":
		h.comp = tok // "ts | LEVEL | component | msg"
		return true
	case h.caller == "" && colon && isCaller(core):
		h.caller = core // Go log's Lshortfile: "main.go:42:"
		return true
	case h.logger == "" && isLoggerName(core) &&
		(h.level != telemetry.LevelUnknown || h.dashes > 0 || h.ng > 0):
		// Tomcat's one-line format has no separator after the logger,
		// but its logger is fully qualified and follows the [thread].
		if colon || sepFollows(s, next) || (h.ng > 0 && strings.Count(core, ".") >= 2) {
			if hasLoggerShape(core) || h.dashes > 0 {
				h.logger = core
				h.pyDash = h.dashes > 0 && h.level == telemetry.LevelUnknown
				return true
			}
		}
	}
	return false
}

// nextToken returns the space-separated token starting after s[i:]'s spaces.
func nextToken(s string, i int) string {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	j := i
	for j < len(s) && s[j] != ' ' {
		j++
	}
	return s[i:j]
}

// sepFollows reports whether the next token is a lone "-" or ":" separator.
func sepFollows(s string, i int) bool {
	t := nextToken(s, i)
	return t == "-" || t == ":"
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// isCaller matches file.ext:line.
func isCaller(s string) bool {
	c := strings.LastIndexByte(s, ':')
	return c > 0 && allDigits(s[c+1:]) && strings.IndexByte(s[:c], '.') > 0
}

// isLoggerName accepts the characters of Java class names, Python module
// names and paths.
func isLoggerName(s string) bool {
	if len(s) < 2 || len(s) > 200 || !(isAlpha(s[0]) || s[0] == '_') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !isDigit(c) && c != '.' && c != '_' && c != '$' && c != '/' && c != '-' {
			return false
		}
	}
	return true
}

// hasLoggerShape tells a logger name from a capitalised message word
// before a dash: qualified (c.e.Foo, app/db, my_mod) or CamelCase.
func hasLoggerShape(s string) bool {
	if strings.ContainsAny(s, "._$/") {
		return true
	}
	uppers, lowers := 0, 0
	for i := 0; i < len(s); i++ {
		if isUpper(s[i]) {
			uppers++
		} else if s[i]-'a' < 26 {
			lowers++
		}
	}
	return uppers >= 2 && lowers > 0
}

// fields stores the header parts that are not Time, Level or Message.
func (h *header) fields(rec *telemetry.LogRecord) {
	if h.ng > 0 {
		switch {
		case h.logger != "" && h.ng == 1:
			setField(rec, "thread", h.groups[0])
		case h.logger != "":
			setField(rec, "app", h.groups[0])
			setField(rec, "thread", h.groups[1])
		default:
			setField(rec, "component", h.groups[0])
			if h.ng > 1 {
				setField(rec, "context", h.groups[1])
			}
		}
	}
	if h.comp != "" && rec.Fields["component"] == "" {
		setField(rec, "component", h.comp)
	}
	for _, f := range [...]struct{ k, v string }{
		{"logger", h.logger}, {"pid", h.pid}, {"tid", h.tid}, {"caller", h.caller},
		{"connection", h.conn}, {"module", h.module}, {"client", h.client},
	} {
		if f.v != "" {
			setField(rec, f.k, f.v)
		}
	}
}

// structuredBody reads a message that is itself JSON or logfmt (klog's
// structured lines, runtimes that prefix JSON with a timestamp) into
// Fields, and takes its message, level and time where the header had none.
func (p *Parser) structuredBody(rec *telemetry.LogRecord, body string, ref time.Time, timed bool) {
	if len(body) < 3 {
		return
	}
	var in telemetry.LogRecord
	switch {
	case body[0] == '{' && body[len(body)-1] == '}':
		if !p.parseJSON(&in, body, ref, nil) {
			return
		}
	case looksLogfmt(body):
		if !p.parseLogfmt(&in, body, ref) {
			return
		}
	default:
		return
	}
	rec.Message = in.Message
	if rec.Level == telemetry.LevelUnknown {
		rec.Level = in.Level
	}
	if !in.Time.IsZero() && !timed {
		rec.Time = in.Time
	}
	for k, v := range in.Fields {
		if _, taken := rec.Fields[k]; !taken {
			setField(rec, k, v)
		}
	}
}

// pythonLevels are the level names Python's logging prints.
var pythonLevels = [...]string{"DEBUG:", "INFO:", "WARNING:", "ERROR:", "CRITICAL:"}

// parsePythonBasic reads logging.basicConfig's default "LEVEL:name:msg".
func (p *Parser) parsePythonBasic(rec *telemetry.LogRecord, line string) bool {
	for _, pl := range pythonLevels {
		if !strings.HasPrefix(line, pl) {
			continue
		}
		rest := line[len(pl):]
		c := strings.IndexByte(rest, ':')
		if c <= 0 || strings.ContainsAny(rest[:c], " \t") {
			return false
		}
		rec.Level = levelOf(pl[:len(pl)-1])
		rec.Message = trimSpace(rest[c+1:])
		rec.Format = string(FormatPython)
		setField(rec, "logger", rest[:c])
		return true
	}
	return false
}
