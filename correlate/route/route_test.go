package route

import (
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/telemetry"
)

const treeYAML = `
route:
  receiver: default
  group_by: [alertname]
  group_wait: 10s
  routes:
  - matchers: [team="db"]
    receiver: db
    group_by: ['...']
    routes:
    - matchers: [severity="page"]
      receiver: db-pager
      repeat_interval: 30m
  - matchers: [team="web"]
    receiver: web
    continue: true
  - matchers: [team=~"web|api"]
    receiver: api
    group_interval: 1m
    mute_time_intervals: [weekends]
  - matchers: [team="web"]
    receiver: unreachable
receivers: [{name: default}, {name: db}, {name: db-pager}, {name: web}, {name: api}, {name: unreachable}]
time_intervals:
- name: weekends
  time_intervals: [{weekdays: [saturday, sunday]}]
`

func build(t *testing.T) *Route {
	t.Helper()
	cfg, err := config.ParseAlertmanagerConfig([]byte(treeYAML))
	if err != nil {
		t.Fatal(err)
	}
	ivs, err := cfg.Intervals()
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(&cfg.Route, ivs)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestMatch(t *testing.T) {
	root := build(t)
	tests := []struct {
		labels []string
		want   string
	}{
		{[]string{"alertname", "A"}, "default"},
		{[]string{"alertname", "A", "team", "db"}, "db"},
		{[]string{"alertname", "A", "team", "db", "severity", "page"}, "db-pager"},
		{[]string{"alertname", "A", "team", "web"}, "web,api"},
		{[]string{"alertname", "A", "team", "api"}, "api"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.labels, "="), func(t *testing.T) {
			var got []string
			for _, r := range root.Match(telemetry.LabelsFromStrings(tc.labels...)) {
				got = append(got, r.Receiver)
			}
			if strings.Join(got, ",") != tc.want {
				t.Errorf("routed to %v, want %s", got, tc.want)
			}
		})
	}
}

func TestInheritance(t *testing.T) {
	root := build(t)
	pager := root.Routes[0].Routes[0]
	if pager.GroupWait != 10*time.Second || pager.GroupInterval != config.DefaultGroupInterval || pager.RepeatInterval != 30*time.Minute || !pager.GroupByAll {
		t.Errorf("db-pager settings %+v", pager)
	}
	api := root.Routes[2]
	if api.GroupInterval != time.Minute || api.RepeatInterval != config.DefaultRepeatInterval || len(api.GroupBy) != 1 || api.GroupBy[0] != "alertname" {
		t.Errorf("api settings %+v", api)
	}
	if len(pager.MuteTimeIntervals) != 0 || len(api.MuteTimeIntervals) != 1 {
		t.Errorf("time intervals must not be inherited")
	}
	if pager.Key() != `{}/{team="db"}/{severity="page"}` {
		t.Errorf("key %s", pager.Key())
	}
	// Siblings with equal matchers share Alertmanager's key but not an ID.
	web, unreachable := root.Routes[1], root.Routes[3]
	if web.Key() != unreachable.Key() || web.ID() == unreachable.ID() {
		t.Errorf("siblings: keys %s %s, ids %s %s", web.Key(), unreachable.Key(), web.ID(), unreachable.ID())
	}
	ls := telemetry.LabelsFromStrings("alertname", "A", "team", "db", "x", "y")
	if gl := root.Routes[0].GroupLabels(ls); !gl.Equal(ls) {
		t.Errorf("'...' group labels %v", gl)
	}
	if gl := root.GroupLabels(ls); gl.String() != `{alertname="A"}` {
		t.Errorf("group labels %v", gl)
	}
	sat := time.Date(2024, 5, 4, 12, 0, 0, 0, time.UTC)
	if m := api.MutedBy(sat); len(m) != 1 || m[0] != "weekends" {
		t.Errorf("MutedBy on saturday %v", m)
	}
	if m := api.MutedBy(sat.Add(48 * time.Hour)); len(m) != 0 {
		t.Errorf("MutedBy on monday %v", m)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(&config.Route{}, nil); err == nil {
		t.Error("root without receiver accepted")
	}
	if _, err := New(&config.Route{Receiver: "a", Routes: []config.Route{{MuteTimeIntervals: []string{"x"}}}}, nil); err == nil || !strings.Contains(err.Error(), `time interval "x" is not defined`) {
		t.Errorf("undefined interval: %v", err)
	}
}
