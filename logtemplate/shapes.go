package logtemplate

import "strings"

// Recognisers of value shapes, used by the masker. Each one is a small
// hand-written scanner.

// valueWord reports whether w is a literal value: a boolean or null. Words
// are otherwise judged by shape, never by a vocabulary, so that no list
// tuned to one corpus decides what is a parameter.
func valueWord(w string) bool {
	switch len(w) {
	case 4:
		return foldPrefix(w, "true") || foldPrefix(w, "null")
	case 5:
		return foldPrefix(w, "false")
	}
	return false
}

// trimPunct returns the bounds of s without its opening and closing
// punctuation, e.g. "(10.0.0.1)," -> "10.0.0.1".
func trimPunct(s string) (lo, hi int) {
	hi = len(s)
	for lo < hi && opening[s[lo]] {
		lo++
	}
	for hi > lo && closing[s[hi-1]] {
		hi--
	}
	return lo, hi
}

var (
	opening = [256]bool{'(': true, '[': true, '{': true, '<': true, '"': true, '\'': true}
	closing = [256]bool{')': true, ']': true, '}': true, '>': true, '"': true, '\'': true,
		',': true, '.': true, ';': true, ':': true, '!': true, '?': true}
)

// portFollows reports whether s starts with a port number that ends the
// token or is followed by a delimiter.
func portFollows(s string) bool {
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	return n > 0 && n <= 5 && (n == len(s) || !isAlnum(s[n]))
}

// isHostName recognises a dotted name made for DNS: lowercase letters,
// digits and dashes in two or more labels, the last a top-level domain (so
// that Java's pkg.Class.method:line is not taken for one).
func isHostName(s string) bool {
	tld := s[strings.LastIndexByte(s, '.')+1:]
	if len(tld) < 2 || len(tld) > 6 {
		return false
	}
	for i := 0; i < len(tld); i++ {
		if tld[i] < 'a' || tld[i] > 'z' {
			return false
		}
	}
	if s == "" || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) || s[0] >= 0x80 {
		return false
	}
	dot := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if s[i-1] == '.' {
				return false
			}
			dot = true
		case c == '-' || isDigit(c) || c >= 'a' && c <= 'z':
		default:
			return false
		}
	}
	return dot
}

// isIPv4 recognises a dotted quad.
func isIPv4(s string) bool {
	groups, run := 1, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isDigit(c):
			run++
			if run > 3 {
				return false
			}
		case c == '.' && run > 0:
			groups++
			run = 0
		default:
			return false
		}
	}
	return groups == 4 && run > 0
}

// isPath recognises /abs, \\unc, ./rel, ../rel and rel/a/b paths.
func isPath(s string) bool {
	switch {
	case len(s) > 1 && (s[0] == '/' || s[0] == '\\'):
		return true
	case strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../"):
		return len(s) > 3
	case len(s) > 2 && isLetter(s[0]):
		// A relative path or a qualified name with a slash
		// (com.example.app/.MainActivity), but not a pair of words such as
		// "Input/output".
		if k := strings.IndexByte(s, '/'); k > 0 {
			return strings.IndexByte(s, '.') >= 0 || strings.IndexByte(s[k+1:], '/') >= 0
		}
	}
	return false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			return true
		}
	}
	return false
}

// hexWord reports whether s is all hex digits, with at least one of 0-9 if
// needDigit (so that short words such as "accede" stay words; no English
// word of eight letters or more is written with a-f only).
func hexWord(s string, needDigit bool) bool {
	digit := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isHex(c) {
			return false
		}
		if isDigit(c) {
			digit = true
		}
	}
	return digit || !needDigit
}

// wholeVariable recognises values that the piece rules would cut apart.
func wholeVariable(s string) bool {
	var colon, at, dot, dash bool
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ':':
			colon = true
		case '@':
			at = true
		case '.':
			dot = true
		case '-':
			dash = true
		}
	}
	switch {
	case dash && len(s) == 36 && isUUID(s):
		return true
	case colon && (isDrivePath(s) || isColonHex(s)):
		return true
	case at && isEmail(s):
		return true
	case dash && colon && isISOTime(s):
		return true
	case dot && s[0] != '.' && isHostWithDigit(s, 0, 2):
		return true
	}
	return false
}

// isUUID checks the 8-4-4-4-12 hex layout.
func isUUID(s string) bool {
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

// isDrivePath recognises C:\dir and C:/dir.
func isDrivePath(s string) bool {
	return len(s) > 3 && isLetter(s[0]) && s[0] < 0x80 && s[1] == ':' && (s[2] == '\\' || s[2] == '/')
}

// isColonHex recognises MAC addresses (six or more hex groups of two) and
// IPv6 addresses (hex groups with "::" or seven colons).
func isColonHex(s string) bool {
	groups, colons, double := 1, 0, false
	run := 0
	digit := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ':':
			colons++
			if i > 0 && s[i-1] == ':' {
				double = true
			} else {
				groups++
			}
			run = 0
		case isHex(c):
			run++
			if run > 4 {
				return false
			}
			if isDigit(c) {
				digit = true
			}
		default:
			return false
		}
	}
	if !digit {
		return false
	}
	return groups >= 6 || (double && colons >= 2) || colons == 7
}

// isEmail recognises local@domain.tld.
func isEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 || strings.IndexByte(s[at+1:], '@') >= 0 {
		return false
	}
	for i := 0; i < at; i++ {
		c := s[i]
		if !isWord(c) && c != '.' && c != '-' && c != '+' {
			return false
		}
	}
	dom := s[at+1:]
	dot := strings.LastIndexByte(dom, '.')
	if dot <= 0 || dot == len(dom)-1 {
		return false
	}
	for i := 0; i < len(dom); i++ {
		c := dom[i]
		if !isAlnum(c) && c != '.' && c != '-' {
			return false
		}
	}
	for i := dot + 1; i < len(dom); i++ {
		if !isLetter(dom[i]) {
			return false
		}
	}
	return true
}

// isISOTime recognises 2006-01-02T15:04:05 and longer forms.
func isISOTime(s string) bool {
	if len(s) < 19 {
		return false
	}
	for i := 0; i < 19; i++ {
		c := s[i]
		switch i {
		case 4, 7:
			if c != '-' {
				return false
			}
		case 10:
			if c != 'T' && c != 't' {
				return false
			}
		case 13, 16:
			if c != ':' {
				return false
			}
		default:
			if !isDigit(c) {
				return false
			}
		}
	}
	return true
}

// isHostWithDigit recognises host names that contain a digit: with at
// least minDots dots and a last label of letters
// (ec2-52-80-34-196.compute.amazonaws.com, cp-1.slowvm1.example.us), or
// with at least minDashes dashes and a letter first (msra-sa-41). Names
// without digits (com.example.service) stay text: they are usually
// constants such as Java packages.
func isHostWithDigit(s string, minDashes, minDots int) bool {
	if s == "" || !isLetter(s[0]) && minDashes > 0 {
		return false
	}
	digit, dots, dashes := false, 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c):
			digit = true
		case c == '.':
			dots++
		case c == '-':
			dashes++
		case isLetter(c) && c < 0x80:
		default:
			return false
		}
	}
	if !digit || dots < minDots || dashes < minDashes {
		return false
	}
	if minDots == 0 {
		return true
	}
	last := s[strings.LastIndexByte(s, '.')+1:]
	if len(last) < 2 {
		return false
	}
	for i := 0; i < len(last); i++ {
		if !isLetter(last[i]) {
			return false
		}
	}
	return true
}

// isDateWord reports whether s (trailing punctuation allowed) names a month
// or a day of the week, in English, abbreviated or not.
func isDateWord(s string) bool {
	if len(s) < 3 || len(s) > 10 {
		return false
	}
	lo, hi := trimPunct(s)
	s = s[lo:hi]
	if len(s) < 3 || len(s) > 9 {
		return false
	}
	for _, n := range dateNames {
		if (len(s) == 3 || len(s) == len(n)) && foldPrefix(s, n) {
			return true
		}
	}
	return false
}

// foldPrefix reports whether s, ASCII-lowercased, is a prefix of lower.
func foldPrefix(s, lower string) bool {
	if len(s) > len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i]|0x20 != lower[i] {
			return false
		}
	}
	return true
}

var dateNames = [...]string{
	"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
	"january", "february", "march", "april", "may", "june", "july", "august",
	"september", "october", "november", "december",
}

// isClock reports whether s starts with a time of day: h:mm or hh:mm:ss.
func isClock(s string) bool {
	i := 0
	for i < len(s) && i < 2 && isDigit(s[i]) {
		i++
	}
	return i > 0 && len(s) >= i+3 && s[i] == ':' && isDigit(s[i+1]) && isDigit(s[i+2])
}

// isUnit reports whether s (trailing punctuation allowed) is a unit of size
// or time, as written after a number: "5.2 KB", "160 ms".
func isUnit(s string) bool {
	lo, hi := trimPunct(s)
	switch s[lo:hi] {
	case "B", "KB", "MB", "GB", "TB", "PB", "kB", "KiB", "MiB", "GiB", "TiB",
		"bytes", "ns", "us", "µs", "ms", "s", "sec", "secs", "seconds", "min", "mins", "minutes":
		return true
	}
	return false
}
