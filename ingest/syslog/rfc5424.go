package syslog

import (
	"fmt"
	"strings"
	"time"
)

// bom is the UTF-8 byte order mark RFC 5424 puts before a UTF-8 MSG.
const bom = "\xef\xbb\xbf"

// parse5424 reads what follows "<PRI>1 ":
//
//	TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG]
//
// Header fields are taken as they come (any non-space bytes, "-" for nil)
// rather than checked against the RFC's character sets and lengths: a
// sender that writes an underscore in its hostname still gets its message
// read. The timestamp and the structured data must be well formed.
func parse5424(h *header, s string) error {
	h.format = Format5424
	ts, s, ok := nextField(s)
	if !ok {
		return fmt.Errorf("%w: rfc5424: missing timestamp", ErrMalformed)
	}
	if ts != "-" {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return fmt.Errorf("%w: rfc5424: bad timestamp %q", ErrMalformed, ts)
		}
		h.time = t
	}
	var hdr [4]string
	for i := range hdr {
		if hdr[i], s, ok = nextField(s); !ok {
			return fmt.Errorf("%w: rfc5424: header ends early", ErrMalformed)
		}
	}
	h.host, h.app, h.procid, h.msgid = nilValue(hdr[0]), nilValue(hdr[1]), nilValue(hdr[2]), nilValue(hdr[3])
	switch {
	case s == "":
		return fmt.Errorf("%w: rfc5424: missing structured data", ErrMalformed)
	case s[0] == '-':
		s = s[1:]
	case s[0] == '[':
		var err error
		if s, err = parseSD(h, s); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: rfc5424: missing structured data", ErrMalformed)
	}
	if s != "" {
		if s[0] != ' ' {
			return fmt.Errorf("%w: rfc5424: no space before message", ErrMalformed)
		}
		h.msg = strings.TrimPrefix(s[1:], bom)
	}
	return nil
}

// parseSD reads one or more SD-ELEMENTs, [id name="value" ...], into
// h.fields as "sd.id.name" and returns what follows them. Inside a value,
// '"', '\' and ']' are escaped with a backslash; a backslash before any
// other byte is kept, as RFC 5424 section 6.3.3 requires.
func parseSD(h *header, s string) (string, error) {
	if h.fields == nil {
		h.fields = make(map[string]string, 4)
	}
	for s != "" && s[0] == '[' {
		i := 1
		for i < len(s) && s[i] != ' ' && s[i] != ']' && s[i] != '=' && s[i] != '"' {
			i++
		}
		if i == 1 || i >= len(s) || (s[i] != ' ' && s[i] != ']') {
			return "", fmt.Errorf("%w: rfc5424: bad SD-ID", ErrMalformed)
		}
		prefix := FieldSDPrefix + s[1:i] + "."
		for s[i] == ' ' {
			i++
			start := i
			for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != ']' && s[i] != '"' {
				i++
			}
			if i == start || i+1 >= len(s) || s[i] != '=' || s[i+1] != '"' {
				return "", fmt.Errorf("%w: rfc5424: bad SD-PARAM", ErrMalformed)
			}
			name := s[start:i]
			i += 2
			vstart, escaped := i, false
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' {
					escaped = true
					i++
				}
				i++
			}
			if i >= len(s) {
				return "", fmt.Errorf("%w: rfc5424: unterminated SD-PARAM value", ErrMalformed)
			}
			v := s[vstart:i]
			if escaped {
				v = unescapeSD(v)
			}
			key := prefix + name
			if old, dup := h.fields[key]; dup {
				v = old + "," + v
			}
			h.fields[key] = v
			i++ // closing quote
			if i >= len(s) {
				return "", fmt.Errorf("%w: rfc5424: unterminated SD-ELEMENT", ErrMalformed)
			}
		}
		if s[i] != ']' {
			return "", fmt.Errorf("%w: rfc5424: bad SD-ELEMENT", ErrMalformed)
		}
		s = s[i+1:]
	}
	return s, nil
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
