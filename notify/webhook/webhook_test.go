package webhook

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

	"github.com/vigilops/vigil/notify"
	"github.com/vigilops/vigil/telemetry"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func message(n int) *notify.Message {
	m := &notify.Message{
		Receiver: "hooks", GroupKey: `{}:{alertname="HighErrorRate"}`, Status: notify.StatusFiring,
		GroupLabels:       telemetry.LabelsFromStrings("alertname", "HighErrorRate"),
		CommonLabels:      telemetry.LabelsFromStrings("alertname", "HighErrorRate", "service", "checkout"),
		CommonAnnotations: telemetry.LabelsFromStrings("summary", "errors"),
		ExternalURL:       "http://vigil.example", Now: t0,
	}
	for i := range n {
		a := telemetry.Alert{
			Labels:       telemetry.LabelsFromStrings("alertname", "HighErrorRate", "service", "checkout", "pod", strings.Repeat("p", i+1)),
			Annotations:  telemetry.LabelsFromStrings("summary", "errors"),
			StartsAt:     t0.Add(-time.Minute),
			GeneratorURL: "http://prometheus.example/graph",
		}
		if i == 0 {
			a.EndsAt = t0.Add(-time.Second) // resolved
		}
		m.Alerts = append(m.Alerts, a)
	}
	return m
}

func server(t *testing.T, got chan<- *http.Request, bodies chan<- []byte) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- b
	}))
	t.Cleanup(srv.Close)
	return srv
}

func obj(t *testing.T, v any, what string) map[string]any {
	t.Helper()
	o, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s is %T, want object", what, v)
	}
	return o
}

func stringMap(t *testing.T, v any, what string) {
	t.Helper()
	for k, x := range obj(t, v, what) {
		if _, ok := x.(string); !ok {
			t.Errorf("%s[%s] is %T, want string", what, k, x)
		}
	}
}

// checkAlertmanager asserts the webhook_config payload documented by
// Alertmanager: every field present with its JSON type.
func checkAlertmanager(t *testing.T, p map[string]any) {
	t.Helper()
	if p["version"] != "4" {
		t.Errorf("version = %v, want \"4\"", p["version"])
	}
	for _, f := range []string{"groupKey", "status", "receiver", "externalURL"} {
		if _, ok := p[f].(string); !ok {
			t.Errorf("%s is %T, want string", f, p[f])
		}
	}
	if s := p["status"]; s != "firing" && s != "resolved" {
		t.Errorf("status = %v", s)
	}
	if _, ok := p["truncatedAlerts"].(float64); !ok {
		t.Errorf("truncatedAlerts is %T, want number", p["truncatedAlerts"])
	}
	for _, f := range []string{"groupLabels", "commonLabels", "commonAnnotations"} {
		stringMap(t, p[f], f)
	}
	alerts, ok := p["alerts"].([]any)
	if !ok {
		t.Fatalf("alerts is %T, want array", p["alerts"])
	}
	for i, av := range alerts {
		a := obj(t, av, "alert")
		if len(a) != 7 {
			t.Errorf("alert %d has fields %v, want exactly the 7 documented", i, a)
		}
		if s := a["status"]; s != "firing" && s != "resolved" {
			t.Errorf("alert %d status = %v", i, s)
		}
		stringMap(t, a["labels"], "labels")
		stringMap(t, a["annotations"], "annotations")
		for _, f := range []string{"startsAt", "endsAt"} {
			s, _ := a[f].(string)
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				t.Errorf("alert %d %s = %v: %v", i, f, a[f], err)
			}
		}
		if _, ok := a["generatorURL"].(string); !ok {
			t.Errorf("alert %d generatorURL is %T", i, a["generatorURL"])
		}
		if fp, _ := a["fingerprint"].(string); len(fp) != 16 {
			t.Errorf("alert %d fingerprint %v, want 16 hex digits", i, a["fingerprint"])
		}
	}
}

func TestAlertmanagerPayload(t *testing.T) {
	reqs, bodies := make(chan *http.Request, 1), make(chan []byte, 1)
	srv := server(t, reqs, bodies)
	o := DefaultOptions()
	o.URL = srv.URL + "/hook"
	o.MaxAlerts = 2
	o.BearerToken = "s3cret"
	n, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	m := message(3)
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	r, b := <-reqs, <-bodies
	if r.Header.Get("Authorization") != "Bearer s3cret" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", r.Header)
	}
	var p map[string]any
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	checkAlertmanager(t, p)
	alerts := p["alerts"].([]any)
	if len(alerts) != 2 || p["truncatedAlerts"] != float64(1) {
		t.Errorf("%d alerts, truncated %v; want 2 and 1", len(alerts), p["truncatedAlerts"])
	}
	a0, a1 := alerts[0].(map[string]any), alerts[1].(map[string]any)
	if a0["status"] != "resolved" || a1["status"] != "firing" {
		t.Errorf("alert statuses %v %v", a0["status"], a1["status"])
	}
	if a1["endsAt"] != "0001-01-01T00:00:00Z" {
		t.Errorf("firing alert endsAt = %v, want Alertmanager's zero time", a1["endsAt"])
	}
	if a0["fingerprint"] != m.Alerts[0].Fingerprint().String() {
		t.Errorf("fingerprint = %v", a0["fingerprint"])
	}
	if p["groupKey"] != m.GroupKey || p["receiver"] != "hooks" || p["externalURL"] != "http://vigil.example" {
		t.Errorf("payload %v", p)
	}
}

func TestAlertmanagerPayloadEmptySets(t *testing.T) {
	m := &notify.Message{Receiver: "r", GroupKey: "{}", Status: notify.StatusResolved, Now: t0}
	b, err := json.Marshal(NewAlertmanagerPayload(m, 0))
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	_ = json.Unmarshal(b, &p)
	checkAlertmanager(t, p)
}

func TestVigilPayload(t *testing.T) {
	reqs, bodies := make(chan *http.Request, 1), make(chan []byte, 1)
	srv := server(t, reqs, bodies)
	o := DefaultOptions()
	o.URL = srv.URL
	o.Format = FormatVigil
	n, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	m := message(2)
	m.Incident = &notify.IncidentInfo{ID: "inc-9", Title: "Checkout", Severity: "critical", Status: notify.IncidentAcknowledged,
		Services: []string{"checkout"}, RootCause: "payments", URL: "http://vigil.example/i/9", StartedAt: t0.Add(-time.Hour), AcknowledgedAt: t0}
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	<-reqs
	var p struct {
		Version  string               `json:"version"`
		Kind     string               `json:"kind"`
		Incident *notify.IncidentInfo `json:"incident"`
		Alerts   []map[string]any     `json:"alerts"`
		Eval     time.Time            `json:"evaluatedAt"`
	}
	raw := <-bodies
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	if p.Version != VigilPayloadVersion || p.Kind != "incident" || p.Incident == nil || p.Incident.ID != "inc-9" ||
		p.Incident.Status != "acknowledged" || !p.Incident.AcknowledgedAt.Equal(t0) || len(p.Alerts) != 2 || !p.Eval.Equal(t0) {
		t.Errorf("payload %s", raw)
	}
	if strings.Contains(string(raw), "resolvedAt") {
		t.Errorf("zero resolvedAt rendered: %s", raw)
	}
}

func TestWebhookOptionsValidation(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mutate func(*Options)
	}{
		{"no url", func(o *Options) { o.URL = "" }},
		{"ftp url", func(o *Options) { o.URL = "ftp://x/y" }},
		{"bad format", func(o *Options) { o.Format = "xml" }},
		{"negative max alerts", func(o *Options) { o.MaxAlerts = -1 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			o.URL = "http://localhost:9/hook"
			tt.mutate(&o)
			if _, err := New(o); !errors.Is(err, notify.ErrInvalidOptions) {
				t.Errorf("err = %v, want ErrInvalidOptions", err)
			}
		})
	}
}

func FuzzAlertmanagerPayload(f *testing.F) {
	f.Add("a", "b", "c")
	f.Add("\x00", "\xff\xfe", `"}`)
	f.Fuzz(func(t *testing.T, k, v, gk string) {
		m := message(2)
		m.GroupKey = gk + "x"
		m.Alerts[1].Labels = telemetry.LabelsFromMap(map[string]string{k + "n": v})
		m.CommonAnnotations = telemetry.LabelsFromMap(map[string]string{"x": v + k})
		b, err := json.Marshal(NewAlertmanagerPayload(m, 0))
		if err != nil {
			t.Fatal(err)
		}
		var p map[string]any
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("invalid JSON: %v\n%s", err, b)
		}
		checkAlertmanager(t, p)
	})
}
