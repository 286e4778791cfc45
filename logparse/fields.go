package logparse

import (
	"strconv"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// Structured lines (JSON, logfmt) name their time, level and message with
// keys that vary by library. Ranks order the candidates when a line has more
// than one (ECS lines carry both @timestamp and an event's own time).

type role uint8

const (
	roleNone role = iota
	roleTime
	roleLevel
	roleMessage
)

// keyRole returns what a key means and its rank (lower wins).
func keyRole(k string) (role, int) {
	switch k {
	// Time: ECS, GELF/generic, slog/logrus/bunyan/pino, zap/go-kit,
	// OpenTelemetry, Serilog CLEF, python-json-logger.
	case "@timestamp":
		return roleTime, 1
	case "timestamp":
		return roleTime, 2
	case "time":
		return roleTime, 3
	case "ts":
		return roleTime, 4
	case "timeUnixNano", "time_unix_nano":
		return roleTime, 5
	case "@t":
		return roleTime, 6
	case "datetime", "asctime":
		return roleTime, 7
	case "observedTimeUnixNano", "observed_time_unix_nano":
		return roleTime, 8
	case "t": // Grafana, go-kit's short form
		return roleTime, 9

	// Level: slog/zap/logrus/bunyan/pino, ECS, GCP, OpenTelemetry,
	// python (levelname), CLEF.
	case "level":
		return roleLevel, 1
	case "log.level":
		return roleLevel, 2
	case "severity":
		return roleLevel, 3
	case "severityText", "severity_text":
		return roleLevel, 4
	case "levelname", "lvl", "loglevel", "log_level", "@l":
		return roleLevel, 5
	case "severityNumber", "severity_number":
		return roleLevel, 6
	case "at": // Heroku's router and platform logs
		return roleLevel, 7

	// Message: slog/zap/logrus/bunyan, ECS/GCP, CLEF (@m rendered, @mt
	// template), GELF, OpenTelemetry body, structlog's event.
	case "msg":
		return roleMessage, 1
	case "message":
		return roleMessage, 2
	case "@m":
		return roleMessage, 3
	case "@mt":
		return roleMessage, 4
	case "short_message":
		return roleMessage, 5
	case "body", "body.stringValue", "body.string_value":
		return roleMessage, 6
	case "event":
		return roleMessage, 7
	case "log": // Fluent Bit and Fluentd records without Docker's stream key
		return roleMessage, 8
	}
	return roleNone, 0
}

// applyKVs fills rec from extracted key/values: the best time, level and
// message keys become Time, Level and Message (and leave Fields when they
// could be read), everything else becomes Fields. It returns whether a
// message key was found.
func (p *Parser) applyKVs(rec *telemetry.LogRecord, kvs []kv, ref time.Time) bool {
	const none = -1
	ti, li, mi := none, none, none
	lr, mr := 1<<30, 1<<30
	// Up to three time candidates, best first: when the best does not
	// parse (OpenTelemetry's timeUnixNano "0"), the next may.
	var tc [3]int
	var trank [3]int
	nt := 0
	for i := range kvs {
		r, rank := keyRole(kvs[i].key)
		if r != roleTime || (kvs[i].kind != kindString && kvs[i].kind != kindNumber) {
			continue
		}
		k := nt
		if nt < len(tc) {
			nt++
		} else if rank >= trank[k-1] {
			continue
		} else {
			k--
		}
		for k > 0 && trank[k-1] > rank {
			tc[k], trank[k] = tc[k-1], trank[k-1]
			k--
		}
		tc[k], trank[k] = i, rank
	}
	for _, i := range tc[:nt] {
		if t, ok := parseTimeValue(kvs[i].val, ref, p.o.Location); ok && !t.IsZero() {
			rec.Time, ti = t, i
			break
		}
	}
	for i := range kvs {
		r, rank := keyRole(kvs[i].key)
		switch {
		case r == roleLevel && rank < lr && (kvs[i].kind == kindString || kvs[i].kind == kindNumber):
			lv := levelOf(trimSpace(kvs[i].val))
			if rank == 6 { // OpenTelemetry SeverityNumber
				n, err := strconv.Atoi(kvs[i].val)
				lv = telemetry.LevelUnknown
				if err == nil {
					lv = telemetry.LevelFromSeverityNumber(n)
				}
			}
			if lv != telemetry.LevelUnknown {
				li, lr = i, rank
				rec.Level = lv
			}
		case r == roleMessage && rank < mr && kvs[i].kind == kindString:
			mi, mr = i, rank
		}
	}
	if mi != none {
		rec.Message = trimRight(kvs[mi].val)
	}
	n := len(kvs)
	for _, i := range [3]int{ti, li, mi} {
		if i != none {
			n--
		}
	}
	if n > 0 {
		f := make(map[string]string, n)
		for i := range kvs {
			if i == ti || i == li || i == mi {
				continue
			}
			f[kvs[i].key] = kvs[i].val
		}
		rec.Fields = f
	}
	return mi != none
}

// trimRight drops trailing whitespace (a JSON msg often ends in "\n").
func trimRight(s string) string {
	for len(s) > 0 {
		switch s[len(s)-1] {
		case ' ', '\t', '\r', '\n':
			s = s[:len(s)-1]
			continue
		}
		break
	}
	return s
}

func trimLeft(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return s
}

func trimSpace(s string) string { return trimLeft(trimRight(s)) }

// setField adds one field, creating the map on first use.
func setField(rec *telemetry.LogRecord, k, v string) {
	if rec.Fields == nil {
		rec.Fields = make(map[string]string, 4)
	}
	rec.Fields[k] = v
}
