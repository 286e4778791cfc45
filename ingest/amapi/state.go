package amapi

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/telemetry"
)

// State defaults, exported so that configuration docs can name them.
const (
	DefaultMaxAlerts    = 100_000
	DefaultRetention    = 15 * time.Minute
	DefaultOpenEndedTTL = 24 * time.Hour
)

// sweepInterval bounds how often a full State scans itself for resolved
// alerts to make room, so that a State full of firing alerts does not scan
// on every new fingerprint.
const sweepInterval = time.Second

// ErrStateFull is returned (wrapped, with a count) by State.Update when
// alerts with new fingerprints were refused because the State holds
// MaxAlerts alerts and none of them is resolved.
var ErrStateFull = errors.New("alert state full")

// ErrInvalidStateOptions is returned by NewState when StateOptions cannot work.
var ErrInvalidStateOptions = errors.New("invalid alert state options")

// StateOptions configure a State. Zero fields take their DefaultStateOptions
// value, except Registerer (nil: metrics not registered) and Logger (nil:
// discard).
type StateOptions struct {
	// MaxAlerts bounds the alerts held, firing and resolved. Once full, an
	// alert with a new fingerprint is refused (after resolved alerts have been
	// dropped early to make room); firing alerts are never evicted.
	MaxAlerts int
	// Retention is how long a resolved alert is kept after its endsAt, so
	// that a late or re-ordered copy of it merges instead of resurrecting it.
	Retention time.Duration
	// OpenEndedTTL is how long an alert without endsAt (Alertmanager's
	// webhook sends firing alerts so; other bus sources may) is kept without
	// an update. Negative keeps such alerts until resolved. Alertmanager
	// repeats firing notifications every repeat_interval (4h by default), so
	// the default leaves room for several repeats.
	OpenEndedTTL time.Duration
	Registerer   prometheus.Registerer
	Logger       *slog.Logger
}

// DefaultStateOptions returns the defaults.
func DefaultStateOptions() StateOptions {
	return StateOptions{
		MaxAlerts:    DefaultMaxAlerts,
		Retention:    DefaultRetention,
		OpenEndedTTL: DefaultOpenEndedTTL,
	}
}

func (o *StateOptions) validate() error {
	d := DefaultStateOptions()
	if o.MaxAlerts == 0 {
		o.MaxAlerts = d.MaxAlerts
	}
	if o.Retention == 0 {
		o.Retention = d.Retention
	}
	if o.OpenEndedTTL == 0 {
		o.OpenEndedTTL = d.OpenEndedTTL
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.MaxAlerts < 0:
		return fmt.Errorf("%w: max alerts %d is negative", ErrInvalidStateOptions, o.MaxAlerts)
	case o.Retention < 0:
		return fmt.Errorf("%w: retention %s is negative", ErrInvalidStateOptions, o.Retention)
	}
	return nil
}

// State is the latest version of each alert by fingerprint: what GET
// /api/v2/alerts answers from. Merging is idempotent and order-tolerant
// (see merge), so the app may feed it every alert on the bus, including the
// ones the Receiver already put in directly. Updates are O(1) per alert,
// except that a full State sweeps itself for resolved alerts at most once
// per second; listing and GC scan. It is safe for concurrent use.
type State struct {
	opts    StateOptions
	metrics *stateMetrics

	// mu protects alerts, reserved, lastSweep and lastFullLog.
	mu     sync.RWMutex
	alerts map[telemetry.Fingerprint]telemetry.Alert
	// reserved counts slots promised to API batches between reserve and
	// commit (or release), so that the cap holds while the batch is with
	// the Sink and no lock is held.
	reserved    int
	lastSweep   time.Time
	lastFullLog time.Time
}

// NewState returns an empty State.
func NewState(opts StateOptions) (*State, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &State{opts: opts, alerts: make(map[telemetry.Fingerprint]telemetry.Alert)}
	m, err := newStateMetrics(opts.Registerer, s.Len)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	return s, nil
}

// Len returns the number of alerts held, resolved ones included.
func (s *State) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.alerts)
}

// Get returns the alert held for fp, resolved or not.
func (s *State) Get(fp telemetry.Fingerprint) (telemetry.Alert, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.alerts[fp]
	return a, ok
}

// Update merges alerts into the State, as received at now: an alert
// without UpdatedAt is taken as updated at now. Alerts resolved at now whose
// fingerprint is unknown are not stored, as there is nothing to show or
// merge them with. It returns an error wrapping ErrStateFull, with the
// count, when new alerts were refused for room; the others are applied.
// Update never modifies the caller's slice, which on the bus is shared with
// other subscribers.
func (s *State) Update(alerts []telemetry.Alert, now time.Time) error {
	refused := 0
	s.mu.Lock()
	for i := range alerts {
		a := alerts[i]
		if a.UpdatedAt.IsZero() {
			a.UpdatedAt = now
		}
		fp := a.Fingerprint()
		if _, ok := s.alerts[fp]; !ok && !a.Resolved(now) && !s.roomLocked(now) {
			refused++
			continue
		}
		s.putLocked(fp, a, now)
	}
	logFull := refused > 0 && (s.lastFullLog.IsZero() || now.Sub(s.lastFullLog) >= time.Minute || now.Before(s.lastFullLog))
	if logFull {
		s.lastFullLog = now
	}
	s.mu.Unlock()
	if refused == 0 {
		return nil
	}
	s.metrics.refused.Add(float64(refused))
	if logFull {
		s.opts.Logger.Warn("alert state full: new alerts refused", "refused", refused, "max_alerts", s.opts.MaxAlerts)
	}
	return fmt.Errorf("%w: %d new alert(s) refused, %d held", ErrStateFull, refused, s.opts.MaxAlerts)
}

// reserve admits an API batch before it goes to the Sink: ok[i] says
// whether alerts[i] may be delivered. Alerts already held, and resolved
// alerts (not stored when new), need no room; each new firing fingerprint
// takes one reserved slot. The caller must commit or release n.
func (s *State) reserve(alerts []telemetry.Alert, fps []telemetry.Fingerprint, now time.Time, ok []bool) (n int) {
	var fresh map[telemetry.Fingerprint]struct{}
	refused := 0
	defer func() {
		if refused > 0 {
			s.metrics.refused.Add(float64(refused))
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range alerts {
		fp := fps[i]
		if _, held := s.alerts[fp]; held || alerts[i].Resolved(now) {
			ok[i] = true
			continue
		}
		if _, dup := fresh[fp]; dup {
			ok[i] = true
			continue
		}
		if !s.roomLocked(now) {
			ok[i] = false
			refused++
			continue
		}
		if fresh == nil {
			fresh = make(map[telemetry.Fingerprint]struct{})
		}
		fresh[fp] = struct{}{}
		s.reserved++
		n++
		ok[i] = true
	}
	return n
}

// commit stores a batch the Sink accepted and returns its n reserved slots.
func (s *State) commit(alerts []telemetry.Alert, fps []telemetry.Fingerprint, n int, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reserved -= n
	for i := range alerts {
		s.putLocked(fps[i], alerts[i], now)
	}
}

// release returns n reserved slots of a batch the Sink refused.
func (s *State) release(n int) {
	if n == 0 {
		return
	}
	s.mu.Lock()
	s.reserved -= n
	s.mu.Unlock()
}

// roomLocked reports whether one more fingerprint fits, dropping resolved
// and stale alerts early (at most once per sweepInterval) when full.
func (s *State) roomLocked(now time.Time) bool {
	if len(s.alerts)+s.reserved < s.opts.MaxAlerts {
		return true
	}
	if !s.lastSweep.IsZero() && now.Sub(s.lastSweep) < sweepInterval && !now.Before(s.lastSweep) {
		return false
	}
	s.lastSweep = now
	resolved, stale := s.collectLocked(now, 0)
	s.metrics.removed.WithLabelValues("evicted").Add(float64(resolved))
	s.metrics.removed.WithLabelValues("stale").Add(float64(stale))
	return len(s.alerts)+s.reserved < s.opts.MaxAlerts
}

// putLocked merges a into the State. A resolved alert with an unknown
// fingerprint is dropped: it could only be garbage-collected.
func (s *State) putLocked(fp telemetry.Fingerprint, a telemetry.Alert, now time.Time) {
	old, ok := s.alerts[fp]
	if !ok {
		if a.Resolved(now) {
			return
		}
		s.alerts[fp] = a
		return
	}
	s.alerts[fp] = merge(old, a)
}

// GC drops alerts resolved more than Retention ago, and alerts without
// endsAt not updated for OpenEndedTTL. The app calls it on a ticker (every
// minute is plenty); it returns how many were dropped.
func (s *State) GC(now time.Time) int {
	s.mu.Lock()
	resolved, stale := s.collectLocked(now, s.opts.Retention)
	s.mu.Unlock()
	s.metrics.removed.WithLabelValues("resolved").Add(float64(resolved))
	s.metrics.removed.WithLabelValues("stale").Add(float64(stale))
	return resolved + stale
}

// collectLocked drops alerts resolved at least retention before now, and
// open-ended ones not updated for OpenEndedTTL, and counts each kind.
func (s *State) collectLocked(now time.Time, retention time.Duration) (resolved, stale int) {
	for fp, a := range s.alerts {
		switch {
		case a.EndsAt.IsZero():
			if s.opts.OpenEndedTTL < 0 || now.Sub(a.UpdatedAt) < s.opts.OpenEndedTTL {
				continue
			}
			stale++
		case !a.EndsAt.Add(retention).After(now):
			resolved++
		default:
			continue
		}
		delete(s.alerts, fp)
	}
	return resolved, stale
}

// Firing returns the alerts not resolved at now for which match (nil: all)
// returns true, sorted by fingerprint as Alertmanager lists them. match runs
// under the State's read lock and must not call back into the State.
func (s *State) Firing(now time.Time, match func(*telemetry.Alert) bool) []telemetry.Alert {
	var out []telemetry.Alert
	s.mu.RLock()
	for _, a := range s.alerts {
		if a.Resolved(now) || (match != nil && !match(&a)) {
			continue
		}
		out = append(out, a)
	}
	s.mu.RUnlock()
	fps := make([]telemetry.Fingerprint, len(out))
	for i := range out {
		fps[i] = out[i].Fingerprint()
	}
	sort.Sort(byFingerprint{out, fps})
	return out
}

type byFingerprint struct {
	alerts []telemetry.Alert
	fps    []telemetry.Fingerprint
}

func (b byFingerprint) Len() int           { return len(b.alerts) }
func (b byFingerprint) Less(i, j int) bool { return b.fps[i] < b.fps[j] }
func (b byFingerprint) Swap(i, j int) {
	b.alerts[i], b.alerts[j] = b.alerts[j], b.alerts[i]
	b.fps[i], b.fps[j] = b.fps[j], b.fps[i]
}

// merge combines the held alert old with an incoming copy in, as
// Alertmanager's store does (types.Alert.Merge, applied only when the two
// overlap in time): the more recently updated copy wins, keeping the
// earliest startsAt and the latest endsAt, except that a resolution in the
// newer copy is not undone by a later end in an older copy that was still
// firing. Without the UpdatedAt rule, a stale copy arriving late (the bus
// delivers what the API already stored) would resurrect a resolved alert.
// A zero endsAt (open-ended alert) counts as the latest end.
func merge(old, in telemetry.Alert) telemetry.Alert {
	older, newer := old, in
	if in.UpdatedAt.Before(old.UpdatedAt) {
		older, newer = in, old
	}
	if !overlaps(older, newer) {
		return newer
	}
	res := newer
	if older.StartsAt.Before(res.StartsAt) {
		res.StartsAt = older.StartsAt
	}
	ref := newer.UpdatedAt
	if endsLater(older.EndsAt, newer.EndsAt) && (!newer.Resolved(ref) || older.Resolved(ref)) {
		res.EndsAt = older.EndsAt
	}
	return res
}

// endsLater reports whether end a is later than end b, zero meaning never.
func endsLater(a, b time.Time) bool {
	switch {
	case b.IsZero():
		return false
	case a.IsZero():
		return true
	}
	return a.After(b)
}

// overlaps reports whether b starts or ends within a's active interval, the
// condition under which Alertmanager merges rather than replaces.
func overlaps(a, b telemetry.Alert) bool {
	within := func(t time.Time) bool {
		return t.After(a.StartsAt) && (a.EndsAt.IsZero() || t.Before(a.EndsAt))
	}
	return (!b.EndsAt.IsZero() && within(b.EndsAt)) || within(b.StartsAt)
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
