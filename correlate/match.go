package correlate

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigilops/vigil/incident"
)

// matchLocked finds the group a new signal joins, and why. Incidents
// already open win over pending groups: a caller's unrelated blip just
// before a fault reached it must not capture the fault's symptoms there
// (left alone, it expires as noise).
func (c *Correlator) matchLocked(s *Signal, tokens tokenSet) (*group, string) {
	type cand struct {
		g      *group
		score  float64
		reason string
	}
	var cands []cand
	for _, g := range c.groups {
		if g.inc.MergedInto != "" {
			continue
		}
		resolved := g.inc.Status == incident.StatusResolved
		if resolved {
			if s.Time.Sub(g.inc.ResolvedAt) > c.opts.ReopenWindow {
				continue
			}
		} else if s.Time.Sub(g.lastSignal) > c.opts.GroupWindow {
			continue
		}
		topo, topoWhy := c.topoScore(g, s.Service, s.Time)
		if resolved {
			// Only the same kind of trouble on the same service brings a
			// resolved incident back: anything else after the fix is more
			// likely new.
			if topo < 1 || !g.hasSignature(s.Signature) {
				continue
			}
			topoWhy = "same signature on the same service " + roundDur(s.Time.Sub(g.inc.ResolvedAt)) + " after resolution"
		}
		if topo < 1 && s.Severity.Rank() < c.opts.MinSeverity.Rank() {
			// Weak signals (info) join only their own service's incident:
			// as bridges between services they chain unrelated trouble.
			continue
		}
		text := g.similarity(tokens)
		bonus := c.learn.bonus(g, s.Signature)
		score := topo + c.opts.TextWeight*text + bonus
		if score < c.opts.JoinScore {
			continue
		}
		var parts []string
		if topoWhy != "" {
			parts = append(parts, topoWhy)
		}
		if text > 0 {
			parts = append(parts, "similar name "+strconv.FormatFloat(text, 'f', 2, 64))
		}
		if bonus != 0 {
			parts = append(parts, "learnt from feedback "+strconv.FormatFloat(bonus, 'f', 2, 64))
		}
		cands = append(cands, cand{g, score, strings.Join(parts, ", ")})
	}
	if len(cands) == 0 {
		return nil, ""
	}
	// Opened first, then by score, then the most recently active; the ID
	// breaks the last tie so that replays decide the same way.
	slices.SortFunc(cands, func(a, b cand) int {
		if a.g.opened != b.g.opened {
			if a.g.opened {
				return -1
			}
			return 1
		}
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		if d := b.g.lastSignal.Compare(a.g.lastSignal); d != 0 {
			return d
		}
		return strings.Compare(a.g.inc.ID, b.g.inc.ID)
	})
	return cands[0].g, cands[0].reason
}

func roundDur(d time.Duration) string {
	if d < time.Minute {
		return strconv.Itoa(int(max(d, 0)/time.Second)) + "s"
	}
	return strconv.Itoa(int(d/time.Minute)) + "m"
}

// topoScore is 1 for a service already in the group (seen within
// GroupWindow), ConnectedScore for one connected to a service of the group
// seen within ConnectedWindow, else 0. Windows are per service, so that a
// group's oldest corner cannot pull in a neighbour's unrelated trouble.
func (c *Correlator) topoScore(g *group, svc string, at time.Time) (float64, string) {
	if svc == "" {
		return 0, ""
	}
	if st := g.services[svc]; st != nil && at.Sub(st.last) <= c.opts.GroupWindow {
		return 1, "same service within " + roundDur(at.Sub(st.last))
	}
	if c.opts.Topology == nil {
		return 0, ""
	}
	for i, gs := range g.inc.Services {
		if i == 64 {
			break // a group spanning more is a storm already; stop looking
		}
		if at.Sub(g.services[gs].last) > c.opts.ConnectedWindow {
			continue
		}
		if arrow, ok := c.opts.Topology.Connected(gs, svc); ok {
			return c.opts.ConnectedScore, "connected service " + arrow + " within " + roundDur(at.Sub(g.services[gs].last))
		}
	}
	return 0, ""
}

func (g *group) hasSignature(sig string) bool {
	return slices.ContainsFunc(g.sigs, func(st sigTokens) bool { return st.sig == sig })
}

func (g *group) similarity(tokens tokenSet) float64 {
	best := 0.0
	for _, st := range g.sigs {
		if j := jaccard(st.tokens, tokens); j > best {
			best = j
		}
	}
	return best
}

// expectationLocked says whether a new signal is expected, and adjusts its
// severity by what feedback learnt.
func (c *Correlator) expectationLocked(s *Signal) (bool, string) {
	for i := range c.opts.Maintenance {
		m := &c.opts.Maintenance[i]
		if m.covers(s.Service, s.Labels, s.Time) {
			s.Severity = incident.SeverityInfo
			return true, "expected: maintenance window " + m.Name
		}
	}
	if s.Kind == incident.SignalAnomaly && s.Score < c.opts.DeployLowScore {
		for _, d := range slices.Backward(c.deploys[s.Service]) {
			if !d.at.After(s.Time) && s.Time.Sub(d.at) <= c.opts.DeployGrace {
				s.Severity = incident.SeverityInfo
				why := "expected: deploy of " + s.Service + " " + roundDur(s.Time.Sub(d.at)) + " before"
				if d.sum != "" {
					why += " (" + d.sum + ")"
				}
				return true, why
			}
		}
	}
	if n := c.learn.falsePositives(s.Signature); n >= c.opts.MuteAfter {
		s.Severity = incident.SeverityInfo
		return true, "muted: marked false positive " + strconv.Itoa(n) + " times"
	} else if n >= c.opts.DowngradeAfter {
		s.Severity = downgrade(s.Severity)
		return false, "downgraded: marked false positive " + strconv.Itoa(n) + " times"
	}
	return false, ""
}

func downgrade(s incident.Severity) incident.Severity {
	switch s {
	case incident.SeverityCritical:
		return incident.SeverityWarning
	}
	return incident.SeverityInfo
}
