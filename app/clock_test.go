package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/incident"
	"github.com/vigilops/vigil/sim"
)

// TestClockFollowsTheDemo checks that the app clock is the wall clock until
// a demo runs and the simulator's clock from then on, even when the
// simulator is hours ahead of the wall clock.
func TestClockFollowsTheDemo(t *testing.T) {
	wall := time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC)
	a, err := New(Options{Config: testConfig(t), Now: func() time.Time { return wall }})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.clock(); !got.Equal(wall) {
		t.Fatalf("without a demo the clock is %s, want the wall clock %s", got, wall)
	}
	so := sim.DefaultOptions()
	so.Start = wall.Truncate(time.Minute)
	s, err := sim.New(so)
	if err != nil {
		t.Fatal(err)
	}
	d := &demo{sim: s, speed: 60}
	d.simNow.Store(s.Now().UnixNano())
	a.demoClock.Store(d)
	if got := a.clock(); !got.Equal(so.Start) {
		t.Fatalf("at the demo's start the clock is %s, want the simulator's %s", got, so.Start)
	}
	d.mtx.Lock()
	s.Advance(so.Start.Add(3 * time.Hour))
	d.simNow.Store(s.Now().UnixNano())
	d.mtx.Unlock()
	if got, want := a.clock(), s.Now(); !got.Equal(want) || got.Sub(wall) < 2*time.Hour {
		t.Fatalf("after three simulated hours the clock is %s, want the simulator's %s (wall %s)", got, want, wall)
	}
	if a.now() != wall {
		t.Fatalf("the wall clock moved with the demo: %s", a.now())
	}
}

func TestScaledTTL(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ttl   time.Duration
		scale float64
		want  time.Duration
	}{
		{"no demo", time.Hour, 1, time.Hour},
		{"unset scale", time.Hour, 0, time.Hour},
		{"demo default speed", time.Hour, 60, 60 * time.Hour},
		{"fractional speed", time.Hour, 1.5, 90 * time.Minute},
		{"overflow is capped", 7 * 24 * time.Hour, 100_000, maxScaledTTL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := scaledTTL(tc.ttl, tc.scale); got != tc.want {
				t.Fatalf("scaledTTL(%s, %g) = %s, want %s", tc.ttl, tc.scale, got, tc.want)
			}
		})
	}
}

// TestDemoOperatorActionsUseTheSimulatedClock drives the API of a running
// demo, whose simulated clock is hours ahead of the wall clock, and checks
// that what the API stamps or judges by "now" is on that clock: a POSTed
// event and alert without times, the alert lists' firing judgement, and an
// acknowledgement and a note on an incident.
func TestDemoOperatorActionsUseTheSimulatedClock(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for several seconds")
	}
	cfg := testConfig(t)
	cfg.Demo.Enabled, cfg.Demo.Speed, cfg.Demo.Seed = true, 3600, 1
	cfg.API.AnonymousRole = "viewer"
	a := startApp(t, cfg)
	base := "http://" + a.Addr().String()
	call := func(method, path, token, body string) (int, []byte) {
		t.Helper()
		return send(t, method, base+path, body, token)
	}
	decode := func(b []byte, v any) {
		t.Helper()
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("decode %.300s: %v", b, err)
		}
	}
	admin, err := os.ReadFile(filepath.Join(cfg.DataDir, AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	code, body := call("POST", "/api/v1/tokens", strings.TrimSpace(string(admin)), `{"name":"oncall","role":"operator"}`)
	var tok struct {
		Secret string `json:"secret"`
	}
	if decode(body, &tok); code != http.StatusCreated && code != http.StatusOK || tok.Secret == "" {
		t.Fatalf("create operator token: %d %s", code, body)
	}
	simNow := func() time.Time {
		t.Helper()
		_, b := call("GET", "/api/v1/demo", "", "")
		var st demoStatus
		decode(b, &st)
		return st.SimulatedTime
	}
	// Far enough ahead that a wall-clock stamp cannot pass for a simulated one.
	const ahead = 30 * time.Minute
	waitFor(t, "the simulated clock to run ahead of the wall clock", 30*time.Second, func() bool {
		return simNow().Sub(time.Now()) > ahead
	})

	t.Run("event without a time", func(t *testing.T) {
		before := simNow()
		summary := fmt.Sprintf("checkout clock-test %d", time.Now().UnixNano())
		if code, b := call("POST", "/api/v1/events", tok.Secret, `{"kind":"deploy","service":"checkout","summary":"`+summary+`"}`); code/100 != 2 {
			t.Fatalf("post event: %d %s", code, b)
		}
		_, b := call("GET", "/api/v1/events?service=checkout&kind=deploy&limit=1000", "", "")
		var resp struct {
			Events []struct {
				Time    time.Time `json:"time"`
				Summary string    `json:"summary"`
			} `json:"events"`
		}
		decode(b, &resp)
		found := false
		for _, ev := range resp.Events {
			if ev.Summary != summary {
				continue
			}
			found = true
			if ev.Time.Before(before) || ev.Time.Sub(time.Now()) < ahead {
				t.Errorf("event stamped %s, want the simulated clock (at least %s; wall %s)", ev.Time, before, time.Now().UTC())
			}
		}
		if !found {
			t.Fatalf("posted event not listed: %.1000s", b)
		}
	})

	t.Run("alerts agree on what fires", func(t *testing.T) {
		before := simNow()
		// Its own times, on the simulated clock: kept as they are, and it
		// fires by every API's reckoning.
		own := fmt.Sprintf(`[{"labels":{"alertname":"ClockTestOwnTimes","service":"checkout"},"startsAt":%q,"endsAt":%q}]`,
			before.Format(time.RFC3339Nano), before.Add(48*time.Hour).Format(time.RFC3339Nano))
		if code, b := call("POST", "/api/v2/alerts", "", own); code != http.StatusOK {
			t.Fatalf("post alert: %d %s", code, b)
		}
		// No times: stamped with the simulated clock.
		if code, b := call("POST", "/api/v2/alerts", "", `[{"labels":{"alertname":"ClockTestNoTimes","service":"checkout"}}]`); code != http.StatusOK {
			t.Fatalf("post alert: %d %s", code, b)
		}
		type alertView struct {
			Fingerprint string            `json:"fingerprint"`
			Status      string            `json:"status"`
			Labels      map[string]string `json:"labels"`
			StartsAt    time.Time         `json:"startsAt"`
		}
		find := func(query, name string) *alertView {
			_, b := call("GET", "/api/v1/alerts?"+query, "", "")
			var resp struct {
				Alerts []alertView `json:"alerts"`
			}
			decode(b, &resp)
			for i := range resp.Alerts {
				if resp.Alerts[i].Labels["alertname"] == name {
					return &resp.Alerts[i]
				}
			}
			return nil
		}
		var firing *alertView
		waitFor(t, "the alert with its own times among the active alerts", 20*time.Second, func() bool {
			firing = find("active=true&limit=1000", "ClockTestOwnTimes")
			return firing != nil
		})
		if firing.Status != "firing" {
			t.Errorf("active alert has status %q, want firing", firing.Status)
		}
		if !firing.StartsAt.Equal(before) {
			t.Errorf("alert startsAt %s, want its own %s", firing.StartsAt, before)
		}
		_, b := call("GET", "/api/v2/alerts?filter="+url.QueryEscape(`alertname="ClockTestOwnTimes"`), "", "")
		var v2 []struct {
			Status struct {
				State string `json:"state"`
			} `json:"status"`
		}
		decode(b, &v2)
		if len(v2) != 1 || v2[0].Status.State != "active" {
			t.Errorf("/api/v2/alerts: %s, want the alert active", b)
		}
		// The store lists the alert before the router has taken it in:
		// explain is asked until the router knows it.
		waitFor(t, "explain to know the alert, still in its group", 20*time.Second, func() bool {
			_, b = call("GET", "/api/v1/alerts/"+firing.Fingerprint+"/explain", "", "")
			var ex struct {
				Known    bool `json:"known"`
				Departed bool `json:"departed"`
			}
			decode(b, &ex)
			return ex.Known && !ex.Departed
		})

		var stamped *alertView
		waitFor(t, "the alert without times in the history", 20*time.Second, func() bool {
			stamped = find("limit=1000", "ClockTestNoTimes")
			return stamped != nil
		})
		if stamped.StartsAt.Before(before) || stamped.StartsAt.Sub(time.Now()) < ahead {
			t.Errorf("alert without times started %s, want the simulated clock (at least %s; wall %s)", stamped.StartsAt, before, time.Now().UTC())
		}
	})

	t.Run("acknowledgement and note", func(t *testing.T) {
		var (
			inc    incident.Incident
			before time.Time
		)
		// Demo incidents open and resolve within seconds at this speed:
		// acknowledge whichever is open, retrying on one that just closed.
		waitFor(t, "an open incident to acknowledge", 90*time.Second, func() bool {
			_, b := call("GET", "/api/v1/incidents?status=open", "", "")
			var resp struct {
				Incidents []incident.Incident `json:"incidents"`
			}
			decode(b, &resp)
			for _, x := range resp.Incidents {
				before = simNow()
				code, b := call("POST", "/api/v1/incidents/"+x.ID+"/ack", tok.Secret, `{"text":"looking"}`)
				if code != http.StatusOK {
					continue
				}
				var v struct {
					Incident incident.Incident `json:"incident"`
				}
				decode(b, &v)
				inc = v.Incident
				return true
			}
			return false
		})
		if code, b := call("POST", "/api/v1/incidents/"+inc.ID+"/notes", tok.Secret, `{"text":"clock note"}`); code/100 != 2 {
			t.Fatalf("note: %d %s", code, b)
		}
		_, b := call("GET", "/api/v1/incidents/"+inc.ID, "", "")
		var v struct {
			Incident incident.Incident `json:"incident"`
		}
		decode(b, &v)
		got := v.Incident
		if got.AcknowledgedAt.Before(got.OpenedAt) {
			t.Errorf("acknowledged_at %s is before opened_at %s", got.AcknowledgedAt, got.OpenedAt)
		}
		if got.AcknowledgedAt.Before(before) || got.AcknowledgedAt.Sub(time.Now()) < ahead {
			t.Errorf("acknowledged_at %s, want the simulated clock (at least %s; wall %s)", got.AcknowledgedAt, before, time.Now().UTC())
		}
		if got.UpdatedAt.Before(got.AcknowledgedAt) {
			t.Errorf("updated_at %s is before acknowledged_at %s", got.UpdatedAt, got.AcknowledgedAt)
		}
		_, b = call("GET", "/api/v1/incidents/"+inc.ID+"/timeline", "", "")
		var tl struct {
			Entries []incident.Entry `json:"entries"`
		}
		decode(b, &tl)
		seen := map[string]bool{}
		for _, e := range tl.Entries {
			for _, text := range []string{"looking", "clock note"} {
				if !strings.Contains(e.Text, text) {
					continue
				}
				seen[text] = true
				if e.Time.Before(got.OpenedAt) {
					t.Errorf("timeline entry %q at %s is before the incident opened (%s)", e.Text, e.Time, got.OpenedAt)
				}
			}
		}
		if !seen["looking"] || !seen["clock note"] {
			t.Errorf("timeline lacks the acknowledgement or the note: %.2000s", b)
		}
	})
}
