package correlate

import (
	"strconv"
	"strings"
	"time"

	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/incident"
	"github.com/vigilops/vigil/telemetry"
)

// Signal is one observation fed to the correlator: an alert as received
// (every re-send, resolution included), an anomaly, or a change event.
// Build it with AlertSignal, AnomalySignal or EventSignal.
type Signal struct {
	Kind incident.SignalKind
	// Time is the evaluation time of this observation.
	Time    time.Time
	Service string
	// Name is the alert name, anomaly type or event kind.
	Name string
	// Key identifies the signal across repeats; Signature is what
	// feedback attaches to (name and service, without instance labels).
	Key       string
	Signature string
	Labels    telemetry.Labels
	// Text is the template, summary or description: what similarity reads
	// beside the name and labels.
	Text string
	// Score is the anomaly score (0 for alerts and events).
	Score float64
	// Severity as classified from labels, score and SLO impact.
	Severity incident.Severity
	// Resolved is set for an alert that has ended at Time; EndsAt is when
	// a firing alert ends unless re-sent (Alertmanager's rule).
	Resolved bool
	EndsAt   time.Time
	// Ref is what timeline entries point at (fingerprint, event ID).
	Ref string
}

// serviceLabels are tried in order to find the service a signal is about.
var serviceLabels = []string{"service", "service_name", "job", "app", "container"}

func serviceOf(ls telemetry.Labels) string {
	for _, n := range serviceLabels {
		if v := ls.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// AlertSignal makes a signal of an alert as received at the instant at.
func AlertSignal(a *telemetry.Alert, at time.Time) Signal {
	fp := a.Fingerprint().String()
	svc := serviceOf(a.Labels)
	name := a.Name()
	return Signal{
		Kind:      incident.SignalAlert,
		Time:      at,
		Service:   svc,
		Name:      name,
		Key:       "alert:" + fp,
		Signature: "alert:" + name + "@" + svc,
		Labels:    a.Labels,
		Text:      a.Annotations.Get("summary"),
		Severity:  alertSeverity(a.Labels, name),
		Resolved:  a.Resolved(at),
		EndsAt:    a.EndsAt,
		Ref:       fp,
	}
}

// alertSeverity classifies an alert from its severity label; SLO alerts
// (an slo label, or burn-rate and error-budget names) are critical because
// they measure what users feel.
func alertSeverity(ls telemetry.Labels, name string) incident.Severity {
	if ls.Get("slo") != "" || containsFold(name, "slo") || containsFold(name, "burnrate") || containsFold(name, "errorbudget") {
		return incident.SeverityCritical
	}
	switch strings.ToLower(ls.Get("severity")) {
	case "critical", "page", "error", "high", "p1", "p2":
		return incident.SeverityCritical
	case "info", "none", "low", "ticket", "p4", "p5":
		return incident.SeverityInfo
	}
	return incident.SeverityWarning
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), sub)
}

// AnomalySignal makes a signal of a detected anomaly; its time is the end
// of the window in which it was seen.
func AnomalySignal(a *detect.Anomaly) Signal {
	at := a.End
	if at.IsZero() {
		at = a.Start
	}
	tmpl := a.TemplateID
	if tmpl == "" {
		tmpl = a.Template
	}
	return Signal{
		Kind:      incident.SignalAnomaly,
		Time:      at,
		Service:   a.Service,
		Name:      string(a.Type),
		Key:       "anomaly:" + a.Service + "/" + string(a.Type) + "/" + tmpl,
		Signature: "anomaly:" + string(a.Type) + "/" + tmpl + "@" + a.Service,
		Labels:    a.Labels,
		Text:      a.Template,
		Score:     a.Score,
		Ref:       a.Service + "/" + string(a.Type) + "/" + tmpl,
	}
}

// EventSignal makes a signal of a change event.
func EventSignal(e *telemetry.Event) Signal {
	svc := e.Service
	if svc == "" {
		svc = serviceOf(e.Labels)
	}
	id := e.ID
	if id == "" {
		id = string(e.Kind) + "@" + svc + "@" + strconv.FormatInt(e.Time.UnixNano(), 36)
	}
	return Signal{
		Kind:     incident.SignalEvent,
		Time:     e.Time,
		Service:  svc,
		Name:     string(e.Kind),
		Key:      "event:" + id,
		Labels:   e.Labels,
		Text:     e.Summary,
		Severity: incident.SeverityInfo,
		Ref:      id,
	}
}

// classify fills in an anomaly's severity from its score.
func (o *Options) classify(s *Signal) {
	if s.Kind != incident.SignalAnomaly {
		if s.Severity == "" {
			s.Severity = incident.SeverityWarning
		}
		return
	}
	switch {
	case s.Score >= o.CriticalScore:
		s.Severity = incident.SeverityCritical
	case s.Score >= o.WarningScore:
		s.Severity = incident.SeverityWarning
	default:
		s.Severity = incident.SeverityInfo
	}
}

// describe is the one-line name of a signal for titles and timelines.
func (s *Signal) describe() string {
	if s.Service == "" {
		return s.Name
	}
	return s.Name + " on " + s.Service
}
