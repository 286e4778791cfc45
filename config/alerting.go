package config

import (
	"errors"
	"net/url"
	"path/filepath"
	"strconv"
	"time"
)

// Alerting configures routing, silences and inhibition: what Vigil does
// with alerts as an Alertmanager would.
type Alerting struct {
	// ConfigFile is an alertmanager.yml (route, receivers, inhibit_rules,
	// time_intervals, maintenance_windows). A relative path is taken from
	// the directory of the Vigil configuration file. Empty: one route to a
	// receiver "default" with no integrations, so incidents, silences and
	// the API work while nothing is sent anywhere.
	ConfigFile string `yaml:"config_file"`
	// ExternalURL links notifications back to Vigil.
	ExternalURL string `yaml:"external_url"`
	// NotifyResolvedSilenced lets resolved alerts through silences.
	NotifyResolvedSilenced bool `yaml:"notify_resolved_silenced"`
	// MaxAlerts bounds the alert entries the dispatcher holds.
	MaxAlerts int              `yaml:"max_alerts"`
	Silences  SilencesSettings `yaml:"silences"`
}

// SilencesSettings bounds silences.
type SilencesSettings struct {
	// MaxDuration rejects longer silences; 0 allows any length.
	MaxDuration Duration `yaml:"max_duration"`
	// Retention keeps expired silences listed this long.
	Retention   Duration `yaml:"retention"`
	MaxSilences int      `yaml:"max_silences"`
}

// Notify tunes notification delivery.
type Notify struct {
	// FlushInterval is how often messages held back by a rate limit are
	// retried.
	FlushInterval Duration `yaml:"flush_interval"`
	// LogRetention is how long the notification log remembers a delivery.
	LogRetention Duration `yaml:"log_retention"`
}

// Incidents configures correlation of alerts, anomalies and changes into
// incidents.
type Incidents struct {
	Enabled bool `yaml:"enabled"`
	// MinSignals distinct signals open an incident.
	MinSignals int `yaml:"min_signals"`
	// GroupWindow is how long after a service's last signal a new one may
	// still join its incident.
	GroupWindow Duration `yaml:"group_window"`
	// QuietPeriod is how long an incident whose signals all ended stays
	// open before it resolves itself.
	QuietPeriod Duration `yaml:"quiet_period"`
	// Topology lists call edges as [caller, callee] pairs. In the demo the
	// simulator's call graph is added.
	Topology [][]string `yaml:"topology"`
}

// SLO configures the service level objective evaluator.
type SLO struct {
	// Spec is a `vigil rules` spec file whose slos: are evaluated against
	// the series store; empty disables the evaluator. A relative path is
	// taken from the directory of the Vigil configuration file.
	Spec     string   `yaml:"spec"`
	Interval Duration `yaml:"interval"`
}

func defaultAlerting() Alerting {
	return Alerting{
		MaxAlerts: 500_000,
		Silences:  SilencesSettings{Retention: Duration(120 * time.Hour), MaxSilences: 10_000},
	}
}

func defaultNotify() Notify {
	return Notify{FlushInterval: Duration(10 * time.Second), LogRetention: Duration(120 * time.Hour)}
}

func defaultIncidents() Incidents {
	return Incidents{Enabled: true, MinSignals: 2, GroupWindow: Duration(10 * time.Minute), QuietPeriod: Duration(10 * time.Minute)}
}

func defaultSLO() SLO { return SLO{Interval: Duration(time.Minute)} }

func (c *Config) validateAlerting(add func(key, format string, args ...any)) {
	al := c.Alerting
	if al.ExternalURL != "" {
		if u, err := url.Parse(al.ExternalURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("alerting.external_url", "%q is not an http(s) URL", al.ExternalURL)
		}
	}
	if al.MaxAlerts < 1 || al.MaxAlerts > 10_000_000 {
		add("alerting.max_alerts", "%d is outside 1..10000000", al.MaxAlerts)
	}
	if al.Silences.MaxDuration < 0 {
		add("alerting.silences.max_duration", "must not be negative (0: no limit)")
	}
	if time.Duration(al.Silences.Retention) < time.Minute {
		add("alerting.silences.retention", "%s is shorter than the minimum of 1m", al.Silences.Retention)
	}
	if al.Silences.MaxSilences < 1 || al.Silences.MaxSilences > 1_000_000 {
		add("alerting.silences.max_silences", "%d is outside 1..1000000", al.Silences.MaxSilences)
	}
	if fi := time.Duration(c.Notify.FlushInterval); fi < 100*time.Millisecond || fi > time.Hour {
		add("notify.flush_interval", "%s is outside 100ms..1h", c.Notify.FlushInterval)
	}
	if time.Duration(c.Notify.LogRetention) < time.Minute {
		add("notify.log_retention", "%s is shorter than the minimum of 1m", c.Notify.LogRetention)
	}
	in := c.Incidents
	if in.MinSignals < 1 || in.MinSignals > 1000 {
		add("incidents.min_signals", "%d is outside 1..1000", in.MinSignals)
	}
	if w := time.Duration(in.GroupWindow); w < time.Second || w > 7*24*time.Hour {
		add("incidents.group_window", "%s is outside 1s..7d", in.GroupWindow)
	}
	if q := time.Duration(in.QuietPeriod); q < time.Second || q > 7*24*time.Hour {
		add("incidents.quiet_period", "%s is outside 1s..7d", in.QuietPeriod)
	}
	if len(in.Topology) > 100_000 {
		add("incidents.topology", "%d edges is more than the maximum of 100000", len(in.Topology))
	} else {
		for i, e := range in.Topology {
			if len(e) != 2 || e[0] == "" || e[1] == "" {
				add("incidents.topology["+strconv.Itoa(i)+"]", "want a pair [caller, callee] of service names, got %q", e)
			}
		}
	}
	if iv := time.Duration(c.SLO.Interval); iv < time.Second || iv > time.Hour {
		add("slo.interval", "%s is outside 1s..1h", c.SLO.Interval)
	}
}

// TopologyEdges returns incidents.topology as (caller, callee) pairs.
func (in Incidents) TopologyEdges() [][2]string {
	out := make([][2]string, 0, len(in.Topology))
	for _, e := range in.Topology {
		if len(e) == 2 {
			out = append(out, [2]string{e[0], e[1]})
		}
	}
	return out
}

// resolvePaths makes the file paths of the alerting and SLO sections
// relative to the directory of the configuration file they came from, as
// Alertmanager and Prometheus resolve theirs.
func (c *Config) resolvePaths(cfgPath string) {
	if cfgPath == "" {
		return
	}
	dir := filepath.Dir(cfgPath)
	for _, p := range []*string{&c.Alerting.ConfigFile, &c.SLO.Spec} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

// checkAlertingFile loads the alertmanager.yml the configuration points at,
// so that a broken routing file fails `vigil config check` and start-up
// with its own file:line errors.
func (c *Config) checkAlertingFile() error {
	if c.Alerting.ConfigFile == "" {
		return nil
	}
	_, err := LoadAlertmanagerConfig(c.Alerting.ConfigFile)
	if err == nil {
		return nil
	}
	var es Errors
	if errors.As(err, &es) {
		return es
	}
	return Errors{{Key: "alerting.config_file", Msg: err.Error()}}
}
