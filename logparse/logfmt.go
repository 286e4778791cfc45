package logparse

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigilops/vigil/telemetry"
)

// logfmt is key=value pairs separated by spaces, values quoted when they
// hold spaces (go-kit, logrus' text formatter, Heroku, Grafana). Real lines
// are sloppier than the format: a bare word after an unquoted value
// ("msg=connection reset by peer") is read as part of that value rather than
// failing the line, since that is what the writer meant.

// isKeyStart reports whether c may begin a logfmt key.
func isKeyStart(c byte) bool { return isAlpha(c) || c == '_' || c == '@' }

// looksLogfmt is the cheap test run before scanning: the first token must be
// key=....
func looksLogfmt(line string) bool {
	if line == "" || !isKeyStart(line[0]) {
		return false
	}
	for i := 1; i < len(line) && i < 128; i++ {
		switch line[i] {
		case '=':
			return true
		case ' ', '\t', '"', ':', '[', ']', '(', ')', '{', '}', ',':
			return false
		}
	}
	return false
}

// scanLogfmt extracts the pairs of a logfmt line. It reports false when the
// line does not read as logfmt: fewer than two pairs (one is enough if it is
// a message or level key) or more bare words than pairs.
func scanLogfmt(s string, out []kv, maxFields int) ([]kv, bool) {
	pairs, bare := 0, 0
	lastUnquoted := -1 // index in out of a value bare words may extend
	valStart := 0      // where that value starts in s
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			break
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != '\t' && s[i] != '"' {
			i++
		}
		if i < len(s) && s[i] == '"' {
			return out, false
		}
		if i >= len(s) || s[i] != '=' || i == start || !isKeyStart(s[start]) {
			// A bare word.
			for i < len(s) && s[i] != ' ' && s[i] != '\t' {
				i++
			}
			if lastUnquoted < 0 {
				return out, false
			}
			bare++
			out[lastUnquoted].val = s[valStart:i]
			continue
		}
		key := s[start:i]
		i++ // '='
		var val string
		quoted := false
		if i < len(s) && s[i] == '"' {
			end, escaped, ok := quotedEnd(s, i)
			if !ok {
				return out, false
			}
			val = s[i+1 : end-1]
			if escaped {
				val = unquoteGo(s[i:end], val)
			}
			i, quoted = end, true
		} else {
			vs := i
			for i < len(s) && s[i] != ' ' && s[i] != '\t' {
				i++
			}
			val = s[vs:i]
			valStart = vs
		}
		pairs++
		if len(out) >= maxFields {
			lastUnquoted = -1
			continue
		}
		out = append(out, kv{key: key, val: val, kind: kindString})
		if quoted {
			lastUnquoted = -1
		} else {
			lastUnquoted = len(out) - 1
		}
	}
	if bare > pairs || pairs == 0 {
		return out, false
	}
	if pairs == 1 {
		if r, _ := keyRole(out[0].key); r != roleMessage && r != roleLevel {
			return out, false
		}
	}
	return out, true
}

// unquoteGo decodes a Go-quoted string (what logfmt and klog writers
// produce), or returns fallback when it does not decode to valid UTF-8:
// "\xff" escapes would otherwise smuggle invalid text into a record.
func unquoteGo(quoted, fallback string) string {
	u, err := strconv.Unquote(quoted)
	if err != nil || !utf8.ValidString(u) {
		return fallback
	}
	return u
}

// quotedEnd finds the end (one past the closing quote) of a quoted value
// starting at s[i] == '"'.
func quotedEnd(s string, i int) (end int, escaped, ok bool) {
	j := i + 1
	for {
		k := strings.IndexAny(s[j:], "\"\\")
		if k < 0 {
			return 0, false, false
		}
		j += k
		if s[j] == '"' {
			return j + 1, escaped, true
		}
		escaped = true
		j += 2
		if j > len(s) {
			return 0, false, false
		}
	}
}

// parseLogfmt reads a logfmt line.
func (p *Parser) parseLogfmt(rec *telemetry.LogRecord, line string, ref time.Time) bool {
	buf := getKVs()
	kvs, ok := scanLogfmt(line, (*buf)[:0], p.o.MaxFields)
	defer func() { putKVs(buf, kvs) }()
	if !ok {
		return false
	}
	if !p.applyKVs(rec, kvs, ref) {
		// No msg key: the whole line is the body; templating masks the
		// values and keeps the keys, which is the shape of the event.
		rec.Message = line
	}
	rec.Format = string(FormatLogfmt)
	return true
}
