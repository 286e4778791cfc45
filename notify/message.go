package notify

import (
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// NewMessage builds the Message for an alert group the way Alertmanager
// does: the status is firing when any alert fires at now, and the common
// labels and annotations are the pairs every alert shares. The alerts are
// copied.
func NewMessage(receiver, groupKey string, groupLabels telemetry.Labels, alerts []telemetry.Alert, externalURL string, now time.Time) *Message {
	m := &Message{
		Receiver:    receiver,
		GroupKey:    groupKey,
		Status:      StatusResolved,
		Alerts:      append([]telemetry.Alert(nil), alerts...),
		GroupLabels: groupLabels,
		ExternalURL: externalURL,
		Now:         now,
	}
	for i := range alerts {
		if !alerts[i].Resolved(now) {
			m.Status = StatusFiring
			break
		}
	}
	if len(alerts) > 0 {
		m.CommonLabels = alerts[0].Labels
		m.CommonAnnotations = alerts[0].Annotations
		for i := 1; i < len(alerts); i++ {
			m.CommonLabels = intersect(m.CommonLabels, alerts[i].Labels)
			m.CommonAnnotations = intersect(m.CommonAnnotations, alerts[i].Annotations)
		}
	}
	return m
}

// intersect returns the pairs present, with equal values, in both sorted
// sets.
func intersect(a, b telemetry.Labels) telemetry.Labels {
	out := telemetry.Labels{}
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i].Name < b[j].Name:
			i++
		case a[i].Name > b[j].Name:
			j++
		default:
			if a[i].Value == b[j].Value {
				out = append(out, a[i])
			}
			i++
			j++
		}
	}
	return out
}

// clone copies m and its alert slice, so that a deferred message does not
// change when the caller reuses its own.
func (m *Message) clone() *Message {
	mm := *m
	mm.Alerts = append([]telemetry.Alert(nil), m.Alerts...)
	if m.Incident != nil {
		inc := *m.Incident
		inc.Services = append([]string(nil), m.Incident.Services...)
		mm.Incident = &inc
	}
	return &mm
}
