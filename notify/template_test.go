package notify

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

func TestDefaultTemplates(t *testing.T) {
	title := MustTemplate("title", DefaultTitleTemplate)
	text := MustTemplate("text", DefaultTextTemplate)
	m := testMessage("g", 2, t0)
	m.Alerts[1].EndsAt = t0.Add(-time.Second)
	got, err := title.Execute(m)
	if err != nil {
		t.Fatal(err)
	}
	if got != "[FIRING:1] HighErrorRate" {
		t.Errorf("title = %q", got)
	}
	body, err := text.Execute(m)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(body, "- FIRING") != 1 || strings.Count(body, "- RESOLVED") != 1 {
		t.Errorf("text = %q; want one firing and one resolved line", body)
	}
	inc := withIncident(m, IncidentAcknowledged)
	inc.Incident.Services = []string{"checkout", "payments"}
	inc.Incident.RootCause = "payments deploy"
	if got, _ := title.Execute(inc); got != "[ACKNOWLEDGED] Checkout down" {
		t.Errorf("incident title = %q", got)
	}
	if body, _ := text.Execute(inc); !strings.Contains(body, "Services: checkout, payments") || !strings.Contains(body, "Probable root cause: payments deploy") {
		t.Errorf("incident text = %q", body)
	}
}

func TestNewTemplateErrorsAtValidation(t *testing.T) {
	tests := []struct{ name, text string }{
		{"parse error", "{{ .Status "},
		{"unknown function", "{{ nope .Status }}"},
		{"unknown field", "{{ .Nope }}"},
		{"unknown nested field", "{{ range .Alerts }}{{ .Bogus }}{{ end }}"},
		{"bad index", "{{ index .Alerts 7 }}"},
		{"bad argument", `{{ truncate "x" .Status }}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewTemplate("t", tt.text); !errors.Is(err, ErrTemplate) {
				t.Errorf("err = %v, want ErrTemplate", err)
			}
		})
	}
}

func TestTemplateOutputBounded(t *testing.T) {
	tmpl := MustTemplate("big", `{{ range .Alerts }}{{ .Labels.SortedPairs.String }}{{ .Labels.SortedPairs.String }}{{ end }}`)
	m := testMessage("g", 2000, t0)
	for i := range m.Alerts {
		m.Alerts[i].Labels = m.Alerts[i].Labels.With("big", strings.Repeat("x", 1000))
	}
	out, err := tmpl.Execute(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > maxRendered {
		t.Errorf("output %d bytes, want <= %d", len(out), maxRendered)
	}
}

func TestTruncateAndOneLine(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 5, "hello"},
		{"hello", 4, "hel…"},
		{"héllo", 3, "hé…"},
		{"日本語テキスト", 4, "日本語…"},
		{"x", 0, ""},
		{"xy", 1, "…"},
	}
	for _, tt := range tests {
		if got := Truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
	if got := OneLine("a\r\nb\tc\u2028d"); strings.ContainsAny(got, "\r\n\t\u2028") {
		t.Errorf("OneLine left a break: %q", got)
	}
}

func TestHostileLabelsRender(t *testing.T) {
	m := testMessage("g", 1, t0)
	m.CommonLabels = telemetry.LabelsFromStrings("alertname", "x\r\nBcc: evil@example.com\r\n\r\n{{ .Receiver }}")
	title := MustTemplate("title", DefaultTitleTemplate)
	got, err := title.Execute(m)
	if err != nil {
		t.Fatal(err)
	}
	// Values are data, never re-parsed as template.
	if !strings.Contains(got, "{{ .Receiver }}") {
		t.Errorf("label value was interpreted: %q", got)
	}
}
