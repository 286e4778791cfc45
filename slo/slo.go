// Package slo defines service level objectives over counter series and
// judges them the way the Google SRE workbook recommends: an SLI is the
// ratio of good to total events, the error budget is what the objective
// leaves over, and alerts fire on multi-window, multi-burn-rate conditions
// (a long window to be significant, a short one to reset fast).
//
// Invariant: every judgement is made at an evaluation time passed in by the
// caller and from counts the Source returns for windows ending then; the
// package never reads the wall clock, so replays, simulations and tests
// see exactly what live evaluation would.
package slo

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"time"
)

// ErrInvalid is matched by errors.Is for any invalid Definition.
var ErrInvalid = errors.New("invalid SLO definition")

// DefaultWindow is the compliance window of an SLO that names none: the
// 30 days the workbook's burn-rate factors are computed for.
const DefaultWindow = 30 * 24 * time.Hour

// Definition is one service level objective.
type Definition struct {
	// Name identifies the SLO (the slo label): letters, digits, '_', '-'
	// and '.', starting with a letter.
	Name string
	// Service is the service the SLO belongs to (the service label).
	Service string
	// Objective is the target share of good events in percent, strictly
	// between 0 and 100, e.g. 99.9.
	Objective float64
	// Window is the compliance period the budget is spent over. Zero means
	// DefaultWindow.
	Window time.Duration
	// Good or Bad (exactly one) selects the counters of good or bad events;
	// Total those of all events. A latency SLI is Good = the histogram
	// bucket at the threshold (le="0.3"), Total = its _count.
	Good, Bad, Total Selector
	// Labels are added to the alerts and to the exported series.
	Labels map[string]string
	// Description is free text carried into alert annotations.
	Description string
}

var (
	sloNameRE   = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_.\-]*$`)
	labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// reservedLabels are set by the evaluator and the exporter; a definition
// may not override them, or alerts of different SLOs could collide.
var reservedLabels = map[string]bool{
	"alertname": true, "slo": true, "service": true, "severity": true,
	"window": true, "__name__": true,
}

// FieldError is one problem of a Definition, naming its field (name,
// service, objective, window, good, bad, total, labels) so that a spec
// reader can point at the line.
type FieldError struct {
	Field, Msg string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// Validate reports every problem of d as *FieldError values, joined; the
// result matches ErrInvalid.
func (d *Definition) Validate() error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, a...)})
	}
	if !sloNameRE.MatchString(d.Name) {
		bad("name", "%q must start with a letter and hold only letters, digits, '_', '-' and '.'", d.Name)
	}
	if d.Service == "" {
		bad("service", "missing")
	}
	if math.IsNaN(d.Objective) || d.Objective <= 0 || d.Objective >= 100 {
		bad("objective", "%v must be a percentage strictly between 0 and 100, e.g. 99.9", d.Objective)
	}
	if d.Window < 0 {
		bad("window", "%v is negative", d.Window)
	} else if d.Window != 0 && d.Window < 6*time.Hour {
		// The slowest alert pair looks back three days and its short
		// window six hours; a budget period shorter than that cannot be
		// judged by them.
		bad("window", "%v is shorter than 6h", d.Window)
	}
	switch {
	case d.Good.IsZero() && d.Bad.IsZero():
		bad("good", "set good (or bad) to the selector of the good (bad) event counters")
	case !d.Good.IsZero() && !d.Bad.IsZero():
		bad("bad", "set either good or bad, not both")
	}
	if d.Total.IsZero() {
		bad("total", "missing: the selector of all event counters")
	}
	for _, s := range []struct {
		field string
		sel   Selector
	}{{"good", d.Good}, {"bad", d.Bad}, {"total", d.Total}} {
		if !s.sel.IsZero() && s.sel.Metric == "" {
			bad(s.field, "selector has no metric name")
		}
	}
	for k := range d.Labels {
		switch {
		case !labelNameRE.MatchString(k):
			bad("labels", "%q is not a valid label name", k)
		case reservedLabels[k]:
			bad("labels", "%q is set by Vigil and cannot be overridden", k)
		}
	}
	return errors.Join(errs...)
}

// BudgetWindow returns Window, or DefaultWindow when it is zero.
func (d *Definition) BudgetWindow() time.Duration {
	if d.Window == 0 {
		return DefaultWindow
	}
	return d.Window
}

// ErrorBudget returns the share of events allowed to be bad: 1 - Objective/100.
func (d *Definition) ErrorBudget() float64 {
	// Rounded to 12 decimals so that 99.9 gives 0.001, not 0.0009999...:
	// objectives are written in decimal and read back in reports.
	return math.Round((100-d.Objective)*1e10) / 1e12
}

// Counts are how many good and total events happened in a window. With a
// Bad selector, Good is Total minus the bad events.
type Counts struct {
	Good, Total float64
}

// ErrorRatio returns the share of bad events, or NaN with no events: no
// traffic is no evidence either way.
func (c Counts) ErrorRatio() float64 {
	if !(c.Total > 0) {
		return math.NaN()
	}
	r := 1 - c.Good/c.Total
	// Counters scraped at slightly different instants can make good exceed
	// total by a hair; that is no negative error.
	return math.Max(0, math.Min(1, r))
}

// BurnRate returns how many times faster than sustainable the budget is
// being spent at this error ratio: 1 spends exactly the budget over the
// window. NaN without events.
func (d *Definition) BurnRate(c Counts) float64 {
	return c.ErrorRatio() / d.ErrorBudget()
}

// BudgetRemaining returns the share of the error budget left after the
// events of a whole budget window: 1 untouched, 0 spent, negative
// overspent. NaN without events.
func (d *Definition) BudgetRemaining(c Counts) float64 {
	return 1 - d.BurnRate(c)
}

// TimeToExhaustion returns how long the whole budget lasts at the given
// burn rate, starting from a full budget: Window/burn.
func (d *Definition) TimeToExhaustion(burn float64) time.Duration {
	if !(burn > 0) {
		return time.Duration(math.MaxInt64)
	}
	t := float64(d.BudgetWindow()) / burn
	if t >= math.MaxInt64 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(t)
}
