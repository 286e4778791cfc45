package correlate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/vigilops/vigil/incident"
	"github.com/vigilops/vigil/store"
)

// This file is what people do to incidents (acknowledge, resolve, notes,
// feedback, merge, split) and how they read them. These are the methods
// the API's incident routes call.

// maxSplitSignals bounds one split request.
const maxSplitSignals = 1000

// openedLocked returns the in-memory incident with this ID, or nil.
func (c *Correlator) openedLocked(id string) *group {
	g := c.groups[id]
	if g == nil || !g.opened {
		return nil
	}
	return g
}

func notFound(id string) error {
	return fmt.Errorf("%w: %q", incident.ErrNotFound, id)
}

// stored loads an incident that is no longer in memory.
func (c *Correlator) stored(ctx context.Context, id string) (incident.Incident, error) {
	if c.opts.Store == nil {
		return incident.Incident{}, notFound(id)
	}
	inc, err := c.opts.Store.Incident(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return incident.Incident{}, notFound(id)
	}
	if err != nil {
		return incident.Incident{}, fmt.Errorf("load incident %s: %w", id, err)
	}
	return inc, nil
}

// Incident returns one incident.
func (c *Correlator) Incident(ctx context.Context, id string) (incident.Incident, error) {
	c.mtx.Lock()
	if g := c.openedLocked(id); g != nil {
		inc := g.snapshot()
		c.mtx.Unlock()
		return inc, nil
	}
	c.mtx.Unlock()
	return c.stored(ctx, id)
}

// Incidents lists incidents matching q, most recently opened first: from
// the store when there is one (it has them all), else from memory.
func (c *Correlator) Incidents(ctx context.Context, q incident.Query) ([]incident.Incident, error) {
	if c.opts.Store != nil {
		out, err := c.opts.Store.Incidents(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("query incidents: %w", err)
		}
		return out, nil
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 1000
	}
	c.mtx.Lock()
	var out []incident.Incident
	for _, g := range c.groups {
		if g.opened && q.Match(&g.inc) {
			out = append(out, g.snapshot())
		}
	}
	c.mtx.Unlock()
	slices.SortFunc(out, func(a, b incident.Incident) int {
		return cmp.Or(b.OpenedAt.Compare(a.OpenedAt), strings.Compare(a.ID, b.ID))
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Timeline returns an incident's timeline, oldest first.
func (c *Correlator) Timeline(ctx context.Context, id string) ([]incident.Entry, error) {
	if c.opts.Store != nil {
		es, err := c.opts.Store.Timeline(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound(id)
		}
		if err != nil {
			return nil, fmt.Errorf("load timeline of %s: %w", id, err)
		}
		return es, nil
	}
	c.mtx.Lock()
	defer c.mtx.Unlock()
	g := c.openedLocked(id)
	if g == nil {
		return nil, notFound(id)
	}
	es := slices.Clone(g.timeline)
	slices.SortStableFunc(es, func(a, b incident.Entry) int { return a.Time.Compare(b.Time) })
	return es, nil
}

// Acknowledge marks an incident as being handled.
func (c *Correlator) Acknowledge(ctx context.Context, id string, a incident.Action) (incident.Incident, error) {
	return c.transition(ctx, id, a, ChangeAcknowledged, (*incident.Incident).Acknowledge)
}

// Resolve closes an incident by hand. A member that fires again within the
// reopen window reopens it.
func (c *Correlator) Resolve(ctx context.Context, id string, a incident.Action) (incident.Incident, error) {
	return c.transition(ctx, id, a, ChangeResolved, (*incident.Incident).Resolve)
}

func (c *Correlator) transition(ctx context.Context, id string, a incident.Action, kind ChangeKind,
	fn func(*incident.Incident, incident.Action) ([]incident.Entry, error)) (incident.Incident, error) {
	c.mtx.Lock()
	g := c.openedLocked(id)
	if g == nil {
		c.mtx.Unlock()
		inc, err := c.stored(ctx, id)
		if err != nil {
			return inc, err
		}
		// Resolved incidents leave memory (a no-op or a refusal is all
		// that can happen to them); an active one is here only when the
		// process restarted without Restore, and is changed in the store.
		es, err := fn(&inc, a)
		if err != nil || len(es) == 0 {
			return inc, err
		}
		c.emitMtx.Lock()
		defer c.emitMtx.Unlock()
		return inc, c.deliver(ctx, []Change{{Kind: kind, Incident: inc, Entries: es}})
	}
	es, err := fn(&g.inc, a)
	if err != nil || len(es) == 0 {
		inc := g.snapshot()
		c.mtx.Unlock()
		return inc, err
	}
	g.timeline = append(g.timeline, es...)
	switch kind {
	case ChangeAcknowledged:
		c.ledger.Acknowledged(&g.inc)
	case ChangeResolved:
		c.ledger.Resolved(&g.inc)
	}
	inc := g.snapshot()
	return inc, c.emitUnlock(ctx, changeSet{{g, kind}})
}

// AddNote adds a person's note to the timeline.
func (c *Correlator) AddNote(ctx context.Context, id string, a incident.Action) (incident.Incident, error) {
	if strings.TrimSpace(a.Text) == "" {
		return incident.Incident{}, fmt.Errorf("%w: the note is empty", incident.ErrInvalid)
	}
	text := a.Text
	if a.By != "" {
		text = a.By + ": " + text
	}
	return c.AddEntry(ctx, id, incident.Entry{Time: a.At, Kind: incident.EntryNote, Text: text}, ChangeNote)
}

// AddEntry adds an entry to an incident's timeline: diagnosis, actions and
// notifications are written here by the components that produce them.
func (c *Correlator) AddEntry(ctx context.Context, id string, e incident.Entry, kind ChangeKind) (incident.Incident, error) {
	if !e.Kind.Valid() || e.Time.IsZero() {
		return incident.Incident{}, fmt.Errorf("%w: entry needs a known kind and a time", incident.ErrInvalid)
	}
	c.mtx.Lock()
	g := c.openedLocked(id)
	if g == nil {
		c.mtx.Unlock()
		inc, err := c.stored(ctx, id)
		if err != nil {
			return inc, err
		}
		if err := c.opts.Store.AppendTimeline(ctx, id, []incident.Entry{e}); err != nil {
			return inc, fmt.Errorf("add entry to %s: %w", id, err)
		}
		return inc, nil
	}
	g.timeline = append(g.timeline, e)
	inc := g.snapshot()
	return inc, c.emitUnlock(ctx, changeSet{{g, kind}})
}

// Feedback records a verdict on an incident, or on one of its signals when
// signal names a member key. Verdicts tune correlation: signatures marked
// false positive are downgraded, then muted.
func (c *Correlator) Feedback(ctx context.Context, id string, v incident.Verdict, signal string, a incident.Action) (incident.Incident, error) {
	if !v.Valid() {
		return incident.Incident{}, fmt.Errorf("%w: verdict %q is not true_positive or false_positive", incident.ErrInvalid, v)
	}
	c.mtx.Lock()
	g := c.openedLocked(id)
	if g == nil {
		c.mtx.Unlock()
		return c.storedFeedback(ctx, id, v, signal, a)
	}
	var sigs []string
	what := "incident"
	if signal != "" {
		i := slices.IndexFunc(g.members, func(m *member) bool { return m.m.Key == signal })
		if i < 0 {
			c.mtx.Unlock()
			return incident.Incident{}, fmt.Errorf("%w: incident %s has no signal %q", incident.ErrInvalid, id, signal)
		}
		sigs, what = []string{g.members[i].m.Signature}, g.members[i].m.Name
	} else {
		sigs = g.signatures()
		old := g.inc.Verdict
		g.inc.Verdict = v
		c.ledger.Feedback(old, v)
	}
	c.learn.verdict(sigs, v)
	g.timeline = append(g.timeline, incident.Entry{Time: a.At, Kind: incident.EntryFeedback,
		Text: what + " marked " + string(v) + by(a.By) + withText(a.Text), Refs: refsOr(signal)})
	inc := g.snapshot()
	return inc, c.emitUnlock(ctx, changeSet{{g, ChangeFeedback}})
}

func (c *Correlator) storedFeedback(ctx context.Context, id string, v incident.Verdict, signal string, a incident.Action) (incident.Incident, error) {
	inc, err := c.stored(ctx, id)
	if err != nil {
		return inc, err
	}
	var sigs []string
	for _, m := range inc.Members {
		if signal == "" || m.Key == signal {
			sigs = append(sigs, m.Signature)
		}
	}
	if signal != "" && len(sigs) == 0 {
		return inc, fmt.Errorf("%w: incident %s has no signal %q", incident.ErrInvalid, id, signal)
	}
	c.mtx.Lock()
	c.learn.verdict(slices.Compact(slices.Sorted(slices.Values(sigs))), v)
	c.mtx.Unlock()
	if signal == "" {
		c.ledger.Feedback(inc.Verdict, v)
		inc.Verdict = v
	}
	e := incident.Entry{Time: a.At, Kind: incident.EntryFeedback, Text: "marked " + string(v) + by(a.By) + withText(a.Text), Refs: refsOr(signal)}
	c.emitMtx.Lock()
	defer c.emitMtx.Unlock()
	return inc, c.deliver(ctx, []Change{{Kind: ChangeFeedback, Incident: inc, Entries: []incident.Entry{e}}})
}

func refsOr(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func by(who string) string {
	if who == "" {
		return ""
	}
	return " by " + who
}

func withText(t string) string {
	if t == "" {
		return ""
	}
	return ": " + t
}

// Restore loads the active incidents from the store after a restart, so
// that their signals keep folding into them.
func (c *Correlator) Restore(ctx context.Context) error {
	if c.opts.Store == nil {
		return nil
	}
	var incs []incident.Incident
	for _, st := range []incident.Status{incident.StatusOpen, incident.StatusAcknowledged} {
		got, err := c.opts.Store.Incidents(ctx, incident.Query{Status: st})
		if err != nil {
			return fmt.Errorf("restore incidents: %w", err)
		}
		incs = append(incs, got...)
	}
	c.mtx.Lock()
	defer c.mtx.Unlock()
	for _, inc := range incs {
		if c.groups[inc.ID] != nil {
			continue
		}
		g := &group{inc: inc, opened: true}
		g.inc.Members = nil
		for _, m := range inc.Members {
			mm := &member{m: m, g: g, onset: m.FirstSeen}
			if c.byKey[m.Key] == nil {
				c.byKey[m.Key] = mm
			}
			g.members = append(g.members, mm)
		}
		if len(g.members) == 0 {
			continue
		}
		g.recompute(c.opts.MinSeverity)
		// Severity and counts are as stored: the members beyond MaxMembers
		// are not in the snapshot, so recomputing would understate them.
		g.inc.Severity, g.inc.Urgency, g.inc.SignalCount = inc.Severity, inc.Urgency, inc.SignalCount
		if inc.UpdatedAt.After(g.lastSignal) {
			g.lastSignal = inc.UpdatedAt
		}
		c.groups[inc.ID] = g
		c.ledger.Restored()
	}
	return nil
}
