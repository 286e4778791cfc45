package act

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"
)

// MaxRunbookBytes bounds one runbook file.
const MaxRunbookBytes = 1 << 20

var runbookNameRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9_.]{0,98}[a-z0-9])?$`)

// Runbook is a remediation procedure, loaded from YAML.
type Runbook struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Risk is the runbook's risk; a step may declare a higher one, never a
	// lower one. EffectiveRisk is the highest.
	Risk Risk `yaml:"risk" json:"risk"`
	// Level is the most automation this runbook allows (0-4); the service
	// may cap it lower.
	Level Level `yaml:"level" json:"level"`
	// MinConfidence, when above the service default, raises the diagnosis
	// confidence automatic runs need.
	MinConfidence float64 `yaml:"min_confidence,omitempty" json:"min_confidence,omitempty"`
	// Match is an expr-lang boolean expression over the situation (see
	// Situation.Env); empty matches nothing, so a runbook is only ever
	// triggered on purpose.
	Match    string        `yaml:"match" json:"match"`
	Params   []Param       `yaml:"params,omitempty" json:"params,omitempty"`
	Steps    []Step        `yaml:"steps" json:"steps"`
	Verify   *Verification `yaml:"verify,omitempty" json:"verify,omitempty"`
	Rollback []Step        `yaml:"rollback,omitempty" json:"rollback,omitempty"`

	// Source is the file it was loaded from.
	Source string `yaml:"-" json:"source,omitempty"`

	match *vm.Program
	from  map[string]*vm.Program
}

// Step is one action of a runbook.
type Step struct {
	Name string `yaml:"name" json:"name"`
	// Action is family.op: kube.scale, kube.restart, kube.undo,
	// kube.cordon, http.call, shell.exec.
	Action string `yaml:"action" json:"action"`
	// Risk defaults to the runbook's.
	Risk Risk           `yaml:"risk,omitempty" json:"risk,omitempty"`
	With map[string]any `yaml:"with,omitempty" json:"with,omitempty"`
}

// Verification is the check after acting, evaluated by the Verifier until
// it passes or Timeout runs out.
type Verification struct {
	// Check names the check for the Verifier ("anomaly_gone", "sli_ok").
	Check    string         `yaml:"check" json:"check"`
	With     map[string]any `yaml:"with,omitempty" json:"with,omitempty"`
	Timeout  Duration       `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Interval Duration       `yaml:"interval,omitempty" json:"interval,omitempty"`
}

// Duration is a time.Duration written as "90s" in YAML and JSON.
type Duration time.Duration

// UnmarshalYAML reads "90s".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration such as 90s or 5m", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(time.Duration(d).String())), nil
}

// EffectiveRisk is the highest risk of the runbook and its steps.
func (rb *Runbook) EffectiveRisk() Risk {
	r := rb.Risk
	for _, s := range rb.Steps {
		r = maxRisk(r, s.Risk)
	}
	return r
}

// ParseRunbooks decodes one or more YAML documents (separated by ---),
// each a runbook, and validates them. execs, when not nil, also checks that
// every action has an executor and that the executor accepts the step.
func ParseRunbooks(r io.Reader, source string, execs map[string]Executor) ([]*Runbook, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxRunbookBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", source, err)
	}
	if len(data) > MaxRunbookBytes {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrInvalidRunbook, source, MaxRunbookBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var out []*Runbook
	for i := 0; ; i++ {
		rb := new(Runbook)
		err := dec.Decode(rb)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s document %d: %v", ErrInvalidRunbook, source, i+1, err)
		}
		rb.Source = source
		if err := rb.compile(execs); err != nil {
			return nil, fmt.Errorf("%w: %s: runbook %q: %w", ErrInvalidRunbook, source, rb.Name, err)
		}
		out = append(out, rb)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s holds no runbook", ErrInvalidRunbook, source)
	}
	return out, nil
}

// LoadFile reads the runbooks of one file.
func LoadFile(path string, execs map[string]Executor) ([]*Runbook, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load runbooks: %w", err)
	}
	defer f.Close()
	return ParseRunbooks(f, path, execs)
}

// LoadDir reads every *.yaml and *.yml file of dir (not recursively) and
// refuses duplicate names.
func LoadDir(dir string, execs map[string]Executor) ([]*Runbook, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load runbooks: %w", err)
	}
	var all []*Runbook
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		rbs, err := LoadFile(filepath.Join(dir, e.Name()), execs)
		if err != nil {
			return nil, err
		}
		all = append(all, rbs...)
	}
	if err := checkUnique(all); err != nil {
		return nil, err
	}
	return all, nil
}

func checkUnique(rbs []*Runbook) error {
	seen := make(map[string]string, len(rbs))
	for _, rb := range rbs {
		if prev, ok := seen[rb.Name]; ok {
			return fmt.Errorf("%w: runbook %q is defined in %s and %s", ErrInvalidRunbook, rb.Name, prev, rb.Source)
		}
		seen[rb.Name] = rb.Source
	}
	return nil
}

// compile validates rb and prepares its expressions.
func (rb *Runbook) compile(execs map[string]Executor) error {
	if !runbookNameRe.MatchString(rb.Name) {
		return fmt.Errorf("name %q must be lower-case letters, digits, '-', '_' or '.' (at most 100)", rb.Name)
	}
	if !rb.Risk.Valid() {
		return fmt.Errorf("risk %q must be low, medium or high", rb.Risk)
	}
	if !rb.Level.Valid() {
		return fmt.Errorf("level %d must be 0 (alert), 1 (suggest), 2 (approve), 3 (auto low risk) or 4 (auto high risk)", rb.Level)
	}
	if rb.MinConfidence < 0 || rb.MinConfidence > 1 {
		return fmt.Errorf("min_confidence %v must be within [0, 1]", rb.MinConfidence)
	}
	if rb.Match == "" {
		return errors.New("match is required (an expr-lang condition over incident, diagnosis, anomalies, alerts)")
	}
	prog, err := expr.Compile(rb.Match, expr.Env(envSchema()), expr.AsBool())
	if err != nil {
		return fmt.Errorf("match: %v", err)
	}
	// The environment's values are untyped, so a condition that yields a
	// string compiles; evaluating it once on the empty situation catches it.
	plain, err := expr.Compile(rb.Match, expr.Env(envSchema()))
	if err != nil {
		return fmt.Errorf("match: %v", err)
	}
	if out, err := expr.Run(plain, envSchema()); err == nil {
		if _, ok := out.(bool); !ok {
			return fmt.Errorf("match: %q yields %T, not a boolean", rb.Match, out)
		}
	}
	rb.match = prog
	declared := make(map[string]bool, len(rb.Params))
	rb.from = make(map[string]*vm.Program)
	for i := range rb.Params {
		p := &rb.Params[i]
		if err := p.compile(); err != nil {
			return err
		}
		if declared[p.Name] {
			return fmt.Errorf("parameter %q is declared twice", p.Name)
		}
		declared[p.Name] = true
		if p.From != "" {
			prog, err := expr.Compile(p.From, expr.Env(envSchema()))
			if err != nil {
				return fmt.Errorf("parameter %q: from: %v", p.Name, err)
			}
			rb.from[p.Name] = prog
		}
	}
	if len(rb.Steps) == 0 {
		return errors.New("steps: at least one step is required")
	}
	check := func(what string, steps []Step) error {
		for i := range steps {
			s := &steps[i]
			if s.Name == "" {
				s.Name = fmt.Sprintf("%s-%d", what, i+1)
			}
			if s.Risk == "" {
				s.Risk = rb.Risk
			}
			if !s.Risk.Valid() {
				return fmt.Errorf("%s %q: risk %q must be low, medium or high", what, s.Name, s.Risk)
			}
			if s.Risk.Rank() < rb.Risk.Rank() {
				return fmt.Errorf("%s %q: risk %s is below the runbook's %s; a step cannot lower it", what, s.Name, s.Risk, rb.Risk)
			}
			fam, op, err := splitAction(s.Action)
			if err != nil {
				return fmt.Errorf("%s %q: %v", what, s.Name, err)
			}
			used := map[string]bool{}
			if err := treeParams(s.With, used); err != nil {
				return fmt.Errorf("%s %q: %v", what, s.Name, err)
			}
			if err := undeclared(used, declared); err != nil {
				return fmt.Errorf("%s %q: %v", what, s.Name, err)
			}
			if execs != nil {
				ex, ok := execs[fam]
				if !ok {
					return fmt.Errorf("%s %q: %w %q (no %s executor configured)", what, s.Name, ErrUnknownAction, s.Action, fam)
				}
				if err := ex.Check(op, s.With); err != nil {
					return fmt.Errorf("%s %q (%s): %v", what, s.Name, s.Action, err)
				}
			}
		}
		return nil
	}
	if err := check("step", rb.Steps); err != nil {
		return err
	}
	if err := check("rollback step", rb.Rollback); err != nil {
		return err
	}
	if v := rb.Verify; v != nil {
		if v.Check == "" {
			return errors.New("verify: check is required")
		}
		used := map[string]bool{}
		if err := treeParams(v.With, used); err != nil {
			return fmt.Errorf("verify: %v", err)
		}
		if err := undeclared(used, declared); err != nil {
			return fmt.Errorf("verify: %v", err)
		}
	}
	return nil
}

func undeclared(used, declared map[string]bool) error {
	var bad []string
	for n := range used {
		if !declared[n] {
			bad = append(bad, n)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("uses undeclared parameter(s) %v", bad)
	}
	return nil
}

// Matches evaluates the match condition against sit.
func (rb *Runbook) Matches(sit *Situation) (bool, error) {
	return rb.matchEnv(sit.Env())
}

// matchEnv evaluates the match condition against a prepared environment,
// so a situation's environment is built once for all runbooks.
func (rb *Runbook) matchEnv(env map[string]any) (bool, error) {
	if rb.match == nil {
		return false, fmt.Errorf("%w: runbook %q was not loaded through ParseRunbooks", ErrInvalidRunbook, rb.Name)
	}
	out, err := expr.Run(rb.match, env)
	if err != nil {
		return false, fmt.Errorf("runbook %q: match: %w", rb.Name, err)
	}
	b, _ := out.(bool)
	return b, nil
}

// Bind resolves every parameter, in order: the given value, the From
// expression over sit (when sit is not nil and it yields a non-empty
// value), then the default. Each is validated against its type. A given
// name the runbook does not declare is an error.
func (rb *Runbook) Bind(sit *Situation, given map[string]string) (Values, error) {
	for k := range given {
		if !slices.ContainsFunc(rb.Params, func(p Param) bool { return p.Name == k }) {
			return Values{}, fmt.Errorf("%w: runbook %q has no parameter %q", ErrInvalidParam, rb.Name, k)
		}
	}
	in := make(map[string]string, len(rb.Params))
	for _, p := range rb.Params {
		if v, ok := given[p.Name]; ok {
			in[p.Name] = v
			continue
		}
		if prog := rb.from[p.Name]; prog != nil && sit != nil {
			out, err := expr.Run(prog, sit.Env())
			if err != nil {
				return Values{}, fmt.Errorf("%w: %s: from: %v", ErrInvalidParam, p.Name, err)
			}
			if s := scalarString(out); s != "" {
				in[p.Name] = s
				continue
			}
		}
		if p.Default != "" {
			in[p.Name] = p.Default
		}
	}
	return rb.bindValues(in)
}

func (rb *Runbook) bindValues(in map[string]string) (Values, error) {
	vals := Values{m: make(map[string]string, len(rb.Params)), types: make(map[string]ParamType, len(rb.Params))}
	for i := range rb.Params {
		p := &rb.Params[i]
		v, ok := in[p.Name]
		if !ok {
			return Values{}, fmt.Errorf("%w: %s: no value given and no default", ErrInvalidParam, p.Name)
		}
		c, err := p.Validate(v)
		if err != nil {
			return Values{}, err
		}
		vals.m[p.Name] = c
		vals.types[p.Name] = p.Type
	}
	return vals, nil
}

func scalarString(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case int:
		return strconv.Itoa(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		if t == float64(int64(t)) {
			return strconv.FormatInt(int64(t), 10)
		}
		return strconv.FormatFloat(t, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	}
	return fmt.Sprint(v)
}
