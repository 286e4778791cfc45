package telemetry

import (
	"fmt"
	"time"
)

// EventKind classifies a change event.
type EventKind string

// Known event kinds. Correlation and root-cause analysis weigh changes near an
// anomaly's onset; these are the changes they understand.
const (
	EventDeploy       EventKind = "deploy"
	EventConfigChange EventKind = "config_change"
	EventScaling      EventKind = "scaling"
	EventKubernetes   EventKind = "kubernetes"
)

// Valid reports whether k is one of the known kinds.
func (k EventKind) Valid() bool {
	switch k {
	case EventDeploy, EventConfigChange, EventScaling, EventKubernetes:
		return true
	}
	return false
}

// Event is a change in the system that is not itself a symptom: a deploy, a
// config change, a scaling action or a Kubernetes event.
type Event struct {
	// ID is unique per event; receivers assign one when the sender did not.
	ID      string    `json:"id,omitempty"`
	Kind    EventKind `json:"kind"`
	Time    time.Time `json:"time"`
	Service string    `json:"service,omitempty"`
	// Summary is one human line ("checkout v1.4.2 rolled out").
	Summary    string            `json:"summary,omitempty"`
	Labels     Labels            `json:"labels,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// Validate reports the first problem that makes e unusable.
func (e *Event) Validate() error {
	switch {
	case !e.Kind.Valid():
		return fmt.Errorf("kind %q is not one of deploy, config_change, scaling, kubernetes", e.Kind)
	case e.Time.IsZero():
		return fmt.Errorf("time is missing")
	}
	return nil
}
