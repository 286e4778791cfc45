package amapi

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/correlate/dispatch"
	"github.com/vigilops/vigil/correlate/silence"
	"github.com/vigilops/vigil/telemetry"
)

const groupsYAML = `
route:
  receiver: team
  group_by: [alertname]
  routes:
  - matchers: [severity="page"]
    receiver: pager
receivers: [{name: team}, {name: pager}]
inhibit_rules:
- source_matchers: [severity="page"]
  target_matchers: [severity="warning"]
`

// dispatchFixture is a receiver whose accepted alerts feed a dispatcher
// and its inhibitor, as the app wires them.
func dispatchFixture(t *testing.T) (*fixture, *dispatch.Dispatcher, *silence.Silences) {
	t.Helper()
	cfg, err := config.ParseAlertmanagerConfig([]byte(groupsYAML))
	if err != nil {
		t.Fatal(err)
	}
	built, err := dispatch.FromConfig(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	sils := newSilences(t, nil)
	o := dispatch.DefaultOptions()
	built.Apply(&o)
	o.Silences = sils
	o.Notifier = dispatch.NotifierFunc(func(context.Context, dispatch.Notification) error { return nil })
	d, err := dispatch.New(o)
	if err != nil {
		t.Fatal(err)
	}
	var clk *clock
	f := newFixture(t, func(o *Options) { o.Silences, o.Dispatcher = sils, d })
	clk = f.clock
	f.sink.Then = func(as []telemetry.Alert) {
		built.Inhibitor.Put(as...)
		if err := d.Put(as, clk.Now()); err != nil && !errors.Is(err, dispatch.ErrFull) {
			t.Error(err)
		}
	}
	return f, d, sils
}

func TestGroupsAndStatus(t *testing.T) {
	f, _, _ := dispatchFixture(t)
	w := f.post(t, mustJSON(t, []map[string]any{
		{"labels": map[string]string{"alertname": "Down", "severity": "page"}},
		{"labels": map[string]string{"alertname": "Slow", "severity": "warning", "instance": "1"}},
		{"labels": map[string]string{"alertname": "Slow", "severity": "warning", "instance": "2"}},
		{"labels": map[string]string{"alertname": "Info"}},
	}))
	if w.Code != 200 {
		t.Fatalf("post: %d %s", w.Code, w.Body)
	}
	var groups []struct {
		Labels   map[string]string   `json:"labels"`
		Receiver receiverRef         `json:"receiver"`
		Alerts   []gettableAlertJSON `json:"alerts"`
	}
	get := func(q string) string {
		target := "/api/v2/alerts/groups"
		if q != "" {
			target += "?" + q
		}
		w := f.do(t, "GET", target, nil)
		if w.Code != 200 {
			t.Fatalf("GET %s: %d %s", target, w.Code, w.Body)
		}
		groups = nil
		if err := json.Unmarshal(w.Body.Bytes(), &groups); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, g := range groups {
			out = append(out, g.Receiver.Name+":"+g.Labels["alertname"]+"="+strings.Join(names(g.Alerts), "+"))
		}
		return strings.Join(out, " ")
	}
	// Sorted by group key: the child route's key ({}/{...}) sorts first.
	if got := get(""); got != "pager:Down=Down team:Info=Info team:Slow=Slow+Slow" {
		t.Errorf("groups: %s", got)
	}
	for _, a := range groups[2].Alerts {
		if a.Status.State != "suppressed" || len(a.Status.InhibitedBy) != 1 {
			t.Errorf("Slow status %+v", a.Status)
		}
	}
	if got := get("receiver=pager"); got != "pager:Down=Down" {
		t.Errorf("receiver=pager: %s", got)
	}
	if got := get("inhibited=false"); got != "pager:Down=Down team:Info=Info" {
		t.Errorf("inhibited=false: %s", got)
	}
	if got := get("filter=alertname%3D%22Info%22"); got != "team:Info=Info" {
		t.Errorf("filter: %s", got)
	}
	if w := f.do(t, "GET", "/api/v2/alerts/groups?filter=%7B", nil); w.Code != 400 {
		t.Errorf("bad filter: %d", w.Code)
	}

	// GET /api/v2/alerts reports receivers from the routing tree.
	for _, a := range f.list(t, "") {
		want := "team"
		if a.Labels["severity"] == "page" {
			want = "pager"
		}
		if len(a.Receivers) != 1 || a.Receivers[0].Name != want {
			t.Errorf("%s receivers %v", a.Labels["alertname"], a.Receivers)
		}
	}
	if got := names(f.list(t, "receiver=pager")); len(got) != 1 || got[0] != "Down" {
		t.Errorf("receiver=pager listed %v", got)
	}
	w = f.do(t, "GET", "/api/v2/receivers", nil)
	if !strings.Contains(w.Body.String(), `"pager"`) || !strings.Contains(w.Body.String(), `"team"`) {
		t.Errorf("receivers %s", w.Body)
	}
}

func TestGroupsHideResolved(t *testing.T) {
	f, _, _ := dispatchFixture(t)
	past := t0.Add(-time.Minute)
	f.post(t, mustJSON(t, []map[string]any{
		{"labels": map[string]string{"alertname": "Ended"}, "startsAt": ts(t0.Add(-time.Hour)), "endsAt": ts(past)},
	}))
	if w := f.do(t, "GET", "/api/v2/alerts/groups", nil); strings.TrimSpace(w.Body.String()) != "[]" {
		t.Errorf("groups with only a resolved alert: %s", w.Body)
	}
}
