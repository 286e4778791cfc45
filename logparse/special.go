package logparse

import (
	"strings"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// Two header formats too unlike the others for the generic scanner: klog
// (Kubernetes components, glog) and Redis.

// parseKlog reads "Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg", where L is
// I, W, E or F. klog's structured form puts the message in quotes followed
// by key="value" pairs, which become Fields.
func (p *Parser) parseKlog(rec *telemetry.LogRecord, line string, ref time.Time) bool {
	if len(line) < 22 || line[5] != ' ' {
		return false
	}
	var lv telemetry.Level
	switch line[0] {
	case 'I':
		lv = telemetry.LevelInfo
	case 'W':
		lv = telemetry.LevelWarn
	case 'E':
		lv = telemetry.LevelError
	case 'F':
		lv = telemetry.LevelFatal
	default:
		return false
	}
	var c civil
	var ok1, ok2 bool
	c.month, ok1 = digitsN(line, 1, 2)
	c.day, ok2 = digitsN(line, 3, 2)
	if !ok1 || !ok2 || c.month < 1 || c.month > 12 || c.day < 1 || c.day > 31 {
		return false
	}
	i, ok := clockAt(line, 6, &c, false)
	if !ok || i >= len(line) || line[i] != ' ' {
		return false
	}
	for i < len(line) && line[i] == ' ' {
		i++
	}
	ts := i
	for i < len(line) && isDigit(line[i]) {
		i++
	}
	if i == ts || i >= len(line) || line[i] != ' ' {
		return false
	}
	thread := line[ts:i]
	i++
	end := strings.IndexByte(line[i:], ']')
	if end <= 0 || end > 256 || !isCaller(line[i:i+end]) {
		return false
	}
	caller := line[i : i+end]
	msg := trimSpace(line[i+end+1:])

	if t, ok := c.inferYear(ref, p.o.Location); ok && !t.IsZero() {
		rec.Time = t
	}
	rec.Level = lv
	rec.Message = msg
	rec.Format = string(FormatKlog)
	setField(rec, "thread_id", thread)
	setField(rec, "caller", caller)
	if len(msg) > 1 && msg[0] == '"' {
		p.klogStructured(rec, msg)
	}
	return true
}

// klogStructured splits `"msg" k1="v1" k2=v2` into Message and Fields.
func (p *Parser) klogStructured(rec *telemetry.LogRecord, msg string) {
	quoted, end, ok := quotedAt(msg, 0)
	if !ok {
		return
	}
	if strings.IndexByte(quoted, '\\') >= 0 {
		quoted = unquoteGo(msg[:end], quoted)
	}
	rest := trimSpace(msg[end:])
	if rest != "" {
		buf := getKVs()
		kvs, ok := scanLogfmt(rest, (*buf)[:0], p.o.MaxFields)
		if !ok && len(kvs) == 1 { // a single pair is enough here
			ok = true
		}
		if ok {
			for _, e := range kvs {
				if _, taken := rec.Fields[e.key]; !taken {
					setField(rec, e.key, e.val)
				}
			}
		}
		putKVs(buf, kvs)
		if !ok {
			return
		}
	}
	rec.Message = quoted
}

// parseRedis reads "pid:role dd Mon yyyy hh:mm:ss.mmm L msg", where the
// role is M (master), S (replica), C (child) or X (sentinel) and L is one of
// . - * # for debug, verbose, notice and warning.
func (p *Parser) parseRedis(rec *telemetry.LogRecord, line string, ref time.Time) bool {
	c := strings.IndexByte(line, ':')
	if c <= 0 || c > 10 || !allDigits(line[:c]) || c+3 >= len(line) || line[c+2] != ' ' {
		return false
	}
	role := line[c+1]
	if role != 'M' && role != 'S' && role != 'C' && role != 'X' {
		return false
	}
	t, n, kind := parseTimePrefix(line[c+3:], ref, p.o.Location)
	i := c + 3 + n
	if kind != tsDayMon || i+3 > len(line) || line[i] != ' ' || (i+3 < len(line) && line[i+2] != ' ') {
		return false
	}
	var lv telemetry.Level
	switch line[i+1] {
	case '.', '-':
		lv = telemetry.LevelDebug
	case '*':
		lv = telemetry.LevelInfo
	case '#':
		lv = telemetry.LevelWarn
	default:
		return false
	}
	if !t.IsZero() {
		rec.Time = t
	}
	rec.Level = lv
	rec.Message = trimSpace(line[i+2:])
	rec.Format = string(FormatRedis)
	setField(rec, "pid", line[:c])
	setField(rec, "role", line[c+1:c+2])
	return true
}
