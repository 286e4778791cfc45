package act

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Templates are plain strings in which ${name} stands for a parameter's
// value and $$ for a literal dollar. There is no other syntax: no
// functions, no pipelines, no conditionals, so that what a template can do
// is obvious from reading it.

// segment is a piece of a parsed template: literal text or a parameter.
type segment struct {
	lit   string
	param string // set for a parameter reference
}

// parseTemplate splits s into segments.
func parseTemplate(s string) ([]segment, error) {
	var segs []segment
	var lit strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' {
			lit.WriteByte(c)
			continue
		}
		if i+1 < len(s) && s[i+1] == '$' {
			lit.WriteByte('$')
			i++
			continue
		}
		if i+1 >= len(s) || s[i+1] != '{' {
			return nil, fmt.Errorf("template %q: '$' at byte %d must start ${name} or be doubled ($$)", truncate(s, 80), i)
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return nil, fmt.Errorf("template %q: unclosed ${ at byte %d", truncate(s, 80), i)
		}
		name := s[i+2 : i+2+end]
		if !paramNameRe.MatchString(name) {
			return nil, fmt.Errorf("template %q: bad parameter name %q", truncate(s, 80), name)
		}
		if lit.Len() > 0 {
			segs = append(segs, segment{lit: lit.String()})
			lit.Reset()
		}
		segs = append(segs, segment{param: name})
		i += 2 + end
	}
	if lit.Len() > 0 {
		segs = append(segs, segment{lit: lit.String()})
	}
	return segs, nil
}

// templateParams returns the parameter names s refers to.
func templateParams(s string) ([]string, error) {
	segs, err := parseTemplate(s)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, sg := range segs {
		if sg.param != "" {
			names = append(names, sg.param)
		}
	}
	return names, nil
}

func lookup(vals Values, name string) (string, error) {
	v, ok := vals.m[name]
	if !ok {
		return "", fmt.Errorf("%w: ${%s} has no value", ErrInvalidParam, name)
	}
	return v, nil
}

// Render substitutes validated values into s as plain text. Use it only
// where the result is itself checked (Kubernetes names) or is one whole
// value (an argv element, a JSON string): never to build a command line or
// a document.
func Render(s string, vals Values) (string, error) {
	return renderWith(s, vals, func(v string) string { return v })
}

func renderWith(s string, vals Values, esc func(string) string) (string, error) {
	segs, err := parseTemplate(s)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, sg := range segs {
		if sg.param == "" {
			b.WriteString(sg.lit)
			continue
		}
		v, err := lookup(vals, sg.param)
		if err != nil {
			return "", err
		}
		b.WriteString(esc(v))
	}
	return b.String(), nil
}

// RenderArgv renders each element of argv on its own: the result has
// exactly len(argv) elements and no value is ever split or joined with its
// neighbours. An element whose template does not start with '-' may not
// render to something that does, so a value can never become an option.
func RenderArgv(argv []string, vals Values) ([]string, error) {
	out := make([]string, len(argv))
	for i, a := range argv {
		s, err := Render(a, vals)
		if err != nil {
			return nil, fmt.Errorf("argv[%d]: %w", i, err)
		}
		if strings.HasPrefix(s, "-") && !strings.HasPrefix(a, "-") {
			return nil, fmt.Errorf("%w: argv[%d] %q would start with '-' and be read as an option", ErrInvalidParam, i, truncate(s, 64))
		}
		if strings.IndexByte(s, 0) >= 0 {
			return nil, fmt.Errorf("%w: argv[%d] holds NUL", ErrInvalidParam, i)
		}
		out[i] = s
	}
	return out, nil
}

// RenderURL renders a URL template. The scheme and host must be literal
// (no parameter before the first '/' after "//"), values in the path are
// path-escaped and values in the query or fragment query-escaped, so a
// value can neither redirect the request nor add path segments or query
// parameters. The scheme must be http or https.
func RenderURL(s string, vals Values) (string, error) {
	segs, err := parseTemplate(s)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	inQuery := false
	for _, sg := range segs {
		if sg.param == "" {
			b.WriteString(sg.lit)
			if strings.ContainsAny(sg.lit, "?#") {
				inQuery = true
			}
			continue
		}
		if !hostDone(b.String()) {
			return "", fmt.Errorf("url %q: ${%s} appears before the path: scheme and host must be literal", truncate(s, 80), sg.param)
		}
		v, err := lookup(vals, sg.param)
		if err != nil {
			return "", err
		}
		if inQuery {
			b.WriteString(url.QueryEscape(v))
		} else {
			b.WriteString(url.PathEscape(v))
		}
	}
	out := b.String()
	u, err := url.Parse(out)
	if err != nil {
		return "", fmt.Errorf("url %q: %w", truncate(out, 80), err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("url %q: scheme must be http or https", truncate(out, 80))
	}
	if u.Host == "" {
		return "", fmt.Errorf("url %q: no host", truncate(out, 80))
	}
	return out, nil
}

// hostDone reports whether prefix already holds "scheme://host/".
func hostDone(prefix string) bool {
	i := strings.Index(prefix, "://")
	if i < 0 {
		return false
	}
	return strings.IndexByte(prefix[i+3:], '/') >= 0
}

// RenderTree renders a decoded YAML/JSON value: string leaves are rendered
// with Render, and a leaf that is exactly one ${name} of an int parameter
// becomes a number. Map keys are never rendered. The result marshals to
// well-formed JSON (or YAML) whatever the values hold, because values are
// placed as data, never as document text.
func RenderTree(v any, vals Values) (any, error) {
	switch t := v.(type) {
	case string:
		segs, err := parseTemplate(t)
		if err != nil {
			return nil, err
		}
		if len(segs) == 1 && segs[0].param != "" && vals.Type(segs[0].param) == TypeInt {
			s, err := lookup(vals, segs[0].param)
			if err != nil {
				return nil, err
			}
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrInvalidParam, segs[0].param, err)
			}
			return n, nil
		}
		return Render(t, vals)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			r, err := RenderTree(e, vals)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			r, err := RenderTree(e, vals)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = r
		}
		return out, nil
	default:
		return v, nil
	}
}

// treeParams collects the parameter names a tree's string leaves use.
func treeParams(v any, into map[string]bool) error {
	switch t := v.(type) {
	case string:
		names, err := templateParams(t)
		if err != nil {
			return err
		}
		for _, n := range names {
			into[n] = true
		}
	case map[string]any:
		for _, e := range t {
			if err := treeParams(e, into); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range t {
			if err := treeParams(e, into); err != nil {
				return err
			}
		}
	}
	return nil
}
