package loki

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vigilops/vigil/telemetry"
)

// errBadLabels marks a stream whose label set cannot be used; its entries
// are rejected with the reason, the other streams are kept.
var errBadLabels = errors.New("bad label set")

// ParseLabels parses a label set written the way Loki's protobuf push sends
// it and Prometheus prints it: {app="api", job="x"}. Values are Go-quoted
// strings (double quotes with Go escapes such as \" \\ \n \t \xff \u00e9, or
// backquoted raw strings); names follow the Prometheus rule
// [a-zA-Z_][a-zA-Z0-9_]*; only "=" is allowed between them (this is a label
// set, not a selector); whitespace may appear between tokens and a trailing
// comma is allowed. Labels with empty values are dropped, as Prometheus and
// Loki treat them as absent; an empty set {} is valid. Duplicate names,
// values that are not valid UTF-8 and anything after the closing brace are
// errors. The result is sorted by name.
func ParseLabels(s string) (telemetry.Labels, error) {
	p := labelParser{s: s}
	ls, err := p.parse(nil)
	if err != nil {
		return nil, err
	}
	return ls, nil
}

type labelParser struct {
	s string
	i int
}

func (p *labelParser) fail(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", errBadLabels, fmt.Sprintf(format, args...), p.i)
}

func (p *labelParser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// parse appends the labels to scratch's storage when it has room, which
// lets a caller that copies the result reuse one buffer.
func (p *labelParser) parse(scratch telemetry.Labels) (telemetry.Labels, error) {
	ls := scratch[:0]
	p.ws()
	if p.i >= len(p.s) || p.s[p.i] != '{' {
		return nil, p.fail("expected '{'")
	}
	p.i++
	for {
		p.ws()
		if p.i >= len(p.s) {
			return nil, p.fail("missing '}'")
		}
		if p.s[p.i] == '}' {
			p.i++
			break
		}
		name, err := p.name()
		if err != nil {
			return nil, err
		}
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != '=' {
			return nil, p.fail("expected '=' after label name %q", name)
		}
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '~' || p.s[p.i] == '=') {
			return nil, p.fail("only '=' may join a label name and value")
		}
		p.ws()
		value, err := p.value()
		if err != nil {
			return nil, err
		}
		if value != "" {
			ls = append(ls, telemetry.Label{Name: name, Value: value})
		}
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			break
		}
		return nil, p.fail("expected ',' or '}' after the value of %q", name)
	}
	p.ws()
	if p.i != len(p.s) {
		return nil, p.fail("unexpected text after '}'")
	}
	return finishLabels(ls)
}

func (p *labelParser) name() (string, error) {
	start := p.i
	for p.i < len(p.s) && isNameByte(p.s[p.i], p.i == start) {
		p.i++
	}
	if p.i == start {
		return "", p.fail("expected a label name")
	}
	return p.s[start:p.i], nil
}

func (p *labelParser) value() (string, error) {
	if p.i >= len(p.s) {
		return "", p.fail("expected a quoted label value")
	}
	q := p.s[p.i]
	start := p.i
	switch q {
	case '`':
		end := strings.IndexByte(p.s[start+1:], '`')
		if end < 0 {
			return "", p.fail("unterminated raw string")
		}
		p.i = start + 1 + end + 1
		v := p.s[start+1 : p.i-1]
		if !utf8.ValidString(v) {
			return "", p.fail("label value is not valid UTF-8")
		}
		return v, nil
	case '"':
	default:
		return "", p.fail("expected a quoted label value")
	}
	escaped := false
	i := start + 1
	for ; i < len(p.s); i++ {
		c := p.s[i]
		if c == '\\' {
			escaped = true
			i++
			continue
		}
		if c == '"' {
			break
		}
		if c == '\n' {
			return "", p.fail("newline in quoted label value")
		}
	}
	if i >= len(p.s) {
		return "", p.fail("unterminated quoted label value")
	}
	p.i = i + 1
	// Checked before unquoting, which would turn invalid bytes into U+FFFD.
	if v := p.s[start+1 : i]; !utf8.ValidString(v) {
		p.i = start
		return "", p.fail("label value is not valid UTF-8")
	} else if !escaped {
		return v, nil
	}
	// Promtail and Alloy print label sets with Go quoting (Prometheus
	// labels.String uses strconv.Quote), so Go's own unquoting is exact.
	v, err := strconv.Unquote(p.s[start:p.i])
	if err != nil {
		p.i = start
		return "", p.fail("bad escape in quoted label value")
	}
	if !utf8.ValidString(v) {
		p.i = start
		return "", p.fail("label value is not valid UTF-8")
	}
	return v, nil
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9')
}

// validName reports whether s is a Prometheus label name.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i], i == 0) {
			return false
		}
	}
	return true
}

// finishLabels sorts ls, refuses duplicate names and returns a copy sized
// exactly, so that scratch storage can be reused and the records of a stream
// share one compact value.
func finishLabels(ls telemetry.Labels) (telemetry.Labels, error) {
	if len(ls) == 0 {
		return nil, nil
	}
	slices.SortFunc(ls, func(a, b telemetry.Label) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(ls); i++ {
		if ls[i].Name == ls[i-1].Name {
			return nil, fmt.Errorf("%w: duplicate label name %q", errBadLabels, ls[i].Name)
		}
	}
	return slices.Clone(ls), nil
}

// serviceOf picks the service name from a stream's labels: the first of
// names that is set, else def.
func serviceOf(ls telemetry.Labels, names []string, def string) string {
	for _, n := range names {
		if v := ls.Get(n); v != "" {
			return v
		}
	}
	return def
}
