package logparse

import (
	"strings"
	"sync"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// kvPool recycles the scratch slice structured parsers extract into, so a
// line costs only the Fields map it returns.
var kvPool = sync.Pool{New: func() any { s := make([]kv, 0, 32); return &s }}

func getKVs() *[]kv { return kvPool.Get().(*[]kv) }

func putKVs(p *[]kv, used []kv) {
	// Drop the references to this line's strings before pooling, or the
	// pool would keep old lines alive.
	clear(used)
	if cap(used) <= 1024 {
		*p = used[:0]
		kvPool.Put(p)
	}
}

// parseJSON reads a line holding one JSON object.
// ps is nil for JSON found inside another format, which is never a
// container wrapper.
func (p *Parser) parseJSON(rec *telemetry.LogRecord, line string, ref time.Time, ps *pass) bool {
	buf := getKVs()
	kvs, _, ok := scanJSON(line, (*buf)[:0], p.o.MaxFields)
	defer func() { putKVs(buf, kvs) }()
	if !ok {
		return false
	}
	if ps != nil && ps.depth == 0 {
		if log, stream, ts, ok := dockerParts(kvs); ok {
			p.parseDocker(rec, kvs, log, stream, ts, ref, ps)
			return true
		}
	}
	kvs = expandKeyValueLists(kvs, p.o.MaxFields)
	if !p.applyKVs(rec, kvs, ref) {
		rec.Message = line
	}
	rec.Format = string(FormatJSON)
	return true
}

// dockerParts recognises Docker's json-file driver line:
// {"log":"...\n","stream":"stdout","time":"2024-..Z"} with optional attrs.
func dockerParts(kvs []kv) (log, stream, ts string, ok bool) {
	hasLog, hasStream := false, false
	for i := range kvs {
		switch k := kvs[i].key; {
		case k == "log" && kvs[i].kind == kindString:
			log, hasLog = kvs[i].val, true
		case k == "stream" && kvs[i].kind == kindString:
			stream, hasStream = kvs[i].val, true
		case k == "time" && kvs[i].kind == kindString:
			ts = kvs[i].val
		case strings.HasPrefix(k, "attrs."):
		default:
			return "", "", "", false
		}
	}
	return log, stream, ts, hasLog && hasStream
}

func (p *Parser) parseDocker(rec *telemetry.LogRecord, kvs []kv, log, stream, ts string, ref time.Time, ps *pass) {
	p.parseContainerInner(rec, dockerLine(log, stream, ts, p.o.Location), ref, ps)
	for i := range kvs {
		if strings.HasPrefix(kvs[i].key, "attrs.") {
			setField(rec, kvs[i].key, kvs[i].val)
		}
	}
}

// expandKeyValueLists turns OpenTelemetry's attribute lists,
// [{"key":"k","value":{"stringValue":"v"}}, ...], into fields "<list>.k" = "v",
// so OTLP/JSON records read like flat JSON logs.
func expandKeyValueLists(kvs []kv, maxFields int) []kv {
	n := len(kvs)
	for i := 0; i < n; i++ {
		if kvs[i].kind != kindRaw || !looksLikeKVList(kvs[i].val) {
			continue
		}
		var tmp [8]kv
		prefix := kvs[i].key
		sc := jsonScanner{s: kvs[i].val, maxFields: 1 << 20}
		sc.i = 1
		expanded := kvs
		ok := true
		for ok {
			sc.ws()
			if sc.i < len(sc.s) && sc.s[sc.i] == ']' {
				break
			}
			sc.out = tmp[:0]
			if !sc.object("", 0) {
				ok = false
				break
			}
			var key, val string
			for _, e := range sc.out {
				if e.key == "key" {
					key = e.val
				} else if strings.HasPrefix(e.key, "value.") {
					val = e.val
				}
			}
			if key == "" || len(expanded) >= maxFields {
				ok = false
				break
			}
			expanded = append(expanded, kv{key: prefix + "." + key, val: val, kind: kindString})
			sc.ws()
			if sc.i < len(sc.s) && sc.s[sc.i] == ',' {
				sc.i++
			}
		}
		if !ok {
			continue
		}
		// Replace the raw list by its members.
		expanded[i] = expanded[len(expanded)-1]
		expanded = expanded[:len(expanded)-1]
		kvs = expanded
	}
	return kvs
}

func looksLikeKVList(raw string) bool {
	if len(raw) < 10 || raw[0] != '[' {
		return false
	}
	rest := trimLeft(raw[1:])
	if rest == "" || rest[0] != '{' {
		return false
	}
	return strings.HasPrefix(trimLeft(rest[1:]), `"key"`)
}
