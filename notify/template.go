package notify

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/vigilops/vigil/telemetry"
)

// Default templates, used when a receiver does not override them.
const (
	DefaultTitleTemplate = `{{ if .Incident }}[{{ .Incident.Status | toUpper }}] {{ .Incident.Title }}` +
		`{{ else }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ len .Firing }}{{ end }}] ` +
		`{{ or .CommonLabels.alertname .GroupLabels.SortedPairs.String }}{{ end }}`
	DefaultTextTemplate = `{{ if .Incident }}{{ with .Incident.Summary }}{{ . }}
{{ end }}{{ with .Incident.Services }}Services: {{ join ", " . }}
{{ end }}{{ with .Incident.RootCause }}Probable root cause: {{ . }}
{{ end }}{{ end }}{{ range .Firing }}- FIRING {{ .Labels.alertname }}{{ with .Annotations.summary }}: {{ . }}{{ end }} ({{ .Labels.SortedPairs.String }})
{{ end }}{{ range .Resolved }}- RESOLVED {{ .Labels.alertname }}{{ with .Annotations.summary }}: {{ . }}{{ end }} ({{ .Labels.SortedPairs.String }})
{{ end }}`
)

// maxRendered bounds one template's output; longer output is cut.
const maxRendered = 64 << 10

// Template is a parsed text/template for one notification field. It is
// safe for concurrent use.
type Template struct {
	name string
	tmpl *template.Template
}

// funcs are the functions templates may call, in addition to the
// text/template builtins.
var funcs = template.FuncMap{
	"toUpper":  strings.ToUpper,
	"toLower":  strings.ToLower,
	"join":     func(sep string, s []string) string { return strings.Join(s, sep) },
	"truncate": func(n int, s string) string { return Truncate(s, n) },
	"oneLine":  OneLine,
	"since": func(from, to time.Time) string {
		return to.Sub(from).Round(time.Second).String()
	},
}

// NewTemplate parses text as the template called name and renders it once
// against a sample message, so that errors that only show at execution (an
// unknown field, a bad function argument) are reported at configuration
// time. Errors wrap ErrTemplate.
func NewTemplate(name, text string) (*Template, error) {
	t, err := template.New(name).Option("missingkey=zero").Funcs(funcs).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%w: parse %s: %v", ErrTemplate, name, err)
	}
	tt := &Template{name: name, tmpl: t}
	for _, m := range sampleMessages() {
		if _, err := tt.Execute(m); err != nil {
			return nil, err
		}
	}
	return tt, nil
}

// MustTemplate is NewTemplate for the package's own constant templates; it
// panics on an error, which is a programming error.
func MustTemplate(name, text string) *Template {
	t, err := NewTemplate(name, text)
	if err != nil {
		panic(err)
	}
	return t
}

// Execute renders the template for m. Output longer than 64 KiB is cut.
func (t *Template) Execute(m *Message) (string, error) {
	var w limitedBuilder
	err := t.tmpl.Execute(&w, NewData(m))
	if err != nil && !errors.Is(err, errLimit) {
		return "", fmt.Errorf("%w: render %s: %v", ErrTemplate, t.name, err)
	}
	return strings.ToValidUTF8(w.String(), "\uFFFD"), nil
}

var errLimit = errors.New("output limit reached")

// limitedBuilder stops a template that would render unbounded output.
type limitedBuilder struct{ strings.Builder }

func (b *limitedBuilder) Write(p []byte) (int, error) {
	room := maxRendered - b.Len()
	if len(p) > room {
		b.Builder.Write(p[:max(room, 0)])
		return max(room, 0), errLimit
	}
	return b.Builder.Write(p)
}

// Data is what templates see.
type Data struct {
	Receiver          string
	Status            string
	GroupKey          string
	Alerts            []AlertData
	Firing            []AlertData
	Resolved          []AlertData
	GroupLabels       KV
	CommonLabels      KV
	CommonAnnotations KV
	ExternalURL       string
	Incident          *IncidentInfo
	Now               time.Time
}

// AlertData is one alert as templates see it.
type AlertData struct {
	Status       string
	Labels       KV
	Annotations  KV
	StartsAt     time.Time
	EndsAt       time.Time
	GeneratorURL string
	Fingerprint  string
}

// KV is a label or annotation set in templates; {{ .CommonLabels.job }}
// reads one value.
type KV map[string]string

// Pair is one name/value pair.
type Pair struct{ Name, Value string }

// Pairs is a sorted list of pairs.
type Pairs []Pair

// String renders pairs as name=value, comma separated.
func (ps Pairs) String() string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Name + "=" + p.Value
	}
	return strings.Join(parts, ", ")
}

// SortedPairs returns the pairs sorted by name.
func (kv KV) SortedPairs() Pairs {
	ps := make(Pairs, 0, len(kv))
	for k, v := range kv {
		ps = append(ps, Pair{k, v})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	return ps
}

// Names returns the sorted names.
func (kv KV) Names() []string {
	ns := make([]string, 0, len(kv))
	for k := range kv {
		ns = append(ns, k)
	}
	sort.Strings(ns)
	return ns
}

func kvOf(ls telemetry.Labels) KV { return KV(ls.Map()) }

// NewData builds the template data for m.
func NewData(m *Message) *Data {
	d := &Data{
		Receiver:          m.Receiver,
		Status:            m.Status,
		GroupKey:          m.GroupKey,
		GroupLabels:       kvOf(m.GroupLabels),
		CommonLabels:      kvOf(m.CommonLabels),
		CommonAnnotations: kvOf(m.CommonAnnotations),
		ExternalURL:       m.ExternalURL,
		Incident:          m.Incident,
		Now:               m.Now,
	}
	for i := range m.Alerts {
		a := &m.Alerts[i]
		ad := AlertData{
			Status:       a.Status(m.Now),
			Labels:       kvOf(a.Labels),
			Annotations:  kvOf(a.Annotations),
			StartsAt:     a.StartsAt,
			EndsAt:       a.EndsAt,
			GeneratorURL: a.GeneratorURL,
			Fingerprint:  a.Fingerprint().String(),
		}
		d.Alerts = append(d.Alerts, ad)
		if ad.Status == StatusResolved {
			d.Resolved = append(d.Resolved, ad)
		} else {
			d.Firing = append(d.Firing, ad)
		}
	}
	return d
}

// Truncate cuts s to at most n runes, marking the cut with an ellipsis.
// It never splits a UTF-8 sequence.
func Truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n == 1 {
		return "…"
	}
	i, count := 0, 0
	for i < len(s) && count < n-1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		count++
	}
	return s[:i] + "…"
}

// OneLine replaces line breaks and other control characters with spaces:
// what goes into a title, a header or a summary must be one line.
func OneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' || r == '\u0085' {
			return ' '
		}
		return r
	}, s)
}

// SampleMessages returns the messages NewTemplate renders to validate a
// template; integrations with templates of their own (html/template for
// e-mail) use them the same way.
func SampleMessages() []*Message { return sampleMessages() }

// sampleMessages are rendered by NewTemplate to catch execution errors:
// one alert group with a firing and a resolved alert, and one incident.
func sampleMessages() []*Message {
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	alerts := []telemetry.Alert{
		{
			Labels:       telemetry.LabelsFromStrings("alertname", "HighErrorRate", "service", "checkout", "severity", "critical"),
			Annotations:  telemetry.LabelsFromStrings("summary", "5xx above 5%", "description", "checkout fails"),
			StartsAt:     now.Add(-10 * time.Minute),
			GeneratorURL: "http://prometheus.example/graph",
		},
		{
			Labels:   telemetry.LabelsFromStrings("alertname", "HighLatency", "service", "checkout", "severity", "warning"),
			StartsAt: now.Add(-time.Hour),
			EndsAt:   now.Add(-time.Minute),
		},
	}
	group := &Message{
		Receiver: "sample", GroupKey: `{}:{service="checkout"}`, Status: StatusFiring,
		Alerts:            alerts,
		GroupLabels:       telemetry.LabelsFromStrings("service", "checkout"),
		CommonLabels:      telemetry.LabelsFromStrings("service", "checkout"),
		CommonAnnotations: telemetry.LabelsFromStrings("runbook", "http://runbooks.example/checkout"),
		ExternalURL:       "http://vigil.example", Now: now,
	}
	inc := *group
	inc.Incident = &IncidentInfo{
		ID: "inc-1", Title: "Checkout errors", Severity: "critical", Status: IncidentAcknowledged,
		Services: []string{"checkout", "payments"}, Summary: "errors rising", RootCause: "payments deploy",
		URL: "http://vigil.example/incidents/inc-1", StartedAt: now.Add(-10 * time.Minute), AcknowledgedAt: now,
	}
	empty := &Message{Receiver: "sample", GroupKey: "{}", Status: StatusResolved, Now: now}
	return []*Message{group, &inc, empty}
}
