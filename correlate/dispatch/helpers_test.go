package dispatch

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/correlate/inhibit"
	"github.com/vigilops/vigil/correlate/silence"
	"github.com/vigilops/vigil/telemetry"
)

// t0 is the scenarios' start: a Monday at 10:00 UTC.
var t0 = time.Date(2024, 5, 6, 10, 0, 0, 0, time.UTC)

// recorder is a Notifier that keeps what it is given; Err, when set, fails
// every call.
type recorder struct {
	mu  sync.Mutex
	got []Notification
	Err error
}

func (r *recorder) Notify(_ context.Context, n Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Err != nil {
		return r.Err
	}
	r.got = append(r.got, n)
	return nil
}

func (r *recorder) list() []Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Notification(nil), r.got...)
}

// fixture is a dispatcher built from an alertmanager.yml.
type fixture struct {
	d   *Dispatcher
	rec *recorder
	sil *silence.Silences
	inh *inhibit.Inhibitor
	cfg *config.AlertmanagerConfig
}

func newFixture(t testing.TB, yml string, edit func(*Options)) *fixture {
	t.Helper()
	cfg, err := config.ParseAlertmanagerConfig([]byte(yml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	built, err := FromConfig(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	sil, err := silence.New(silence.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{rec: &recorder{}, sil: sil, inh: built.Inhibitor, cfg: cfg}
	o := DefaultOptions()
	built.Apply(&o)
	o.Notifier, o.Silences = f.rec, sil
	if edit != nil {
		edit(&o)
	}
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	f.d = d
	return f
}

// push is alerts sent at an offset from t0.
type push struct {
	at     time.Duration
	alerts []telemetry.Alert
}

// firing is an alert that started at start (offset from t0) and, as
// Prometheus sends it, ends in the future.
func firing(start time.Duration, kv ...string) telemetry.Alert {
	return telemetry.Alert{Labels: telemetry.LabelsFromStrings(kv...), StartsAt: t0.Add(start), EndsAt: t0.Add(24 * time.Hour)}
}

// resolvedAt is the same alert ended at end.
func resolvedAt(start, end time.Duration, kv ...string) telemetry.Alert {
	a := firing(start, kv...)
	a.EndsAt = t0.Add(end)
	return a
}

// run drives the dispatcher from t0 to t0+horizon, jumping to each push and
// each timer, as a clock would, and returns the notifications.
func (f *fixture) run(t testing.TB, horizon time.Duration, pushes []push, before func(now time.Time)) []Notification {
	t.Helper()
	sort.SliceStable(pushes, func(i, j int) bool { return pushes[i].at < pushes[j].at })
	ctx := context.Background()
	pi := 0
	end := t0.Add(horizon)
	for steps := 0; steps < 100_000; steps++ {
		now := end.Add(time.Nanosecond)
		if pi < len(pushes) {
			now = t0.Add(pushes[pi].at)
		}
		if next, ok := f.d.Next(); ok && next.Before(now) {
			now = next
		}
		if now.After(end) {
			break
		}
		if before != nil {
			before(now)
		}
		for pi < len(pushes) && !t0.Add(pushes[pi].at).After(now) {
			f.inh.Put(pushes[pi].alerts...)
			if err := f.d.Put(pushes[pi].alerts, now); err != nil {
				t.Fatal(err)
			}
			pi++
		}
		f.d.Tick(ctx, now)
	}
	return f.rec.list()
}

// want is one expected notification: sent between from and to (offsets
// from t0), to receiver, with these alertnames (sorted, comma-joined).
type want struct {
	from, to time.Duration
	receiver string
	firing   string
	resolved string
	repeat   bool
}

func (w want) String() string {
	return fmt.Sprintf("[%s..%s] %s firing=%q resolved=%q repeat=%t", w.from, w.to, w.receiver, w.firing, w.resolved, w.repeat)
}

func names(as []telemetry.Alert) string {
	ns := make([]string, len(as))
	for i, a := range as {
		ns[i] = a.Name()
		if inst := a.Labels.Get("instance"); inst != "" {
			ns[i] += "/" + inst
		}
	}
	sort.Strings(ns)
	return strings.Join(ns, ",")
}

func describe(n Notification) string {
	return fmt.Sprintf("%s %s firing=%q resolved=%q repeat=%t", n.At.Sub(t0), n.Receiver, names(n.Firing), names(n.Resolved), n.Repeat)
}

// checkNotifications compares in time order; notifications at the same
// instant (several groups flushing together) are compared in a fixed order
// since their order is not specified.
func checkNotifications(t *testing.T, got []Notification, wants []want) {
	t.Helper()
	got = append([]Notification(nil), got...)
	sort.SliceStable(got, func(i, j int) bool {
		if !got[i].At.Equal(got[j].At) {
			return got[i].At.Before(got[j].At)
		}
		return describe(got[i]) < describe(got[j])
	})
	wants = append([]want(nil), wants...)
	sort.SliceStable(wants, func(i, j int) bool {
		if wants[i].from != wants[j].from {
			return wants[i].from < wants[j].from
		}
		key := func(w want) string { return fmt.Sprintf("%s firing=%q resolved=%q", w.receiver, w.firing, w.resolved) }
		return key(wants[i]) < key(wants[j])
	})
	ok := len(got) == len(wants)
	for i := 0; ok && i < len(got); i++ {
		n, w := got[i], wants[i]
		at := n.At.Sub(t0)
		if at < w.from || at > w.to || n.Receiver != w.receiver || names(n.Firing) != w.firing || names(n.Resolved) != w.resolved || n.Repeat != w.repeat {
			ok = false
		}
	}
	if ok {
		return
	}
	var b strings.Builder
	b.WriteString("got:\n")
	for _, n := range got {
		b.WriteString("  " + describe(n) + "\n")
	}
	b.WriteString("want:\n")
	for _, w := range wants {
		b.WriteString("  " + w.String() + "\n")
	}
	t.Error(b.String())
}
