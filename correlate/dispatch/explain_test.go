package dispatch

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/correlate/silence"
	"github.com/vigilops/vigil/telemetry"
)

const explainYAML = `
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
  routes:
  - matchers: [alertname="Night"]
    mute_time_intervals: [always]
receivers: [{name: team}]
inhibit_rules:
- source_matchers: [severity="critical"]
  target_matchers: [severity="warning"]
  equal: [cluster]
time_intervals:
- name: always
  time_intervals: [{times: [{start_time: "00:00", end_time: "24:00"}]}]
- name: maint
  time_intervals: [{weekdays: [monday]}]
maintenance_windows:
- name: db-upgrade
  matchers: [service="db"]
  time_intervals: [maint]
`

func TestExplain(t *testing.T) {
	f := newFixture(t, explainYAML, nil)
	ctx := context.Background()
	mt, _ := labels.NewMatcher(labels.MatchEqual, "alertname", "Silenced")
	sid, err := f.sil.Set(ctx, silence.Silence{Matchers: labels.Matchers{mt}, StartsAt: t0, EndsAt: t0.Add(time.Hour), CreatedBy: "alice", Comment: "known issue"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	src := firing(0, "alertname", "Down", "severity", "critical", "cluster", "eu")
	alerts := []telemetry.Alert{
		firing(0, "alertname", "Plain"),
		firing(0, "alertname", "Silenced"),
		src,
		firing(0, "alertname", "Slow", "severity", "warning", "cluster", "eu"),
		firing(0, "alertname", "Night"),
		firing(0, "alertname", "DB", "service", "db"),
	}
	f.inh.Put(alerts...)
	if err := f.d.Put(alerts, t0); err != nil {
		t.Fatal(err)
	}
	fp := func(i int) telemetry.Fingerprint { return alerts[i].Fingerprint() }

	// Before the first flush: pending, waiting for group_wait.
	ex := f.d.Explain(fp(0), t0.Add(10*time.Second))
	if len(ex.Groups) != 1 || ex.Groups[0].Last.Outcome != OutcomePending || !strings.Contains(ex.String(), "group_wait 30s") {
		t.Fatalf("before flush:\n%s", ex.String())
	}
	f.d.Tick(ctx, t0.Add(30*time.Second))
	// A later flush with nothing new: deduplicated.
	f.d.Tick(ctx, t0.Add(5*time.Minute+30*time.Second))
	now := t0.Add(6 * time.Minute)

	tests := []struct {
		name    string
		i       int
		outcome Outcome
		want    []string
	}{
		{"deduplicated", 0, OutcomeDeduplicated, []string{"last notified at 2024-05-06T10:00:30Z", "already contained it", "repeat due at 2024-05-06T11:05:30Z"}},
		{"silenced", 1, OutcomeSilenced, []string{"silence " + sid, "created by alice", `"known issue"`}},
		{"inhibited", 3, OutcomeInhibited, []string{"inhibited by alert " + src.Fingerprint().String(), "inhibit_rules[0]"}},
		{"muted by time interval", 4, OutcomeMuted, []string{"time interval always"}},
		{"maintenance window", 5, OutcomeMuted, []string{"maintenance window db-upgrade", "maint"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex := f.d.Explain(fp(tc.i), now)
			s := ex.String()
			t.Log(s)
			if !ex.Known || len(ex.Groups) != 1 || ex.Groups[0].Last.Outcome != tc.outcome {
				t.Fatalf("want %s:\n%s", tc.outcome, s)
			}
			for _, w := range tc.want {
				if !strings.Contains(s, w) {
					t.Errorf("explanation lacks %q:\n%s", w, s)
				}
			}
		})
	}

	st := f.d.Status(alerts[1].Labels, now)
	if st.State != "suppressed" || len(st.SilencedBy) != 1 || st.SilencedBy[0] != sid {
		t.Errorf("status of silenced alert: %+v", st)
	}
	if st := f.d.Status(alerts[3].Labels, now); len(st.InhibitedBy) != 1 || st.InhibitedBy[0] != src.Fingerprint().String() {
		t.Errorf("status of inhibited alert: %+v", st)
	}
	if st := f.d.Status(alerts[0].Labels, now); st.State != "active" {
		t.Errorf("status of plain alert: %+v", st)
	}

	// Resolve Plain: notified at the next flush, then it leaves its group
	// and Explain still knows what happened.
	res := alerts[0]
	res.EndsAt = now
	if err := f.d.Put([]telemetry.Alert{res}, now); err != nil {
		t.Fatal(err)
	}
	f.d.Tick(ctx, t0.Add(10*time.Minute+30*time.Second))
	ex = f.d.Explain(fp(0), t0.Add(11*time.Minute))
	if !ex.Departed || ex.Groups[0].Last.Outcome != OutcomeNotified {
		t.Errorf("after resolution:\n%s", ex.String())
	}
	if ex := f.d.Explain(12345, now); ex.Known {
		t.Errorf("unknown fingerprint explained as known")
	}
}

func TestNotifyFailureRetriesNextFlush(t *testing.T) {
	f := newFixture(t, baseYAML, nil)
	f.rec.Err = errors.New("receiver down")
	got := f.run(t, 6*time.Minute, []push{{0, []telemetry.Alert{firing(0, "alertname", "A")}}}, func(now time.Time) {
		if now.Sub(t0) >= 5*time.Minute {
			f.rec.mu.Lock()
			f.rec.Err = nil
			f.rec.mu.Unlock()
		}
	})
	// The 30s flush failed: nothing is logged, so the 5m30s flush sends
	// the first notification.
	checkNotifications(t, got, []want{{from: 5*time.Minute + 30*time.Second, to: 5*time.Minute + 30*time.Second, receiver: "team", firing: "A"}})
	ex := f.d.Explain(telemetry.LabelsFromStrings("alertname", "A").Fingerprint(), t0.Add(6*time.Minute))
	if ex.Groups[0].Last.Outcome != OutcomeNotified {
		t.Errorf("%s", ex.String())
	}
}

func TestNotifyResolvedSilenced(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(map[bool]string{false: "default off", true: "on"}[on], func(t *testing.T) {
			f := newFixture(t, baseYAML, func(o *Options) { o.NotifyResolvedSilenced = on })
			ctx := context.Background()
			pushes := []push{
				{0, []telemetry.Alert{firing(0, "alertname", "A")}},
				{2 * time.Minute, []telemetry.Alert{resolvedAt(0, 2*time.Minute, "alertname", "A")}},
			}
			silenced := false
			got := f.run(t, 10*time.Minute, pushes, func(now time.Time) {
				if !silenced && now.Sub(t0) >= time.Minute {
					silenced = true
					mt, _ := labels.NewMatcher(labels.MatchEqual, "alertname", "A")
					if _, err := f.sil.Set(ctx, silence.Silence{Matchers: labels.Matchers{mt}, StartsAt: now, EndsAt: now.Add(time.Hour), CreatedBy: "bob", Comment: "c"}, now); err != nil {
						t.Fatal(err)
					}
				}
			})
			wants := []want{{from: 30 * time.Second, to: 30 * time.Second, receiver: "team", firing: "A"}}
			if on {
				wants = append(wants, want{from: 5*time.Minute + 30*time.Second, to: 5*time.Minute + 30*time.Second, receiver: "team", resolved: "A"})
			}
			checkNotifications(t, got, wants)
		})
	}
}

// TestRun drives Run on the fake clock of testing/synctest: the first
// notification goes out exactly group_wait after the alert arrives.
func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, baseYAML, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- f.d.Run(ctx) }()
		start := time.Now()
		if err := f.d.Put([]telemetry.Alert{{Labels: telemetry.LabelsFromStrings("alertname", "A"), StartsAt: start, EndsAt: start.Add(time.Hour)}}, start); err != nil {
			t.Fatal(err)
		}
		time.Sleep(29 * time.Second)
		synctest.Wait()
		if n := len(f.rec.list()); n != 0 {
			t.Fatalf("%d notifications before group_wait", n)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		got := f.rec.list()
		if len(got) != 1 || got[0].At.Sub(start) != 30*time.Second {
			t.Fatalf("got %v", got)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v", err)
		}
	})
}

func TestMaxAlerts(t *testing.T) {
	f := newFixture(t, baseYAML, func(o *Options) { o.MaxAlerts = 2 })
	err := f.d.Put([]telemetry.Alert{firing(0, "alertname", "A"), firing(0, "alertname", "B"), firing(0, "alertname", "C")}, t0)
	if !errors.Is(err, ErrFull) {
		t.Fatalf("err %v", err)
	}
	if gs := f.d.Groups(nil); len(gs) != 2 {
		t.Errorf("%d groups", len(gs))
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := newFixture(t, baseYAML, func(o *Options) { o.Registerer = reg })
	f.run(t, 4*time.Minute, []push{{0, []telemetry.Alert{firing(0, "alertname", "A"), firing(0, "alertname", "B")}}}, nil)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "," + l.GetName() + "=" + l.GetValue()
			}
			got[name] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	for k, v := range map[string]float64{
		"vigil_dispatch_groups":                         2,
		"vigil_dispatch_alerts":                         2,
		"vigil_dispatch_flushes_total,outcome=notified": 2,
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}
