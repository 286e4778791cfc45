package dispatch

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// Outcome is what a flush decided about an alert.
type Outcome string

// Outcomes.
const (
	// OutcomePending: the alert's group has not flushed since it arrived
	// (group_wait or group_interval not over).
	OutcomePending      Outcome = "pending"
	OutcomeNotified     Outcome = "notified"
	OutcomeDeduplicated Outcome = "deduplicated"
	OutcomeSilenced     Outcome = "silenced"
	OutcomeInhibited    Outcome = "inhibited"
	OutcomeMuted        Outcome = "muted"
	OutcomeFailed       Outcome = "failed"
)

// Decision is the outcome of the last flush that considered an alert.
type Decision struct {
	At      time.Time `json:"at"`
	Outcome Outcome   `json:"outcome"`
	Reasons []string  `json:"reasons,omitempty"`
}

// GroupState is an alert's place in one aggregation group.
type GroupState struct {
	GroupKey string `json:"group_key"`
	Receiver string `json:"receiver"`
	RouteKey string `json:"route"`
	// Last is the last flush's decision about the alert; Outcome pending
	// when the group has not flushed since the alert arrived.
	Last Decision `json:"last"`
	// LastNotification is when the group last notified; Contained whether
	// that notification included the alert.
	LastNotification time.Time `json:"last_notification,omitzero"`
	Contained        bool      `json:"contained"`
	NextFlush        time.Time `json:"next_flush,omitzero"`
	RepeatDue        time.Time `json:"repeat_due,omitzero"`
}

// Explanation says why an alert was or was not notified.
type Explanation struct {
	Fingerprint telemetry.Fingerprint `json:"fingerprint"`
	Labels      telemetry.Labels      `json:"labels"`
	// Known is false when the dispatcher never saw the alert (or forgot
	// it: ExplainHistory departed alerts are kept).
	Known bool `json:"known"`
	// Departed is true when the alert has left every group (resolved and
	// notified, or its resolution swallowed); Groups then holds its last
	// group only.
	Departed bool         `json:"departed"`
	Groups   []GroupState `json:"groups"`
	// MutedNow lists what mutes the alert at the evaluation time:
	// silences, inhibitions, maintenance windows, route time intervals.
	MutedNow []string `json:"muted_now,omitempty"`
}

// String renders the explanation for people.
func (e *Explanation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "alert %s %s\n", e.Fingerprint, e.Labels)
	if !e.Known {
		b.WriteString("  not known to the dispatcher (never received, or forgotten)\n")
		return b.String()
	}
	if e.Departed {
		b.WriteString("  resolved and no longer in any group\n")
	}
	for _, g := range e.Groups {
		fmt.Fprintf(&b, "  group %s (receiver %s)\n", g.GroupKey, g.Receiver)
		fmt.Fprintf(&b, "    last decision: %s", g.Last.Outcome)
		if !g.Last.At.IsZero() {
			fmt.Fprintf(&b, " at %s", fmtTime(g.Last.At))
		}
		b.WriteByte('\n')
		for _, r := range g.Last.Reasons {
			fmt.Fprintf(&b, "      %s\n", r)
		}
		if !g.LastNotification.IsZero() {
			fmt.Fprintf(&b, "    group last notified at %s (alert included: %t)\n", fmtTime(g.LastNotification), g.Contained)
		}
		if !g.NextFlush.IsZero() {
			fmt.Fprintf(&b, "    next flush at %s", fmtTime(g.NextFlush))
			if !g.RepeatDue.IsZero() {
				fmt.Fprintf(&b, ", repeat due at %s", fmtTime(g.RepeatDue))
			}
			b.WriteByte('\n')
		}
	}
	for _, m := range e.MutedNow {
		fmt.Fprintf(&b, "  now: %s\n", m)
	}
	return b.String()
}

// Explain says why the alert with this fingerprint was or was not
// notified, as of now.
func (d *Dispatcher) Explain(fp telemetry.Fingerprint, now time.Time) Explanation {
	ex := Explanation{Fingerprint: fp}
	d.mtx.Lock()
	gs := d.byAlert[fp]
	for _, g := range gs {
		e := g.alerts[fp]
		ex.Known, ex.Labels = true, e.alert.Labels
		st := GroupState{GroupKey: g.key, Receiver: g.route.Receiver, RouteKey: g.route.Key(), Last: e.last, NextFlush: g.next}
		if st.Last.Outcome == "" {
			st.Last = Decision{Outcome: OutcomePending, Reasons: []string{pendingReason(g)}}
		}
		if le := d.nlog[g.id]; le != nil {
			st.LastNotification = le.at
			_, inF := le.firing[fp]
			_, inR := le.resolved[fp]
			st.Contained = inF || inR
			if !e.alert.Resolved(now) {
				st.RepeatDue = repeatDue(le.at, g.route.RepeatInterval, g.next, g.route.GroupInterval)
			}
		}
		ex.Groups = append(ex.Groups, st)
	}
	if len(gs) == 0 {
		if dep, ok := d.gone[fp]; ok {
			ex.Known, ex.Departed, ex.Labels = true, true, dep.labels
			ex.Groups = []GroupState{{GroupKey: dep.groupKey, Receiver: dep.receiver, Last: dep.last}}
		}
	}
	d.mtx.Unlock()
	if ex.Known {
		st := d.Status(ex.Labels, now)
		ex.MutedNow = st.reasons
	}
	return ex
}

func pendingReason(g *group) string {
	if !g.hasFlushed {
		return fmt.Sprintf("the group is new: waiting group_wait %s, first notification at %s", g.route.GroupWait, fmtTime(g.next))
	}
	return fmt.Sprintf("arrived since the group's last flush: next flush (group_interval %s) at %s", g.route.GroupInterval, fmtTime(g.next))
}

// AlertStatus is an alert's suppression state, as Alertmanager's API
// reports it.
type AlertStatus struct {
	// State is "active" or "suppressed".
	State       string
	SilencedBy  []string // silence IDs
	InhibitedBy []string // fingerprints of inhibiting alerts
	MutedBy     []string // time interval or maintenance window names
	reasons     []string
}

// Status returns what mutes an alert with labels ls at now.
func (d *Dispatcher) Status(ls telemetry.Labels, now time.Time) AlertStatus {
	st := AlertStatus{State: "active", SilencedBy: []string{}, InhibitedBy: []string{}, MutedBy: []string{}}
	if s := d.opts.Silences; s != nil {
		for _, sil := range s.Active(ls, now) {
			st.SilencedBy = append(st.SilencedBy, sil.ID)
			st.reasons = append(st.reasons, sil.Reason())
		}
	}
	if in := d.opts.Inhibitor; in != nil {
		for _, i := range in.Inhibitions(ls, now) {
			st.InhibitedBy = append(st.InhibitedBy, i.Source.String())
			st.reasons = append(st.reasons, i.String())
		}
	}
	for _, w := range d.opts.Windows {
		if rs := w.Mutes(ls, now); len(rs) > 0 {
			st.MutedBy = append(st.MutedBy, w.Name)
			st.reasons = append(st.reasons, rs...)
		}
	}
	for _, r := range d.opts.Route.Match(ls) {
		if m := r.MutedBy(now); len(m) > 0 {
			st.MutedBy = append(st.MutedBy, m...)
			st.reasons = append(st.reasons, "route "+r.Key()+" muted by time interval "+strings.Join(m, ", "))
		}
	}
	sort.Strings(st.InhibitedBy)
	if len(st.SilencedBy)+len(st.InhibitedBy)+len(st.MutedBy) > 0 {
		st.State = "suppressed"
	}
	return st
}

// Group is an aggregation group as GET /api/v2/alerts/groups lists it.
type Group struct {
	Key      string
	Receiver string
	Labels   telemetry.Labels
	Alerts   []telemetry.Alert
}

// Groups lists the aggregation groups whose receiver keep selects (nil:
// all) with their alerts, sorted by key.
func (d *Dispatcher) Groups(keep func(receiver string) bool) []Group {
	d.mtx.Lock()
	out := make([]Group, 0, len(d.groups))
	for _, g := range d.groups {
		if keep != nil && !keep(g.route.Receiver) {
			continue
		}
		gr := Group{Key: g.key, Receiver: g.route.Receiver, Labels: g.labels, Alerts: make([]telemetry.Alert, 0, len(g.alerts))}
		for _, e := range g.alerts {
			gr.Alerts = append(gr.Alerts, e.alert)
		}
		out = append(out, gr)
	}
	d.mtx.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	for i := range out {
		as := out[i].Alerts
		sort.Slice(as, func(a, b int) bool { return labelsLess(as[a].Labels, as[b].Labels) })
	}
	return out
}

// Receivers lists the receivers the tree routes to, sorted.
func (d *Dispatcher) Receivers() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range d.routes {
		if !seen[r.Receiver] {
			seen[r.Receiver] = true
			out = append(out, r.Receiver)
		}
	}
	sort.Strings(out)
	return out
}

// ReceiversFor lists the receivers an alert with labels ls goes to.
func (d *Dispatcher) ReceiversFor(ls telemetry.Labels) []string {
	var out []string
	for _, r := range d.opts.Route.Match(ls) {
		out = append(out, r.Receiver)
	}
	return out
}
