package timeinterval

import (
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/vigilops/vigil/telemetry"
)

// Window is a maintenance window: while any of its named time intervals
// contains the evaluation time, alerts its matchers select are muted. It is
// a Vigil addition to Alertmanager's model, which only mutes whole routes.
type Window struct {
	Name string
	// Matchers select the alerts the window mutes; an absent label has the
	// empty value, as everywhere in Alertmanager. No matchers: every alert.
	Matchers labels.Matchers
	// IntervalNames name the time intervals (in Intervals, same order).
	IntervalNames []string
	Intervals     []Intervals
}

// Active reports whether the window is open at now and, if so, which
// interval opened it.
func (w *Window) Active(now time.Time) (string, bool) {
	for i, iv := range w.Intervals {
		if iv.Contains(now) {
			return w.IntervalNames[i], true
		}
	}
	return "", false
}

// Mutes returns why the window mutes an alert with labels ls at now, or
// nil when it does not.
func (w *Window) Mutes(ls telemetry.Labels, now time.Time) []string {
	for _, m := range w.Matchers {
		if !m.Matches(ls.Get(m.Name)) {
			return nil
		}
	}
	name, ok := w.Active(now)
	if !ok {
		return nil
	}
	return []string{"muted by maintenance window " + w.Name + " (time interval " + name + ")"}
}

// Windows mutes what any of its windows mutes. It is immutable, hence safe
// for concurrent use.
type Windows []*Window

// Mutes returns the reasons of every window muting ls at now.
func (ws Windows) Mutes(ls telemetry.Labels, now time.Time) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Mutes(ls, now)...)
	}
	return out
}
