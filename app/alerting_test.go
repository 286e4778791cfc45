package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/correlate/dispatch"
	"github.com/vigilops/vigil/telemetry"
)

// webhookSink records Alertmanager webhook deliveries.
type webhookSink struct {
	mtx  sync.Mutex
	msgs []map[string]any
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err == nil {
		s.mtx.Lock()
		s.msgs = append(s.msgs, m)
		s.mtx.Unlock()
	}
	w.WriteHeader(http.StatusOK)
}

// got returns the alert-group deliveries (incident is false) or the
// incident notifications (incident is true).
func (s *webhookSink) got(incident bool) []map[string]any {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	var out []map[string]any
	for _, m := range s.msgs {
		key, _ := m["groupKey"].(string)
		if strings.HasPrefix(key, "incident/") == incident {
			out = append(out, m)
		}
	}
	return out
}

func post(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// alertingApp starts an app whose routing tree sends every alert to a
// webhook receiver on an httptest server, with a short group_wait.
func alertingApp(t *testing.T) (base string, sink *webhookSink, a *App) {
	t.Helper()
	sink = &webhookSink{}
	hs := httptest.NewServer(sink)
	t.Cleanup(hs.Close)
	cfg := alertingConfig(t, hs.URL)
	a = startApp(t, cfg)
	return "http://" + a.Addr().String(), sink, a
}

func startApp(t *testing.T, cfg config.Config) *App {
	t.Helper()
	a, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop(context.Background()) })
	return a
}

func alertingConfig(t *testing.T, hookURL string) config.Config {
	t.Helper()
	cfg := testConfig(t)
	amFile := filepath.Join(t.TempDir(), "alertmanager.yml")
	am := `route:
  receiver: hook
  group_by: [alertname]
  group_wait: 200ms
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: ` + hookURL + `
`
	if err := os.WriteFile(amFile, []byte(am), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Alerting.ConfigFile = amFile
	cfg.Notify.FlushInterval = 100_000_000 // 100ms, as a config.Duration
	cfg.API.AnonymousRole = "viewer"
	return cfg
}

// TestAlertingSurvivesRestart: after a restart on the same data directory,
// the sender re-posting the same alert does not notify it again (the
// notification log is persisted), and silences are still there.
func TestAlertingSurvivesRestart(t *testing.T) {
	sink := &webhookSink{}
	hs := httptest.NewServer(sink)
	defer hs.Close()
	cfg := alertingConfig(t, hs.URL)
	cfg.Incidents.Enabled = false
	alert := `[{"labels":{"alertname":"Restarted","service":"api"},"startsAt":"` + time.Now().UTC().Add(-time.Minute).Format(time.RFC3339) + `"}]`

	a := startApp(t, cfg)
	base := "http://" + a.Addr().String()
	if code, body := post(t, base+"/api/v2/alerts", alert); code != 200 {
		t.Fatalf("post alert: %d %s", code, body)
	}
	waitFor(t, "the first delivery", 10*time.Second, func() bool { return len(sink.got(false)) == 1 })
	now := time.Now().UTC()
	code, body := post(t, base+"/api/v2/silences", `{"matchers":[{"name":"alertname","value":"Other","isRegex":false}],"startsAt":"`+
		now.Format(time.RFC3339)+`","endsAt":"`+now.Add(time.Hour).Format(time.RFC3339)+`","createdBy":"t","comment":"c"}`)
	if code != 200 {
		t.Fatalf("create silence: %d %s", code, body)
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}

	b := startApp(t, cfg)
	base = "http://" + b.Addr().String()
	if code, body := post(t, base+"/api/v2/alerts", alert); code != 200 {
		t.Fatalf("post alert again: %d %s", code, body)
	}
	// The alert is older than group_wait, so its new group flushes at once;
	// wait past a group_interval too.
	time.Sleep(1500 * time.Millisecond)
	if n := len(sink.got(false)); n != 1 {
		t.Fatalf("re-sent after restart: %d deliveries", n)
	}
	if code, body := get(t, base+"/api/v2/silences", ""); code != 200 || !strings.Contains(string(body), `"Other"`) {
		t.Fatalf("silence lost across restart: %d %s", code, body)
	}
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// counter reads one counter from the app's registry.
func counter(t *testing.T, a *App, name, label, value string) float64 {
	t.Helper()
	mfs, err := a.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{%s=%q}", name, label, value)
	return 0
}

func TestAlertingWebhookAndSilence(t *testing.T) {
	base, sink, a := alertingApp(t)
	code, body := post(t, base+"/api/v2/alerts", `[{"labels":{"alertname":"HighLatency","service":"checkout","severity":"critical"},"annotations":{"summary":"p99 over 2s"}}]`)
	if code != 200 {
		t.Fatalf("post alert: %d %s", code, body)
	}
	waitFor(t, "one webhook delivery", 10*time.Second, func() bool { return len(sink.got(false)) >= 1 })
	// Give a duplicate the chance to show up: group_interval is 1s.
	time.Sleep(1500 * time.Millisecond)
	msgs := sink.got(false)
	if len(msgs) != 1 {
		t.Fatalf("want exactly one delivery, got %d: %v", len(msgs), msgs)
	}
	m := msgs[0]
	if m["version"] != "4" || m["status"] != "firing" || m["receiver"] != "hook" {
		t.Fatalf("not Alertmanager's payload: %v", m)
	}
	alerts, _ := m["alerts"].([]any)
	if len(alerts) != 1 {
		t.Fatalf("want one alert in the payload, got %v", m["alerts"])
	}
	if ls := alerts[0].(map[string]any)["labels"].(map[string]any); ls["alertname"] != "HighLatency" || ls["service"] != "checkout" {
		t.Fatalf("payload labels: %v", ls)
	}

	// The critical alert opened an incident at once, and the incident was
	// routed (as alertname="VigilIncident") to the same receiver.
	waitFor(t, "an incident notification", 5*time.Second, func() bool { return len(sink.got(true)) >= 1 })
	inc := sink.got(true)[0]
	if gl, _ := inc["groupLabels"].(map[string]any); gl["alertname"] != IncidentAlertName || gl["service"] != "checkout" || gl["severity"] != "critical" {
		t.Fatalf("incident notification group labels: %v", inc["groupLabels"])
	}
	if n := counter(t, a, "vigil_alerting_incident_notifications_total", "outcome", "sent"); n < 1 {
		t.Fatalf("incident notifications sent counted %v", n)
	}

	// A silence created through the Alertmanager API mutes a new alert.
	now := time.Now().UTC()
	sil := `{"matchers":[{"name":"alertname","value":"DiskFull","isRegex":false,"isEqual":true}],"startsAt":"` +
		now.Add(-time.Minute).Format(time.RFC3339) + `","endsAt":"` + now.Add(time.Hour).Format(time.RFC3339) +
		`","createdBy":"test","comment":"maintenance"}`
	code, body = post(t, base+"/api/v2/silences", sil)
	if code != 200 {
		t.Fatalf("create silence: %d %s", code, body)
	}
	var created struct {
		SilenceID string `json:"silenceID"`
	}
	if err := json.Unmarshal(body, &created); err != nil || created.SilenceID == "" {
		t.Fatalf("silence answer %s: %v", body, err)
	}
	code, body = post(t, base+"/api/v2/alerts", `[{"labels":{"alertname":"DiskFull","service":"db"}}]`)
	if code != 200 {
		t.Fatalf("post alert: %d %s", code, body)
	}
	// The silenced alert's group flushes after group_wait (200ms); wait
	// well past it, then check that nothing more was delivered and that
	// the explain route says why.
	time.Sleep(1500 * time.Millisecond)
	if n := len(sink.got(false)); n != 1 {
		t.Fatalf("silenced alert delivered: %d deliveries: %v", n, sink.got(false))
	}
	code, body = get(t, base+"/api/v2/alerts?filter=alertname%3D%22DiskFull%22", "")
	if code != 200 || !strings.Contains(string(body), created.SilenceID) {
		t.Fatalf("alert status does not name the silence %s: %d %s", created.SilenceID, code, body)
	}

	// The explain route says what happened to each alert.
	for _, c := range []struct {
		labels map[string]string
		want   dispatch.Outcome
	}{
		{map[string]string{"alertname": "HighLatency", "service": "checkout", "severity": "critical"}, dispatch.OutcomeNotified},
		{map[string]string{"alertname": "DiskFull", "service": "db"}, dispatch.OutcomeSilenced},
	} {
		fp := telemetry.LabelsFromMap(c.labels).Fingerprint()
		code, body := get(t, base+"/api/v1/alerts/"+fp.String()+"/explain", "")
		if code != 200 {
			t.Fatalf("explain %v: %d %s", c.labels, code, body)
		}
		var ex struct {
			Known  bool                  `json:"known"`
			Groups []dispatch.GroupState `json:"groups"`
		}
		if err := json.Unmarshal(body, &ex); err != nil {
			t.Fatal(err)
		}
		if !ex.Known || len(ex.Groups) == 0 {
			t.Fatalf("explain %v: unknown: %s", c.labels, body)
		}
		g := ex.Groups[0]
		// A notified alert's later flushes find nothing new: deduplicated,
		// with the last notification containing it.
		notified := g.Last.Outcome == dispatch.OutcomeNotified || (g.Last.Outcome == dispatch.OutcomeDeduplicated && g.Contained)
		if (c.want == dispatch.OutcomeNotified) != notified || (c.want != dispatch.OutcomeNotified && g.Last.Outcome != c.want) {
			t.Fatalf("explain %v: want outcome %s, got %s", c.labels, c.want, body)
		}
		if !strings.Contains(string(body), `"fingerprint":"`+fp.String()+`"`) {
			t.Fatalf("explain: fingerprint not served as hex: %s", body)
		}
	}
	if code, body := get(t, base+"/api/v1/alerts/nothex/explain", ""); code != 400 {
		t.Fatalf("bad fingerprint: %d %s", code, body)
	}
	if code, body := get(t, base+"/api/v1/alerts/0123456789abcdef/explain", ""); code != 404 {
		t.Fatalf("unknown fingerprint: %d %s", code, body)
	}
}

// TestStopLetsDeliveryFinish stops Vigil while a webhook delivery is in
// flight: the delivery completes and reaches the notification log, so the
// same alert re-posted after a restart is not sent again.
func TestStopLetsDeliveryFinish(t *testing.T) {
	var (
		mtx     sync.Mutex
		calls   int
		entered = make(chan struct{}, 10)
	)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mtx.Lock()
		calls++
		mtx.Unlock()
		entered <- struct{}{}
		time.Sleep(300 * time.Millisecond) // still answering when Stop begins
		w.WriteHeader(http.StatusOK)
	}))
	defer hs.Close()
	cfg := alertingConfig(t, hs.URL)
	cfg.Incidents.Enabled = false
	alert := `[{"labels":{"alertname":"InFlight","service":"api"},"startsAt":"` + time.Now().UTC().Add(-time.Minute).Format(time.RFC3339) + `"}]`

	a := startApp(t, cfg)
	if code, body := post(t, "http://"+a.Addr().String()+"/api/v2/alerts", alert); code != 200 {
		t.Fatalf("post alert: %d %s", code, body)
	}
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery started")
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}

	b := startApp(t, cfg)
	if code, body := post(t, "http://"+b.Addr().String()+"/api/v2/alerts", alert); code != 200 {
		t.Fatalf("post alert again: %d %s", code, body)
	}
	time.Sleep(1500 * time.Millisecond)
	mtx.Lock()
	defer mtx.Unlock()
	if calls != 1 {
		t.Fatalf("%d deliveries; the one in flight at stop was not recorded", calls)
	}
}
