package act

import (
	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/incident"
	"github.com/vigilops/vigil/telemetry"
)

// Situation is what runbooks are matched against: an incident with its
// diagnosis, anomalies and alerts.
type Situation struct {
	IncidentID string             `json:"incident_id,omitempty"`
	Incident   *incident.Incident `json:"incident,omitempty"`
	Diagnosis  *Diagnosis         `json:"diagnosis,omitempty"`
	Anomalies  []detect.Anomaly   `json:"anomalies,omitempty"`
	Alerts     []telemetry.Alert  `json:"alerts,omitempty"`
	// RequestedBy is who asks for action: "vigil" for the pipeline, or a
	// person's token name.
	RequestedBy string `json:"requested_by,omitempty"`
}

// Diagnosis is the part of a root-cause analysis runbooks use.
type Diagnosis struct {
	Service    string  `json:"service"`
	Component  string  `json:"component,omitempty"`
	Metric     string  `json:"metric,omitempty"`
	Summary    string  `json:"summary,omitempty"`
	Confidence float64 `json:"confidence"`
}

// confidence is the diagnosis confidence, 0 without a diagnosis.
func (s *Situation) confidence() float64 {
	if s == nil || s.Diagnosis == nil {
		return 0
	}
	return s.Diagnosis.Confidence
}

func (s *Situation) incidentID() string {
	if s == nil {
		return ""
	}
	if s.IncidentID != "" {
		return s.IncidentID
	}
	if s.Incident != nil {
		return s.Incident.ID
	}
	return ""
}

// Env is the environment expressions see:
//
//	incident:  {id, title, status, severity, services}
//	diagnosis: {service, component, metric, summary, confidence}
//	anomalies: [{type, service, template, score, confidence, explanation, labels}]
//	alerts:    [{labels, annotations}]   (labels.alertname, labels.service, ...)
//
// Every key is present (empty when unknown), so a condition over a missing
// part is false rather than an error.
func (s *Situation) Env() map[string]any {
	env := envSchema()
	if s == nil {
		return env
	}
	inc := env["incident"].(map[string]any)
	inc["id"] = s.incidentID()
	if i := s.Incident; i != nil {
		inc["title"] = i.Title
		inc["status"] = string(i.Status)
		inc["severity"] = string(i.Severity)
		svcs := make([]any, len(i.Services))
		for k, v := range i.Services {
			svcs[k] = v
		}
		inc["services"] = svcs
	}
	if d := s.Diagnosis; d != nil {
		env["diagnosis"] = map[string]any{
			"service": d.Service, "component": d.Component, "metric": d.Metric,
			"summary": d.Summary, "confidence": d.Confidence,
		}
	}
	as := make([]any, 0, len(s.Anomalies))
	for _, a := range s.Anomalies {
		as = append(as, map[string]any{
			"type": string(a.Type), "service": a.Service, "template": a.Template,
			"score": a.Score, "confidence": a.Confidence, "explanation": a.Explanation,
			"labels": labelMap(a.Labels),
		})
	}
	env["anomalies"] = as
	al := make([]any, 0, len(s.Alerts))
	for _, a := range s.Alerts {
		al = append(al, map[string]any{"labels": labelMap(a.Labels), "annotations": labelMap(a.Annotations)})
	}
	env["alerts"] = al
	return env
}

func labelMap(ls telemetry.Labels) map[string]any {
	m := make(map[string]any, len(ls))
	for _, l := range ls {
		m[l.Name] = l.Value
	}
	return m
}

// envSchema is an empty environment with every key, for compiling
// expressions and as the base of Env.
func envSchema() map[string]any {
	return map[string]any{
		"incident": map[string]any{
			"id": "", "title": "", "status": "", "severity": "", "services": []any{},
		},
		"diagnosis": map[string]any{
			"service": "", "component": "", "metric": "", "summary": "", "confidence": 0.0,
		},
		"anomalies": []any{},
		"alerts":    []any{},
	}
}
