package correlate

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigilops/vigil/incident"
)

// ErrInvalidSignal is returned by Observe for a signal it cannot place.
var ErrInvalidSignal = errors.New("invalid signal")

// Correlator groups signals into incidents. It is safe for concurrent use;
// signals should come in time order (a late one is placed by its own time,
// but sweeps only move forward).
type Correlator struct {
	opts    Options
	logger  *slog.Logger
	ledger  *incident.Ledger
	metrics *metrics

	// emitMtx serializes emission. It is taken before mtx is released, so
	// changes leave in the order they were made.
	emitMtx sync.Mutex

	mtx sync.Mutex // protects everything below
	// byKey finds the member of a signal seen before: the O(1) path that a
	// re-sent or resolved alert takes.
	byKey map[string]*member
	// groups holds pending groups, active incidents and incidents resolved
	// less than ReopenWindow ago, by ID. Older ones live only in the store.
	groups    map[string]*group
	deploys   map[string][]deployInfo
	learn     *learner
	now       time.Time
	nextSweep time.Time
	counts    Counts
}

// Counts are the correlator's decisions so far.
type Counts struct {
	// Signals is every signal observed; Folded those that repeated a
	// member (re-sends, flaps, resolutions); Joined those that joined an
	// existing group as a new member; Grouped those that started a group.
	Signals int64 `json:"signals"`
	Folded  int64 `json:"folded"`
	Joined  int64 `json:"joined"`
	Grouped int64 `json:"grouped"`
	// Expected counts signals marked expected (deploy, maintenance, muted).
	Expected int64 `json:"expected"`
	// DroppedGroups are pending groups that never reached MinSignals and
	// went quiet: the noise nobody was bothered with.
	DroppedGroups  int64 `json:"dropped_groups"`
	DroppedSignals int64 `json:"dropped_signals"`
	Events         int64 `json:"events"`
}

// Stats are the incident figures and the correlator's own counts.
type Stats struct {
	incident.Stats
	Correlation Counts `json:"correlation"`
}

type deployInfo struct {
	at      time.Time
	id, sum string
}

// member is one distinct signal in a group.
type member struct {
	m      incident.Member
	g      *group
	endsAt time.Time // a firing alert's EndsAt, if any
	// onset is when the member's current firing spell began (PersistFor).
	onset time.Time
}

// group is a pending group or an incident.
type group struct {
	inc      incident.Incident // Members are built by snapshot
	members  []*member
	firing   int // alert members not resolved
	services map[string]*svcState
	sigs     []sigTokens // distinct signatures, at most maxSigs
	opened   bool
	counted  int // distinct unexpected members (MinSignals)
	// lastSignal is the latest signal time; lastAnomaly the latest anomaly.
	lastSignal, lastAnomaly time.Time
	timeline                []incident.Entry
	sent                    int // timeline entries already emitted
	omitted                 int // signal entries beyond MaxTimeline
	expectedOnly            bool
}

// svcState is a service's share of a group.
type svcState struct {
	n    int       // members
	last time.Time // latest signal of the service in the group
}

type sigTokens struct {
	sig    string
	tokens tokenSet
}

// maxSigs bounds the signatures a group compares new signals against.
const maxSigs = 32

// New returns a Correlator.
func New(o Options) (*Correlator, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Correlator{
		opts:    o,
		logger:  o.Logger,
		ledger:  incident.NewLedger(o.Registerer),
		metrics: newMetrics(o.Registerer),
		byKey:   make(map[string]*member),
		groups:  make(map[string]*group),
		deploys: make(map[string][]deployInfo),
		learn:   newLearner(o.MaxLearnedPairs),
	}, nil
}

// Stats returns the operations figures (alert volume, incidents, MTTA,
// MTTR, precision from feedback) and the correlation counts.
func (c *Correlator) Stats() Stats {
	c.mtx.Lock()
	counts := c.counts
	c.mtx.Unlock()
	return Stats{Stats: c.ledger.Stats(), Correlation: counts}
}

// changeSet collects the changes of one call, in order.
type changeSet []changeReq

type changeReq struct {
	g    *group
	kind ChangeKind
}

func (cs *changeSet) add(g *group, k ChangeKind) { *cs = append(*cs, changeReq{g, k}) }

// Observe feeds one signal. Its error is about emission (sink or store);
// the signal has been correlated either way, except for ErrInvalidSignal.
func (c *Correlator) Observe(ctx context.Context, s Signal) error {
	if err := s.check(); err != nil {
		return err
	}
	c.mtx.Lock()
	var out changeSet
	c.advanceLocked(s.Time, &out)
	c.observeLocked(&s, &out)
	return c.emitUnlock(ctx, out)
}

// Tick lets time pass without a signal: incidents resolve after their quiet
// period, pending groups expire. now is evaluation time.
func (c *Correlator) Tick(ctx context.Context, now time.Time) error {
	c.mtx.Lock()
	var out changeSet
	c.advanceLocked(now, &out)
	return c.emitUnlock(ctx, out)
}

func (s *Signal) check() error {
	switch {
	case s.Time.IsZero():
		return fmt.Errorf("%w: time is missing", ErrInvalidSignal)
	case s.Key == "":
		return fmt.Errorf("%w: key is missing (build signals with AlertSignal, AnomalySignal or EventSignal)", ErrInvalidSignal)
	case s.Kind != incident.SignalAlert && s.Kind != incident.SignalAnomaly && s.Kind != incident.SignalEvent:
		return fmt.Errorf("%w: kind %q is not alert, anomaly or event", ErrInvalidSignal, s.Kind)
	}
	return nil
}

func (c *Correlator) advanceLocked(now time.Time, out *changeSet) {
	if now.After(c.now) {
		c.now = now
	}
	if c.now.Before(c.nextSweep) {
		return
	}
	c.sweepLocked(c.now, out)
	c.nextSweep = c.now.Add(c.opts.SweepEvery)
}

func (c *Correlator) observeLocked(s *Signal, out *changeSet) {
	c.counts.Signals++
	c.ledger.Signal(s.Kind)
	if s.Kind == incident.SignalEvent {
		c.counts.Events++
		c.observeEventLocked(s, out)
		return
	}
	c.opts.classify(s)
	if m := c.byKey[s.Key]; m != nil {
		c.counts.Folded++
		c.metrics.decisions.WithLabelValues("folded").Inc()
		c.foldLocked(m, s, out)
		return
	}
	if s.Resolved {
		// The end of an alert never seen firing (sent before a restart,
		// or dropped as noise) has nothing to join.
		c.metrics.decisions.WithLabelValues("ignored").Inc()
		return
	}
	expected, why := c.expectationLocked(s)
	tokens := tokensOf(s.Name, s.Labels, s.Text)
	g, reason := c.matchLocked(s, tokens)
	if g == nil {
		g = c.newGroupLocked(s)
		reason = "first signal"
		c.counts.Grouped++
		c.metrics.decisions.WithLabelValues("new_group").Inc()
	} else {
		c.counts.Joined++
		c.metrics.decisions.WithLabelValues("joined").Inc()
	}
	if why != "" {
		reason += "; " + why
	}
	if expected {
		c.counts.Expected++
	}
	c.joinLocked(g, s, tokens, reason, expected, out)
}

// groupID derives an incident ID from its first signal and time: stable in
// replays, and unique in practice across restarts without a counter.
func groupID(key string, t time.Time) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	_, _ = h.Write([]byte(strconv.FormatInt(t.UnixNano(), 10)))
	return "inc-" + strconv.FormatUint(h.Sum64()&(1<<48-1), 36)
}

func (c *Correlator) newGroupLocked(s *Signal) *group {
	id := groupID(s.Key, s.Time)
	for i := 1; c.groups[id] != nil; i++ {
		id = groupID(s.Key+"#"+strconv.Itoa(i), s.Time)
	}
	g := &group{
		inc: incident.Incident{
			ID: id, Status: incident.StatusOpen, Severity: incident.SeverityInfo,
			Urgency: incident.UrgencyTicket, OpenedAt: s.Time, UpdatedAt: s.Time,
		},
		services:     make(map[string]*svcState),
		expectedOnly: true,
	}
	c.groups[id] = g
	return g
}

func entryKind(k incident.SignalKind) incident.EntryKind {
	if k == incident.SignalAnomaly {
		return incident.EntryAnomaly
	}
	return incident.EntryAlert
}

// joinLocked adds a new member to g.
func (c *Correlator) joinLocked(g *group, s *Signal, tokens tokenSet, reason string, expected bool, out *changeSet) {
	m := &member{
		m: incident.Member{
			Key: s.Key, Signature: s.Signature, Kind: s.Kind, Service: s.Service, Name: s.Name,
			Severity: s.Severity, FirstSeen: s.Time, LastSeen: s.Time, Count: 1, Expected: expected, Reason: reason,
		},
		g:      g,
		endsAt: s.EndsAt,
		onset:  s.Time,
	}
	c.byKey[s.Key] = m
	g.members = append(g.members, m)
	g.inc.SignalCount++
	if s.Service != "" {
		if g.services[s.Service] == nil {
			i, _ := slices.BinarySearch(g.inc.Services, s.Service)
			g.inc.Services = slices.Insert(g.inc.Services, i, s.Service)
			g.services[s.Service] = &svcState{}
		}
		g.services[s.Service].n++
	}
	if s.Kind == incident.SignalAlert {
		g.firing++
	}
	g.touch(s)
	if len(g.sigs) < maxSigs && !slices.ContainsFunc(g.sigs, func(st sigTokens) bool { return st.sig == s.Signature }) {
		g.sigs = append(g.sigs, sigTokens{s.Signature, tokens})
	}
	c.addEntryLocked(g, incident.Entry{Time: s.Time, Kind: entryKind(s.Kind), Text: s.describe() + ": " + reason, Refs: []string{s.Key}}, true)
	if !expected {
		g.expectedOnly = false
		if s.Severity.Rank() >= c.opts.MinSeverity.Rank() {
			g.counted++
		}
	}
	wasResolved := g.inc.Status == incident.StatusResolved
	raised := !expected && c.raiseSeverityLocked(g, s.Severity, s.Time)
	switch {
	case !g.opened:
		if g.counted >= c.opts.MinSignals ||
			(!expected && c.opts.ImmediateSeverity != "" && s.Severity.Rank() >= c.opts.ImmediateSeverity.Rank()) {
			c.openLocked(g, s.Time, out)
		}
	case wasResolved:
		c.reopenLocked(g, s.Time, "new signal "+s.describe(), out)
	case raised:
		out.add(g, ChangeSeverity)
	default:
		out.add(g, ChangeUpdated)
	}
}

func (g *group) touch(s *Signal) {
	if st := g.services[s.Service]; st != nil && s.Time.After(st.last) {
		st.last = s.Time
	}
	if s.Time.After(g.lastSignal) {
		g.lastSignal = s.Time
	}
	if s.Kind == incident.SignalAnomaly && s.Time.After(g.lastAnomaly) {
		g.lastAnomaly = s.Time
	}
	if s.Time.After(g.inc.UpdatedAt) {
		g.inc.UpdatedAt = s.Time
	}
}

// raiseSeverityLocked raises g's severity to sev; it reports a raise of an
// opened incident (which deserves its own change: it may now page).
func (c *Correlator) raiseSeverityLocked(g *group, sev incident.Severity, at time.Time) bool {
	if sev.Rank() <= g.inc.Severity.Rank() {
		return false
	}
	old := g.inc.Severity
	g.inc.Severity, g.inc.Urgency = sev, incident.UrgencyOf(sev)
	if !g.opened {
		return false
	}
	c.addEntryLocked(g, incident.Entry{Time: at, Kind: incident.EntrySeverity,
		Text: "severity " + string(old) + " → " + string(sev) + " (" + string(g.inc.Urgency) + ")"}, false)
	return true
}

// addEntryLocked appends to g's timeline; signal entries beyond
// MaxTimeline are counted instead.
func (c *Correlator) addEntryLocked(g *group, e incident.Entry, signal bool) {
	if signal && len(g.timeline) >= c.opts.MaxTimeline {
		g.omitted++
		return
	}
	g.timeline = append(g.timeline, e)
}

func (c *Correlator) openLocked(g *group, at time.Time, out *changeSet) {
	g.opened = true
	g.inc.OpenedAt, g.inc.Status = at, incident.StatusOpen
	g.inc.Expected = g.expectedOnly
	if g.inc.Expected {
		g.inc.Severity, g.inc.Urgency = incident.SeverityInfo, incident.UrgencyTicket
	}
	g.inc.Title = g.title()
	c.addEntryLocked(g, incident.Entry{Time: at, Kind: incident.EntryStatus,
		Text: "opened: " + strconv.Itoa(len(g.members)) + " signals on " + strings.Join(g.inc.Services, ", ") +
			", severity " + string(g.inc.Severity) + " (" + string(g.inc.Urgency) + ")"}, false)
	c.ledger.Opened()
	out.add(g, ChangeOpened)
}

// title names the incident after its first unexpected member.
func (g *group) title() string {
	first := g.members[0]
	for _, m := range g.members {
		if !m.m.Expected {
			first = m
			break
		}
	}
	t := first.m.Name
	if first.m.Service != "" {
		t += " on " + first.m.Service
	}
	if n := len(g.inc.Services) - 1; n > 0 && first.m.Service != "" {
		t += " (+" + strconv.Itoa(n) + " services)"
	}
	return t
}

func (c *Correlator) reopenLocked(g *group, at time.Time, why string, out *changeSet) {
	es, err := g.inc.Reopen(incident.Action{At: at, By: "vigil", Text: why})
	if err != nil {
		return
	}
	g.timeline = append(g.timeline, es...)
	c.ledger.Reopened()
	out.add(g, ChangeReopened)
}

// foldLocked applies a repeat of a known signal: a re-send, a resolution,
// a re-fire after resolution (a flap), a repeated anomaly.
func (c *Correlator) foldLocked(m *member, s *Signal, out *changeSet) {
	g := m.g
	prevLast := m.m.LastSeen
	m.m.Count++
	g.inc.SignalCount++
	if s.Time.After(m.m.LastSeen) {
		m.m.LastSeen = s.Time
	}
	g.touch(s)
	changed := false
	if s.Kind == incident.SignalAlert {
		m.endsAt = s.EndsAt
		switch {
		case s.Resolved && !m.m.Resolved:
			m.m.Resolved = true
			g.firing--
			c.addEntryLocked(g, incident.Entry{Time: s.Time, Kind: incident.EntryAlert, Text: "resolved: " + s.describe(), Refs: []string{s.Key}}, true)
			changed = true
		case !s.Resolved && m.m.Resolved:
			m.m.Resolved = false
			m.onset = s.Time
			g.firing++
			c.addEntryLocked(g, incident.Entry{Time: s.Time, Kind: incident.EntryAlert,
				Text: "firing again: " + s.describe() + " (same fingerprint as the member first seen " + m.m.FirstSeen.UTC().Format(time.RFC3339) + ")",
				Refs: []string{s.Key}}, true)
			changed = true
		}
	}
	// One member resolving or firing again is recorded in the timeline but
	// is not an incident change of its own: it leaves with the next one.
	// That keeps a status flip O(1) however large the incident, and spares
	// the sink a notification per flap.
	if s.Resolved {
		return
	}
	switch {
	case g.inc.Status == incident.StatusResolved && g.opened:
		// A re-send of an alert that was firing all along does not undo a
		// person's resolve; a re-fire, or an anomaly seen again after the
		// resolution, does.
		if changed || (s.Kind == incident.SignalAnomaly && prevLast.Before(g.inc.ResolvedAt)) {
			c.reopenLocked(g, s.Time, "same signal as member "+m.m.Key+" seen again", out)
		}
	case !g.opened:
		c.maybePersistOpenLocked(g, s.Time, out)
	}
}

// maybePersistOpenLocked opens a pending group whose unexpected signal has
// lasted PersistFor.
func (c *Correlator) maybePersistOpenLocked(g *group, now time.Time, out *changeSet) {
	if g.opened || g.inc.MergedInto != "" {
		return
	}
	for _, m := range g.members {
		if m.m.Expected || m.m.Resolved || m.m.Severity.Rank() < c.opts.MinSeverity.Rank() {
			continue
		}
		if m.m.Kind == incident.SignalAnomaly && now.Sub(m.m.LastSeen) >= c.opts.AnomalyHold {
			continue
		}
		if now.Sub(m.onset) >= c.opts.PersistFor {
			c.addEntryLocked(g, incident.Entry{Time: now, Kind: incident.EntryStatus,
				Text: m.m.Name + " has lasted " + roundDur(now.Sub(m.onset)) + " alone"}, false)
			c.openLocked(g, now, out)
			return
		}
	}
}

// observeEventLocked records a change event: deploys for deploy-aware
// suppression, and a timeline entry on incidents of the same or a connected
// service.
func (c *Correlator) observeEventLocked(s *Signal, out *changeSet) {
	if s.Service != "" && (s.Name == "deploy" || s.Name == "config_change") {
		ds := append(c.deploys[s.Service], deployInfo{at: s.Time, id: s.Ref, sum: s.Text})
		if len(ds) > 4 {
			ds = ds[len(ds)-4:]
		}
		c.deploys[s.Service] = ds
	}
	ids := make([]string, 0, len(c.groups))
	for id := range c.groups {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		g := c.groups[id]
		if !g.opened || !g.inc.Status.Active() || s.Time.Sub(g.lastSignal) > c.opts.GroupWindow {
			continue
		}
		topo, why := c.topoScore(g, s.Service, s.Time)
		if topo == 0 {
			continue
		}
		text := s.Name + " on " + s.Service
		if s.Text != "" {
			text += ": " + s.Text
		}
		c.addEntryLocked(g, incident.Entry{Time: s.Time, Kind: incident.EntryChange, Text: text + " (" + why + ")", Refs: []string{s.Key}}, true)
		out.add(g, ChangeUpdated)
	}
}
