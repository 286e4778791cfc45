package correlate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vigilops/vigil/incident"
)

// sweepLocked does what only the passing of time decides: pending groups
// open (a lone signal persisted) or expire as noise, quiet incidents
// resolve, and incidents resolved beyond the reopen window leave memory.
// Groups are visited in ID order so that replays emit identically.
func (c *Correlator) sweepLocked(now time.Time, out *changeSet) {
	ids := make([]string, 0, len(c.groups))
	for id := range c.groups {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		g := c.groups[id]
		switch {
		case g.inc.MergedInto != "" || g.inc.Status == incident.StatusResolved:
			if g.inc.MergedInto != "" || now.Sub(g.inc.ResolvedAt) > c.opts.ReopenWindow {
				c.evictLocked(g)
			}
		case !g.opened:
			c.expireStaleLocked(g, now)
			if !c.ongoing(g, now) && now.Sub(g.lastSignal) > c.opts.GroupWindow {
				c.counts.DroppedGroups++
				c.counts.DroppedSignals += int64(g.inc.SignalCount)
				c.metrics.decisions.WithLabelValues("dropped_as_noise").Add(float64(g.inc.SignalCount))
				c.evictLocked(g)
				continue
			}
			c.maybePersistOpenLocked(g, now, out)
		default:
			c.expireStaleLocked(g, now)
			if !c.ongoing(g, now) && now.Sub(g.lastSignal) >= c.opts.QuietPeriod {
				es, _ := g.inc.Resolve(incident.Action{At: now, By: "vigil",
					Text: "every signal resolved and quiet for " + roundDur(now.Sub(g.lastSignal))})
				g.timeline = append(g.timeline, es...)
				c.ledger.Resolved(&g.inc)
				out.add(g, ChangeResolved)
			}
		}
	}
	// Deploys matter only for DeployGrace; dropping older ones bounds the
	// map however many services send events.
	for svc, ds := range c.deploys {
		if now.Sub(ds[len(ds)-1].at) > c.opts.DeployGrace {
			delete(c.deploys, svc)
		}
	}
	c.metrics.groups.Set(float64(len(c.groups)))
}

// ongoing reports whether a group still has a firing alert or a recent
// anomaly.
func (c *Correlator) ongoing(g *group, now time.Time) bool {
	return g.firing > 0 || (!g.lastAnomaly.IsZero() && now.Sub(g.lastAnomaly) < c.opts.AnomalyHold)
}

// expireStaleLocked resolves firing members whose EndsAt has passed without
// a re-send, as Alertmanager does. It looks only at groups silent for a
// while, so a busy group costs nothing here.
func (c *Correlator) expireStaleLocked(g *group, now time.Time) {
	if g.firing == 0 || now.Sub(g.lastSignal) < c.opts.SweepEvery {
		return
	}
	for _, m := range g.members {
		if m.m.Kind == incident.SignalAlert && !m.m.Resolved && !m.endsAt.IsZero() && !m.endsAt.After(now) {
			m.m.Resolved = true
			g.firing--
		}
	}
}

// evictLocked forgets a group; its members' keys start afresh.
func (c *Correlator) evictLocked(g *group) {
	for _, m := range g.members {
		if c.byKey[m.m.Key] == m {
			delete(c.byKey, m.m.Key)
		}
	}
	delete(c.groups, g.inc.ID)
}

// snapshot is the incident as shown: members listed up to MaxMembers.
func (g *group) snapshot() incident.Incident {
	inc := g.inc.Clone()
	n := min(len(g.members), incident.MaxMembers)
	inc.Members = make([]incident.Member, n)
	for i := range n {
		inc.Members[i] = g.members[i].m
	}
	inc.MembersOmitted = len(g.members) - n
	return inc
}

// emitUnlock turns the collected changes into Change values under mtx,
// releases mtx, and delivers them to the store and the sink in order.
func (c *Correlator) emitUnlock(ctx context.Context, out changeSet) error {
	if len(out) == 0 {
		c.mtx.Unlock()
		return nil
	}
	changes := make([]Change, 0, len(out))
	for _, r := range out {
		if !r.g.opened {
			continue
		}
		ch := Change{Kind: r.kind, Incident: r.g.snapshot()}
		if r.g.sent < len(r.g.timeline) {
			ch.Entries = slices.Clone(r.g.timeline[r.g.sent:])
			r.g.sent = len(r.g.timeline)
		}
		changes = append(changes, ch)
	}
	c.emitMtx.Lock()
	c.mtx.Unlock()
	defer c.emitMtx.Unlock()
	return c.deliver(ctx, changes)
}

func (c *Correlator) deliver(ctx context.Context, changes []Change) error {
	var errs []error
	for i := range changes {
		ch := &changes[i]
		if c.opts.Store != nil {
			if err := c.opts.Store.UpsertIncident(ctx, ch.Incident); err != nil {
				errs = append(errs, fmt.Errorf("store incident %s: %w", ch.Incident.ID, err))
				c.metrics.emitErrors.WithLabelValues("store").Inc()
			} else if len(ch.Entries) > 0 {
				if err := c.opts.Store.AppendTimeline(ctx, ch.Incident.ID, ch.Entries); err != nil {
					errs = append(errs, fmt.Errorf("store timeline of %s: %w", ch.Incident.ID, err))
					c.metrics.emitErrors.WithLabelValues("store").Inc()
				}
			}
		}
		if c.opts.Sink != nil {
			if err := c.opts.Sink.IncidentChanged(ctx, *ch); err != nil {
				errs = append(errs, fmt.Errorf("emit %s of %s: %w", ch.Kind, ch.Incident.ID, err))
				c.metrics.emitErrors.WithLabelValues("sink").Inc()
			}
		}
		c.metrics.changes.WithLabelValues(string(ch.Kind)).Inc()
	}
	if err := errors.Join(errs...); err != nil {
		c.logger.Warn("incident change not fully delivered", "err", err)
		return err
	}
	return nil
}
