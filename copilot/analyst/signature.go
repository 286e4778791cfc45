package analyst

import (
	"fmt"
	"strings"
)

// Severity orders findings: the most severe story is told first.
type Severity int

// Severities, least to most severe.
const (
	SeverityInfo Severity = iota
	SeverityWarning
	SeverityError
	SeverityCritical
)

var severityNames = [...]string{"info", "warning", "error", "critical"}

// String returns the lowercase name.
func (s Severity) String() string {
	if s >= 0 && int(s) < len(severityNames) {
		return severityNames[s]
	}
	return "unknown"
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	for i, n := range severityNames {
		if strings.EqualFold(n, string(b)) {
			*s = Severity(i)
			return nil
		}
	}
	return fmt.Errorf("unknown severity %q", b)
}

// Signature is one entry of the knowledge base: a known failure and what to
// do about it. Checks may hold {entity}, {host}, {port} and {path}, filled
// from the entity a line names (or left as <host> etc. when none does).
type Signature struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Explanation string   `json:"explanation"`
	Causes      []string `json:"causes"`
	Checks      []string `json:"checks"`
	Severity    Severity `json:"severity"`
	// Symptom marks signatures that usually follow from another failure
	// (health checks, retries, 5xx, crash loops, generic errors). A symptom
	// near a cause is folded into the cause's story instead of competing
	// with it.
	Symptom bool `json:"symptom,omitempty"`
	// States are the Kubernetes pod states (as kubectl shows them) that
	// ExplainState answers with this signature.
	States []string `json:"states,omitempty"`

	// cause is the one-line cause with %s for the entity; causeNone is used
	// when no entity was extracted.
	cause, causeNone string
	// dbCause replaces cause when the entity is a database; %s is
	// "host:port (Engine)".
	dbCause string
	// entityKind says what the entity is ("endpoint", "host", "path", ...),
	// which decides how checks are filled.
	entityKind string
	matchers   []matcher
}

// match returns the entity and true if any matcher recognises l.
func (s *Signature) match(l *line) (string, bool) {
	for i := range s.matchers {
		m := &s.matchers[i]
		at, ok := m.match(l)
		if !ok {
			continue
		}
		if m.extract != nil {
			return m.extract(l, at), true
		}
		return "", true
	}
	return "", false
}

// causeText is the one-line cause for entity.
func (s *Signature) causeText(entity string) string {
	if entity != "" && s.cause != "" {
		return fmt.Sprintf(s.cause, entity)
	}
	if s.causeNone != "" {
		return s.causeNone
	}
	return s.Title
}

// fillChecks substitutes the entity into the checks' placeholders.
func (s *Signature) fillChecks(entity string) []string {
	host, port := "<host>", "<port>"
	if s.entityKind == "endpoint" || s.entityKind == "host" {
		if h, p, ok := splitHostPort(entity); ok {
			host, port = h, p
		} else if entity != "" {
			host = entity
		}
	}
	ent, pth := entity, entity
	if ent == "" {
		ent = "<" + s.entityKindOr("name") + ">"
	}
	if s.entityKind != "path" || pth == "" {
		pth = "<path>"
	}
	r := strings.NewReplacer("{entity}", ent, "{host}", host, "{port}", port, "{path}", pth)
	out := make([]string, len(s.Checks))
	for i, c := range s.Checks {
		out[i] = r.Replace(c)
	}
	return out
}

func (s *Signature) entityKindOr(d string) string {
	if s.entityKind != "" {
		return s.entityKind
	}
	return d
}

// splitHostPort splits "host:port" (or "[v6]:port").
func splitHostPort(e string) (host, port string, ok bool) {
	i := strings.LastIndexByte(e, ':')
	if i <= 0 || i == len(e)-1 {
		return "", "", false
	}
	for _, c := range []byte(e[i+1:]) {
		if c-'0' >= 10 {
			return "", "", false
		}
	}
	return strings.Trim(e[:i], "[]"), e[i+1:], true
}
