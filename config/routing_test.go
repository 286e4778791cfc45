package config

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodAM = `
global:
  resolve_timeout: 5m
  smtp_from: vigil@example.org
  smtp_smarthost: mail.example.org:587
  slack_api_url: https://hooks.slack.com/services/T/B/X
  http_config: {follow_redirects: true}
templates: ['/etc/alertmanager/*.tmpl']
route:
  receiver: team
  group_by: [alertname, cluster]
  group_wait: 45s
  group_interval: 1d
  repeat_interval: 1h30m
  routes:
  - matchers: ['severity=~"critical|page"', 'team!="db"']
    receiver: pager
    continue: true
    mute_time_intervals: [offhours]
  - match: {team: db}
    match_re: {service: "^(mysql|pg).*$"}
    receiver: db
    group_by: ['...']
    active_time_intervals: [offhours]
receivers:
- name: team
  slack_configs: [{channel: '#alerts', title: 't', text: 'x', username: vigil, send_resolved: true, icon_emoji: ':x:'}]
  email_configs: [{to: team@example.org}]
- name: pager
  pagerduty_configs: [{routing_key: abc, severity: critical}]
- name: db
  webhook_configs: [{url: 'http://db-bot:8080/hook', max_alerts: 10}]
  opsgenie_configs: [{api_key: x}]
inhibit_rules:
- source_matchers: [severity="critical"]
  target_matchers: [severity="warning"]
  equal: [cluster]
- source_match: {alertname: Down}
  target_match_re: {alertname: ".*"}
time_intervals:
- name: offhours
  time_intervals:
  - weekdays: ['saturday', 'sunday']
  - times: [{start_time: '18:00', end_time: '24:00'}]
    weekdays: ['monday:friday']
    days_of_month: ['1:5', '-3:-1']
    months: ['january:march', '12']
    years: ['2024:2030']
    location: Europe/Amsterdam
maintenance_windows:
- name: db-upgrade
  matchers: [team="db"]
  time_intervals: [offhours]
`

func TestParseAlertmanagerConfig(t *testing.T) {
	c, err := ParseAlertmanagerConfig([]byte(goodAM))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Route
	if r.Receiver != "team" || r.GroupWait.Or(0) != 45*time.Second || r.GroupInterval.Or(0) != 24*time.Hour || r.RepeatInterval.Or(0) != 90*time.Minute {
		t.Errorf("root route %+v", r)
	}
	if len(r.Routes) != 2 || !r.Routes[0].Continue || r.Routes[1].GroupBy[0] != GroupByAll || r.Routes[1].GroupWait.Valid {
		t.Errorf("child routes %+v", r.Routes)
	}
	ms, err := ParseMatchers(r.Routes[1].Matchers, r.Routes[1].Match, r.Routes[1].MatchRE)
	if err != nil || ms.String() != `{team="db",service=~"^(mysql|pg).*$"}` {
		t.Errorf("matchers %v %v", ms, err)
	}
	if got := c.Receivers[0].SlackConfigs[0]; !got.SendResolved.Or(false) || got.Channel != "#alerts" {
		t.Errorf("slack %+v", got)
	}
	if got := c.Receivers[2].WebhookConfigs[0]; !got.SendResolved.Or(true) || got.MaxAlerts != 10 {
		t.Errorf("webhook %+v", got)
	}
	ivs, err := c.Intervals()
	if err != nil || len(ivs["offhours"]) != 2 {
		t.Fatalf("intervals %v %v", ivs, err)
	}
	// A Saturday is in offhours; a Wednesday noon is not.
	if !ivs["offhours"].Contains(time.Date(2024, 5, 4, 12, 0, 0, 0, time.UTC)) || ivs["offhours"].Contains(time.Date(2024, 5, 8, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("offhours evaluates wrongly")
	}
	want := []string{"templates", "global.http_config", "receivers[0].slack_configs[0].icon_emoji", "receivers[2].opsgenie_configs"}
	joined := strings.Join(c.Warnings, "\n")
	for _, w := range want {
		if !strings.Contains(joined, w+": not supported by Vigil; ignored") {
			t.Errorf("warnings lack %s:\n%s", w, joined)
		}
	}
}

func TestParseAlertmanagerConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // each must appear in the error
	}{
		{"syntax", "route: [", []string{"alertmanager.yml:1:"}},
		{"empty", "", []string{"a route and its receiver are required"}},
		{"unknown key", "route:\n  reciever: team\n", []string{"alertmanager.yml:2: route.reciever: unknown key"}},
		{"bad duration", "route:\n  receiver: team\n  group_wait: 5x\nreceivers: [{name: team}]\n", []string{"alertmanager.yml:3: route.group_wait:", "is not a duration"}},
		{"no root receiver", "route: {}\nreceivers: [{name: team}]\n", []string{"route.receiver: the root route needs a receiver"}},
		{"child receiver undefined", "route:\n  receiver: team\n  routes:\n  - receiver: nope\nreceivers: [{name: team}]\n", []string{`alertmanager.yml:4: route.routes[0].receiver: receiver "nope" is not defined`}},
		{"bad matcher", "route:\n  receiver: team\n  routes:\n  - matchers: ['a=~(']\nreceivers: [{name: team}]\n", []string{"alertmanager.yml:4: route.routes[0].matchers:"}},
		{"bad match_re", "route:\n  receiver: team\n  routes:\n  - match_re: {a: '('}\nreceivers: [{name: team}]\n", []string{"route.routes[0].matchers: match_re: a:", "not a regular expression"}},
		{"root matchers", "route:\n  receiver: team\n  matchers: [a=b]\nreceivers: [{name: team}]\n", []string{"root route must not have matchers"}},
		{"group_by mix", "route:\n  receiver: team\n  group_by: ['...', a]\nreceivers: [{name: team}]\n", []string{"route.group_by: '...'"}},
		{"zero interval", "route:\n  receiver: team\n  group_interval: 0s\nreceivers: [{name: team}]\n", []string{"alertmanager.yml:3: route.group_interval: must be positive"}},
		{"duplicate receiver", "route: {receiver: a}\nreceivers: [{name: a}, {name: a}]\n", []string{`receiver "a" is defined twice`}},
		{"undefined interval", "route:\n  receiver: a\n  routes:\n  - mute_time_intervals: [nope]\nreceivers: [{name: a}]\n", []string{`alertmanager.yml:4: route.routes[0].mute_time_intervals[0]: time interval "nope" is not defined`}},
		{"bad interval", "route: {receiver: a}\nreceivers: [{name: a}]\ntime_intervals:\n- name: x\n  time_intervals:\n  - weekdays: [funday]\n", []string{"alertmanager.yml:6: time_intervals[0].time_intervals[0]: weekdays:", `"funday" is not a weekday`}},
		{"bad days", "route: {receiver: a}\nreceivers: [{name: a}]\ntime_intervals:\n- name: x\n  time_intervals:\n  - days_of_month: ['-1:5']\n", []string{"end day must be negative"}},
		{"bad location", "route: {receiver: a}\nreceivers: [{name: a}]\ntime_intervals:\n- name: x\n  time_intervals:\n  - location: Mars/Olympus\n", []string{"not a known time zone"}},
		{"webhook url", "route: {receiver: a}\nreceivers:\n- name: a\n  webhook_configs: [{url: 'ftp://x'}]\n", []string{"alertmanager.yml:4: receivers[0].webhook_configs[0].url:", "not an http(s) URL"}},
		{"pagerduty keys", "route: {receiver: a}\nreceivers:\n- name: a\n  pagerduty_configs: [{url: 'https://x'}]\n", []string{"set exactly one of routing_key"}},
		{"slack no url", "route: {receiver: a}\nreceivers:\n- name: a\n  slack_configs: [{channel: x}]\n", []string{"no api_url here nor global slack_api_url"}},
		{"email", "route: {receiver: a}\nreceivers:\n- name: a\n  email_configs: [{auth_password: x, auth_password_file: y}]\n", []string{"an email config needs a to address", "no from here", "no smarthost", "mutually exclusive"}},
		{"inhibit matcher", "route: {receiver: a}\nreceivers: [{name: a}]\ninhibit_rules:\n- source_matchers: ['=x']\n", []string{"alertmanager.yml:4: inhibit_rules[0].source_matchers:"}},
		{"window", "route: {receiver: a}\nreceivers: [{name: a}]\nmaintenance_windows:\n- name: w\n  time_intervals: [nope]\n", []string{`maintenance_windows[0].time_intervals[0]: time interval "nope" is not defined`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseAlertmanagerConfig([]byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestAlertmanagerExamples loads the example configurations shipped with
// the Alertmanager module, when the module is in the local cache: an
// existing alertmanager.yml must load, with warnings for what Vigil does
// not implement.
func TestAlertmanagerExamples(t *testing.T) {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Skip("go env GOMODCACHE:", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "github.com/prometheus/alertmanager@v0.34.2")
	files := []string{"doc/examples/simple.yml", "config/testdata/conf.good.yml", "config/testdata/conf.group-by-all.yml"}
	for _, f := range files {
		p := filepath.Join(dir, f)
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s not in the module cache", f)
		}
		t.Run(f, func(t *testing.T) {
			c, err := LoadAlertmanagerConfig(p)
			if err != nil {
				t.Fatal(err)
			}
			if c.Route.Receiver == "" || len(c.Receivers) == 0 {
				t.Errorf("loaded without route or receivers")
			}
		})
	}
	if _, err := LoadAlertmanagerConfig(filepath.Join(t.TempDir(), "missing.yml")); err == nil || !strings.Contains(err.Error(), "read alertmanager config") {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzParseAlertmanagerConfig(f *testing.F) {
	f.Add(goodAM)
	f.Add("route: {receiver: a}\nreceivers: [{name: a}]\n")
	f.Add("route:\n  receiver: a\n  routes: [{matchers: ['a=~\"b\"']}]\nreceivers: [{name: a}]\n")
	f.Add("time_intervals: [{name: x, time_intervals: [{days_of_month: ['-3:-1'], times: [{start_time: '00:00', end_time: '24:00'}]}]}]")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseAlertmanagerConfig([]byte(s))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if c.Route.Receiver == "" {
			t.Fatal("accepted a config without a root receiver")
		}
		if _, err := c.Intervals(); err != nil {
			t.Fatalf("validated intervals fail to build: %v", err)
		}
	})
}
