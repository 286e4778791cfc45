package slack

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

func message(n int) *notify.Message {
	m := &notify.Message{
		Receiver: "team", GroupKey: `{}:{service="checkout"}`, Status: notify.StatusFiring,
		GroupLabels:  telemetry.LabelsFromStrings("service", "checkout"),
		CommonLabels: telemetry.LabelsFromStrings("alertname", "HighErrorRate", "service", "checkout"),
		ExternalURL:  "http://vigil.example", Now: t0,
	}
	for i := range n {
		m.Alerts = append(m.Alerts, telemetry.Alert{
			Labels:      telemetry.LabelsFromStrings("alertname", "HighErrorRate", "service", "checkout", "pod", strings.Repeat("p", i+1)),
			Annotations: telemetry.LabelsFromStrings("summary", "errors above 5%"),
			StartsAt:    t0.Add(-time.Minute),
		})
	}
	return m
}

// slackServer checks each request against the incoming-webhook and Block
// Kit rules and answers like Slack ("ok").
func slackServer(t *testing.T, got chan<- map[string]any) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %s with content type %q", r.Method, r.Header.Get("Content-Type"))
		}
		b, _ := io.ReadAll(r.Body)
		var p map[string]any
		if err := json.Unmarshal(b, &p); err != nil {
			t.Errorf("body is not JSON: %v", err)
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		checkPayload(t, p)
		got <- p
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv
}

func str(t *testing.T, v any, what string) string {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("%s is %T, want string", what, v)
	}
	return s
}

func checkPayload(t *testing.T, p map[string]any) {
	t.Helper()
	if s := str(t, p["text"], "text"); s == "" {
		t.Error("fallback text empty")
	}
	blocks, ok := p["blocks"].([]any)
	if !ok || len(blocks) == 0 || len(blocks) > 50 {
		t.Fatalf("blocks = %T len %d, want 1..50", p["blocks"], len(blocks))
	}
	for i, bv := range blocks {
		b := bv.(map[string]any)
		switch typ := str(t, b["type"], "block type"); typ {
		case "header":
			txt := b["text"].(map[string]any)
			if str(t, txt["type"], "header text type") != "plain_text" {
				t.Errorf("header text must be plain_text")
			}
			s := str(t, txt["text"], "header text")
			if n := utf8.RuneCountInString(s); n == 0 || n > 150 {
				t.Errorf("header text has %d characters, want 1..150", n)
			}
			if strings.ContainsAny(s, "\r\n") {
				t.Errorf("header text has a line break: %q", s)
			}
		case "section":
			txt := b["text"].(map[string]any)
			if tt := str(t, txt["type"], "section text type"); tt != "mrkdwn" && tt != "plain_text" {
				t.Errorf("section text type %q", tt)
			}
			if n := utf8.RuneCountInString(str(t, txt["text"], "section text")); n == 0 || n > 3000 {
				t.Errorf("section text has %d characters, want 1..3000", n)
			}
		case "context":
			els, ok := b["elements"].([]any)
			if !ok || len(els) == 0 || len(els) > 10 {
				t.Errorf("context elements %v, want 1..10", b["elements"])
			}
		case "actions":
			els := b["elements"].([]any)
			for _, ev := range els {
				e := ev.(map[string]any)
				if str(t, e["type"], "element type") != "button" {
					continue
				}
				txt := e["text"].(map[string]any)
				if str(t, txt["type"], "button text type") != "plain_text" || utf8.RuneCountInString(str(t, txt["text"], "button text")) > 75 {
					t.Errorf("bad button text %v", txt)
				}
				if u := str(t, e["url"], "button url"); !strings.HasPrefix(u, "http") || len(u) > 3000 {
					t.Errorf("bad button url %q", u)
				}
			}
		default:
			t.Errorf("block %d: unexpected type %q", i, typ)
		}
	}
}

func TestSlackPayloadMatchesBlockKit(t *testing.T) {
	got := make(chan map[string]any, 1)
	srv := slackServer(t, got)
	tests := []struct {
		name   string
		msg    func() *notify.Message
		header string
	}{
		{"alert group", func() *notify.Message { return message(3) }, "[FIRING:3] HighErrorRate"},
		{"incident", func() *notify.Message {
			m := message(1)
			m.Incident = &notify.IncidentInfo{ID: "inc-1", Title: "Checkout down", Severity: "critical", Status: notify.IncidentOpen, URL: "http://vigil.example/incidents/inc-1", StartedAt: t0}
			return m
		}, "[OPEN] Checkout down"},
		{"huge group is cut to limits", func() *notify.Message {
			m := message(400)
			m.CommonLabels = m.CommonLabels.With("alertname", strings.Repeat("Long", 100))
			return m
		}, ""},
	}
	opts := DefaultOptions()
	opts.WebhookURL = srv.URL + "/services/T000/B000/XXXX"
	opts.Channel = "#ops"
	n, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := n.Notify(context.Background(), tt.msg()); err != nil {
				t.Fatal(err)
			}
			p := <-got
			if p["channel"] != "#ops" {
				t.Errorf("channel = %v", p["channel"])
			}
			h := p["blocks"].([]any)[0].(map[string]any)["text"].(map[string]any)["text"]
			if tt.header != "" && h != tt.header {
				t.Errorf("header = %q, want %q", h, tt.header)
			}
		})
	}
}

func TestSlackEscapesHostileLabels(t *testing.T) {
	got := make(chan map[string]any, 1)
	srv := slackServer(t, got)
	opts := DefaultOptions()
	opts.WebhookURL = srv.URL
	n, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	m := message(1)
	m.Alerts[0].Annotations = telemetry.LabelsFromStrings("summary", "<!channel> <http://evil.example|click> & \"quotes\"\n\x00")
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	p := <-got
	raw, _ := json.Marshal(p)
	if strings.Contains(string(raw), "<!channel>") || strings.Contains(string(raw), "<http://evil") {
		t.Errorf("mrkdwn control sequence passed through: %s", raw)
	}
}

func TestSlackErrorsClassified(t *testing.T) {
	tests := []struct {
		name      string
		code      int
		header    map[string]string
		retryable bool
		after     time.Duration
	}{
		{"rate limited", 429, map[string]string{"Retry-After": "30"}, true, 30 * time.Second},
		{"invalid payload", 400, nil, false, 0},
		{"channel gone", 404, nil, false, 0},
		{"server error", 500, nil, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.code)
				io.WriteString(w, "no_service")
			}))
			defer srv.Close()
			opts := DefaultOptions()
			opts.WebhookURL = srv.URL + "/secret-token"
			n, _ := New(opts)
			err := n.Notify(context.Background(), message(1))
			var de *notify.DeliveryError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want DeliveryError", err)
			}
			if de.Retryable != tt.retryable || de.RetryAfter != tt.after || de.StatusCode != tt.code {
				t.Errorf("got %+v", de)
			}
		})
	}
}

func TestSlackTransportErrorHidesURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	opts := DefaultOptions()
	opts.WebhookURL = url + "/services/SECRET"
	n, _ := New(opts)
	err := n.Notify(context.Background(), message(1))
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("err = %v; want an error without the secret URL", err)
	}
}

func TestSlackOptionsValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Options)
		want   error
	}{
		{"no url", func(o *Options) { o.WebhookURL = "" }, notify.ErrInvalidOptions},
		{"relative url", func(o *Options) { o.WebhookURL = "/hook" }, notify.ErrInvalidOptions},
		{"bad title template", func(o *Options) { o.Title = "{{ .Nope }}" }, notify.ErrTemplate},
		{"bad text template", func(o *Options) { o.Text = "{{ range }}" }, notify.ErrTemplate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			o.WebhookURL = "https://hooks.slack.com/services/x"
			tt.mutate(&o)
			if _, err := New(o); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func FuzzSlackPayload(f *testing.F) {
	f.Add("HighErrorRate", "summary", "http://x.example")
	f.Add("<!here>", "\r\n\x00", "javascript:alert(1)")
	opts := DefaultOptions()
	opts.WebhookURL = "https://hooks.slack.com/services/x"
	n, err := New(opts)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name, summary, link string) {
		m := message(1)
		m.CommonLabels = telemetry.LabelsFromMap(map[string]string{"alertname": name})
		m.Alerts[0].Annotations = telemetry.LabelsFromMap(map[string]string{"summary": summary})
		m.ExternalURL = link
		p, err := n.Payload(m)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]any
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("invalid JSON: %v", err)
		}
		checkPayload(t, back)
	})
}
