package pagerduty

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigilops/vigil/notify"
	"github.com/vigilops/vigil/telemetry"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const key = "0123456789abcdef0123456789abcdef"

func message(n int) *notify.Message {
	m := &notify.Message{
		Receiver: "oncall", GroupKey: `{}:{service="checkout"}`, Status: notify.StatusFiring,
		GroupLabels:  telemetry.LabelsFromStrings("service", "checkout"),
		CommonLabels: telemetry.LabelsFromStrings("alertname", "HighErrorRate", "service", "checkout", "severity", "page", "namespace", "shop"),
		ExternalURL:  "http://vigil.example", Now: t0,
	}
	for i := range n {
		m.Alerts = append(m.Alerts, telemetry.Alert{
			Labels:       telemetry.LabelsFromStrings("alertname", "HighErrorRate", "service", "checkout", "pod", strings.Repeat("p", i+1)),
			StartsAt:     t0.Add(-time.Minute),
			GeneratorURL: "http://prometheus.example/graph?g0.expr=up",
		})
	}
	return m
}

// pdServer validates events against the Events API v2 rules and answers
// as PagerDuty does (202 with status, message, dedup_key).
func pdServer(t *testing.T, got chan<- map[string]any) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/enqueue" || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %s %s %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		b, _ := io.ReadAll(r.Body)
		var ev map[string]any
		if err := json.Unmarshal(b, &ev); err != nil {
			http.Error(w, `{"status":"invalid event","message":"Event object is invalid"}`, http.StatusBadRequest)
			t.Errorf("not JSON: %v", err)
			return
		}
		checkEvent(t, ev)
		got <- ev
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(map[string]string{"status": "success", "message": "Event processed", "dedup_key": ev["dedup_key"].(string)})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func checkEvent(t *testing.T, ev map[string]any) {
	t.Helper()
	rk, ok := ev["routing_key"].(string)
	if !ok || len(rk) != 32 {
		t.Errorf("routing_key %v: want a 32-character string", ev["routing_key"])
	}
	action, _ := ev["event_action"].(string)
	switch action {
	case "trigger", "acknowledge", "resolve":
	default:
		t.Errorf("event_action %v", ev["event_action"])
	}
	dk, ok := ev["dedup_key"].(string)
	if !ok || dk == "" || len(dk) > 255 {
		t.Errorf("dedup_key %v: want 1..255 characters", ev["dedup_key"])
	}
	if action != "trigger" {
		return
	}
	p, ok := ev["payload"].(map[string]any)
	if !ok {
		t.Fatalf("trigger without payload object")
	}
	sum, ok := p["summary"].(string)
	if !ok || sum == "" || utf8.RuneCountInString(sum) > 1024 {
		t.Errorf("payload.summary: %d characters, want 1..1024", utf8.RuneCountInString(sum))
	}
	if s, ok := p["source"].(string); !ok || s == "" {
		t.Errorf("payload.source %v: required", p["source"])
	}
	switch p["severity"] {
	case "critical", "error", "warning", "info":
	default:
		t.Errorf("payload.severity %v", p["severity"])
	}
	if ts, ok := p["timestamp"].(string); ok {
		if _, err := time.Parse(time.RFC3339, ts); err != nil {
			t.Errorf("payload.timestamp %q: %v", ts, err)
		}
	}
	for _, f := range []string{"component", "group", "class"} {
		if v, ok := p[f]; ok {
			if _, isStr := v.(string); !isStr {
				t.Errorf("payload.%s is %T", f, v)
			}
		}
	}
	if cd, ok := p["custom_details"]; ok {
		if _, isObj := cd.(map[string]any); !isObj {
			t.Errorf("custom_details is %T, want object", cd)
		}
	}
	if ls, ok := ev["links"]; ok {
		for _, lv := range ls.([]any) {
			l := lv.(map[string]any)
			if h, _ := l["href"].(string); !strings.HasPrefix(h, "http") {
				t.Errorf("link href %v", l["href"])
			}
		}
	}
}

func newNotifier(t *testing.T, url string) *Notifier {
	o := DefaultOptions()
	o.RoutingKey = key
	o.URL = url + "/v2/enqueue"
	n, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPagerDutyEventsMatchAPI(t *testing.T) {
	got := make(chan map[string]any, 1)
	srv := pdServer(t, got)
	n := newNotifier(t, srv.URL)
	incident := func(status string) func() *notify.Message {
		return func() *notify.Message {
			m := message(2)
			m.Incident = &notify.IncidentInfo{ID: "inc-42", Title: "Checkout down", Severity: "warning", Status: status, Services: []string{"checkout", "payments"}, URL: "http://vigil.example/i/42", StartedAt: t0}
			if status == notify.IncidentResolved {
				m.Status = notify.StatusResolved
			}
			return m
		}
	}
	tests := []struct {
		name         string
		msg          func() *notify.Message
		wantAction   string
		wantSeverity string
		wantDedup    string
	}{
		{"firing group", func() *notify.Message { return message(2) }, "trigger", "critical", ""},
		{"resolved group", func() *notify.Message {
			m := message(2)
			for i := range m.Alerts {
				m.Alerts[i].EndsAt = t0
			}
			m.Status = notify.StatusResolved
			return m
		}, "resolve", "", ""},
		{"open incident", incident(notify.IncidentOpen), "trigger", "warning", "vigil-incident-inc-42"},
		{"acknowledged incident", incident(notify.IncidentAcknowledged), "acknowledge", "", "vigil-incident-inc-42"},
		{"resolved incident", incident(notify.IncidentResolved), "resolve", "", "vigil-incident-inc-42"},
		{"long summary cut", func() *notify.Message {
			m := message(1)
			m.CommonLabels = m.CommonLabels.With("alertname", strings.Repeat("é", 5000))
			return m
		}, "trigger", "critical", ""},
		{"unknown severity falls back", func() *notify.Message {
			m := message(1)
			m.CommonLabels = m.CommonLabels.With("severity", "whatever")
			return m
		}, "trigger", "error", ""},
	}
	var groupDedup string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := n.Notify(context.Background(), tt.msg()); err != nil {
				t.Fatal(err)
			}
			ev := <-got
			if ev["event_action"] != tt.wantAction {
				t.Errorf("event_action = %v, want %s", ev["event_action"], tt.wantAction)
			}
			if tt.wantDedup != "" && ev["dedup_key"] != tt.wantDedup {
				t.Errorf("dedup_key = %v, want %s", ev["dedup_key"], tt.wantDedup)
			}
			if tt.wantDedup == "" && ev["event_action"] != "acknowledge" {
				// Trigger and resolve of one group share its key.
				if groupDedup == "" {
					groupDedup = ev["dedup_key"].(string)
				} else if ev["dedup_key"] != groupDedup {
					t.Errorf("dedup_key %v differs from the group's %s", ev["dedup_key"], groupDedup)
				}
			}
			if tt.wantSeverity != "" {
				p := ev["payload"].(map[string]any)
				if p["severity"] != tt.wantSeverity {
					t.Errorf("severity = %v, want %s", p["severity"], tt.wantSeverity)
				}
			}
		})
	}
}

func TestPagerDutyTriggerFields(t *testing.T) {
	n := newNotifier(t, "http://127.0.0.1:1")
	ev, err := n.Event(message(3))
	if err != nil {
		t.Fatal(err)
	}
	p := ev.Payload
	if p.Summary != "[FIRING:3] HighErrorRate" || p.Source != "checkout" || p.Component != "checkout" || p.Group != "shop" || p.Class != "HighErrorRate" {
		t.Errorf("payload = %+v", p)
	}
	if p.CustomDetails["num_firing"] != 3 {
		t.Errorf("custom_details = %v", p.CustomDetails)
	}
	if len(ev.Links) != 1 || ev.Client != "Vigil" || ev.ClientURL != "http://vigil.example" {
		t.Errorf("links %v client %q %q", ev.Links, ev.Client, ev.ClientURL)
	}
}

func TestPagerDutyOptionsValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Options)
		want   error
	}{
		{"short routing key", func(o *Options) { o.RoutingKey = "abc" }, notify.ErrInvalidOptions},
		{"bad url", func(o *Options) { o.URL = "events.pagerduty.com" }, notify.ErrInvalidOptions},
		{"bad default severity", func(o *Options) { o.DefaultSeverity = "high" }, notify.ErrInvalidOptions},
		{"bad summary template", func(o *Options) { o.Summary = "{{ .Missing }}" }, notify.ErrTemplate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			o.RoutingKey = key
			tt.mutate(&o)
			if _, err := New(o); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	o := DefaultOptions()
	o.RoutingKey = key
	n, err := New(o)
	if err != nil || n.opts.URL != "https://events.pagerduty.com/v2/enqueue" {
		t.Errorf("default URL = %q, %v", n.opts.URL, err)
	}
}

func TestPagerDutyRetryAfter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "12")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	err := newNotifier(t, srv.URL).Notify(context.Background(), message(1))
	var de *notify.DeliveryError
	if !errors.As(err, &de) || !de.Retryable || de.RetryAfter != 12*time.Second {
		t.Errorf("err = %#v, want retryable after 12s", err)
	}
}

func FuzzPagerDutyEvent(f *testing.F) {
	f.Add("HighErrorRate", "critical", "inc-1", "checkout")
	f.Add(strings.Repeat("x", 3000), "\r\n", "id\nwith break", "\x00")
	o := DefaultOptions()
	o.RoutingKey = key
	n, err := New(o)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name, sev, id, svc string) {
		m := message(1)
		m.CommonLabels = telemetry.LabelsFromMap(map[string]string{"alertname": name, "severity": sev, "service": svc})
		if id != "" {
			m.Incident = &notify.IncidentInfo{ID: id, Title: name, Status: notify.IncidentOpen, Severity: sev, Services: []string{svc}}
		}
		ev, err := n.Event(m)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]any
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("invalid JSON: %v", err)
		}
		checkEvent(t, back)
	})
}
