package correlate

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vigilops/vigil/incident"
)

// signatures lists the group's distinct signatures, sorted.
func (g *group) signatures() []string {
	seen := make(map[string]bool)
	var out []string
	for _, m := range g.members {
		if !seen[m.m.Signature] {
			seen[m.m.Signature] = true
			out = append(out, m.m.Signature)
		}
	}
	slices.Sort(out)
	return out
}

// recompute rebuilds what is derived from the members, after a merge or a
// split moved some.
func (g *group) recompute(minSev incident.Severity) {
	g.services = make(map[string]*svcState)
	g.inc.Services = g.inc.Services[:0]
	g.firing, g.counted, g.sigs, g.expectedOnly = 0, 0, nil, true
	sev := incident.SeverityInfo
	g.inc.SignalCount = 0
	for _, m := range g.members {
		m.g = g
		g.inc.SignalCount += m.m.Count
		if m.m.Service != "" {
			st := g.services[m.m.Service]
			if st == nil {
				st = &svcState{}
				g.services[m.m.Service] = st
				g.inc.Services = append(g.inc.Services, m.m.Service)
			}
			st.n++
			if m.m.LastSeen.After(st.last) {
				st.last = m.m.LastSeen
			}
		}
		if m.m.Kind == incident.SignalAlert && !m.m.Resolved {
			g.firing++
		}
		if !m.m.Expected {
			if m.m.Severity.Rank() >= minSev.Rank() {
				g.counted++
			}
			g.expectedOnly = false
			if m.m.Severity.Rank() > sev.Rank() {
				sev = m.m.Severity
			}
		}
		if m.m.LastSeen.After(g.lastSignal) {
			g.lastSignal = m.m.LastSeen
		}
		if m.m.Kind == incident.SignalAnomaly && m.m.LastSeen.After(g.lastAnomaly) {
			g.lastAnomaly = m.m.LastSeen
		}
		if len(g.sigs) < maxSigs && !slices.ContainsFunc(g.sigs, func(st sigTokens) bool { return st.sig == m.m.Signature }) {
			g.sigs = append(g.sigs, sigTokens{m.m.Signature, tokensOf(m.m.Name, nil, "")})
		}
	}
	slices.Sort(g.inc.Services)
	g.inc.Severity, g.inc.Urgency = sev, incident.UrgencyOf(sev)
	g.inc.Expected = g.expectedOnly
}

// Merge folds incident id into incident into: people saying "these are one
// problem". The signatures of both are pulled together for the future.
func (c *Correlator) Merge(ctx context.Context, id, into string, a incident.Action) (incident.Incident, error) {
	if id == into {
		return incident.Incident{}, fmt.Errorf("%w: an incident cannot be merged into itself", incident.ErrInvalid)
	}
	c.mtx.Lock()
	src, dst := c.openedLocked(id), c.openedLocked(into)
	switch {
	case src == nil || dst == nil:
		c.mtx.Unlock()
		missing := id
		if src != nil {
			missing = into
		}
		if _, err := c.stored(ctx, missing); err != nil {
			return incident.Incident{}, err
		}
		return incident.Incident{}, fmt.Errorf("%w: incident %s is resolved and out of memory; only recent incidents can be merged", incident.ErrTransition, missing)
	case src.inc.MergedInto != "" || dst.inc.MergedInto != "":
		c.mtx.Unlock()
		return incident.Incident{}, fmt.Errorf("%w: one of the incidents was already merged", incident.ErrTransition)
	}
	c.learn.adjust(src.signatures(), dst.signatures(), c.opts.MergeBonus, c.opts.MaxBonus)
	n := len(src.members)
	dst.members = append(dst.members, src.members...)
	src.members = nil
	dst.recompute(c.opts.MinSeverity)
	var out changeSet
	dst.timeline = append(dst.timeline, incident.Entry{Time: a.At, Kind: incident.EntryMerge,
		Text: "merged " + id + " (" + strconv.Itoa(n) + " signals)" + by(a.By) + withText(a.Text), Refs: []string{id}})
	if dst.inc.Status == incident.StatusResolved {
		c.reopenLocked(dst, a.At, "merged with active incident "+id, &out)
	}
	if src.inc.Status.Active() {
		c.ledger.Removed()
	}
	src.inc.MergedInto = into
	src.inc.Status, src.inc.ResolvedAt, src.inc.ResolvedBy = incident.StatusResolved, a.At, a.By
	src.inc.UpdatedAt = a.At
	src.timeline = append(src.timeline, incident.Entry{Time: a.At, Kind: incident.EntryMerge,
		Text: "merged into " + into + by(a.By) + withText(a.Text), Refs: []string{into}})
	out.add(src, ChangeMerged)
	out.add(dst, ChangeUpdated)
	inc := dst.snapshot()
	return inc, c.emitUnlock(ctx, out)
}

// Split moves the named members of incident id into a new incident: people
// saying "these are a different problem". It returns the new incident.
func (c *Correlator) Split(ctx context.Context, id string, keys []string, a incident.Action) (incident.Incident, error) {
	switch {
	case len(keys) == 0:
		return incident.Incident{}, fmt.Errorf("%w: name at least one signal to split off", incident.ErrInvalid)
	case len(keys) > maxSplitSignals:
		return incident.Incident{}, fmt.Errorf("%w: %d signals in one split; at most %d", incident.ErrInvalid, len(keys), maxSplitSignals)
	}
	c.mtx.Lock()
	g := c.openedLocked(id)
	if g == nil || g.inc.MergedInto != "" {
		c.mtx.Unlock()
		if _, err := c.stored(ctx, id); err != nil {
			return incident.Incident{}, err
		}
		return incident.Incident{}, fmt.Errorf("%w: incident %s is resolved and out of memory; only recent incidents can be split", incident.ErrTransition, id)
	}
	want := make(map[string]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	var moved, kept []*member
	for _, m := range g.members {
		if want[m.m.Key] {
			moved = append(moved, m)
			delete(want, m.m.Key)
		} else {
			kept = append(kept, m)
		}
	}
	if len(want) > 0 {
		missing := slices.Sorted(func(yield func(string) bool) {
			for k := range want {
				if !yield(k) {
					return
				}
			}
		})
		c.mtx.Unlock()
		return incident.Incident{}, fmt.Errorf("%w: incident %s has no signal %s", incident.ErrInvalid, id, strings.Join(missing, ", "))
	}
	if len(kept) == 0 {
		c.mtx.Unlock()
		return incident.Incident{}, fmt.Errorf("%w: a split must leave at least one signal in %s", incident.ErrInvalid, id)
	}
	ng := &group{inc: incident.Incident{Status: incident.StatusOpen, OpenedAt: a.At, UpdatedAt: a.At}, members: moved, opened: true}
	ng.inc.ID = groupID(moved[0].m.Key+"/split", a.At)
	for i := 1; c.groups[ng.inc.ID] != nil; i++ {
		ng.inc.ID = groupID(moved[0].m.Key+"/split"+strconv.Itoa(i), a.At)
	}
	g.members = kept
	g.recompute(c.opts.MinSeverity)
	ng.recompute(c.opts.MinSeverity)
	ng.inc.Title = ng.title()
	c.groups[ng.inc.ID] = ng
	movedSigs, keptSigs := ng.signatures(), g.signatures()
	c.learn.adjust(movedSigs, keptSigs, -c.opts.SplitPenalty, c.opts.MaxBonus)
	g.timeline = append(g.timeline, incident.Entry{Time: a.At, Kind: incident.EntrySplit,
		Text: strconv.Itoa(len(moved)) + " signals split off into " + ng.inc.ID + by(a.By) + withText(a.Text), Refs: append([]string{ng.inc.ID}, keys...)})
	ng.timeline = append(ng.timeline, incident.Entry{Time: a.At, Kind: incident.EntrySplit,
		Text: "split off from " + id + by(a.By) + withText(a.Text), Refs: append([]string{id}, keys...)})
	c.ledger.Opened()
	inc := ng.snapshot()
	return inc, c.emitUnlock(ctx, changeSet{{g, ChangeUpdated}, {ng, ChangeSplit}})
}
