package analyst

import (
	"strconv"
	"strings"
)

// maxEntityBytes bounds an extracted entity, so that one hostile line cannot
// blow up a report.
const maxEntityBytes = 200

// line is one input line as the matchers see it. lower is computed once per
// line because every phrase is matched case-insensitively.
type line struct {
	raw    string
	lower  string
	status int // HTTP status from structured fields (access logs, JSON), or 0
	severe bool
}

// matcher recognises one form of a signature. A line matches when any of
// the any phrases occurs as a whole word (and every all phrase too, and no
// not phrase). Whole-word matching is what keeps "refusedConnectionsTotal"
// or "id=14290" from matching, while "connection refused count=0" still
// does: a hand-written phrase list is easier to review than a regexp.
type matcher struct {
	any []string
	all []string
	not []string
	// status, when non-zero, matches lines whose structured HTTP status is
	// in [status, statusMax].
	status, statusMax int
	// extract, when set, returns the key entity; at is where the matched
	// phrase starts (or -1 for status matches).
	extract func(l *line, at int) string
}

// match reports whether l matches and, if so, where.
func (m *matcher) match(l *line) (int, bool) {
	at := -1
	for _, p := range m.any {
		if i := wordIndex(l.lower, p); i >= 0 {
			at = i
			break
		}
	}
	if at < 0 && m.status != 0 && l.status >= m.status && l.status <= m.statusMax {
		at = len(l.lower)
	}
	if at < 0 {
		return 0, false
	}
	for _, p := range m.all {
		if wordIndex(l.lower, p) < 0 {
			return 0, false
		}
	}
	for _, p := range m.not {
		if wordIndex(l.lower, p) >= 0 {
			return 0, false
		}
	}
	return at, true
}

func isAlnum(c byte) bool {
	return c-'0' < 10 || (c|0x20)-'a' < 26
}

// isWordByte counts '_' as part of a word, so that snake_case names such as
// unauthorized_requests_total do not match "unauthorized".
func isWordByte(c byte) bool { return c == '_' || isAlnum(c) }

// wordIndex returns the first index of phrase in s where it is not glued to
// letters or digits on a side where the phrase itself starts or ends with
// one, or -1. s and phrase are lower case.
func wordIndex(s, phrase string) int {
	if phrase == "" {
		return -1
	}
	first, last := isWordByte(phrase[0]), isWordByte(phrase[len(phrase)-1])
	off := 0
	for {
		i := strings.Index(s[off:], phrase)
		if i < 0 {
			return -1
		}
		i += off
		end := i + len(phrase)
		okL := !first || i == 0 || !isWordByte(s[i-1])
		okR := !last || end == len(s) || !isWordByte(s[end])
		if okL && okR {
			return i
		}
		off = i + 1
	}
}

// bound cuts s to maxEntityBytes.
func bound(s string) string {
	if len(s) > maxEntityBytes {
		return s[:maxEntityBytes]
	}
	return s
}

// clip bounds an entity and strips the punctuation that quotes it.
func clip(s string) string {
	return bound(strings.Trim(s, " \t'\"`()[]{}<>,;.!?"))
}

func isHostByte(c byte) bool {
	return isAlnum(c) || c == '.' || c == '-' || c == '_'
}

// sourceExts are file extensions that make "name:123" a caller annotation
// (server.go:123) rather than an endpoint.
var sourceExts = []string{".go", ".py", ".java", ".js", ".ts", ".rb", ".c", ".cc", ".cpp", ".h", ".rs", ".kt", ".scala", ".php", ".cs", ".ex", ".exs"}

// hostPorts returns the host:port endpoints in s, in order. Times
// (10:00:05), caller annotations (main.go:42) and ports out of range are
// skipped; "name/1.2.3.4:6379" (Netty, Java) yields "name:6379".
func hostPorts(s string) []string {
	var out []string
	for i := 0; i < len(s) && len(out) < 8; i++ {
		if s[i] != ':' {
			continue
		}
		j := i + 1
		for j < len(s) && j-i <= 6 && s[j]-'0' < 10 {
			j++
		}
		if j == i+1 || j-i > 6 || s[i+1] == '0' {
			continue
		}
		if j < len(s) && (isAlnum(s[j]) || (s[j] == ':' && j+1 < len(s) && s[j+1]-'0' < 10)) {
			continue
		}
		port, _ := strconv.Atoi(s[i+1 : j])
		if port < 1 || port > 65535 {
			continue
		}
		h := i
		for h > 0 && isHostByte(s[h-1]) {
			h--
		}
		host := s[h:i]
		if h > 0 && s[h-1] == ']' { // [::1]:8080
			if k := strings.LastIndexByte(s[:h], '['); k >= 0 {
				host = s[k:i]
				h = k
			}
		} else if h > 1 && s[h-1] == '/' && isHostByte(s[h-2]) { // name/1.2.3.4:port
			k := h - 1
			for k > 0 && isHostByte(s[k-1]) {
				k--
			}
			host = s[k : h-1]
		}
		if !plausibleHost(host) {
			continue
		}
		out = append(out, host+":"+s[i+1:j])
	}
	return out
}

func plausibleHost(h string) bool {
	if len(h) > 2 && h[0] == '[' {
		return true // IPv6 literal
	}
	if h == "" || h[0] == '.' || h[0] == '-' || h[len(h)-1] == '.' {
		return false
	}
	letterOrDot := false
	for i := 0; i < len(h); i++ {
		if c := h[i]; c == '.' || (c|0x20)-'a' < 26 {
			letterOrDot = true
		}
	}
	if !letterOrDot {
		return false
	}
	lh := strings.ToLower(h)
	for _, e := range sourceExts {
		if strings.HasSuffix(lh, e) {
			return false
		}
	}
	switch lh {
	case "http", "https", "tcp", "udp", "error", "err", "at", "line", "port":
		return false
	}
	return true
}

// endpoint extracts the endpoint a network error is about: the first
// host:port after the matched phrase (Python, Node), else the last one
// before it (Go's "dial tcp host:port: connect: ..."), else the
// host=... port=... form of urllib3 and libpq.
func endpoint(l *line, at int) string {
	if at < 0 || at > len(l.raw) {
		at = len(l.raw)
	}
	if hp := hostPorts(l.raw[at:]); len(hp) > 0 {
		return bound(hp[0])
	}
	if hp := hostPorts(l.raw[:at]); len(hp) > 0 {
		return bound(hp[len(hp)-1])
	}
	host := valueAfter(l, "host=")
	if host == "" {
		host = valueAfter(l, "host ")
	}
	port := valueAfter(l, "port=")
	if port == "" {
		port = valueAfter(l, "port ")
	}
	if host != "" && port != "" {
		if _, err := strconv.Atoi(port); err == nil {
			return clip(host + ":" + port)
		}
	}
	if host != "" && plausibleHost(host) {
		return host
	}
	return ""
}

// valueAfter returns the token that follows the first occurrence of key
// (case-insensitive), unquoted.
func valueAfter(l *line, key string) string {
	i := strings.Index(l.lower, key)
	if i < 0 {
		return ""
	}
	return tokenAt(l.raw, i+len(key))
}

// tokenAt returns the word starting at i (after spaces and an opening
// quote), up to a space, quote or delimiter.
func tokenAt(s string, i int) string {
	for i < len(s) && (s[i] == ' ' || s[i] == '"' || s[i] == '\'' || s[i] == '`') {
		i++
	}
	j := i
	for j < len(s) && !strings.ContainsRune(" \t\"'`,;()[]{}<>", rune(s[j])) {
		j++
	}
	return clip(s[i:j])
}

// after returns an extractor for the token following any of the markers.
func after(markers ...string) func(*line, int) string {
	return func(l *line, _ int) string {
		for _, m := range markers {
			if v := valueAfter(l, m); v != "" {
				return v
			}
		}
		return ""
	}
}

// either tries extractors in order.
func either(fs ...func(*line, int) string) func(*line, int) string {
	return func(l *line, at int) string {
		for _, f := range fs {
			if v := f(l, at); v != "" {
				return v
			}
		}
		return ""
	}
}

// path extracts the first absolute file path in the line.
func path(l *line, _ int) string {
	for i := 0; i < len(l.raw); i++ {
		if l.raw[i] != '/' || (i > 0 && !strings.ContainsRune(" \t'\"`(=:[", rune(l.raw[i-1]))) {
			continue
		}
		if i+1 < len(l.raw) && (l.raw[i+1] == '/' || l.raw[i+1] == ' ') {
			continue
		}
		p := tokenAt(l.raw, i)
		p = strings.TrimRight(p, ":")
		if len(p) > 1 {
			return p
		}
	}
	return ""
}

// word returns the identifier (letters, digits, . _ $) around at: the
// exception class a phrase sits in, e.g. java.lang.NullPointerException.
func word(l *line, at int) string {
	if at < 0 || at >= len(l.raw) {
		return ""
	}
	isW := func(c byte) bool { return isAlnum(c) || c == '.' || c == '_' || c == '$' }
	i, j := at, at
	for i > 0 && isW(l.raw[i-1]) {
		i--
	}
	for j < len(l.raw) && isW(l.raw[j]) {
		j++
	}
	return clip(l.raw[i:j])
}

// exceptionClass finds a FooError / FooException token anywhere in the line.
func exceptionClass(l *line, _ int) string {
	for _, suf := range []string{"exception", "error"} {
		off := 0
		for {
			i := strings.Index(l.lower[off:], suf)
			if i < 0 {
				break
			}
			i += off
			end := i + len(suf)
			if i > 0 && isAlnum(l.raw[i-1]) && l.raw[i-1] >= 'a' && l.raw[i] >= 'A' && l.raw[i] <= 'Z' &&
				(end == len(l.raw) || !isAlnum(l.raw[end])) {
				return word(l, i)
			}
			off = end
		}
	}
	return ""
}

// statusCode returns the HTTP status in the line: from structured fields, or
// the first 3-digit number in [lo,hi] that stands alone.
func statusCode(lo, hi int) func(*line, int) string {
	return func(l *line, at int) string {
		if l.status >= lo && l.status <= hi {
			return strconv.Itoa(l.status)
		}
		s := l.raw
		for i := 0; i+3 <= len(s); i++ {
			if (i > 0 && isAlnum(s[i-1])) || (i+3 < len(s) && isAlnum(s[i+3])) {
				continue
			}
			if n, err := strconv.Atoi(s[i : i+3]); err == nil && n >= lo && n <= hi && s[i]-'0' < 10 {
				return s[i : i+3]
			}
		}
		return ""
	}
}
