package act

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ParamType is the declared type of a runbook parameter. Every value is
// checked against it before any executor sees it.
type ParamType string

// Parameter types.
const (
	// TypeString needs a pattern; the value must match it whole.
	TypeString ParamType = "string"
	// TypeInt is a decimal integer, optionally within [min, max].
	TypeInt ParamType = "int"
	// TypeEnum is one of the declared values.
	TypeEnum ParamType = "enum"
	// TypeDuration is a Go duration ("90s", "5m"), positive.
	TypeDuration ParamType = "duration"
	// TypeK8sName is an RFC 1123 DNS subdomain (Kubernetes object names).
	TypeK8sName ParamType = "k8s_name"
	// TypeLabelValue is a Kubernetes label value.
	TypeLabelValue ParamType = "label_value"
)

// MaxParamLen bounds every parameter value.
const MaxParamLen = 256

var (
	paramNameRe  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]{0,62}$`)
	rfc1123Label = `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
	rfc1123Re    = regexp.MustCompile(`^` + rfc1123Label + `(\.` + rfc1123Label + `)*$`)
	labelValueRe = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$`)
)

// Param declares one runbook parameter.
type Param struct {
	Name string    `yaml:"name" json:"name"`
	Type ParamType `yaml:"type" json:"type"`
	// Pattern (TypeString) is a Go regular expression the whole value must
	// match; it is anchored for you.
	Pattern string `yaml:"pattern,omitempty" json:"pattern,omitempty"`
	// Min and Max bound TypeInt values.
	Min *int64 `yaml:"min,omitempty" json:"min,omitempty"`
	Max *int64 `yaml:"max,omitempty" json:"max,omitempty"`
	// Values lists the TypeEnum values.
	Values []string `yaml:"values,omitempty" json:"values,omitempty"`
	// From is an expression over the situation (see Situation.Env) whose
	// result is the value when none is given.
	From string `yaml:"from,omitempty" json:"from,omitempty"`
	// Default is the value when none is given and From yields nothing.
	Default string `yaml:"default,omitempty" json:"default,omitempty"`
	// Description is shown to approvers.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`

	re *regexp.Regexp
}

// compile checks the declaration itself.
func (p *Param) compile() error {
	if !paramNameRe.MatchString(p.Name) {
		return fmt.Errorf("parameter name %q must match %s", p.Name, paramNameRe)
	}
	switch p.Type {
	case TypeString:
		if p.Pattern == "" {
			return fmt.Errorf("parameter %q: type string needs a pattern", p.Name)
		}
		re, err := regexp.Compile(`^(?:` + p.Pattern + `)$`)
		if err != nil {
			return fmt.Errorf("parameter %q: pattern: %w", p.Name, err)
		}
		p.re = re
	case TypeInt:
		if p.Min != nil && p.Max != nil && *p.Min > *p.Max {
			return fmt.Errorf("parameter %q: min %d above max %d", p.Name, *p.Min, *p.Max)
		}
	case TypeEnum:
		if len(p.Values) == 0 {
			return fmt.Errorf("parameter %q: type enum needs values", p.Name)
		}
		for _, v := range p.Values {
			if err := safeText(v); err != nil {
				return fmt.Errorf("parameter %q: enum value %q: %w", p.Name, v, err)
			}
		}
	case TypeDuration, TypeK8sName, TypeLabelValue:
	case "":
		return fmt.Errorf("parameter %q: type is missing (one of string, int, enum, duration, k8s_name, label_value)", p.Name)
	default:
		return fmt.Errorf("parameter %q: unknown type %q (one of string, int, enum, duration, k8s_name, label_value)", p.Name, p.Type)
	}
	if p.Type != TypeString && p.Pattern != "" {
		return fmt.Errorf("parameter %q: pattern only applies to type string", p.Name)
	}
	if p.Type != TypeInt && (p.Min != nil || p.Max != nil) {
		return fmt.Errorf("parameter %q: min and max only apply to type int", p.Name)
	}
	if p.Type != TypeEnum && len(p.Values) > 0 {
		return fmt.Errorf("parameter %q: values only apply to type enum", p.Name)
	}
	if p.Default != "" {
		if _, err := p.Validate(p.Default); err != nil {
			return fmt.Errorf("default: %w", err)
		}
	}
	return nil
}

// safeText refuses what no parameter of any type may hold: invalid UTF-8,
// control characters (newlines, NUL, escape), and a leading dash, which a
// program would read as an option.
func safeText(v string) error {
	if len(v) > MaxParamLen {
		return fmt.Errorf("longer than %d bytes", MaxParamLen)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("not valid UTF-8")
	}
	for _, r := range v {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("holds control character %U", r)
		}
	}
	if strings.HasPrefix(v, "-") {
		return fmt.Errorf("starts with '-', which a program would read as an option")
	}
	return nil
}

// Validate checks v against the declaration and returns its canonical form
// (integers without leading zeros or sign, durations as time.Duration
// prints them). The canonical form is what executors receive.
func (p *Param) Validate(v string) (string, error) {
	fail := func(format string, args ...any) (string, error) {
		return "", fmt.Errorf("%w: %s: value %q %s", ErrInvalidParam, p.Name, truncate(v, 64), fmt.Sprintf(format, args...))
	}
	if p.Type == TypeInt {
		// Negative integers are fine by the int rules, but still checked
		// for length and control characters.
		if len(v) > 20 {
			return fail("is too long for an integer")
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fail("is not a decimal integer")
		}
		if p.Min != nil && n < *p.Min {
			return fail("is below the minimum %d", *p.Min)
		}
		if p.Max != nil && n > *p.Max {
			return fail("is above the maximum %d", *p.Max)
		}
		return strconv.FormatInt(n, 10), nil
	}
	if err := safeText(v); err != nil {
		return fail("%v", err)
	}
	switch p.Type {
	case TypeString:
		if !p.re.MatchString(v) {
			return fail("does not match the pattern %s", p.Pattern)
		}
	case TypeEnum:
		if !slices.Contains(p.Values, v) {
			return fail("is not one of %s", strings.Join(p.Values, ", "))
		}
	case TypeDuration:
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fail("is not a positive duration such as 90s or 5m")
		}
		return d.String(), nil
	case TypeK8sName:
		if len(v) > 253 || !rfc1123Re.MatchString(v) {
			return fail("is not an RFC 1123 name (lower-case letters, digits, '-' and '.', at most 253)")
		}
	case TypeLabelValue:
		if len(v) > 63 || !labelValueRe.MatchString(v) {
			return fail("is not a Kubernetes label value (letters, digits, '-', '_', '.', at most 63)")
		}
	default:
		return fail("has unknown type %q", p.Type)
	}
	return v, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Values are validated parameter values by name. Only Runbook.Bind makes
// them, so holding a Values means every entry passed its type check.
type Values struct {
	m     map[string]string
	types map[string]ParamType
}

// Get returns the value of name.
func (v Values) Get(name string) (string, bool) {
	s, ok := v.m[name]
	return s, ok
}

// Type returns the declared type of name.
func (v Values) Type(name string) ParamType { return v.types[name] }

// Map returns a copy of the values.
func (v Values) Map() map[string]string {
	out := make(map[string]string, len(v.m))
	for k, s := range v.m {
		out[k] = s
	}
	return out
}

// BindValues checks each value of in against its declaration in params
// (compiling the declarations first) and returns the validated values,
// without a runbook. Runbook.Bind is the usual way; executors' tests and
// tools that call an executor directly use this.
func BindValues(params []Param, in map[string]string) (Values, error) {
	rb := &Runbook{Name: "test", Params: params}
	for i := range rb.Params {
		if err := rb.Params[i].compile(); err != nil {
			return Values{}, err
		}
	}
	return rb.bindValues(in)
}
