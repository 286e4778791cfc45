package telemetry

import "time"

// Alert is shaped like an Alertmanager alert, so it can be received from and
// served to Prometheus, vmalert and amtool unchanged.
type Alert struct {
	Labels       Labels    `json:"labels"`
	Annotations  Labels    `json:"annotations,omitempty"`
	StartsAt     time.Time `json:"startsAt"`
	EndsAt       time.Time `json:"endsAt,omitempty"`
	GeneratorURL string    `json:"generatorURL,omitempty"`
	// UpdatedAt is when Vigil last received this alert.
	UpdatedAt time.Time `json:"updatedAt,omitempty"`
}

// Fingerprint identifies the alert by its labels, as Alertmanager does.
func (a *Alert) Fingerprint() Fingerprint { return a.Labels.Fingerprint() }

// Name returns the alertname label.
func (a *Alert) Name() string { return a.Labels.Get(AlertNameLabel) }

// Resolved reports whether the alert has ended at the given instant.
func (a *Alert) Resolved(at time.Time) bool {
	return !a.EndsAt.IsZero() && !a.EndsAt.After(at)
}

// Status returns "resolved" or "firing" at the given instant.
func (a *Alert) Status(at time.Time) string {
	if a.Resolved(at) {
		return "resolved"
	}
	return "firing"
}

// AlertNameLabel is the label that names an alert.
const AlertNameLabel = "alertname"
