// Package dispatch is Alertmanager's dispatcher: it sorts alerts into
// aggregation groups along the routing tree and decides, on each group's
// timers, whether a notification goes out, following Alertmanager's
// semantics: group_wait before a new group's first notification (at once
// when its alert is already older than group_wait), then a flush every
// group_interval that notifies only when the group changed (new firing
// alerts; resolved ones when the receiver wants them) or, unchanged and
// still firing, once repeat_interval has passed since the last
// notification. Resolved alerts leave their group after a successful flush.
// Silences, inhibitions, maintenance windows and the routes' mute/active
// time intervals mute alerts at flush time.
//
// Invariant: time is only what the caller passes in (Put and Tick take
// now; Run reads Options.Now), and every decision taken about an alert is
// kept beside it, so Explain can say why it was or was not notified.
// Updating one alert costs a routing-tree match plus map operations: it
// does not grow with the number of open alerts.
package dispatch

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/correlate/inhibit"
	"github.com/vigilops/vigil/correlate/route"
	"github.com/vigilops/vigil/correlate/silence"
	"github.com/vigilops/vigil/correlate/timeinterval"
	"github.com/vigilops/vigil/telemetry"
)

// Defaults, exported for configuration docs.
const (
	DefaultMaxAlerts = 500_000
	// DefaultLogRetention keeps what was last notified per group this long
	// after the group's last notification, as Alertmanager's nflog (120h).
	DefaultLogRetention   = 120 * time.Hour
	DefaultExplainHistory = 10_000
	// maxRunSleep bounds Run's sleep, so a clock that jumps is noticed.
	maxRunSleep = time.Second
)

// ErrInvalidOptions is returned by New when options cannot work.
var ErrInvalidOptions = errors.New("invalid dispatch options")

// ErrFull is returned (wrapped) by Put when alerts were refused because
// MaxAlerts group entries are held.
var ErrFull = errors.New("dispatcher full")

// Notification is one message for one receiver about one group.
type Notification struct {
	Receiver    string
	GroupKey    string
	GroupLabels telemetry.Labels
	// Firing and Resolved are the group's unmuted alerts, sorted by
	// labels. Firing alerts have a zero EndsAt, as Alertmanager sends them.
	// Resolved alerts are always passed; whether an integration shows them
	// (send_resolved) is the notifier's business. As in Alertmanager, an
	// integration without send_resolved drops the resolved alerts and
	// skips a notification whose Firing is empty (it still counts as
	// delivered: return nil).
	Firing   []telemetry.Alert
	Resolved []telemetry.Alert
	// Repeat is true when nothing changed since the group's last
	// notification: it is sent because repeat_interval elapsed.
	Repeat bool
	// RouteKey is the route's Alertmanager key.
	RouteKey string
	At       time.Time
}

// Notifier consumes notifications. Notify may block; it is called without
// the dispatcher's locks held, one notification at a time.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(ctx context.Context, n Notification) error

// Notify implements Notifier.
func (f NotifierFunc) Notify(ctx context.Context, n Notification) error { return f(ctx, n) }

// Options configure a Dispatcher. Zero fields take their DefaultOptions
// value; nil muters mute nothing.
type Options struct {
	// Route is the routing tree. Required.
	Route *route.Route
	// Notifier receives notifications. Required.
	Notifier  Notifier
	Silences  *silence.Silences
	Inhibitor *inhibit.Inhibitor
	Windows   timeinterval.Windows
	// SendResolved tells whether a receiver wants resolved alerts; it
	// decides whether a newly resolved alert alone is worth a
	// notification, as send_resolved does in Alertmanager's dedup. Nil:
	// every receiver does.
	SendResolved func(receiver string) bool
	// NotifyResolvedSilenced lets resolved alerts through silences, so a
	// receiver hears that a silenced problem ended. Off by default: in
	// Alertmanager a silence mutes resolved alerts too.
	NotifyResolvedSilenced bool
	// MaxAlerts bounds the alert entries held across groups (an alert on
	// two routes counts twice).
	MaxAlerts      int
	LogRetention   time.Duration
	ExplainHistory int
	// Now is Run's clock.
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// DefaultOptions returns the defaults; the caller sets Route and Notifier.
func DefaultOptions() Options {
	return Options{MaxAlerts: DefaultMaxAlerts, LogRetention: DefaultLogRetention, ExplainHistory: DefaultExplainHistory, Now: time.Now}
}

func (o *Options) validate() error {
	d := DefaultOptions()
	if o.MaxAlerts == 0 {
		o.MaxAlerts = d.MaxAlerts
	}
	if o.LogRetention == 0 {
		o.LogRetention = d.LogRetention
	}
	if o.ExplainHistory == 0 {
		o.ExplainHistory = d.ExplainHistory
	}
	if o.Now == nil {
		o.Now = d.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SendResolved == nil {
		o.SendResolved = func(string) bool { return true }
	}
	switch {
	case o.Route == nil:
		return fmt.Errorf("%w: route is required", ErrInvalidOptions)
	case o.Notifier == nil:
		return fmt.Errorf("%w: notifier is required", ErrInvalidOptions)
	case o.MaxAlerts < 0 || o.ExplainHistory < 0 || o.LogRetention < 0:
		return fmt.Errorf("%w: limits must not be negative", ErrInvalidOptions)
	}
	return nil
}

// Dispatcher holds the aggregation groups. It is safe for concurrent use;
// Tick and Run serialize flushes.
type Dispatcher struct {
	opts    Options
	metrics *metrics
	routes  []*route.Route // by Index

	// tickMtx serializes flushes, so a group is never flushed twice at once.
	tickMtx sync.Mutex

	// mtx protects everything below.
	mtx      sync.Mutex
	groups   map[groupID]*group
	byAlert  map[telemetry.Fingerprint][]*group
	timers   groupHeap
	nlog     map[groupID]*logEntry
	gone     map[telemetry.Fingerprint]departed
	goneRing []telemetry.Fingerprint
	goneNext int
	nAlerts  int
	version  uint64
	lastGC   time.Time

	wake chan struct{}
}

// New returns a Dispatcher.
func New(opts Options) (*Dispatcher, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	d := &Dispatcher{
		opts: opts, metrics: m,
		groups:  map[groupID]*group{},
		byAlert: map[telemetry.Fingerprint][]*group{},
		nlog:    map[groupID]*logEntry{},
		gone:    map[telemetry.Fingerprint]departed{},
		wake:    make(chan struct{}, 1),
	}
	opts.Route.Walk(func(r *route.Route) { d.routes = append(d.routes, r) })
	return d, nil
}

// Put hands the dispatcher the latest version of alerts, received at now.
// An alert goes into one group on each route it matches. It returns ErrFull
// (wrapped) when some could not be held; the others are in.
func (d *Dispatcher) Put(alerts []telemetry.Alert, now time.Time) error {
	refused := 0
	wake := false
	d.mtx.Lock()
	for i := range alerts {
		a := &alerts[i]
		fp := a.Fingerprint()
		for _, r := range d.opts.Route.Match(a.Labels) {
			gl := r.GroupLabels(a.Labels)
			id := groupID{route: r.Index(), fp: gl.Fingerprint()}
			g := d.groups[id]
			if g == nil {
				if d.nAlerts >= d.opts.MaxAlerts {
					refused++
					continue
				}
				g = &group{id: id, route: r, labels: gl, key: r.Key() + ":" + gl.String(), alerts: map[telemetry.Fingerprint]*entry{}, next: now.Add(r.GroupWait), created: now}
				d.groups[id] = g
				heap.Push(&d.timers, g)
				wake = true
			}
			e := g.alerts[fp]
			if e == nil {
				if d.nAlerts >= d.opts.MaxAlerts {
					refused++
					continue
				}
				e = &entry{}
				g.alerts[fp] = e
				d.nAlerts++
				d.byAlert[fp] = append(d.byAlert[fp], g)
			}
			d.version++
			e.alert, e.version = *a, d.version
			// A group that has not notified yet goes out at once for an
			// alert that already waited group_wait (Prometheus re-sending
			// an old alert after a restart), as in Alertmanager.
			if !g.hasFlushed && a.StartsAt.Add(r.GroupWait).Before(now) && g.next.After(now) {
				g.next = now
				heap.Fix(&d.timers, g.hi)
				wake = true
			}
		}
	}
	d.metrics.alerts.Set(float64(d.nAlerts))
	d.metrics.groups.Set(float64(len(d.groups)))
	d.mtx.Unlock()
	if wake {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
	if refused > 0 {
		d.metrics.refused.Add(float64(refused))
		return fmt.Errorf("%w: %d alert entries refused, %d held", ErrFull, refused, d.opts.MaxAlerts)
	}
	return nil
}

// Next returns when the earliest group timer fires, if any group exists.
func (d *Dispatcher) Next() (time.Time, bool) {
	d.mtx.Lock()
	defer d.mtx.Unlock()
	if len(d.timers) == 0 {
		return time.Time{}, false
	}
	return d.timers[0].next, true
}

// Tick flushes every group whose timer is due at now and returns the
// number of notifications sent. Errors from the Notifier are logged and
// counted; the group is retried on its next flush, as in Alertmanager.
func (d *Dispatcher) Tick(ctx context.Context, now time.Time) int {
	d.tickMtx.Lock()
	defer d.tickMtx.Unlock()
	d.mtx.Lock()
	var jobs []*flushJob
	for len(d.timers) > 0 && !d.timers[0].next.After(now) {
		g := d.timers[0]
		g.next = now.Add(g.route.GroupInterval)
		g.hasFlushed = true
		heap.Fix(&d.timers, 0)
		jobs = append(jobs, d.snapshot(g, now))
	}
	if now.Sub(d.lastGC) >= time.Minute {
		d.gcLog(now)
		d.lastGC = now
	}
	d.mtx.Unlock()
	sent := 0
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		if d.flush(ctx, j, now) {
			sent++
		}
	}
	return sent
}

// Run flushes groups on time as read from Options.Now until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		now := d.opts.Now()
		d.Tick(ctx, now)
		sleep := maxRunSleep
		if next, ok := d.Next(); ok {
			if s := next.Sub(d.opts.Now()); s < sleep {
				sleep = max(s, 0)
			}
		}
		t.Reset(sleep)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.wake:
			// Since Go 1.23 a stopped timer's channel holds no stale tick,
			// so Reset above is enough.
			t.Stop()
		case <-t.C:
		}
	}
}

// gcLog drops notification-log entries of groups that no longer exist and
// last notified longer than the retention ago. d.mtx must be held.
func (d *Dispatcher) gcLog(now time.Time) {
	for id, e := range d.nlog {
		if _, live := d.groups[id]; !live && now.Sub(e.at) > d.opts.LogRetention {
			delete(d.nlog, id)
		}
	}
}
