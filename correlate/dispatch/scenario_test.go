package dispatch

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/vigilops/vigil/correlate/silence"
	"github.com/vigilops/vigil/telemetry"
)

const s, m, h = time.Second, time.Minute, time.Hour

// baseYAML: group by alertname, group_wait 30s, group_interval 5m,
// repeat_interval 1h; a webhook receiver "team" that sends resolved
// alerts and a "quiet" one that does not.
const baseYAML = `
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
  routes:
  - matchers: [team="quiet"]
    receiver: quiet
receivers:
- name: team
  webhook_configs: [{url: "http://127.0.0.1:1/hook"}]
- name: quiet
  webhook_configs: [{url: "http://127.0.0.1:1/hook", send_resolved: false}]
`

// TestScenarios checks notification timing against Alertmanager's
// documented semantics: a new group waits group_wait; later changes go out
// on the group_interval grid that started at the first flush; an unchanged
// firing group repeats at the first flush after repeat_interval since the
// last notification (Alertmanager compares strictly, so with 5m flushes
// and a 1h repeat the repeat comes at 1h05m); resolved alerts go out on
// the next flush when the receiver wants them and then leave the group.
func TestScenarios(t *testing.T) {
	a := func(start time.Duration, kv ...string) telemetry.Alert {
		return firing(start, append([]string{"alertname", "A"}, kv...)...)
	}
	tests := []struct {
		name    string
		yaml    string
		horizon time.Duration
		pushes  []push
		wants   []want
		setup   func(t *testing.T, f *fixture)
	}{
		{
			name: "group_wait before the first notification", horizon: 4 * m,
			pushes: []push{{0, []telemetry.Alert{a(0)}}},
			wants:  []want{{from: 30 * s, to: 30 * s, receiver: "team", firing: "A"}},
		},
		{
			name: "alerts arriving during group_wait share the first notification", horizon: 4 * m,
			pushes: []push{
				{0, []telemetry.Alert{a(0, "instance", "1")}},
				{20 * s, []telemetry.Alert{a(20*s, "instance", "2")}},
			},
			wants: []want{{from: 30 * s, to: 30 * s, receiver: "team", firing: "A/1,A/2"}},
		},
		{
			name: "a new alert after the first flush waits for group_interval", horizon: 10 * m,
			pushes: []push{
				{0, []telemetry.Alert{a(0, "instance", "1")}},
				{60 * s, []telemetry.Alert{a(60*s, "instance", "2")}},
			},
			wants: []want{
				{from: 30 * s, to: 30 * s, receiver: "team", firing: "A/1"},
				{from: 5*m + 30*s, to: 5*m + 30*s, receiver: "team", firing: "A/1,A/2"},
			},
		},
		{
			name: "different group_by values make different groups", horizon: 4 * m,
			pushes: []push{
				{0, []telemetry.Alert{firing(0, "alertname", "A"), firing(0, "alertname", "B")}},
			},
			wants: []want{
				{from: 30 * s, to: 30 * s, receiver: "team", firing: "A"},
				{from: 30 * s, to: 30 * s, receiver: "team", firing: "B"},
			},
		},
		{
			name: "an unchanged firing group repeats after repeat_interval, on the flush grid", horizon: 2*h + 20*m,
			pushes: []push{{0, []telemetry.Alert{a(0)}}},
			wants: []want{
				{from: 30 * s, to: 30 * s, receiver: "team", firing: "A"},
				{from: h + 5*m + 30*s, to: h + 5*m + 30*s, receiver: "team", firing: "A", repeat: true},
				{from: 2*h + 10*m + 30*s, to: 2*h + 10*m + 30*s, receiver: "team", firing: "A", repeat: true},
			},
		},
		{
			name: "resolution goes out at the next flush, then the group is gone", horizon: 3 * h,
			pushes: []push{
				{0, []telemetry.Alert{a(0)}},
				{2 * m, []telemetry.Alert{resolvedAt(0, 2*m, "alertname", "A")}},
			},
			wants: []want{
				{from: 30 * s, to: 30 * s, receiver: "team", firing: "A"},
				{from: 5*m + 30*s, to: 5*m + 30*s, receiver: "team", resolved: "A"},
			},
		},
		{
			// The all-resolved notification is passed to the notifier, whose
			// integration drops it without send_resolved, as Alertmanager does.
			name: "without send_resolved a partial resolution is not sent, the all-resolved one is", horizon: 30 * m,
			pushes: []push{
				{0, []telemetry.Alert{a(0, "team", "quiet", "instance", "1"), a(0, "team", "quiet", "instance", "2")}},
				{2 * m, []telemetry.Alert{resolvedAt(0, 2*m, "alertname", "A", "team", "quiet", "instance", "1")}},
				{7 * m, []telemetry.Alert{resolvedAt(0, 7*m, "alertname", "A", "team", "quiet", "instance", "2")}},
			},
			wants: []want{
				{from: 30 * s, to: 30 * s, receiver: "quiet", firing: "A/1,A/2"},
				{from: 10*m + 30*s, to: 10*m + 30*s, receiver: "quiet", resolved: "A/2"},
			},
		},
		{
			name: "an alert that fires and resolves within group_wait is never notified", horizon: 10 * m,
			pushes: []push{
				{0, []telemetry.Alert{a(0)}},
				{10 * s, []telemetry.Alert{resolvedAt(0, 10*s, "alertname", "A")}},
			},
			wants: nil,
		},
		{
			name: "an alert older than group_wait is notified at once", horizon: 4 * m,
			pushes: []push{{0, []telemetry.Alert{a(-10 * m)}}},
			wants:  []want{{from: 0, to: 0, receiver: "team", firing: "A"}},
		},
		{
			name: "continue sends to the next matching sibling too", horizon: 4 * m,
			yaml: `
route:
  receiver: default
  group_by: [alertname]
  group_wait: 30s
  routes:
  - matchers: [severity="page"]
    receiver: pager
    continue: true
  - matchers: [severity=~"page|ticket"]
    receiver: tickets
  - matchers: [severity="page"]
    receiver: never
receivers: [{name: default}, {name: pager}, {name: tickets}, {name: never}]
`,
			pushes: []push{{0, []telemetry.Alert{firing(0, "alertname", "A", "severity", "page")}}},
			wants: []want{
				{from: 30 * s, to: 30 * s, receiver: "pager", firing: "A"},
				{from: 30 * s, to: 30 * s, receiver: "tickets", firing: "A"},
			},
		},
		{
			name: "without continue the first matching route wins; children inherit timers", horizon: 4 * m,
			yaml: `
route:
  receiver: default
  group_by: [alertname]
  group_wait: 10s
  routes:
  - match: {severity: page}
    receiver: pager
  - match_re: {severity: "pa.*"}
    receiver: never
receivers: [{name: default}, {name: pager}, {name: never}]
`,
			pushes: []push{{0, []telemetry.Alert{firing(0, "alertname", "A", "severity", "page"), firing(0, "alertname", "B")}}},
			wants: []want{
				{from: 10 * s, to: 10 * s, receiver: "default", firing: "B"},
				{from: 10 * s, to: 10 * s, receiver: "pager", firing: "A"},
			},
		},
		{
			name: "inhibition mutes the target while the source fires, per equal labels", horizon: 20 * m,
			yaml: `
route:
  receiver: team
  group_by: [alertname, cluster]
  group_wait: 30s
  group_interval: 5m
receivers: [{name: team}]
inhibit_rules:
- source_matchers: [severity="critical"]
  target_matchers: [severity="warning"]
  equal: [cluster]
`,
			pushes: []push{
				{0, []telemetry.Alert{
					firing(0, "alertname", "Down", "severity", "critical", "cluster", "eu"),
					firing(0, "alertname", "Slow", "severity", "warning", "cluster", "eu"),
					firing(0, "alertname", "Slow", "severity", "warning", "cluster", "us"),
				}},
				// The source resolves: the target is no longer inhibited and
				// goes out at its group's next flush.
				{7 * m, []telemetry.Alert{resolvedAt(0, 7*m, "alertname", "Down", "severity", "critical", "cluster", "eu")}},
			},
			wants: []want{
				{from: 30 * s, to: 30 * s, receiver: "team", firing: "Down"},
				{from: 30 * s, to: 30 * s, receiver: "team", firing: "Slow"},
				{from: 10*m + 30*s, to: 10*m + 30*s, receiver: "team", resolved: "Down"},
				{from: 10*m + 30*s, to: 10*m + 30*s, receiver: "team", firing: "Slow"},
			},
		},
		{
			name: "a silence mutes until it expires; the group then notifies as new", horizon: 12 * m,
			pushes: []push{{0, []telemetry.Alert{a(0)}}},
			setup: func(t *testing.T, f *fixture) {
				mt, _ := labels.NewMatcher(labels.MatchEqual, "alertname", "A")
				if _, err := f.sil.Set(context.Background(), silence.Silence{Matchers: labels.Matchers{mt}, StartsAt: t0, EndsAt: t0.Add(6 * m), CreatedBy: "ops", Comment: "deploy"}, t0); err != nil {
					t.Fatal(err)
				}
			},
			wants: []want{{from: 10*m + 30*s, to: 10*m + 30*s, receiver: "team", firing: "A"}},
		},
		{
			name: "a silence created later mutes the repeats, not the first notification", horizon: 2*h + 20*m,
			pushes: []push{{0, []telemetry.Alert{a(0)}}},
			setup: func(t *testing.T, f *fixture) {
				mt, _ := labels.NewMatcher(labels.MatchEqual, "alertname", "A")
				if _, err := f.sil.Set(context.Background(), silence.Silence{Matchers: labels.Matchers{mt}, StartsAt: t0.Add(10 * m), EndsAt: t0.Add(90 * m), CreatedBy: "ops", Comment: "known"}, t0); err != nil {
					t.Fatal(err)
				}
			},
			wants: []want{
				{from: 30 * s, to: 30 * s, receiver: "team", firing: "A"},
				// Silenced 10m..90m; the first flush after is 1h30m30s and
				// the last notification is over an hour old: a repeat.
				{from: h + 30*m + 30*s, to: h + 30*m + 30*s, receiver: "team", firing: "A", repeat: true},
			},
		},
		{
			name: "mute_time_intervals mute the route; active_time_intervals allow it", horizon: 4 * m,
			yaml: `
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  routes:
  - matchers: [alertname="Muted"]
    mute_time_intervals: [monday-mornings]
  - matchers: [alertname="Weekend"]
    active_time_intervals: [weekends]
  - matchers: [alertname="Office"]
    active_time_intervals: [monday-mornings]
receivers: [{name: team}]
time_intervals:
- name: monday-mornings
  time_intervals: [{weekdays: [monday], times: [{start_time: "08:00", end_time: "12:00"}]}]
- name: weekends
  time_intervals: [{weekdays: [saturday, sunday]}]
`,
			pushes: []push{{0, []telemetry.Alert{firing(0, "alertname", "Muted"), firing(0, "alertname", "Weekend"), firing(0, "alertname", "Office")}}},
			wants:  []want{{from: 30 * s, to: 30 * s, receiver: "team", firing: "Office"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			y := tc.yaml
			if y == "" {
				y = baseYAML
			}
			f := newFixture(t, y, nil)
			if tc.setup != nil {
				tc.setup(t, f)
			}
			got := f.run(t, tc.horizon, tc.pushes, nil)
			checkNotifications(t, got, tc.wants)
		})
	}
}
