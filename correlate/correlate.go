// Package correlate folds alerts, detected anomalies and change events into
// incidents. Signals are consumed in time order, one at a time, with
// evaluation time taken from the signals themselves (never the wall clock),
// so a day of signals replays in a second and every test is repeatable.
//
// A signal joins an incident by identity (the same alert fingerprint or
// anomaly signature folds into its member), by topology (the same service,
// or a service connected to one of the incident's, within a window) and by
// textual similarity of names, labels and templates, which ranks candidates
// and, with what feedback has learnt, lets unconnected services join.
// Every decision is recorded on the member as a reason a person can read.
//
// Invariant: the correlator never looks at ground truth; one default
// configuration serves every source. Every incident change is emitted to
// the Sink, in the order the changes were made.
package correlate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/incident"
	"github.com/vigilops/vigil/store"
)

// ErrInvalidOptions is returned by New when Options cannot work.
var ErrInvalidOptions = errors.New("invalid correlate options")

// ChangeKind says what happened to an incident.
type ChangeKind string

// Change kinds.
const (
	ChangeOpened       ChangeKind = "opened"
	ChangeUpdated      ChangeKind = "updated" // new members, a change event seen
	ChangeSeverity     ChangeKind = "severity"
	ChangeAcknowledged ChangeKind = "acknowledged"
	ChangeResolved     ChangeKind = "resolved"
	ChangeReopened     ChangeKind = "reopened"
	ChangeMerged       ChangeKind = "merged" // this incident was merged into another
	ChangeSplit        ChangeKind = "split"  // this incident was created by a split
	ChangeNote         ChangeKind = "note"
	ChangeFeedback     ChangeKind = "feedback"
)

// Change is one change to one incident: its state after the change and the
// timeline entries the change added.
type Change struct {
	Kind     ChangeKind        `json:"kind"`
	Incident incident.Incident `json:"incident"`
	Entries  []incident.Entry  `json:"entries,omitempty"`
}

// Sink receives incident changes: notifications, diagnosis and the UI hang
// off it. Changes arrive in the order they were made. A Sink must not call
// back into the Correlator from the same goroutine (hand such work to
// another one): emission is serialized.
type Sink interface {
	IncidentChanged(ctx context.Context, c Change) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, c Change) error

// IncidentChanged calls f.
func (f SinkFunc) IncidentChanged(ctx context.Context, c Change) error { return f(ctx, c) }

// Options configure a Correlator.
type Options struct {
	// Topology says which services are connected; nil treats every service
	// as unconnected (only same-service and learnt grouping).
	Topology Topology
	// Sink receives incident changes; nil drops them.
	Sink Sink
	// Store, when set, persists every change (write-through) and answers
	// queries for incidents no longer held in memory.
	Store store.IncidentStore

	// GroupWindow is how long after a service's latest signal in an
	// incident a new signal of the same service may still join it;
	// ConnectedWindow the same for a signal of a connected service.
	GroupWindow     time.Duration
	ConnectedWindow time.Duration
	// MinSeverity is the least severity that counts towards MinSignals and
	// may join an incident through a connected service; weaker signals
	// only join their own service's incident.
	MinSeverity incident.Severity
	// MinSignals is how many distinct, unexpected signals open an incident;
	// fewer wait as a pending group and are dropped as noise when the
	// group goes quiet.
	MinSignals int
	// PersistFor opens a pending group whose lone signal is still firing
	// (or repeating) this long after it started, so one real, persistent
	// alert is never swallowed.
	PersistFor time.Duration
	// ImmediateSeverity opens an incident at once for a signal this severe
	// ("" disables).
	ImmediateSeverity incident.Severity
	// ConnectedScore and TextWeight make the join score:
	// topology (1 same service, ConnectedScore connected, 0 otherwise) +
	// TextWeight × similarity + what feedback learnt. JoinScore is the least
	// score that joins.
	ConnectedScore float64
	TextWeight     float64
	JoinScore      float64

	// QuietPeriod is how long an incident whose signals have all resolved
	// stays open before it resolves itself.
	QuietPeriod time.Duration
	// AnomalyHold is how long after it was last seen an anomaly counts as
	// ongoing (anomalies have no resolution message of their own).
	AnomalyHold time.Duration
	// ReopenWindow is how long after resolution a matching signal reopens
	// the incident rather than starting a new one.
	ReopenWindow time.Duration

	// DeployGrace and DeployLowScore: an anomaly scoring below
	// DeployLowScore on a service deployed less than DeployGrace before is
	// marked expected, its severity lowered to info.
	DeployGrace    time.Duration
	DeployLowScore float64
	// Maintenance windows mark matching signals expected.
	Maintenance []Maintenance

	// CriticalScore and WarningScore classify anomalies by score.
	CriticalScore float64
	WarningScore  float64

	// DowngradeAfter and MuteAfter: a signature marked false positive this
	// many times (net of true positives) is downgraded one severity level,
	// or muted (expected) altogether.
	DowngradeAfter int
	MuteAfter      int
	// MergeBonus is added to the join score between two signatures each
	// time people merge incidents holding them (SplitPenalty subtracted
	// for a split), up to MaxBonus either way.
	MergeBonus   float64
	SplitPenalty float64
	MaxBonus     float64
	// MaxLearnedPairs bounds the learnt signature pairs.
	MaxLearnedPairs int

	// MaxTimeline bounds the timeline entries kept per incident; later
	// signal entries are counted, not kept. Status, notes and feedback
	// entries always go in.
	MaxTimeline int
	// SweepEvery is how often (in evaluation time) auto-resolution and
	// expiry are checked.
	SweepEvery time.Duration

	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// DefaultOptions returns the one configuration used for every source.
func DefaultOptions() Options {
	return Options{
		GroupWindow:       10 * time.Minute,
		ConnectedWindow:   5 * time.Minute,
		MinSeverity:       incident.SeverityWarning,
		MinSignals:        2,
		PersistFor:        10 * time.Minute,
		ImmediateSeverity: incident.SeverityCritical,
		ConnectedScore:    0.5,
		TextWeight:        0.45,
		JoinScore:         0.5,
		QuietPeriod:       10 * time.Minute,
		AnomalyHold:       5 * time.Minute,
		ReopenWindow:      30 * time.Minute,
		DeployGrace:       15 * time.Minute,
		DeployLowScore:    0.8,
		CriticalScore:     0.95,
		WarningScore:      0.7,
		DowngradeAfter:    1,
		MuteAfter:         3,
		MergeBonus:        0.25,
		SplitPenalty:      0.5,
		MaxBonus:          1,
		MaxLearnedPairs:   10000,
		MaxTimeline:       1000,
		SweepEvery:        30 * time.Second,
		Registerer:        prometheus.DefaultRegisterer,
		Logger:            slog.Default(),
	}
}

func (o *Options) validate() error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if o.GroupWindow <= 0 {
		bad("group window %v must be positive", o.GroupWindow)
	}
	if o.ConnectedWindow < 0 {
		bad("connected window %v is negative", o.ConnectedWindow)
	}
	if o.MinSeverity.Rank() == 0 {
		bad("min severity %q is not info, warning or critical", o.MinSeverity)
	}
	if o.MinSignals < 1 {
		bad("min signals %d must be at least 1", o.MinSignals)
	}
	if o.ImmediateSeverity != "" && o.ImmediateSeverity.Rank() == 0 {
		bad("immediate severity %q is not info, warning or critical", o.ImmediateSeverity)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"persist for", o.PersistFor}, {"quiet period", o.QuietPeriod}, {"anomaly hold", o.AnomalyHold},
		{"reopen window", o.ReopenWindow}, {"deploy grace", o.DeployGrace}} {
		if d.v < 0 {
			bad("%s %v is negative", d.name, d.v)
		}
	}
	if o.SweepEvery <= 0 {
		bad("sweep interval %v must be positive", o.SweepEvery)
	}
	if o.JoinScore <= 0 {
		bad("join score %v must be positive", o.JoinScore)
	}
	if o.WarningScore > o.CriticalScore {
		bad("warning score %v is above critical score %v", o.WarningScore, o.CriticalScore)
	}
	if o.MuteAfter < 1 || o.DowngradeAfter < 1 {
		bad("mute after %d and downgrade after %d must be at least 1", o.MuteAfter, o.DowngradeAfter)
	}
	if o.MaxTimeline < 10 {
		bad("max timeline %d is below 10", o.MaxTimeline)
	}
	if o.MaxLearnedPairs < 0 {
		bad("max learned pairs %d is negative", o.MaxLearnedPairs)
	}
	for i, m := range o.Maintenance {
		if !m.End.After(m.Start) {
			bad("maintenance window %d (%s): end %v is not after start %v", i, m.Name, m.End, m.Start)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidOptions, joinProblems(problems))
	}
	return nil
}

func joinProblems(ps []string) string {
	out := ps[0]
	for _, p := range ps[1:] {
		out += "; " + p
	}
	return out
}
