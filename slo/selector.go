package slo

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/pkg/labels"
)

// ErrSelector is matched by errors.Is for any selector syntax error.
var ErrSelector = errors.New("invalid series selector")

// maxSelectorLen bounds what ParseSelector reads: a selector is a line of a
// spec, and a bound keeps a hostile spec from costing more than a file read.
const maxSelectorLen = 4096

// Selector picks counter series the way a PromQL instant vector selector
// does: a metric name and label matchers, all of which must match. It is
// kept parsed, not as text, so that Vigil's own store can evaluate it and
// the Prometheus export renders it in one canonical form.
type Selector struct {
	// Metric is the metric name; it is required, because an SLI is a
	// counter and a selector without a name would mix unrelated series.
	Metric string
	// Matchers are the label matchers other than the name, in the order
	// written.
	Matchers []*labels.Matcher
}

// IsZero reports whether the selector is unset.
func (s Selector) IsZero() bool { return s.Metric == "" && len(s.Matchers) == 0 }

// String renders the selector as PromQL, e.g. http_requests_total{code=~"5.."}.
func (s Selector) String() string {
	if len(s.Matchers) == 0 {
		return s.Metric
	}
	var b strings.Builder
	b.WriteString(s.Metric)
	b.WriteByte('{')
	for i, m := range s.Matchers {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m.Name)
		b.WriteString(m.Type.String())
		b.WriteString(quotePromQL(m.Value))
	}
	b.WriteByte('}')
	return b.String()
}

// Matches reports whether a series with the given metric name and label
// getter is selected. A matcher on an absent label sees "", as in PromQL.
func (s Selector) Matches(get func(name string) string) bool {
	if get("__name__") != s.Metric {
		return false
	}
	for _, m := range s.Matchers {
		if !m.Matches(get(m.Name)) {
			return false
		}
	}
	return true
}

// AllMatchers returns the name matcher followed by the label matchers, the
// form the metric store's Series lookup takes.
func (s Selector) AllMatchers() []*labels.Matcher {
	out := make([]*labels.Matcher, 0, len(s.Matchers)+1)
	name, _ := labels.NewMatcher(labels.MatchEqual, "__name__", s.Metric)
	out = append(out, name)
	return append(out, s.Matchers...)
}

// MarshalText renders the selector as PromQL.
func (s Selector) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses PromQL selector text.
func (s *Selector) UnmarshalText(b []byte) error {
	p, err := ParseSelector(string(b))
	if err != nil {
		return err
	}
	*s = p
	return nil
}

// quotePromQL quotes a string literal so that PromQL reads back the same
// value: PromQL double-quoted strings take Go's escapes.
func quotePromQL(v string) string { return strconv.Quote(v) }

// ParseSelector parses a PromQL instant vector selector with a metric name:
// name or name{label op "value", ...} with op one of = != =~ !~ and values
// in double, single or back quotes. Range selectors, offsets and functions
// are not selectors and are refused.
func ParseSelector(text string) (Selector, error) {
	if len(text) > maxSelectorLen {
		return Selector{}, fmt.Errorf("%w: longer than %d bytes", ErrSelector, maxSelectorLen)
	}
	p := selParser{in: text}
	p.space()
	name := p.ident(true)
	if name == "" {
		return Selector{}, p.errf("want a metric name")
	}
	sel := Selector{Metric: name}
	p.space()
	if p.peek() == '{' {
		p.pos++
		ms, err := p.matchers()
		if err != nil {
			return Selector{}, err
		}
		sel.Matchers = ms
	}
	p.space()
	if p.pos < len(p.in) {
		return Selector{}, p.errf("unexpected %q after the selector (want only name{matchers})", p.in[p.pos:])
	}
	return sel, nil
}

type selParser struct {
	in  string
	pos int
}

func (p *selParser) errf(format string, a ...any) error {
	return fmt.Errorf("%w %q at offset %d: %s", ErrSelector, p.in, p.pos, fmt.Sprintf(format, a...))
}

func (p *selParser) peek() byte {
	if p.pos < len(p.in) {
		return p.in[p.pos]
	}
	return 0
}

func (p *selParser) space() {
	for p.pos < len(p.in) && strings.IndexByte(" \t\r\n", p.in[p.pos]) >= 0 {
		p.pos++
	}
}

// ident reads a metric name (colons allowed) or a label name.
func (p *selParser) ident(metric bool) string {
	start := p.pos
	for p.pos < len(p.in) {
		c := p.in[p.pos]
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(p.pos > start && c >= '0' && c <= '9') || (metric && c == ':')
		if !ok {
			break
		}
		p.pos++
	}
	return p.in[start:p.pos]
}

func (p *selParser) matchers() ([]*labels.Matcher, error) {
	var out []*labels.Matcher
	for {
		p.space()
		if p.peek() == '}' {
			p.pos++
			return out, nil
		}
		name := p.ident(false)
		if name == "" {
			return nil, p.errf("want a label name or '}'")
		}
		if name == "__name__" {
			return nil, p.errf("put the metric name before '{', not in a __name__ matcher")
		}
		p.space()
		var t labels.MatchType
		switch {
		case strings.HasPrefix(p.in[p.pos:], "=~"):
			t, p.pos = labels.MatchRegexp, p.pos+2
		case strings.HasPrefix(p.in[p.pos:], "!~"):
			t, p.pos = labels.MatchNotRegexp, p.pos+2
		case strings.HasPrefix(p.in[p.pos:], "!="):
			t, p.pos = labels.MatchNotEqual, p.pos+2
		case strings.HasPrefix(p.in[p.pos:], "="):
			t, p.pos = labels.MatchEqual, p.pos+1
		default:
			return nil, p.errf("want one of = != =~ !~ after label %s", name)
		}
		p.space()
		val, err := p.str()
		if err != nil {
			return nil, err
		}
		m, err := labels.NewMatcher(t, name, val)
		if err != nil {
			return nil, p.errf("label %s: %v", name, err)
		}
		out = append(out, m)
		p.space()
		switch p.peek() {
		case ',':
			p.pos++
		case '}':
		default:
			return nil, p.errf("want ',' or '}' after the matcher on %s", name)
		}
	}
}

// str reads a quoted string literal.
func (p *selParser) str() (string, error) {
	q := p.peek()
	if q != '"' && q != '\'' && q != '`' {
		return "", p.errf("want a quoted value")
	}
	start := p.pos
	p.pos++
	for p.pos < len(p.in) {
		c := p.in[p.pos]
		if c == '\\' && q != '`' {
			p.pos += 2
			continue
		}
		p.pos++
		if c == q {
			lit := p.in[start:p.pos]
			if q == '`' {
				v := lit[1 : len(lit)-1]
				if !utf8.ValidString(v) {
					return "", p.errf("value is not valid UTF-8")
				}
				return v, nil
			}
			if q == '\'' {
				// Go has no single-quoted strings: swap the quotes, escaping
				// any double quote inside and unescaping \'.
				lit = `"` + requote(lit[1:len(lit)-1]) + `"`
			}
			v, err := strconv.Unquote(lit)
			if err != nil {
				return "", p.errf("bad string literal %s", p.in[start:p.pos])
			}
			if !utf8.ValidString(v) {
				return "", p.errf("value is not valid UTF-8")
			}
			return v, nil
		}
	}
	p.pos = start
	return "", p.errf("unterminated string")
}

// requote turns the body of a single-quoted literal into the body of a
// double-quoted one: \' becomes ', a bare " becomes \", other escapes stay.
func requote(body string) string {
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\\' && i+1 < len(body):
			if body[i+1] == '\'' {
				b.WriteByte('\'')
			} else {
				b.WriteByte(c)
				b.WriteByte(body[i+1])
			}
			i++
		case c == '"':
			b.WriteString(`\"`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
