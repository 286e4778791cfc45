package redact

import "strings"

// keyKind classifies a normalised key (lower-case, separators removed). Secret
// keys match as suffixes (db_password, client_secret, x-api-key); name keys
// only exactly, since service_name or pod_name are not people.
func keyKind(norm string, names bool) (Kind, bool) {
	for _, s := range secretSuffixes {
		if strings.HasSuffix(norm, s.suffix) {
			return s.kind, true
		}
	}
	if names {
		switch norm {
		case "user", "username", "name", "fullname", "customer", "customername",
			"firstname", "lastname", "displayname", "login", "contactname":
			return KindName, true
		case "email", "useremail", "customeremail", "emailaddress", "mail":
			return KindEmail, true
		}
	}
	return "", false
}

var secretSuffixes = []struct {
	suffix string
	kind   Kind
}{
	{"secretaccesskey", KindAWSSecret},
	{"password", KindPassword},
	{"passwd", KindPassword},
	{"passphrase", KindPassword},
	{"pwd", KindPassword},
	{"secret", KindSecret},
	{"secretkey", KindSecret},
	{"privatekey", KindSecret},
	{"token", KindToken},
	{"apikey", KindAPIKey},
	{"authorization", KindToken},
}

// skipValue reports values that are not secrets but markers of their absence
// or references to one, which redacting would only make the logs less useful.
func skipValue(v string) bool {
	if v == "" || v[0] == '<' || v[0] == '{' || v[0] == '[' || strings.HasPrefix(v, "${") || strings.HasPrefix(v, "$(") {
		return true
	}
	if strings.Trim(v, "*xX.-") == "" {
		return true
	}
	switch strings.ToLower(v) {
	case "null", "nil", "none", "true", "false", "redacted", "[redacted]", "(redacted)", "hidden", "masked", "set", "unset", "empty":
		return true
	}
	return false
}

var systemUsers = map[string]bool{
	"root": true, "postgres": true, "admin": true, "nobody": true, "system": true,
	"anonymous": true, "www-data": true, "daemon": true, "guest": true, "mysql": true, "redis": true,
}

// scanKeyValue handles key=value, key: value, "key":"value" (also with escaped
// quotes inside JSON strings) and Authorization headers in one pass over the
// separators, classifying the key before looking at any value.
func scanKeyValue(d *doc, names bool) {
	t := d.text
	var nb [64]byte
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c != '=' && c != ':' {
			continue
		}
		if i+1 < len(t) && (t[i+1] == c || c == ':' && t[i+1] == '/') || i > 0 && strings.IndexByte("=!<>:", t[i-1]) >= 0 {
			continue
		}
		// Key, backwards from the separator.
		k := i
		for k > 0 && i-k < 3 && (t[k-1] == ' ' || t[k-1] == '\t') {
			k--
		}
		ke := k
		quoted := k > 0 && (t[k-1] == '"' || t[k-1] == '\'')
		if quoted {
			ke = k - 1
			if ke > 0 && t[ke-1] == '\\' {
				ke--
			}
		}
		ks := ke
		for ks > 0 && ke-ks < len(nb) && (isWord(t[ks-1]) || t[ks-1] == '-' || t[ks-1] == '.') {
			ks--
		}
		if ks == ke || ke-ks >= len(nb) {
			continue
		}
		n := 0
		for _, b := range []byte(t[ks:ke]) {
			if isAlnum(b) {
				nb[n] = b | 0x20
				n++
			}
		}
		kind, ok := keyKind(string(nb[:n]), names)
		if !ok {
			continue
		}
		// '&' ends a value only in a URL query; elsewhere it is a password char.
		query := c == '=' && ks > 0 && (t[ks-1] == '?' || t[ks-1] == '&')
		vs, ve, isQuoted := valueAt(t, i+1, query)
		if vs < 0 {
			continue
		}
		// "Authorization: Bearer x" — the credential is the second word.
		if kind == KindToken && strings.HasSuffix(string(nb[:n]), "authorization") && !isQuoted {
			continue // scanAuthHeader handles the scheme forms
		}
		if kind == KindToken && strings.HasSuffix(string(nb[:n]), "authorization") {
			if sp := strings.IndexByte(t[vs:ve], ' '); sp >= 0 {
				vs += sp + 1
			}
		}
		v := t[vs:ve]
		if skipValue(v) {
			continue
		}
		switch kind {
		case KindName:
			if !isQuoted {
				ve = extendName(t, ve)
				v = t[vs:ve]
			}
			if !nameValue(string(nb[:n]), v) {
				continue
			}
		case KindEmail:
			if strings.IndexByte(v, '@') < 0 {
				continue
			}
		}
		d.add(vs, ve, kind, 2)
		i = ve - 1
	}
}

// valueAt returns the value starting after a separator at v: the inside of a
// quoted string, or a run up to the next delimiter.
func valueAt(t string, v int, query bool) (int, int, bool) {
	for v < len(t) && (t[v] == ' ' || t[v] == '\t') {
		v++
	}
	if v >= len(t) {
		return -1, -1, false
	}
	switch {
	case t[v] == '\\' && v+1 < len(t) && t[v+1] == '"':
		s := v + 2
		if e := strings.Index(t[s:], `\"`); e >= 0 {
			return s, s + e, true
		}
		return -1, -1, false
	case t[v] == '"' || t[v] == '\'':
		q := t[v]
		s := v + 1
		for e := s; e < len(t); e++ {
			if t[e] == '\\' {
				e++
				continue
			}
			if t[e] == q || t[e] == '\n' {
				return s, e, true
			}
		}
		return s, len(t), true
	}
	e := v
	for e < len(t) && !isSpace(t[e]) && strings.IndexByte(",;\"'}]", t[e]) < 0 && !(query && t[e] == '&') {
		e++
	}
	if e > v && t[e-1] == '\\' { // value inside an escaped JSON string
		e--
	}
	return v, e, false
}

// extendName lets an unquoted name run over following capitalised words:
// "customer: Jane Doe" in YAML or a message.
func extendName(t string, e int) int {
	for w := 0; w < 3; w++ {
		if e+1 >= len(t) || t[e] != ' ' || !(t[e+1] >= 'A' && t[e+1] <= 'Z') {
			return e
		}
		n := e + 1
		for n < len(t) && (isAlpha(t[n]) || t[n] == '\'' || t[n] == '-') {
			n++
		}
		if n < len(t) && !isSpace(t[n]) && strings.IndexByte(",;\"'}]", t[n]) < 0 {
			return e
		}
		e = n
	}
	return e
}

// nameValue decides whether a value under a name key is a person. Under the
// generic "name" only person-looking values count (Capitalised words), since
// most "name" fields in ops data name services, pods and queues.
func nameValue(key, v string) bool {
	if systemUsers[strings.ToLower(v)] || strings.ContainsAny(v, ":/") {
		return false
	}
	allDigits := true
	for i := 0; i < len(v); i++ {
		if !isDigit(v[i]) {
			allDigits = false
			break
		}
	}
	if allDigits {
		return false
	}
	if key != "name" && key != "displayname" {
		return true
	}
	if v[0] < 'A' || v[0] > 'Z' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isAlpha(c) && c != ' ' && c != '-' && c != '\'' && c != '.' && c < 0x80 {
			return false
		}
	}
	return true
}

// scanK8sSecret replaces the values under data:/stringData: of a Kubernetes
// Secret, in YAML or JSON. Their keys (tls.crt, username) stay readable.
func scanK8sSecret(d *doc) {
	l := d.lower
	if !strings.Contains(l, "secret") {
		return
	}
	compact := strings.Contains(l, `"kind":"secret"`) || strings.Contains(l, `"kind": "secret"`)
	if !compact && !strings.Contains(l, "kind: secret") {
		return
	}
	// YAML blocks.
	for i := 0; i < len(l); {
		nl := strings.IndexByte(l[i:], '\n')
		end := len(l)
		if nl >= 0 {
			end = i + nl
		}
		line := l[i:end]
		tr := strings.TrimLeft(line, " ")
		if tr == "data:" || tr == "stringdata:" || tr == "data:\r" || tr == "stringdata:\r" {
			indent := len(line) - len(tr)
			i = yamlBlock(d, end+1, indent)
			continue
		}
		i = end + 1
	}
	// JSON objects.
	for _, key := range []string{`"data"`, `"stringdata"`} {
		for i := 0; ; {
			j := strings.Index(l[i:], key)
			if j < 0 {
				break
			}
			p := i + j + len(key)
			i = p
			for p < len(l) && (l[p] == ' ' || l[p] == ':') {
				p++
			}
			if p >= len(l) || l[p] != '{' {
				continue
			}
			i = min(jsonStringValues(d, p+1), len(l))
		}
	}
}

func yamlBlock(d *doc, i, indent int) int {
	t := d.text
	for i < len(t) {
		nl := strings.IndexByte(t[i:], '\n')
		end := len(t)
		if nl >= 0 {
			end = i + nl
		}
		line := t[i:end]
		tr := strings.TrimLeft(line, " ")
		if strings.TrimSpace(tr) != "" {
			if len(line)-len(tr) <= indent {
				return i
			}
			if c := strings.IndexByte(line, ':'); c >= 0 {
				vs := i + c + 1
				for vs < end && t[vs] == ' ' {
					vs++
				}
				ve := end
				for ve > vs && (t[ve-1] == '\r' || t[ve-1] == ' ') {
					ve--
				}
				if ve > vs && (t[vs] == '"' || t[vs] == '\'') && t[ve-1] == t[vs] && ve-vs >= 2 {
					vs, ve = vs+1, ve-1
				}
				if ve > vs && t[vs] != '|' && t[vs] != '>' {
					d.add(vs, ve, KindK8sSecret, 1)
				}
			}
		}
		i = end + 1
	}
	return i
}

// jsonStringValues redacts the string values of a flat JSON object starting
// just after its '{', returning the offset after its '}'.
func jsonStringValues(d *doc, i int) int {
	t := d.text
	for i < len(t) {
		for i < len(t) && (isSpace(t[i]) || t[i] == ',') {
			i++
		}
		if i >= len(t) || t[i] == '}' {
			return i + 1
		}
		ks, ke, ok := valueAt(t, i, false) // the key
		if ks < 0 || !ok {
			return i + 1
		}
		i = skipQuote(t, ke)
		for i < len(t) && (t[i] == ' ' || t[i] == ':') {
			i++
		}
		vs, ve, ok := valueAt(t, i, false)
		if vs < 0 {
			return i
		}
		d.add(vs, ve, KindK8sSecret, 1)
		i = ve
		if ok {
			i = skipQuote(t, ve)
		}
	}
	return i
}

// skipQuote steps over the closing quote (plain or escaped) at i.
func skipQuote(t string, i int) int {
	if i < len(t) && t[i] == '\\' {
		return i + 2
	}
	return i + 1
}
