package rules

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vigilops/vigil/slo"
)

// ErrInvalidSpec is matched by errors.Is for any problem of a spec.
var ErrInvalidSpec = errors.New("invalid rules spec")

// Spec is what `vigil rules generate` reads: the baselines, spikes and SLOs
// to write rules for.
type Spec struct {
	Baselines []Baseline
	Spikes    []Spike
	SLOs      []slo.Definition
}

// Direction says which side of a baseline is anomalous.
type Direction string

// Directions of a baseline alert.
const (
	Up   Direction = "up"   // only above the baseline (latency, errors)
	Down Direction = "down" // only below it (throughput, success)
	Both Direction = "both"
)

// Baseline is a dynamic baseline: the series Expr is recorded, its mean and
// standard deviation over Window are recorded from that, and an alert fires
// when the z-score passes Z for For.
type Baseline struct {
	// Name names the recorded series (<by>:<name>:...): a metric name
	// without colons.
	Name string
	// Expr is the PromQL expression to baseline, aggregated to the By
	// labels, e.g. a p99 latency by service.
	Expr string
	// By are the labels Expr keeps; they form the level of the recorded
	// names and are shown in the alert summary.
	By []string
	// Z is the z-score threshold. Default 3.
	Z float64
	// Window is the baseline length. Default 1w (7 days).
	Window time.Duration
	// Direction is up, down or both. Default both.
	Direction Direction
	// For is how long the z-score must stay past Z. Default 10m.
	For time.Duration
	// Severity is the severity label. Default warning.
	Severity string
	// Alert is the alert name. Default the CamelCase name + "Anomaly".
	Alert string
	// Labels are added to the alert.
	Labels map[string]string
}

// Spike is a sudden-derivative detector: it fires when Expr grows, within
// DerivWindow (by the slope deriv() fits), by more than Factor times its
// mean level over Window.
type Spike struct {
	Name string
	Expr string
	By   []string
	// DerivWindow is the range deriv() fits its slope over. Default 10m.
	DerivWindow time.Duration
	// Factor is the growth within DerivWindow, relative to the mean level,
	// that fires: 1 means the value rose by its usual level (doubled).
	// Default 1.
	Factor float64
	// Window is what the mean level is taken over. Default 1w.
	Window time.Duration
	// Min, when set, keeps the alert quiet while the value is under it,
	// for series whose usual level is near zero.
	Min *float64
	// For is how long the growth must last. Default 2m.
	For      time.Duration
	Severity string
	// Alert is the alert name. Default the CamelCase name, with "Spike"
	// appended unless the name ends with spike.
	Alert  string
	Labels map[string]string
}

var (
	nameRE      = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// problem is one invalid field of a spec entry, before it is given a line.
type problem struct {
	field, msg string
}

func (p problem) Error() string { return p.field + ": " + p.msg }

// applyDefaults fills the zero fields of b.
func (b *Baseline) applyDefaults() {
	if b.Z == 0 {
		b.Z = 3
	}
	if b.Window == 0 {
		b.Window = 7 * 24 * time.Hour
	}
	if b.Direction == "" {
		b.Direction = Both
	}
	if b.For == 0 {
		b.For = 10 * time.Minute
	}
	if b.Severity == "" {
		b.Severity = "warning"
	}
	if b.Alert == "" {
		b.Alert = camel(b.Name) + "Anomaly"
	}
}

func (b *Baseline) problems() []problem {
	var ps []problem
	ps = append(ps, common(b.Name, b.Expr, b.By, b.Severity, b.Alert, b.Labels)...)
	if math.IsNaN(b.Z) || math.IsInf(b.Z, 0) || b.Z <= 0 {
		ps = append(ps, problem{"z", fmt.Sprintf("%v must be a positive number of standard deviations", b.Z)})
	}
	if b.Window < 10*time.Minute {
		ps = append(ps, problem{"window", fmt.Sprintf("%s is too short for a baseline (at least 10m; default 1w)", promDuration(b.Window))})
	}
	if b.For < 0 {
		ps = append(ps, problem{"for", "negative"})
	}
	switch b.Direction {
	case Up, Down, Both:
	default:
		ps = append(ps, problem{"direction", fmt.Sprintf("%q is not up, down or both", b.Direction)})
	}
	return ps
}

func (s *Spike) applyDefaults() {
	if s.DerivWindow == 0 {
		s.DerivWindow = 10 * time.Minute
	}
	if s.Factor == 0 {
		s.Factor = 1
	}
	if s.Window == 0 {
		s.Window = 7 * 24 * time.Hour
	}
	if s.For == 0 {
		s.For = 2 * time.Minute
	}
	if s.Severity == "" {
		s.Severity = "warning"
	}
	if s.Alert == "" {
		s.Alert = camel(s.Name)
		if !strings.HasSuffix(strings.ToLower(s.Name), "spike") {
			s.Alert += "Spike"
		}
	}
}

func (s *Spike) problems() []problem {
	var ps []problem
	ps = append(ps, common(s.Name, s.Expr, s.By, s.Severity, s.Alert, s.Labels)...)
	if s.DerivWindow < time.Minute {
		ps = append(ps, problem{"deriv_window", fmt.Sprintf("%s is too short: deriv() needs a few samples (at least 1m)", promDuration(s.DerivWindow))})
	}
	if math.IsNaN(s.Factor) || math.IsInf(s.Factor, 0) || s.Factor <= 0 {
		ps = append(ps, problem{"factor", fmt.Sprintf("%v must be positive", s.Factor)})
	}
	if s.Window <= s.DerivWindow {
		ps = append(ps, problem{"window", fmt.Sprintf("%s must be longer than deriv_window %s", promDuration(s.Window), promDuration(s.DerivWindow))})
	}
	if s.Min != nil && (math.IsNaN(*s.Min) || math.IsInf(*s.Min, 0)) {
		ps = append(ps, problem{"min", "must be a finite number"})
	}
	if s.For < 0 {
		ps = append(ps, problem{"for", "negative"})
	}
	return ps
}

// reserved labels are set by the generator; overriding them would break
// routing (severity has its own field) or the alert's identity.
var reserved = map[string]bool{"alertname": true, "severity": true, "__name__": true}

func common(name, expr string, by []string, severity, alert string, labels map[string]string) []problem {
	var ps []problem
	switch {
	case name == "":
		ps = append(ps, problem{"name", "missing"})
	case !nameRE.MatchString(name):
		ps = append(ps, problem{"name", fmt.Sprintf("%q must be a metric name without colons: letters, digits and '_', not starting with a digit", name)})
	}
	if strings.TrimSpace(expr) == "" {
		ps = append(ps, problem{"expr", "missing"})
	} else if err := checkExpr(expr); err != nil {
		ps = append(ps, problem{"expr", err.Error()})
	}
	seen := map[string]bool{}
	for _, l := range by {
		switch {
		case !labelNameRE.MatchString(l) || strings.HasPrefix(l, "__"):
			ps = append(ps, problem{"by", fmt.Sprintf("%q is not a valid label name", l)})
		case seen[l]:
			ps = append(ps, problem{"by", fmt.Sprintf("%q listed twice", l)})
		}
		seen[l] = true
	}
	if strings.TrimSpace(severity) == "" {
		ps = append(ps, problem{"severity", "empty"})
	}
	// An alert name derived from a bad name is bad too: say it once.
	if nameRE.MatchString(name) && !nameRE.MatchString(alert) {
		ps = append(ps, problem{"alert", fmt.Sprintf("%q must be letters, digits and '_', not starting with a digit", alert)})
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		switch {
		case !labelNameRE.MatchString(k) || strings.HasPrefix(k, "__"):
			ps = append(ps, problem{"labels", fmt.Sprintf("%q is not a valid label name", k)})
		case reserved[k]:
			ps = append(ps, problem{"labels", fmt.Sprintf("%q is set by the generator and cannot be overridden", k)})
		}
	}
	return ps
}

// Validate applies defaults and checks the whole spec, as Generate does.
// Errors name the entry and field (baselines[0].z); ParseSpec adds lines.
func (s *Spec) Validate() error {
	var errs []error
	add := func(path string, ps []problem) {
		for _, p := range ps {
			errs = append(errs, &Error{Path: path + "." + p.field, Msg: p.msg})
		}
	}
	for i := range s.Baselines {
		s.Baselines[i].applyDefaults()
		add(fmt.Sprintf("baselines[%d]", i), s.Baselines[i].problems())
	}
	for i := range s.Spikes {
		s.Spikes[i].applyDefaults()
		add(fmt.Sprintf("spikes[%d]", i), s.Spikes[i].problems())
	}
	for i := range s.SLOs {
		add(fmt.Sprintf("slos[%d]", i), sloProblems(&s.SLOs[i]))
	}
	for _, e := range s.duplicates() {
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// sloProblems turns a Definition's validation errors into problems.
func sloProblems(d *slo.Definition) []problem {
	err := d.Validate()
	if err == nil {
		return nil
	}
	var out []problem
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		var fe *slo.FieldError
		if errors.As(e, &fe) {
			out = append(out, problem{fe.Field, fe.Msg})
		} else {
			out = append(out, problem{"name", e.Error()})
		}
	}
	return out
}

// duplicates finds names used twice: baselines and spikes share the
// namespace of recorded series, SLOs that of the slo label.
func (s *Spec) duplicates() []*Error {
	var errs []*Error
	seen := map[string]string{}
	check := func(ns, kind string, i int, name string) {
		if name == "" {
			return
		}
		if prev, ok := seen[ns+"/"+name]; ok {
			errs = append(errs, &Error{Path: fmt.Sprintf("%s[%d].name", kind, i), Msg: fmt.Sprintf("%q already used by %s", name, prev)})
			return
		}
		seen[ns+"/"+name] = fmt.Sprintf("%s[%d]", kind, i)
	}
	for i, b := range s.Baselines {
		check("rec", "baselines", i, b.Name)
	}
	for i, sp := range s.Spikes {
		check("rec", "spikes", i, sp.Name)
	}
	for i, d := range s.SLOs {
		check("slo", "slos", i, d.Name)
	}
	return errs
}

// camel turns snake_case into CamelCase for alert names.
func camel(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "_") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]))
		b.WriteString(part[1:])
	}
	return b.String()
}
