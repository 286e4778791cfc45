// Package diagnose names the probable root cause of an incident. It takes
// what the rest of Vigil already holds about the incident window (metric
// series per service with their kind, log anomalies, change events and the
// service call graph) and returns ranked candidates with their confidence,
// the causal chain from the root cause to the symptoms with the evidence of
// every link, and a recommended next step.
//
// The ranking combines five signals, each judged against the service's own
// normal period so that one configuration serves every system:
//
//   - metric evidence: a robust deviation score per series (median and
//     IQR/MAD of the normal period against the anomalous period, as BARO and
//     n-sigma do), normalised by how far the series already strays in normal
//     time; moments of the normal period where half the services strayed
//     together (an unrecorded incident) are left out of it first; the time
//     calls spend outside a callee (its callers' view less its own, see
//     CallNetwork) is that callee's own evidence, like its CPU;
//   - propagation: a personalised random walk over the anomaly-weighted call
//     graph, which moves mass from symptoms towards anomalous dependencies and
//     keeps it where the anomaly is not explained by anything downstream. A
//     callee explains its caller's latency only as far as its own latency
//     rose (times a fan-out allowance); callees that receive less traffic
//     point at the caller that sends less; the metrics of an external
//     service with a single caller are that caller's client-side view and
//     count as its evidence;
//   - onset order: among comparable candidates, the one whose deviation
//     started first;
//   - change events (deploys, config changes) shortly before the onset;
//   - log evidence: error bursts, new or changed templates, silences.
//
// Key invariant: the ranker never sees labels or dataset names; it works on
// the generic Input alone and never reads the wall clock (evaluation time is
// the anomalous window the caller passes in).
package diagnose

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/telemetry"
)

// Errors callers can branch on.
var (
	// ErrNoData is returned when the input holds nothing to judge: no
	// series with normal and anomalous points, no log anomaly, no event.
	ErrNoData = errors.New("no data to diagnose")
	// ErrInvalidInput is returned for an input that cannot be judged
	// (windows out of order, a series without a service).
	ErrInvalidInput = errors.New("invalid diagnosis input")
	// ErrInvalidOptions is returned by New for options it cannot run with.
	ErrInvalidOptions = errors.New("invalid diagnose options")
)

// Kind says what a metric series measures. It decides which direction of
// change is bad and how an anomaly travels along the call graph.
type Kind string

// Metric kinds. Latency, errors and availability travel from a callee to its
// callers; traffic travels from callers to callees; cpu, memory,
// saturation and network stay where they are (or reach co-located
// services).
const (
	KindLatency      Kind = "latency"      // higher is worse
	KindErrors       Kind = "errors"       // error count or ratio; higher is worse
	KindAvailability Kind = "availability" // success ratio, up; lower is worse
	KindTraffic      Kind = "traffic"      // request or byte rate; both directions
	KindCPU          Kind = "cpu"          // higher is worse
	KindMemory       Kind = "memory"       // higher is worse
	KindSaturation   Kind = "saturation"   // queues, pools, connections; higher is worse
	KindNetwork      Kind = "network"      // time calls spend outside the callee, in typical calls (see CallNetwork); higher is worse
	KindOther        Kind = "other"        // both directions
)

// Kinds lists every known Kind, for input validation and help text.
func Kinds() []Kind {
	return []Kind{KindLatency, KindErrors, KindAvailability, KindTraffic, KindCPU,
		KindMemory, KindSaturation, KindNetwork, KindOther}
}

// Known reports whether k is one of Kinds.
func (k Kind) Known() bool { return slices.Contains(Kinds(), k) }

// direction is +1 when only rises matter, -1 when only falls, 0 for both.
func (k Kind) direction() int {
	switch k {
	case KindLatency, KindErrors, KindCPU, KindMemory, KindSaturation, KindNetwork:
		return 1
	case KindAvailability:
		return -1
	}
	return 0
}

// local reports whether an anomaly of this kind originates where it is
// measured rather than being inherited from a dependency.
func (k Kind) local() bool {
	switch k {
	case KindCPU, KindMemory, KindSaturation, KindOther, KindNetwork:
		return true
	}
	return false
}

// Series is one metric series of one service.
type Series struct {
	// Service owns the series (for node metrics, the node name).
	Service string `json:"service"`
	// Name identifies the series in evidence, e.g.
	// `http_request_duration_seconds{quantile="0.99"}`.
	Name   string            `json:"name"`
	Kind   Kind              `json:"kind"`
	Points []telemetry.Point `json:"points"`
}

// Window is a half-open time interval [Start, End).
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

func (w Window) contains(ms int64) bool {
	return ms >= w.Start.UnixMilli() && ms < w.End.UnixMilli()
}

// Input is everything the ranker judges. Only Anomalous and at least one of
// Series, Logs or Events are required.
type Input struct {
	// Normal is a period of normal operation before the incident; when
	// zero, everything before Anomalous.Start is normal.
	Normal Window `json:"normal"`
	// Anomalous starts at the incident's (or fault's) onset.
	Anomalous Window   `json:"anomalous"`
	Series    []Series `json:"series,omitempty"`
	// Graph is the call graph; nil ranks on evidence and onset alone.
	Graph *Graph `json:"-"`
	// Logs are log anomalies of the services (detect.Anomaly of log types).
	Logs []detect.Anomaly `json:"logs,omitempty"`
	// Events are change events (deploys, config changes, ...).
	Events []telemetry.Event `json:"events,omitempty"`
	// Symptoms are the services where the incident was observed (those
	// that alerted). With a graph, candidates that none of them depends on
	// (directly, transitively or through a shared node) are ranked down.
	Symptoms []string `json:"symptoms,omitempty"`
}

// Options configures a Diagnoser.
type Options struct {
	// Damping is the random walk's probability of following an edge rather
	// than restarting at the anomalous services.
	Damping float64
	// Backward is the weight of a step from a service back to an anomalous
	// caller, relative to a step to an anomalous callee; it lets the walk
	// leave a dead end.
	Backward float64
	// Threshold is the deviation, in robust standard deviations, above which
	// a point counts as anomalous (also the floor of the normalisation).
	Threshold float64
	// ChangeWindow is how long before the onset a change event still counts.
	ChangeWindow time.Duration
	// MaxCandidates bounds the ranked list; MaxChain the causal chain.
	MaxCandidates int
	MaxChain      int
	// MaxPoints bounds the points read per series (the latest are kept).
	MaxPoints  int
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// DefaultOptions returns the one configuration used on every dataset.
func DefaultOptions() Options {
	return Options{
		Damping:       0.85,
		Backward:      0.2,
		Threshold:     3,
		ChangeWindow:  15 * time.Minute,
		MaxCandidates: 10,
		MaxChain:      16,
		MaxPoints:     100000,
		Logger:        slog.New(slog.DiscardHandler),
	}
}

func (o *Options) validate() error {
	switch {
	case !(o.Damping > 0 && o.Damping < 1):
		return fmt.Errorf("%w: damping %g is outside (0,1)", ErrInvalidOptions, o.Damping)
	case o.Backward < 0 || o.Backward > 1:
		return fmt.Errorf("%w: backward %g is outside [0,1]", ErrInvalidOptions, o.Backward)
	case !(o.Threshold > 0):
		return fmt.Errorf("%w: threshold %g must be positive", ErrInvalidOptions, o.Threshold)
	case o.ChangeWindow < 0:
		return fmt.Errorf("%w: negative change window", ErrInvalidOptions)
	case o.MaxCandidates <= 0 || o.MaxChain <= 0 || o.MaxPoints <= 0:
		return fmt.Errorf("%w: max candidates, chain and points must be positive", ErrInvalidOptions)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Diagnoser ranks root-cause candidates. It holds no per-incident state and
// is safe for concurrent use.
type Diagnoser struct {
	opts    Options
	metrics *metrics
}

// New returns a Diagnoser.
func New(o Options) (*Diagnoser, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	return &Diagnoser{opts: o, metrics: newMetrics(o.Registerer)}, nil
}

// Options returns the options the Diagnoser runs with.
func (d *Diagnoser) Options() Options { return d.opts }

// EvidenceKind says where a piece of evidence comes from.
type EvidenceKind string

// Evidence kinds.
const (
	EvidenceMetric EvidenceKind = "metric"
	EvidenceLog    EvidenceKind = "log"
	EvidenceEvent  EvidenceKind = "event"
)

// Evidence is one observation that supports a candidate or a link.
type Evidence struct {
	Kind    EvidenceKind `json:"kind"`
	Service string       `json:"service"`
	// Series names the metric series, the log template or the event kind.
	Series     string `json:"series"`
	MetricKind Kind   `json:"metric_kind,omitempty"`
	// Score is the deviation in units of the series' normal spread (metric)
	// or the detector's score (log); 0 for events.
	Score float64 `json:"score"`
	// Onset is when the deviation began (metric), the anomaly started (log)
	// or the change happened (event).
	Onset time.Time `json:"onset"`
	// Normal and Observed are the normal median and the most deviant value
	// of the anomalous period (metric evidence only).
	Normal   float64 `json:"normal,omitempty"`
	Observed float64 `json:"observed,omitempty"`
	// Change is up, down, absent or appears.
	Change string `json:"change,omitempty"`
	// Summary is one line a person can read.
	Summary string `json:"summary"`
	// Examples are raw log lines that show it.
	Examples []string `json:"examples,omitempty"`
}

// Candidate is one ranked root-cause candidate.
type Candidate struct {
	Service string `json:"service"`
	// Score is the ranking score; Confidence the candidate's share of the
	// total, in [0,1], summing to at most 1 over the list.
	Score      float64   `json:"score"`
	Confidence float64   `json:"confidence"`
	Onset      time.Time `json:"onset,omitzero"`
	// Reason sums up why in one sentence.
	Reason   string     `json:"reason"`
	Evidence []Evidence `json:"evidence"`
}

// Link is one step of the causal chain: From's anomaly reached To.
type Link struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Via says how: self (within the service), call (callee to caller),
	// load (caller to callee) or host (a shared node).
	Via string `json:"via"`
	// Signal is the main series (or "log", "deploy") that shows the step.
	Signal   string     `json:"signal"`
	Onset    time.Time  `json:"onset"`
	Evidence []Evidence `json:"evidence"`
}

// Diagnosis is the result of Diagnose.
type Diagnosis struct {
	// At is the start of the anomalous period the diagnosis judged.
	At         time.Time   `json:"at"`
	Candidates []Candidate `json:"candidates"`
	Chain      []Link      `json:"chain"`
	NextStep   string      `json:"next_step"`
	// GraphSource says where the call graph came from ("" when none).
	GraphSource string `json:"graph_source,omitempty"`
}

// Top returns the first candidate's service, or "".
func (d *Diagnosis) Top() string {
	if len(d.Candidates) == 0 {
		return ""
	}
	return d.Candidates[0].Service
}
