package detect

import "strconv"

// ctNextToken returns the next whitespace-separated token of s at or after
// i and the index just past it; tok is empty at the end. It does not
// allocate, which matters because it runs on every token of every line.
func ctNextToken(s string, i int) (tok string, next int) {
	for i < len(s) && ctSpace(s[i]) {
		i++
	}
	j := i
	for j < len(s) && !ctSpace(s[j]) {
		j++
	}
	return s[i:j], j
}

func ctSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func ctDigit(c byte) bool { return c >= '0' && c <= '9' }

// ctCountTokens counts the whitespace-separated tokens of s.
func ctCountTokens(s string) int {
	n := 0
	for i := 0; ; {
		tok, next := ctNextToken(s, i)
		if tok == "" {
			return n
		}
		n++
		i = next
	}
}

// ctNumber splits a token of the shape prefix·number·unit ("took=35ms",
// "50000ms", "latency:0.2s", "(12)") into its parts. A token with more than
// one run of digits (an IP address, a date, a hex id) is not a number.
func ctNumber(tok string) (prefix string, v float64, unit string, ok bool) {
	i := 0
	for i < len(tok) && !ctDigit(tok[i]) {
		i++
	}
	if i == len(tok) {
		return "", 0, "", false
	}
	start := i
	if start > 0 && tok[start-1] == '-' && (start == 1 || !ctAlnum(tok[start-2])) {
		start--
	}
	j := i
	for j < len(tok) && ctDigit(tok[j]) {
		j++
	}
	if j+1 < len(tok) && tok[j] == '.' && ctDigit(tok[j+1]) {
		j++
		for j < len(tok) && ctDigit(tok[j]) {
			j++
		}
	}
	// The prefix must not end in a letter glued to the number (v2, sha256)
	// and the rest must hold no further digits.
	if start > 0 && ctLetter(tok[start-1]) {
		return "", 0, "", false
	}
	rest := tok[j:]
	for k := 0; k < len(rest); k++ {
		if ctDigit(rest[k]) {
			return "", 0, "", false
		}
	}
	// Trailing punctuation is not part of the unit.
	e := len(rest)
	for e > 0 && !ctLetter(rest[e-1]) && rest[e-1] != '%' {
		e--
	}
	rest = rest[:e]
	for k := 0; k < len(rest); k++ {
		if !ctLetter(rest[k]) && rest[k] != '%' && rest[k] != '/' {
			return "", 0, "", false
		}
	}
	f, err := strconv.ParseFloat(tok[start:j], 64)
	if err != nil {
		return "", 0, "", false
	}
	return tok[:start], f, rest, true
}

func ctLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 }
func ctAlnum(c byte) bool  { return ctLetter(c) || ctDigit(c) }

// ctDurationSeconds converts v in unit to seconds; ok is false for units
// that are not durations.
func ctDurationSeconds(v float64, unit string) (float64, bool) {
	switch unit {
	case "ns":
		return v / 1e9, true
	case "us", "µs", "μs":
		return v / 1e6, true
	case "ms", "msec", "millis":
		return v / 1e3, true
	case "s", "sec", "secs", "seconds":
		return v, true
	}
	return 0, false
}

// ctDurationKey reports whether a field name or token prefix names a
// duration, and the unit a bare number in it is in.
func ctDurationKey(key string) (unit string, ok bool) {
	k := key
	for len(k) > 0 && !ctLetter(k[len(k)-1]) {
		k = k[:len(k)-1]
	}
	lower := make([]byte, 0, 32)
	for i := 0; i < len(k) && i < 32; i++ {
		c := k[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower = append(lower, c)
	}
	s := string(lower)
	unit = "s"
	switch {
	case ctHasSuffix(s, "_ms") || ctHasSuffix(s, "millis") || ctHasSuffix(s, "ms") && len(s) > 2 && s[len(s)-3] != 'm':
		unit = "ms"
	case ctHasSuffix(s, "_us"):
		unit = "us"
	case ctHasSuffix(s, "_ns"):
		unit = "ns"
	}
	for _, w := range [...]string{"duration", "latency", "elapsed", "took", "request_time", "response_time", "upstream_response_time", "rt"} {
		if ctContains(s, w) && (w != "rt" || s == "rt") {
			return unit, true
		}
	}
	return "", false
}

func ctHasSuffix(s, suf string) bool { return len(s) >= len(suf) && s[len(s)-len(suf):] == suf }

func ctContains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// ctLineDuration returns the largest duration (in seconds) a line states,
// from its message tokens ("took 35ms", "in 0.2s") or its fields
// ("duration_ms=35", "request_time=0.035"). The largest, because a line
// that lists parts and a total ("db=3ms total=35ms") means the total.
func ctLineDuration(msg string, fields map[string]string) (float64, bool) {
	best, found := 0.0, false
	for i := 0; ; {
		tok, next := ctNextToken(msg, i)
		if tok == "" {
			break
		}
		i = next
		prefix, v, unit, ok := ctNumber(tok)
		if !ok {
			continue
		}
		sec, ok := ctDurationSeconds(v, unit)
		if !ok && unit == "" && prefix != "" {
			if u, isDur := ctDurationKey(prefix); isDur {
				sec, ok = ctDurationSeconds(v, u)
			}
		}
		if ok && sec >= 0 && (!found || sec > best) {
			best, found = sec, true
		}
	}
	for k, val := range fields {
		u, isDur := ctDurationKey(k)
		if !isDur {
			continue
		}
		_, v, unit, ok := ctNumber(val)
		if !ok {
			continue
		}
		if unit == "" {
			unit = u
		}
		if sec, ok := ctDurationSeconds(v, unit); ok && sec >= 0 && (!found || sec > best) {
			best, found = sec, true
		}
	}
	return best, found
}
