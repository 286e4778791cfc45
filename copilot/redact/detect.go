package redact

import "strings"

// doc is one text under scan. lower is an ASCII-only lower-cased copy of the
// same length, so offsets found in it are offsets in text (strings.ToLower
// may change the length of non-ASCII text).
type doc struct {
	text  string
	lower string
	spans []span
}

func (d *doc) add(start, end int, k Kind, prio int) {
	if end > start {
		d.spans = append(d.spans, span{start: start, end: end, kind: k, prio: prio})
	}
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// detect runs every scanner and returns merged, sorted spans.
func (r *Redactor) detect(text string) []span {
	d := &doc{text: text, lower: asciiLower(text)}
	scanPrefixed(d)
	scanJWT(d)
	scanPEM(d)
	scanAuthHeader(d)
	scanURLPassword(d)
	scanKeyValue(d, r.opts.Names)
	scanK8sSecret(d)
	scanEmail(d)
	scanNumbers(d)
	if r.opts.RedactIPs {
		scanIPv4(d)
		scanIPv6(d)
	}
	for i, re := range r.custom {
		for _, m := range re.FindAllStringSubmatchIndex(text, -1) {
			s, e := m[0], m[1]
			if len(m) >= 4 && m[2] >= 0 {
				s, e = m[2], m[3]
			}
			d.add(s, e, r.customK[i], 1)
		}
	}
	spans := merge(d.spans)
	if len(spans) == 0 {
		return nil
	}
	return r.recurrences(text, spans)
}

// recurrences also replaces other occurrences of detected values: a password
// echoed in an error message or a name seen once under user= and again in
// free text would otherwise leak beside its placeholder.
func (r *Redactor) recurrences(text string, spans []span) []span {
	seen := map[string]bool{}
	extra := spans
	for _, s := range spans {
		v := text[s.start:s.end]
		if len(v) < r.opts.MinRecurrence || seen[v] {
			continue
		}
		seen[v] = true
		for i := 0; ; {
			j := strings.Index(text[i:], v)
			if j < 0 {
				break
			}
			extra = append(extra, span{start: i + j, end: i + j + len(v), kind: s.kind, prio: 9})
			i += j + 1
		}
	}
	if len(extra) == len(spans) {
		return spans
	}
	return merge(extra)
}

// Byte classes shared by the scanners.
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }
func isWord(c byte) bool  { return isAlnum(c) || c == '_' }
func isB64URL(c byte) bool {
	return isAlnum(c) || c == '-' || c == '_'
}
func isHex(c byte) bool { return isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'f' }
func isUpperAlnum(c byte) bool {
	return isDigit(c) || c >= 'A' && c <= 'Z'
}
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// wordBefore reports whether the byte before i continues a word, in which case
// a match at i is the middle of some longer token and not a value start.
func wordBefore(s string, i int) bool { return i > 0 && isWord(s[i-1]) }

// looksRandom tells generated credentials from words: they mix digits with
// letters, or both letter cases over a good length.
func looksRandom(s string) bool {
	var d, u, l bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c):
			d = true
		case c >= 'A' && c <= 'Z':
			u = true
		case c >= 'a' && c <= 'z':
			l = true
		}
	}
	return d && (u || l) || u && l && len(s) >= 16
}
