// Package inhibit implements Alertmanager's inhibit_rules: while a source
// alert fires, target alerts that carry the same values of the rule's
// equal labels are muted.
//
// Invariant: the inhibitor only remembers source alerts (alerts some
// rule's source matchers select), indexed by rule and by the values of the
// rule's equal labels, so Mutes costs a map lookup per rule whatever the
// number of alerts; resolved sources are dropped by GC.
package inhibit

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/telemetry"
)

// ErrInvalid is matched by errors.Is for rules that cannot be built.
var ErrInvalid = errors.New("invalid inhibit rule")

// Rule is one inhibit rule.
type Rule struct {
	// Name identifies the rule in explanations ("inhibit_rules[0]").
	Name   string
	Source labels.Matchers
	Target labels.Matchers
	Equal  []string
}

// RulesFromConfig builds rules from alertmanager.yml's inhibit_rules.
func RulesFromConfig(cfg []config.InhibitRule) ([]Rule, error) {
	out := make([]Rule, 0, len(cfg))
	for i, c := range cfg {
		name := fmt.Sprintf("inhibit_rules[%d]", i)
		src, err := config.ParseMatchers(c.SourceMatchers, c.SourceMatch, c.SourceMatchRE)
		if err != nil {
			return nil, fmt.Errorf("%w: %s source: %v", ErrInvalid, name, err)
		}
		tgt, err := config.ParseMatchers(c.TargetMatchers, c.TargetMatch, c.TargetMatchRE)
		if err != nil {
			return nil, fmt.Errorf("%w: %s target: %v", ErrInvalid, name, err)
		}
		out = append(out, Rule{Name: name, Source: src, Target: tgt, Equal: append([]string(nil), c.Equal...)})
	}
	return out, nil
}

// Inhibition is one reason an alert is muted.
type Inhibition struct {
	Rule         string
	Source       telemetry.Fingerprint
	SourceLabels telemetry.Labels
}

// String explains the inhibition.
func (in Inhibition) String() string {
	return "inhibited by alert " + in.Source.String() + " " + in.SourceLabels.String() + " via rule " + in.Rule
}

// Inhibitor holds the source alerts of its rules. It is safe for
// concurrent use.
type Inhibitor struct {
	rules []*rule
	// mtx protects every rule's sources.
	mtx sync.RWMutex
}

type rule struct {
	Rule
	// sources maps the equal labels' values (joined by 0xff) to the source
	// alerts carrying them.
	sources map[string]map[telemetry.Fingerprint]*telemetry.Alert
	// keyOf remembers each source's key, so a source whose labels moved it
	// is found again (labels never change per fingerprint, but this keeps
	// Put honest if a caller reuses one).
	keyOf map[telemetry.Fingerprint]string
}

// Options configure an Inhibitor. Registerer nil: metrics not registered.
type Options struct {
	Registerer prometheus.Registerer
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options { return Options{} }

// New returns an Inhibitor for the rules.
func New(rules []Rule, opts Options) (*Inhibitor, error) {
	in := &Inhibitor{}
	for _, r := range rules {
		in.rules = append(in.rules, &rule{Rule: r, sources: map[string]map[telemetry.Fingerprint]*telemetry.Alert{}, keyOf: map[telemetry.Fingerprint]string{}})
	}
	if opts.Registerer != nil {
		g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_inhibit_sources", Help: "Source alerts held by the inhibit rules (an alert counts once per rule).",
		}, func() float64 { return float64(in.Len()) })
		if err := opts.Registerer.Register(g); err != nil {
			return nil, fmt.Errorf("register inhibit metrics: %w", err)
		}
	}
	return in, nil
}

func matches(ms labels.Matchers, ls telemetry.Labels) bool {
	for _, m := range ms {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

func equalKey(equal []string, ls telemetry.Labels) string {
	if len(equal) == 0 {
		return ""
	}
	var b strings.Builder
	for _, n := range equal {
		b.WriteString(ls.Get(n))
		b.WriteByte(0xff)
	}
	return b.String()
}

// Put records the latest version of alerts; those a rule's source
// matchers select become (or stay) its sources.
func (in *Inhibitor) Put(alerts ...telemetry.Alert) {
	in.mtx.Lock()
	defer in.mtx.Unlock()
	for i := range alerts {
		a := alerts[i]
		fp := a.Fingerprint()
		for _, r := range in.rules {
			if !matches(r.Source, a.Labels) {
				continue
			}
			k := equalKey(r.Equal, a.Labels)
			if old, ok := r.keyOf[fp]; ok && old != k {
				delete(r.sources[old], fp)
			}
			m := r.sources[k]
			if m == nil {
				m = map[telemetry.Fingerprint]*telemetry.Alert{}
				r.sources[k] = m
			}
			m[fp] = &a
			r.keyOf[fp] = k
		}
	}
}

// Inhibitions returns why ls is inhibited at now (nil: it is not). As in
// Alertmanager, an alert that matches both sides of a rule is only
// inhibited by sources that do not themselves match the target side, so
// such alerts cannot inhibit each other.
func (in *Inhibitor) Inhibitions(ls telemetry.Labels, now time.Time) []Inhibition {
	in.mtx.RLock()
	defer in.mtx.RUnlock()
	var out []Inhibition
	self := ls.Fingerprint()
	for _, r := range in.rules {
		if !matches(r.Target, ls) {
			continue
		}
		twoSided := matches(r.Source, ls)
		best := Inhibition{}
		found := false
		for fp, a := range r.sources[equalKey(r.Equal, ls)] {
			if fp == self || a.Resolved(now) || a.StartsAt.After(now) {
				continue
			}
			if twoSided && matches(r.Target, a.Labels) {
				continue
			}
			// Report the smallest fingerprint, so explanations are stable.
			if !found || fp < best.Source {
				best, found = Inhibition{Rule: r.Name, Source: fp, SourceLabels: a.Labels}, true
			}
		}
		if found {
			out = append(out, best)
		}
	}
	return out
}

// InhibitedBy returns the fingerprints of the alerts inhibiting ls at now.
func (in *Inhibitor) InhibitedBy(ls telemetry.Labels, now time.Time) []string {
	ins := in.Inhibitions(ls, now)
	out := make([]string, 0, len(ins))
	for _, i := range ins {
		out = append(out, i.Source.String())
	}
	sort.Strings(out)
	return out
}

// Mutes returns why ls is inhibited at now, as text.
func (in *Inhibitor) Mutes(ls telemetry.Labels, now time.Time) []string {
	ins := in.Inhibitions(ls, now)
	out := make([]string, len(ins))
	for i := range ins {
		out[i] = ins[i].String()
	}
	return out
}

// GC drops sources resolved at now. It returns how many it dropped.
func (in *Inhibitor) GC(now time.Time) int {
	in.mtx.Lock()
	defer in.mtx.Unlock()
	n := 0
	for _, r := range in.rules {
		for k, m := range r.sources {
			for fp, a := range m {
				if a.Resolved(now) {
					delete(m, fp)
					delete(r.keyOf, fp)
					n++
				}
			}
			if len(m) == 0 {
				delete(r.sources, k)
			}
		}
	}
	return n
}

// Len returns the number of source entries held (for tests and metrics).
func (in *Inhibitor) Len() int {
	in.mtx.RLock()
	defer in.mtx.RUnlock()
	n := 0
	for _, r := range in.rules {
		n += len(r.keyOf)
	}
	return n
}
