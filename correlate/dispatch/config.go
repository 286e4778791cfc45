package dispatch

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/correlate/inhibit"
	"github.com/vigilops/vigil/correlate/route"
	"github.com/vigilops/vigil/correlate/timeinterval"
)

// Built is what an alertmanager.yml defines for the dispatcher, ready to
// set into Options (Silences come from the API, not the file).
type Built struct {
	Route     *route.Route
	Inhibitor *inhibit.Inhibitor
	Windows   timeinterval.Windows
	// SendResolved reports whether any integration of a receiver sends
	// resolved alerts, with Alertmanager's per-integration defaults
	// (webhook and PagerDuty: true; Slack and email: false).
	SendResolved func(receiver string) bool
}

// Apply sets the built pieces into o.
func (b Built) Apply(o *Options) {
	o.Route, o.Inhibitor, o.Windows, o.SendResolved = b.Route, b.Inhibitor, b.Windows, b.SendResolved
}

// FromConfig builds the routing tree, inhibitor, maintenance windows and
// send_resolved lookup from a validated configuration. reg (may be nil)
// receives the inhibitor's metrics.
func FromConfig(cfg *config.AlertmanagerConfig, reg prometheus.Registerer) (Built, error) {
	ivs, err := cfg.Intervals()
	if err != nil {
		return Built{}, fmt.Errorf("build time intervals: %w", err)
	}
	root, err := route.New(&cfg.Route, ivs)
	if err != nil {
		return Built{}, fmt.Errorf("build routes: %w", err)
	}
	rules, err := inhibit.RulesFromConfig(cfg.InhibitRules)
	if err != nil {
		return Built{}, fmt.Errorf("build inhibit rules: %w", err)
	}
	var windows timeinterval.Windows
	for _, w := range cfg.MaintenanceWindows {
		ms, err := config.ParseMatchers(w.Matchers, nil, nil)
		if err != nil {
			return Built{}, fmt.Errorf("maintenance window %s: %w", w.Name, err)
		}
		win := &timeinterval.Window{Name: w.Name, Matchers: ms}
		for _, n := range w.TimeIntervals {
			iv, ok := ivs[n]
			if !ok {
				return Built{}, fmt.Errorf("maintenance window %s: time interval %q is not defined", w.Name, n)
			}
			win.IntervalNames = append(win.IntervalNames, n)
			win.Intervals = append(win.Intervals, iv)
		}
		windows = append(windows, win)
	}
	resolved := map[string]bool{}
	for _, r := range cfg.Receivers {
		want := false
		for _, c := range r.WebhookConfigs {
			want = want || c.SendResolved.Or(true)
		}
		for _, c := range r.PagerdutyConfigs {
			want = want || c.SendResolved.Or(true)
		}
		for _, c := range r.SlackConfigs {
			want = want || c.SendResolved.Or(false)
		}
		for _, c := range r.EmailConfigs {
			want = want || c.SendResolved.Or(false)
		}
		resolved[r.Name] = want
	}
	inh, err := inhibit.New(rules, inhibit.Options{Registerer: reg})
	if err != nil {
		return Built{}, err
	}
	return Built{
		Route: root, Inhibitor: inh, Windows: windows,
		SendResolved: func(receiver string) bool { return resolved[receiver] },
	}, nil
}
