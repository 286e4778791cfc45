// Package detect finds what is not normal in logs and metrics. Each detector
// is a file of its own; all of them learn online from the stream they see,
// take evaluation time from the records (never from the wall clock, so a
// week replays in seconds and every scenario test is repeatable), and
// report Anomaly values that say what, where, how sure and why, in words an
// engineer can act on.
//
// Invariant: detectors never look at labels of the evaluation data; one
// default configuration serves every source.
package detect

import (
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// Type names the kind of deviation.
type Type string

// Anomaly types of the log side. The metric side adds its own.
const (
	TypeFrequency  Type = "frequency"   // a template's rate far from its seasonal baseline
	TypeErrorBurst Type = "error_burst" // error-level lines far above usual
	TypeNewPattern Type = "new_pattern" // a template never seen after warm-up
	TypeSequence   Type = "sequence"    // an unlikely transition within a session
	TypeContent    Type = "content"     // a parameter value far outside its usual range or set
	TypeSilence    Type = "silence"     // a stream that usually logs has stopped
)

// Anomaly is one finding.
type Anomaly struct {
	Type    Type   `json:"type"`
	Service string `json:"service"`
	// TemplateID and Template identify the log template involved, if any.
	TemplateID string `json:"template_id,omitempty"`
	Template   string `json:"template,omitempty"`
	// Score in [0,1] says how far from normal; Confidence in [0,1] how much
	// history backs the judgement.
	Score      float64 `json:"score"`
	Confidence float64 `json:"confidence"`
	// Explanation is one plain sentence with the numbers, e.g. "template T:
	// 1,000/h against 10±3/h usual at this hour".
	Explanation string `json:"explanation"`
	// Examples are a few raw lines that show it.
	Examples []string `json:"examples,omitempty"`
	// Start and End bound the window in which it was seen.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Labels carry detector-specific keys (session id, slot index, ...).
	Labels telemetry.Labels `json:"labels,omitempty"`
}

// LogDetector consumes parsed, templated log records in time order per
// service and returns the anomalies it can decide at this point. Observe
// must be cheap: it runs on every line.
type LogDetector interface {
	Name() string
	Observe(rec *telemetry.LogRecord) []Anomaly
	// Tick lets a detector decide what only the passing of time reveals
	// (a window closing, a stream gone quiet). now is evaluation time.
	Tick(now time.Time) []Anomaly
}
