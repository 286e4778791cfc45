package redact

import "strings"

// prefixed describes a credential recognised by its vendor prefix. Prefix
// scanning with strings.Index is far faster than one big regexp and lets each
// vendor's body rules stay readable.
type prefixed struct {
	prefix   string
	kind     Kind
	class    func(byte) bool
	min, max int  // body length bounds; max 0 = unbounded, max == min = exact
	random   bool // body must look generated, to skip words like sk-learn-...
	prio     int
}

var prefixes = []prefixed{
	{"sk-ant-", KindAnthropicKey, isB64URL, 20, 0, true, 0},
	{"sk-proj-", KindOpenAIKey, isB64URL, 20, 0, true, 0},
	{"sk-", KindOpenAIKey, isB64URL, 20, 0, true, 1},
	{"ghp_", KindGitHubToken, isAlnum, 30, 0, true, 0},
	{"gho_", KindGitHubToken, isAlnum, 30, 0, true, 0},
	{"ghs_", KindGitHubToken, isAlnum, 30, 0, true, 0},
	{"ghu_", KindGitHubToken, isAlnum, 30, 0, true, 0},
	{"ghr_", KindGitHubToken, isAlnum, 30, 0, true, 0},
	{"github_pat_", KindGitHubToken, isWord, 40, 0, true, 0},
	{"glpat-", KindGitLabToken, isB64URL, 20, 0, true, 0},
	{"xoxb-", KindSlackToken, isB64URL, 10, 0, true, 0},
	{"xoxa-", KindSlackToken, isB64URL, 10, 0, true, 0},
	{"xoxp-", KindSlackToken, isB64URL, 10, 0, true, 0},
	{"xoxr-", KindSlackToken, isB64URL, 10, 0, true, 0},
	{"xoxs-", KindSlackToken, isB64URL, 10, 0, true, 0},
	{"sk_live_", KindStripeKey, isAlnum, 16, 0, true, 0},
	{"rk_live_", KindStripeKey, isAlnum, 16, 0, true, 0},
	{"pk_live_", KindStripeKey, isAlnum, 16, 0, true, 0},
	{"sk_test_", KindStripeKey, isAlnum, 16, 0, true, 0},
	{"AIza", KindGoogleAPIKey, isB64URL, 30, 0, false, 0},
	{"SG.", KindSendGridKey, func(c byte) bool { return isB64URL(c) || c == '.' }, 40, 0, true, 0},
	{"SK", KindTwilioKey, isHex, 32, 32, true, 0},
	{"AC", KindTwilioKey, isHex, 32, 32, true, 0},
	{"npm_", KindNPMToken, isAlnum, 30, 0, true, 0},
	{"hf_", KindHFToken, isAlnum, 30, 0, true, 0},
	{"AKIA", KindAWSKey, isUpperAlnum, 16, 16, false, 0},
	{"ASIA", KindAWSKey, isUpperAlnum, 16, 16, false, 0},
}

func scanPrefixed(d *doc) {
	t := d.text
	for _, p := range prefixes {
		for i := 0; ; {
			j := strings.Index(t[i:], p.prefix)
			if j < 0 {
				break
			}
			s := i + j
			b := s + len(p.prefix)
			i = b
			if wordBefore(t, s) {
				continue
			}
			e := b
			for e < len(t) && p.class(t[e]) {
				e++
			}
			n := e - b
			if n < p.min || p.max > 0 && n > p.max {
				continue
			}
			if p.max > 0 && e < len(t) && isWord(t[e]) {
				continue
			}
			if p.random && !looksRandom(t[b:e]) {
				continue
			}
			d.add(s, e, p.kind, p.prio)
			i = e
		}
	}
}

// scanJWT finds header.payload.signature with a JSON header ("eyJ" = `{"`).
func scanJWT(d *doc) {
	t := d.text
	for i := 0; ; {
		j := strings.Index(t[i:], "eyJ")
		if j < 0 {
			return
		}
		s := i + j
		i = s + 3
		if wordBefore(t, s) {
			continue
		}
		e, ok := s, true
		for part := 0; part < 3; part++ {
			b := e
			for e < len(t) && isB64URL(t[e]) {
				e++
			}
			if part < 2 {
				if e-b < 10 || e >= len(t) || t[e] != '.' {
					ok = false
					break
				}
				e++
			}
		}
		if ok {
			d.add(s, e, KindJWT, 0)
			i = e
		}
	}
}

// scanPEM replaces a whole private key block, header to footer, across lines.
// A block with no footer (truncated log line) runs to the end of its base64.
func scanPEM(d *doc) {
	t := d.text
	for i := 0; ; {
		j := strings.Index(t[i:], "-----BEGIN ")
		if j < 0 {
			return
		}
		s := i + j
		i = s + 11
		h := strings.Index(t[i:], "-----")
		if h < 0 || h > 64 || !strings.Contains(t[i:i+h], "PRIVATE KEY") {
			continue
		}
		body := i + h + 5
		e := -1
		if k := strings.Index(t[body:], "-----END "); k >= 0 {
			f := body + k + 9
			if m := strings.Index(t[f:], "-----"); m >= 0 && m <= 64 {
				e = f + m + 5
			}
		}
		if e < 0 {
			e = body
			for e < len(t) && (isB64URL(t[e]) || strings.IndexByte("+/=\\ \t\r\n", t[e]) >= 0) {
				e++
			}
		}
		d.add(s, e, KindPrivateKey, 0)
		i = e
	}
}

// scanAuthHeader finds the credential after an HTTP auth scheme, wherever the
// header appears (curl -H, dumps of request headers, logfmt).
func scanAuthHeader(d *doc) {
	for _, sc := range []struct {
		word string
		kind Kind
	}{{"bearer", KindBearer}, {"basic", KindBasicAuth}, {"token", KindToken}} {
		l := d.lower
		for i := 0; ; {
			j := strings.Index(l[i:], sc.word)
			if j < 0 {
				break
			}
			s := i + j
			i = s + len(sc.word)
			if wordBefore(l, s) || i >= len(l) || l[i] != ' ' {
				continue
			}
			// "token " is a scheme only right after an Authorization key.
			if sc.kind == KindToken && !strings.HasSuffix(strings.TrimRight(l[max(0, s-24):s], " \t\"':="), "authorization") {
				continue
			}
			b := i
			for b < len(l) && l[b] == ' ' {
				b++
			}
			e := b
			for e < len(l) && (isB64URL(l[e]) || strings.IndexByte("._~+/=", l[e]) >= 0) {
				e++
			}
			if e-b < 8 || !looksRandom(d.text[b:e]) {
				continue
			}
			d.add(b, e, sc.kind, 1)
			i = e
		}
	}
}

// scanURLPassword finds the password of scheme://user:pass@host, also with an
// empty user (redis://:pass@host).
func scanURLPassword(d *doc) {
	t := d.text
	for i := 0; ; {
		j := strings.Index(t[i:], "://")
		if j < 0 {
			return
		}
		s := i + j + 3
		i = s
		e := s
		for e < len(t) && !isSpace(t[e]) && strings.IndexByte("/\"'<>", t[e]) < 0 {
			e++
		}
		at := strings.LastIndexByte(t[s:e], '@')
		if at < 0 {
			continue
		}
		c := strings.IndexByte(t[s:s+at], ':')
		if c < 0 {
			continue
		}
		ps, pe := s+c+1, s+at
		if !skipValue(t[ps:pe]) {
			d.add(ps, pe, KindPassword, 1)
		}
		i = e
	}
}
