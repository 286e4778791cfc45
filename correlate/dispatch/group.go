package dispatch

import (
	"container/heap"
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/vigilops/vigil/correlate/route"
	"github.com/vigilops/vigil/telemetry"
)

// groupID identifies an aggregation group: the route (by index, so that
// siblings with equal matchers stay apart) and the group labels.
type groupID struct {
	route int
	fp    telemetry.Fingerprint
}

// group is an aggregation group. Its fields are protected by the
// dispatcher's mtx.
type group struct {
	id     groupID
	key    string
	route  *route.Route
	labels telemetry.Labels
	alerts map[telemetry.Fingerprint]*entry
	// next is when the group's timer fires; hi is its heap index.
	next       time.Time
	hi         int
	hasFlushed bool
	created    time.Time
}

// entry is one alert in a group and the last decision taken about it
// there.
type entry struct {
	alert   telemetry.Alert
	version uint64
	last    Decision
}

// logEntry is what a group last notified (Alertmanager's nflog entry).
type logEntry struct {
	firing, resolved map[telemetry.Fingerprint]struct{}
	at               time.Time
}

// departed is the last decision about an alert that left every group.
type departed struct {
	labels   telemetry.Labels
	groupKey string
	receiver string
	last     Decision
}

// groupHeap orders groups by next timer.
type groupHeap []*group

func (h groupHeap) Len() int           { return len(h) }
func (h groupHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h groupHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hi, h[j].hi = i, j
}
func (h *groupHeap) Push(x any) {
	g := x.(*group)
	g.hi = len(*h)
	*h = append(*h, g)
}
func (h *groupHeap) Pop() any {
	old := *h
	g := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	g.hi = -1
	return g
}

// flushJob is a group's content as of a flush, taken under the lock so the
// slow part (muting, notifying) runs without it.
type flushJob struct {
	g        *group
	alerts   []telemetry.Alert
	versions []uint64
}

func (d *Dispatcher) snapshot(g *group, now time.Time) *flushJob {
	j := &flushJob{g: g}
	for _, e := range g.alerts {
		a := e.alert
		// A firing alert goes out with no end, as in Alertmanager, so a
		// receiver does not read the resolve timeout as an end.
		if !a.Resolved(now) {
			a.EndsAt = time.Time{}
		}
		j.alerts = append(j.alerts, a)
		j.versions = append(j.versions, e.version)
	}
	idx := make([]int, len(j.alerts))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return labelsLess(j.alerts[idx[a]].Labels, j.alerts[idx[b]].Labels) })
	as, vs := make([]telemetry.Alert, len(idx)), make([]uint64, len(idx))
	for i, k := range idx {
		as[i], vs[i] = j.alerts[k], j.versions[k]
	}
	j.alerts, j.versions = as, vs
	return j
}

func labelsLess(a, b telemetry.Labels) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i].Name != b[i].Name {
			return a[i].Name < b[i].Name
		}
		if a[i].Value != b[i].Value {
			return a[i].Value < b[i].Value
		}
	}
	return len(a) < len(b)
}

// flush decides about one group at now and notifies if needed. It reports
// whether a notification was sent.
func (d *Dispatcher) flush(ctx context.Context, j *flushJob, now time.Time) bool {
	g := j.g
	r := g.route
	decisions := make([]Decision, len(j.alerts))
	if muted := r.MutedBy(now); len(muted) > 0 {
		reason := fmt.Sprintf("muted by time interval %s of route %s", strings.Join(muted, ", "), r.Key())
		if len(r.ActiveTimeIntervals) > 0 && !containsAny(r.MuteTimeIntervals, muted) {
			reason = fmt.Sprintf("outside the active time intervals %s of route %s", strings.Join(muted, ", "), r.Key())
		}
		for i := range decisions {
			decisions[i] = Decision{At: now, Outcome: OutcomeMuted, Reasons: []string{reason}}
		}
		d.metrics.flushes.WithLabelValues(string(OutcomeMuted)).Inc()
		d.commit(j, decisions, true, nil, now)
		return false
	}
	var firing, resolved []telemetry.Alert
	firingSet, resolvedSet := map[telemetry.Fingerprint]struct{}{}, map[telemetry.Fingerprint]struct{}{}
	kept := make([]int, 0, len(j.alerts))
	for i := range j.alerts {
		a := &j.alerts[i]
		isResolved := a.Resolved(now)
		if dec, muted := d.mutes(a.Labels, isResolved, now); muted {
			decisions[i] = dec
			continue
		}
		kept = append(kept, i)
		if isResolved {
			resolved = append(resolved, *a)
			resolvedSet[a.Fingerprint()] = struct{}{}
		} else {
			firing = append(firing, *a)
			firingSet[a.Fingerprint()] = struct{}{}
		}
	}
	d.mtx.Lock()
	prev := d.nlog[g.id]
	d.mtx.Unlock()
	send, repeat, why := needsUpdate(prev, firingSet, resolvedSet, d.opts.SendResolved(r.Receiver), r.RepeatInterval, now)
	if len(kept) == 0 || !send {
		for _, i := range kept {
			decisions[i] = d.dedupDecision(prev, j, now)
		}
		d.metrics.flushes.WithLabelValues("skipped").Inc()
		d.commit(j, decisions, true, nil, now)
		return false
	}
	n := Notification{
		Receiver: r.Receiver, GroupKey: g.key, GroupLabels: g.labels,
		Firing: firing, Resolved: resolved, Repeat: repeat, RouteKey: r.Key(), At: now,
	}
	start := time.Now()
	err := d.opts.Notifier.Notify(ctx, n)
	d.metrics.notifyDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		d.opts.Logger.Warn("notify failed; retrying at the next group_interval", "receiver", r.Receiver, "group", g.key, "err", err)
		for _, i := range kept {
			decisions[i] = Decision{At: now, Outcome: OutcomeFailed, Reasons: []string{"notification to " + r.Receiver + " failed: " + err.Error()}}
		}
		d.metrics.flushes.WithLabelValues(string(OutcomeFailed)).Inc()
		d.commit(j, decisions, false, nil, now)
		return false
	}
	for _, i := range kept {
		decisions[i] = Decision{At: now, Outcome: OutcomeNotified, Reasons: []string{why}}
	}
	d.metrics.flushes.WithLabelValues(string(OutcomeNotified)).Inc()
	d.commit(j, decisions, true, &logEntry{firing: firingSet, resolved: resolvedSet, at: now}, now)
	return true
}

func containsAny(list, of []string) bool {
	for _, a := range of {
		for _, b := range list {
			if a == b {
				return true
			}
		}
	}
	return false
}

// mutes checks silences, inhibitions and maintenance windows.
func (d *Dispatcher) mutes(ls telemetry.Labels, resolved bool, now time.Time) (Decision, bool) {
	if d.opts.Inhibitor != nil {
		if rs := d.opts.Inhibitor.Mutes(ls, now); len(rs) > 0 {
			return Decision{At: now, Outcome: OutcomeInhibited, Reasons: rs}, true
		}
	}
	if d.opts.Silences != nil && !(resolved && d.opts.NotifyResolvedSilenced) {
		if rs := d.opts.Silences.Mutes(ls, now); len(rs) > 0 {
			return Decision{At: now, Outcome: OutcomeSilenced, Reasons: rs}, true
		}
	}
	if rs := d.opts.Windows.Mutes(ls, now); len(rs) > 0 {
		return Decision{At: now, Outcome: OutcomeMuted, Reasons: rs}, true
	}
	return Decision{}, false
}

// needsUpdate is Alertmanager's dedup rule. It reports whether to notify,
// whether that notification is a plain repeat, and why.
func needsUpdate(prev *logEntry, firing, resolved map[telemetry.Fingerprint]struct{}, sendResolved bool, repeat time.Duration, now time.Time) (bool, bool, string) {
	switch {
	case prev == nil:
		return len(firing) > 0, false, "first notification of the group"
	case !subset(firing, prev.firing):
		return true, false, "the group has new firing alerts"
	case len(firing) == 0:
		// Alerts that fired and resolved between two flushes were never
		// notified: there is nothing to tell unless something was.
		return len(prev.firing) > 0, false, "every alert of the group resolved"
	case sendResolved && !subset(resolved, prev.resolved):
		return true, false, "alerts of the group resolved"
	case prev.at.Before(now.Add(-repeat)):
		return true, true, "repeat_interval elapsed since the last notification at " + fmtTime(prev.at)
	}
	return false, false, ""
}

func subset(a, b map[telemetry.Fingerprint]struct{}) bool {
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

func (d *Dispatcher) dedupDecision(prev *logEntry, j *flushJob, now time.Time) Decision {
	r := j.g.route
	if prev == nil {
		return Decision{At: now, Outcome: OutcomeDeduplicated, Reasons: []string{"nothing firing to notify yet (the group's alerts are resolved)"}}
	}
	due := repeatDue(prev.at, r.RepeatInterval, now.Add(r.GroupInterval), r.GroupInterval)
	return Decision{At: now, Outcome: OutcomeDeduplicated, Reasons: []string{fmt.Sprintf(
		"group %s was last notified at %s and that notification already contained it; next flush at %s, repeat due at %s",
		j.g.key, fmtTime(prev.at), fmtTime(now.Add(r.GroupInterval)), fmtTime(due))}}
}

// repeatDue is the first flush, on the group's group_interval grid from
// next, at which repeat_interval has passed since last.
func repeatDue(last time.Time, repeat time.Duration, next time.Time, interval time.Duration) time.Time {
	want := last.Add(repeat)
	if !next.After(want) {
		k := want.Sub(next)/interval + 1
		next = next.Add(k * interval)
	}
	return next
}

// commit records the flush's decisions and, after a successful flush,
// drops resolved alerts that were not updated meanwhile, and the group if
// it is then empty.
func (d *Dispatcher) commit(j *flushJob, decisions []Decision, ok bool, logged *logEntry, now time.Time) {
	d.mtx.Lock()
	defer d.mtx.Unlock()
	g := j.g
	if logged != nil {
		d.nlog[g.id] = logged
	}
	for i := range j.alerts {
		fp := j.alerts[i].Fingerprint()
		e := g.alerts[fp]
		if e == nil {
			continue
		}
		e.last = decisions[i]
		if ok && j.alerts[i].Resolved(now) && e.version == j.versions[i] {
			d.removeAlert(g, fp, e)
		}
	}
	if len(g.alerts) == 0 && d.groups[g.id] == g {
		delete(d.groups, g.id)
		if g.hi >= 0 && g.hi < len(d.timers) && d.timers[g.hi] == g {
			heap.Remove(&d.timers, g.hi)
		}
	}
	d.metrics.alerts.Set(float64(d.nAlerts))
	d.metrics.groups.Set(float64(len(d.groups)))
}

// removeAlert drops fp from g. d.mtx must be held.
func (d *Dispatcher) removeAlert(g *group, fp telemetry.Fingerprint, e *entry) {
	delete(g.alerts, fp)
	d.nAlerts--
	gs := d.byAlert[fp]
	for i, x := range gs {
		if x == g {
			gs = append(gs[:i], gs[i+1:]...)
			break
		}
	}
	if len(gs) == 0 {
		delete(d.byAlert, fp)
		d.remember(fp, departed{labels: e.alert.Labels, groupKey: g.key, receiver: g.route.Receiver, last: e.last})
	} else {
		d.byAlert[fp] = gs
	}
}

// remember keeps the last decision about an alert that left every group,
// in a ring of ExplainHistory entries. d.mtx must be held.
func (d *Dispatcher) remember(fp telemetry.Fingerprint, dep departed) {
	if d.opts.ExplainHistory == 0 {
		return
	}
	if _, ok := d.gone[fp]; !ok {
		if len(d.goneRing) < d.opts.ExplainHistory {
			d.goneRing = append(d.goneRing, fp)
		} else {
			delete(d.gone, d.goneRing[d.goneNext])
			d.goneRing[d.goneNext] = fp
			d.goneNext = (d.goneNext + 1) % len(d.goneRing)
		}
	}
	d.gone[fp] = dep
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
