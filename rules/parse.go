package rules

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/vigilops/vigil/slo"
)

// MaxSpecSize bounds a spec file; specs are hand-written and short.
const MaxSpecSize = 1 << 20

// LoadSpec reads and parses the spec file at path.
func LoadSpec(path string) (*Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSpecSize+1))
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	return ParseSpec(path, data)
}

// fields lists the keys each kind of entry takes, in documentation order.
var fields = map[string][]string{
	"baselines": {"name", "expr", "by", "z", "window", "direction", "for", "severity", "alert", "labels"},
	"spikes":    {"name", "expr", "by", "deriv_window", "factor", "window", "min", "for", "severity", "alert", "labels"},
	"slos":      {"name", "service", "objective", "window", "good", "bad", "total", "labels", "description"},
}

// ParseSpec parses a YAML spec; name is the file name used in errors. It
// applies defaults and validates, and every error says file:line, the
// field's path and what is wrong; all problems are reported at once,
// joined, each matching ErrInvalidSpec.
func ParseSpec(name string, data []byte) (*Spec, error) {
	if len(data) > MaxSpecSize {
		return nil, &Error{File: name, Msg: fmt.Sprintf("spec larger than %d bytes", MaxSpecSize)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{File: name, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &Error{File: name, Msg: "empty spec: want baselines, spikes or slos"}
	}
	p := &parser{file: name, lines: map[string]int{}}
	root := deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, &Error{File: name, Line: root.Line, Msg: "want a mapping with baselines, spikes or slos"}
	}
	spec := &Spec{}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], deref(root.Content[i+1])
		if seen[k.Value] {
			p.errf(k.Line, k.Value, "defined twice")
			continue
		}
		seen[k.Value] = true
		if _, ok := fields[k.Value]; !ok {
			p.errf(k.Line, "", "unknown key %q (want baselines, spikes or slos)", k.Value)
			continue
		}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			continue
		}
		if v.Kind != yaml.SequenceNode {
			p.errf(v.Line, k.Value, "want a list of entries")
			continue
		}
		for j, item := range v.Content {
			path := fmt.Sprintf("%s[%d]", k.Value, j)
			e := p.entry(k.Value, path, deref(item))
			if e == nil {
				continue
			}
			switch k.Value {
			case "baselines":
				b := p.baseline(e)
				p.explicitZero(e, "z", b.Z)
				b.applyDefaults()
				p.report(e, b.problems())
				spec.Baselines = append(spec.Baselines, b)
			case "spikes":
				s := p.spike(e)
				p.explicitZero(e, "factor", s.Factor)
				s.applyDefaults()
				p.report(e, s.problems())
				spec.Spikes = append(spec.Spikes, s)
			case "slos":
				d := p.slo(e)
				p.report(e, sloProblems(&d))
				spec.SLOs = append(spec.SLOs, d)
			}
		}
	}
	for _, e := range spec.duplicates() {
		e.File, e.Line = name, p.lines[e.Path]
		p.errs = append(p.errs, e)
	}
	if len(spec.Baselines)+len(spec.Spikes)+len(spec.SLOs) == 0 && len(p.errs) == 0 {
		p.errf(root.Line, "", "no baselines, spikes or slos")
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return spec, nil
}

type parser struct {
	file string
	errs []error
	// lines maps a field path (slos[0].name) to its line, for problems
	// found after parsing.
	lines map[string]int
}

// entry is one list item: its fields by key, and which have already been
// reported (so validation does not repeat a decoding error).
type entry struct {
	path     string
	line     int
	fields   map[string]*yaml.Node
	reported map[string]bool
}

func (p *parser) errf(line int, path, format string, a ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Path: path, Msg: fmt.Sprintf(format, a...)})
}

func (p *parser) entry(kind, path string, n *yaml.Node) *entry {
	if n.Kind != yaml.MappingNode {
		p.errf(n.Line, path, "want a mapping with %s", strings.Join(fields[kind], ", "))
		return nil
	}
	e := &entry{path: path, line: n.Line, fields: map[string]*yaml.Node{}, reported: map[string]bool{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		switch {
		case !slices.Contains(fields[kind], k.Value):
			p.errf(k.Line, path, "unknown field %q (want one of %s)", k.Value, strings.Join(fields[kind], ", "))
		case e.fields[k.Value] != nil:
			p.errf(k.Line, path+"."+k.Value, "defined twice")
		default:
			e.fields[k.Value] = v
			p.lines[path+"."+k.Value] = v.Line
		}
	}
	if _, ok := p.lines[path+".name"]; !ok {
		p.lines[path+".name"] = n.Line
	}
	return e
}

// report gives validation problems the line of their field (or of the
// entry, for a missing field).
func (p *parser) report(e *entry, ps []problem) {
	for _, pr := range ps {
		if e.reported[pr.field] {
			continue
		}
		line := e.line
		if n := e.fields[pr.field]; n != nil {
			line = n.Line
		}
		p.errf(line, e.path+"."+pr.field, "%s", pr.msg)
	}
}

// explicitZero refuses a zero written out where zero means "default":
// whoever wrote z: 0 did not mean 3.
func (p *parser) explicitZero(e *entry, field string, v float64) {
	if n := e.fields[field]; n != nil && !isNull(n) && !e.reported[field] && v == 0 {
		p.fail(e, field, "must be positive (leave it out for the default)")
	}
}

func (p *parser) fail(e *entry, field string, format string, a ...any) {
	e.reported[field] = true
	p.errf(e.fields[field].Line, e.path+"."+field, format, a...)
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func (p *parser) str(e *entry, field string) string {
	n := e.fields[field]
	if n == nil || isNull(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		p.fail(e, field, "want a string")
		return ""
	}
	return n.Value
}

func (p *parser) num(e *entry, field string) float64 {
	n := e.fields[field]
	if n == nil || isNull(n) {
		return 0
	}
	var f float64
	if n.Kind != yaml.ScalarNode || n.Decode(&f) != nil {
		p.fail(e, field, "%q is not a number", n.Value)
		return 0
	}
	return f
}

func (p *parser) dur(e *entry, field string) time.Duration {
	s := p.str(e, field)
	if s == "" {
		return 0
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		p.fail(e, field, "%q is not a duration like 30s, 10m, 1h, 7d or 1w", s)
		return 0
	}
	return time.Duration(d)
}

func (p *parser) list(e *entry, field string) []string {
	n := e.fields[field]
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(e, field, "want a list of label names, e.g. [service]")
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		c = deref(c)
		if c.Kind != yaml.ScalarNode {
			p.fail(e, field, "want a list of label names, e.g. [service]")
			return nil
		}
		out = append(out, c.Value)
	}
	return out
}

func (p *parser) labels(e *entry, field string) map[string]string {
	n := e.fields[field]
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.fail(e, field, "want a mapping of label names to values")
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		if v.Kind != yaml.ScalarNode {
			p.fail(e, field, "label %q: want a string value", k.Value)
			return nil
		}
		out[k.Value] = v.Value
	}
	return out
}

func (p *parser) baseline(e *entry) Baseline {
	return Baseline{
		Name: p.str(e, "name"), Expr: p.str(e, "expr"), By: p.list(e, "by"),
		Z: p.num(e, "z"), Window: p.dur(e, "window"), Direction: Direction(p.str(e, "direction")),
		For: p.dur(e, "for"), Severity: p.str(e, "severity"), Alert: p.str(e, "alert"),
		Labels: p.labels(e, "labels"),
	}
}

func (p *parser) spike(e *entry) Spike {
	s := Spike{
		Name: p.str(e, "name"), Expr: p.str(e, "expr"), By: p.list(e, "by"),
		DerivWindow: p.dur(e, "deriv_window"), Factor: p.num(e, "factor"), Window: p.dur(e, "window"),
		For: p.dur(e, "for"), Severity: p.str(e, "severity"), Alert: p.str(e, "alert"),
		Labels: p.labels(e, "labels"),
	}
	if n := e.fields["min"]; n != nil && !isNull(n) {
		m := p.num(e, "min")
		s.Min = &m
	}
	return s
}

func (p *parser) slo(e *entry) slo.Definition {
	d := slo.Definition{
		Name: p.str(e, "name"), Service: p.str(e, "service"), Objective: p.num(e, "objective"),
		Window: p.dur(e, "window"), Labels: p.labels(e, "labels"), Description: p.str(e, "description"),
	}
	if _, ok := e.fields["objective"]; !ok {
		e.reported["objective"] = true
		p.errf(e.line, e.path+".objective", "missing: the target share of good events in percent, e.g. 99.9")
	}
	for _, f := range []struct {
		field string
		dst   *slo.Selector
	}{{"good", &d.Good}, {"bad", &d.Bad}, {"total", &d.Total}} {
		s := p.str(e, f.field)
		if s == "" {
			continue
		}
		sel, err := slo.ParseSelector(s)
		if err != nil {
			p.fail(e, f.field, "%v", err)
			continue
		}
		*f.dst = sel
	}
	return d
}
