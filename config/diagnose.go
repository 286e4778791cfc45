package config

import (
	"strconv"
	"time"
)

// Diagnose configures root-cause diagnosis of incidents in vigil serve.
type Diagnose struct {
	// Enabled runs a diagnosis when an incident opens or its severity
	// changes.
	Enabled bool `yaml:"enabled"`
	// Delay is how long after an incident opens (in evaluation time, the
	// newest signal's time) the diagnosis waits for evidence to arrive.
	Delay Duration `yaml:"delay"`
	// NormalWindow is the period before the incident judged as normal.
	NormalWindow Duration `yaml:"normal_window"`
	// Lead is how long before the incident opened the anomalous period
	// starts: causes show before the alerts that open an incident.
	Lead Duration `yaml:"lead"`
	// MaxSeries bounds the metric series read for one diagnosis.
	MaxSeries int `yaml:"max_series"`
	// QueueSize bounds the incident changes waiting for diagnosis; past it
	// changes are dropped (and counted) rather than held without bound.
	QueueSize int `yaml:"queue_size"`
	// Edges is the call graph as [caller, callee] pairs. Empty: the
	// simulator's graph in the demo, otherwise none (evidence and onset
	// order alone rank the candidates).
	Edges [][]string `yaml:"edges"`
	// External names services that are not ours (payment providers, SaaS):
	// evidence about them comes from their callers' logs.
	External []string `yaml:"external"`
	// Hosts maps a service to the node it runs on.
	Hosts map[string]string `yaml:"hosts"`
}

func defaultDiagnose() Diagnose {
	return Diagnose{
		Enabled:      true,
		Delay:        Duration(2 * time.Minute),
		NormalWindow: Duration(time.Hour),
		Lead:         Duration(5 * time.Minute),
		MaxSeries:    2000,
		QueueSize:    256,
	}
}

// validate reports the problems of the diagnose section through add.
func (d *Diagnose) validate(add func(key, format string, args ...any)) {
	if v := time.Duration(d.Delay); v < 0 || v > time.Hour {
		add("diagnose.delay", "%s is outside 0s..1h", d.Delay)
	}
	if v := time.Duration(d.NormalWindow); v < 5*time.Minute || v > 7*24*time.Hour {
		add("diagnose.normal_window", "%s is outside 5m..7d", d.NormalWindow)
	}
	if v := time.Duration(d.Lead); v < 0 || v > time.Hour {
		add("diagnose.lead", "%s is outside 0s..1h", d.Lead)
	}
	if d.MaxSeries < 1 || d.MaxSeries > 100_000 {
		add("diagnose.max_series", "%d is outside 1..100000", d.MaxSeries)
	}
	if d.QueueSize < 1 || d.QueueSize > 100_000 {
		add("diagnose.queue_size", "%d is outside 1..100000", d.QueueSize)
	}
	if len(d.Edges) > 100_000 {
		add("diagnose.edges", "%d edges is more than the maximum of 100000", len(d.Edges))
	} else {
		for i, e := range d.Edges {
			if len(e) != 2 || e[0] == "" || e[1] == "" {
				add("diagnose.edges["+strconv.Itoa(i)+"]", "want a pair [caller, callee] of service names, got %q", e)
			}
		}
	}
	for i, s := range d.External {
		if s == "" {
			add("diagnose.external["+strconv.Itoa(i)+"]", "empty service name")
		}
	}
	for svc, node := range d.Hosts {
		if svc == "" || node == "" {
			add("diagnose.hosts", "want service: node with both names set, got %q: %q", svc, node)
		}
	}
}

// EdgePairs returns diagnose.edges as (caller, callee) pairs.
func (d Diagnose) EdgePairs() [][2]string {
	out := make([][2]string, 0, len(d.Edges))
	for _, e := range d.Edges {
		if len(e) == 2 {
			out = append(out, [2]string{e[0], e[1]})
		}
	}
	return out
}
