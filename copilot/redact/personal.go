package redact

import (
	"net/netip"
	"strings"
)

func isLocalPart(c byte) bool {
	return isAlnum(c) || strings.IndexByte("._%+-", c) >= 0
}

// scanEmail expands around each '@' and keeps addresses with a dotted domain
// ending in a letters-only TLD, which rules out pkg@v1.2.3 and Object@1a2b.
func scanEmail(d *doc) {
	t := d.text
	for i := 0; ; {
		j := strings.IndexByte(t[i:], '@')
		if j < 0 {
			return
		}
		at := i + j
		i = at + 1
		s := at
		for s > 0 && at-s < 64 && isLocalPart(t[s-1]) {
			s--
		}
		for s < at && t[s] == '.' {
			s++
		}
		if s == at || urlUserinfo(t, s) {
			continue
		}
		e := at + 1
		for e < len(t) && (isAlnum(t[e]) || t[e] == '.' || t[e] == '-') {
			e++
		}
		for e > at+1 && (t[e-1] == '.' || t[e-1] == '-') {
			e--
		}
		dot := strings.LastIndexByte(t[at+1:e], '.')
		if dot <= 0 {
			continue
		}
		tld := t[at+1+dot+1 : e]
		if len(tld) < 2 || strings.IndexFunc(tld, func(r rune) bool { return r > 0x7f || !isAlpha(byte(r)) }) >= 0 {
			continue
		}
		d.add(s, e, KindEmail, 3)
		i = e
	}
}

// urlUserinfo reports whether s starts the user:pass of a URL, where the
// password scanner, not the e-mail one, owns the text before '@'.
func urlUserinfo(t string, s int) bool {
	b := s
	for b > 0 && s-b < 256 && !isSpace(t[b-1]) && t[b-1] != '/' {
		b--
	}
	return b >= 3 && t[b-3:b] == "://"
}

// scanNumbers finds payment cards and phone numbers in one walk over digit runs.
func scanNumbers(d *doc) {
	t := d.text
	for i := 0; i < len(t); {
		c := t[i]
		if !isDigit(c) && c != '+' && c != '(' {
			i++
			continue
		}
		var prev byte
		if i > 0 {
			prev = t[i-1]
		}
		leftOK := !isWord(prev) && strings.IndexByte(".-:/+", prev) < 0 || i == 0
		if leftOK && isDigit(c) {
			if e := parseCard(t, i, d.lower); e > 0 {
				d.add(i, e, KindCard, 3)
				i = e
				continue
			}
		}
		if leftOK || c == '+' && !isWord(prev) {
			if e := parsePhone(t, i); e > 0 {
				d.add(i, e, KindPhone, 4)
				i = e
				continue
			}
		}
		i++
		for i < len(t) && isDigit(t[i]) {
			i++
		}
	}
}

// numberEndOK rejects a number that continues as part of something longer:
// a word, a path, a version (1.2.3), a time (10:30) or a longer id.
func numberEndOK(t string, e int) bool {
	if e >= len(t) {
		return true
	}
	c := t[e]
	if isWord(c) || c == ':' || c == '/' || c == '@' {
		return false
	}
	if (c == '.' || c == '-') && e+1 < len(t) && isDigit(t[e+1]) {
		return false
	}
	return true
}

// parseCard returns the end of a 13–19 digit Luhn-valid number with a card
// network prefix, digits optionally grouped by single spaces or dashes. Bare
// runs of other lengths than 15–16 are mostly ids (a 19-digit snowflake id
// starting with 4 passes Luhn one time in ten), so they need a card-ish key
// just before them.
func parseCard(t string, i int, lower string) int {
	var digits [19]byte
	n, e, group, groups := 0, i, 0, 1
	for e < len(t) {
		c := t[e]
		if isDigit(c) {
			if n == len(digits) {
				return -1
			}
			digits[n] = c - '0'
			n++
			group++
			e++
			continue
		}
		if (c == ' ' || c == '-') && e+1 < len(t) && isDigit(t[e+1]) && group >= 3 {
			group = 0
			groups++
			e++
			continue
		}
		break
	}
	if n < 13 || group < 2 || !numberEndOK(t, e) || !cardPrefix(digits[:n]) || !luhn(digits[:n]) {
		return -1
	}
	if groups == 1 && n != 15 && n != 16 {
		ctx := lower[max(0, i-24):i]
		if !strings.Contains(ctx, "card") && !strings.Contains(ctx, "pan") && !strings.Contains(ctx, "cc") {
			return -1
		}
	}
	return e
}

func cardPrefix(d []byte) bool {
	p2 := int(d[0])*10 + int(d[1])
	p4 := p2*100 + int(d[2])*10 + int(d[3])
	n := len(d)
	switch {
	case d[0] == 4:
		return n == 13 || n == 16 || n == 19 // Visa
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720:
		return n == 16 // Mastercard
	case p2 == 34 || p2 == 37:
		return n == 15 // Amex
	case p2 == 36 || p2 == 38 || p2 == 30:
		return n == 14 // Diners
	case p2 == 35:
		return n >= 16 // JCB
	case p4 == 6011 || p2 == 65 || p2 == 62 || p4/10 >= 644 && p4/10 <= 649:
		return n >= 16 // Discover, UnionPay
	}
	return false
}

func luhn(d []byte) bool {
	sum := 0
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i])
		if (len(d)-1-i)%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

// parsePhone returns the end of a phone number at i: "+" E.164 forms with
// any grouping, or national forms with a consistent separator (555-123-4567,
// (555) 123-4567, 020 7946 0958, 06 12 34 56 78). Bare digit runs without "+"
// are never phones: they are ids, counters and timestamps far more often.
func parsePhone(t string, i int) int {
	plus := t[i] == '+'
	e := i
	if plus {
		e++
	}
	var groups [8]int
	ng, n := 0, 0
	var sep byte
	paren := false
	for e < len(t) && ng < len(groups) {
		if t[e] == '(' {
			if ng > 1 || paren {
				return -1
			}
			paren = true
			e++
		}
		s := e
		for e < len(t) && isDigit(t[e]) {
			e++
		}
		if e == s {
			return -1
		}
		groups[ng] = e - s
		ng++
		n += e - s
		if paren && e < len(t) && t[e] == ')' {
			e++
			if e < len(t) && t[e] == ' ' && e+1 < len(t) && isDigit(t[e+1]) {
				e++
			}
			continue
		}
		if e+1 < len(t) && (t[e] == ' ' || t[e] == '-' || t[e] == '.') && (isDigit(t[e+1]) || t[e+1] == '(') {
			if sep != 0 && t[e] != sep && !plus {
				break
			}
			if sep == 0 {
				sep = t[e]
			}
			e++
			continue
		}
		break
	}
	if !numberEndOK(t, e) {
		return -1
	}
	if plus {
		if n < 8 || n > 15 || groups[0] > 4 && ng > 1 {
			return -1
		}
		return e
	}
	if n != 10 && n != 11 || ng < 3 {
		return -1
	}
	for _, g := range groups[:ng] {
		if g < 2 || g > 4 {
			return -1
		}
	}
	first := t[i]
	if first == '(' {
		first = t[i+1]
	}
	if first == '0' && sep != '.' {
		return e
	}
	if ng == 3 && groups[0] == 3 && groups[1] == 3 && groups[2] == 4 && first >= '2' {
		return e
	}
	return -1
}

// scanIPv4 finds dotted quads with octets ≤ 255 that are not part of a longer
// dotted number (a version like 1.2.3.4.5).
func scanIPv4(d *doc) {
	t := d.text
	for i := 0; i < len(t); i++ {
		if !isDigit(t[i]) || i > 0 && (isWord(t[i-1]) || t[i-1] == '.') {
			continue
		}
		e, ok := i, true
		for part := 0; part < 4 && ok; part++ {
			v, s := 0, e
			for e < len(t) && isDigit(t[e]) && e-s < 3 {
				v = v*10 + int(t[e]-'0')
				e++
			}
			ok = e > s && v <= 255
			if part < 3 && ok {
				if e >= len(t) || t[e] != '.' {
					ok = false
				} else {
					e++
				}
			}
		}
		if ok && (e >= len(t) || !isWord(t[e]) && !(t[e] == '.' && e+1 < len(t) && isDigit(t[e+1]))) {
			d.add(i, e, KindIP, 5)
			i = e
			continue
		}
		for i+1 < len(t) && isDigit(t[i+1]) {
			i++
		}
	}
}

// scanIPv6 checks runs of hex digits and colons with the standard parser;
// times (10:30:00) and MAC addresses fail it.
func scanIPv6(d *doc) {
	t := d.text
	for i := 0; i < len(t); {
		if !(isHex(t[i]) || t[i] == ':') || i > 0 && isWord(t[i-1]) {
			i++
			continue
		}
		e := i
		for e < len(t) && (isHex(t[e]) || t[e] == ':' || t[e] == '.') {
			e++
		}
		run := strings.TrimRight(t[i:e], ".")
		if strings.Count(run, ":") >= 2 && (e >= len(t) || !isWord(t[e])) {
			for len(run) > 2 && run[len(run)-1] == ':' && run[len(run)-2] != ':' {
				run = run[:len(run)-1]
			}
			if a, err := netip.ParseAddr(run); err == nil && a.Is6() {
				d.add(i, i+len(run), KindIP, 5)
			}
		}
		if e == i {
			e++
		}
		i = e
	}
}
