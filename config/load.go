package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// EnvPrefix starts every environment override: VIGIL_API_LISTEN sets
// api.listen.
const EnvPrefix = "VIGIL_"

// FieldError is one problem with one configuration key.
type FieldError struct {
	// Source is the file name, "env" for an environment override, or "" for
	// a value that came from the defaults.
	Source string
	Line   int // 0 when unknown
	Key    string
	Msg    string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
		if e.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found, in file order.
type Errors []*FieldError

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// ErrInvalid is matched by errors.Is for any validation failure.
var ErrInvalid = errors.New("invalid configuration")

// Is makes errors.Is(err, ErrInvalid) true.
func (es Errors) Is(target error) bool { return target == ErrInvalid }

// Load reads the file at path (if path is not empty), applies environment
// overrides from environ (os.Environ() form), and validates the result.
func Load(path string, environ []string) (Config, error) {
	var data []byte
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("read config: %w", err)
		}
		data = b
	}
	cfg, err := Parse(path, data, environ)
	if err != nil {
		return Config{}, err
	}
	cfg.resolvePaths(path)
	if err := cfg.checkAlertingFile(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Parse is Load on bytes already read; name labels errors.
func Parse(name string, data []byte, environ []string) (Config, error) {
	cfg := Default()
	lines := map[string]int{}
	var errs Errors
	if len(strings.TrimSpace(string(data))) > 0 {
		var root yaml.Node
		if err := yaml.Unmarshal(data, &root); err != nil {
			return Config{}, Errors{{Source: name, Line: yamlErrLine(err), Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}
		}
		d := decoder{file: name, lines: lines}
		if len(root.Content) > 0 {
			d.decode(root.Content[0], reflect.ValueOf(&cfg).Elem(), "")
		}
		errs = append(errs, d.errs...)
	}
	errs = append(errs, applyEnv(&cfg, environ)...)
	// Validation runs even when some settings failed to decode, so that
	// one check reports every problem: a failed setting keeps its default,
	// and what validation says of its key is left out (it would speak of
	// the default, not of what the file wrote).
	failed := map[string]bool{}
	for _, e := range errs {
		failed[e.Key] = true
	}
	cfg.normalize()
	// Relative runbook directories are the configuration file's, and the
	// check that the directory exists is part of validation.
	cfg.Act.ResolveRunbooksDir(name)
	for _, p := range cfg.Validate() {
		if failed[p.Key] {
			continue
		}
		fe := &FieldError{Key: p.Key, Msg: p.Msg, Source: "default"}
		if _, ok := envKeys(environ)[p.Key]; ok {
			fe.Source = "env " + envName(p.Key)
		} else if l, ok := lineFor(lines, p.Key); ok {
			fe.Source, fe.Line = name, l
		}
		errs = append(errs, fe)
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
		return Config{}, errs
	}
	return cfg, nil
}

// lineFor returns the line of key or, when the key itself is absent from
// the file (a required setting left out), of its nearest enclosing key.
func lineFor(lines map[string]int, key string) (int, bool) {
	for key != "" {
		if l, ok := lines[key]; ok {
			return l, true
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			return 0, false
		}
		key = key[:i]
	}
	return 0, false
}

func yamlErrLine(err error) int {
	// yaml.v3 syntax errors read "yaml: line N: ..."; keep the number.
	s := err.Error()
	if i := strings.Index(s, "line "); i >= 0 {
		rest := s[i+5:]
		j := 0
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if n, e := strconv.Atoi(rest[:j]); e == nil {
			return n
		}
	}
	return 0
}

// setter is implemented by scalar types with their own syntax (Duration, Size).
type setter interface{ Set(string) error }

// decoder walks a YAML node tree into a struct, recording the line of every
// key so that validation errors can point at it. It collects every problem
// instead of stopping at the first, so one `vigil config check` shows all.
type decoder struct {
	file  string
	lines map[string]int
	errs  Errors
}

func (d *decoder) fail(n *yaml.Node, key, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{Source: d.file, Line: n.Line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, key string) {
	if key != "" {
		d.lines[key] = n.Line
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if s, ok := v.Addr().Interface().(setter); ok {
		if n.Kind != yaml.ScalarNode {
			d.fail(n, key, "want a single value, got a %s", kindName(n))
			return
		}
		if err := s.Set(n.Value); err != nil {
			d.fail(n, key, "%v", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, key)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, key, "want a list, got a %s", kindName(n))
			return
		}
		out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, out.Index(i), fmt.Sprintf("%s[%d]", key, i))
		}
		v.Set(out)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(n, key, "want a mapping, got a %s", kindName(n))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			ev := reflect.New(v.Type().Elem()).Elem()
			d.decode(n.Content[i+1], ev, key+"."+k)
			v.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), ev)
		}
	default:
		d.decodeScalar(n, v, key)
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.MappingNode {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return
		}
		d.fail(n, key, "want a mapping, got a %s", kindName(n))
		return
	}
	fields := structFields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		name := kn.Value
		full := join(key, name)
		idx, ok := fields[name]
		if !ok {
			d.fail(kn, full, "unknown key (known keys here: %s)", strings.Join(sortedKeys(fields), ", "))
			continue
		}
		if seen[name] {
			d.fail(kn, full, "key given twice")
			continue
		}
		seen[name] = true
		d.decode(vn, v.Field(idx), full)
	}
}

func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, key, "want a single value, got a %s", kindName(n))
		return
	}
	if err := setScalar(v, n.Value); err != nil {
		d.fail(n, key, "%v", err)
	}
}

func setScalar(v reflect.Value, s string) error {
	if st, ok := v.Addr().Interface().(setter); ok {
		return st.Set(s)
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		i, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		v.SetInt(i)
	case reflect.Float64, reflect.Float32:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("unsupported setting type %s", v.Type())
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "single value"
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func structFields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		m[tag] = i
	}
	return m
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
