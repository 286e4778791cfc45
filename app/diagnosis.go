package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/api"
	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/copilot"
	"github.com/vigilops/vigil/correlate"
	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/diagnose"
	"github.com/vigilops/vigil/incident"
	"github.com/vigilops/vigil/metricstore"
	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// The diagnosis stage names the probable root cause of every incident.
// The correlator's sink hands it incident changes (OnChange, which never
// blocks); one worker waits until evaluation time is Delay past the
// incident's opening, so the evidence has arrived, then gathers what Vigil
// holds about the incident window (series from the metric store, log
// anomalies, change events, the call graph), runs diagnose.Diagnose, writes
// the result on the incident's timeline with the copilot's narrative, keeps
// the full diagnosis in the store (state key diagnosis/<incident id>) and
// passes it on (to the act stage).
//
// Key invariant: evaluation time is the newest signal time (the later of
// deps.Clock and the newest incident time seen), never the wall clock; the
// wall clock only paces how often the worker looks.
//
// Glue (for the lead, once the alerting/incidents work is in):
//
//	config.Config:   Diagnose Diagnose `yaml:"diagnose"`
//	config.Default:  Diagnose: defaultDiagnose(),
//	config.Validate: c.Diagnose.validate(add)
//	App:             anomalies *anomalyStage  (startAnomalies: a.anomalies = s)
//	                 diagnosis *diagnosisStage
//	Start, once the correlator, the anomalies stage and the metric store
//	exist and before srv.Start (routes are mounted before listening), after
//	the act stage (see app/act.go), which it calls:
//
//		if cfg.Diagnose.Enabled {
//			ds, err := newDiagnosisStage(diagnosisDeps{
//				Log: a.log, Registerer: a.reg, Config: cfg.Diagnose,
//				Metrics: a.metrics, Store: a.store, Copilot: a.copilot,
//				Logs: anomalyRange(a.anomalies), Clock: anomalyClock(a.anomalies),
//				AddEntry: corr.AddEntry,           // the correlator's method value
//				OnDiagnosis: a.act.OnDiagnosis,    // leave nil when act is not started
//			})
//			if err != nil { return err }
//			ds.Register(srv)
//			ds.Start()
//			a.onStop("diagnosis", ds.Stop)    // after the act stage's and the correlator's
//			a.diagnosis = ds                   // onStop, so it stops before them
//		}
//	Correlator sink (the SinkFunc handed to correlate.Options): also call
//	a.diagnosis.OnChange(ctx, c); it never blocks and never calls back.
//	startDemo, when cfg.Diagnose.Edges is empty:
//		a.diagnosis.SetGraph(diagnose.FromSim(s.Topology()))

const (
	// diagnosisTickInterval is how often (wall clock) the worker checks
	// whether evaluation time has made a waiting incident due.
	diagnosisTickInterval = time.Second
	// diagnosisMaxLogs and diagnosisMaxEvents bound what one diagnosis reads.
	diagnosisMaxLogs   = 2000
	diagnosisMaxEvents = 1000
	// diagnosisEntryMax bounds the text of a timeline entry, in bytes.
	diagnosisEntryMax = 4000
	// diagnosisStatePrefix is the store's state key prefix.
	diagnosisStatePrefix = "diagnosis/"
)

// diagnosisDeps is everything the diagnosis stage uses; only Log,
// Registerer, Config and AddEntry are required.
type diagnosisDeps struct {
	Log        *slog.Logger
	Registerer prometheus.Registerer
	Config     config.Diagnose
	// Metrics is the series store (nil: no metric evidence).
	Metrics *metricstore.Store
	// Store holds events and the kept diagnoses (nil: neither).
	Store store.Store
	// Copilot writes the narrative (nil: none).
	Copilot *copilot.Copilot
	// Logs returns the log anomalies whose window overlaps [from, to].
	Logs func(from, to time.Time) []detect.Anomaly
	// Clock returns evaluation time: the newest signal time the pipeline
	// has seen. Nil or zero: the newest incident time seen in changes.
	Clock func() time.Time
	// AddEntry writes on an incident's timeline: (*correlate.Correlator).AddEntry.
	AddEntry func(ctx context.Context, id string, e incident.Entry, kind correlate.ChangeKind) (incident.Incident, error)
	// OnDiagnosis, when set, receives every diagnosis (the act stage).
	OnDiagnosis func(ctx context.Context, inc incident.Incident, d *diagnose.Diagnosis)
}

// diagnosisStage runs diagnoses; see the comment above.
type diagnosisStage struct {
	d    diagnosisDeps
	log  *slog.Logger
	diag *diagnose.Diagnoser
	m    *diagnosisMetrics

	graph   atomic.Pointer[diagnose.Graph] // nil: no call graph
	changes chan correlate.Change          // bounded; OnChange drops past it

	// mtx protects pending and newest; only the worker and OnChange use them.
	mtx     sync.Mutex
	pending map[string]diagnosisJob // by incident ID, at most Config.QueueSize
	newest  time.Time               // newest incident time seen in changes

	cancel context.CancelFunc
	done   chan struct{}
}

// diagnosisJob is one incident waiting for its diagnosis.
type diagnosisJob struct {
	inc incident.Incident
	// anchor is when the problem was first seen: the opening, or for a
	// reopened incident the reopening (its old opening may be hours back).
	anchor time.Time
	due    time.Time // evaluation time at which to diagnose
}

// diagnosisRecord is what is kept per incident and served by GET
// /api/v1/incidents/{id}/diagnosis.
type diagnosisRecord struct {
	IncidentID string              `json:"incident_id"`
	At         time.Time           `json:"at"`
	Diagnosis  *diagnose.Diagnosis `json:"diagnosis"`
	Narrative  *copilot.Narrative  `json:"narrative,omitempty"`
	// Input sums up what the diagnosis judged, for people checking it.
	Input diagnosisInputSummary `json:"input"`
}

type diagnosisInputSummary struct {
	Normal    diagnose.Window `json:"normal"`
	Anomalous diagnose.Window `json:"anomalous"`
	Series    int             `json:"series"`
	Logs      int             `json:"logs"`
	Events    int             `json:"events"`
	Symptoms  []string        `json:"symptoms"`
	Graph     string          `json:"graph,omitempty"`
}

type diagnosisMetrics struct {
	changes   *prometheus.CounterVec
	diagnoses *prometheus.CounterVec
	pending   prometheus.GaugeFunc
}

func newDiagnosisMetrics(r prometheus.Registerer, s *diagnosisStage) *diagnosisMetrics {
	m := &diagnosisMetrics{
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_diagnose_incident_changes_total",
			Help: "Incident changes offered to the diagnosis stage, by outcome (queued, dropped when the queue was full, ignored kinds).",
		}, []string{"outcome"}),
		diagnoses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_diagnose_incidents_total",
			Help: "Incident diagnoses attempted by the serve stage, by result (ok, no_data, error).",
		}, []string{"result"}),
		pending: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_diagnose_pending_incidents",
			Help: "Incidents waiting for evaluation time to reach their diagnosis.",
		}, func() float64 {
			s.mtx.Lock()
			defer s.mtx.Unlock()
			return float64(len(s.pending))
		}),
	}
	if r != nil {
		r.MustRegister(m.changes, m.diagnoses, m.pending)
	}
	return m
}

// newDiagnosisStage builds the stage; Start starts its worker.
func newDiagnosisStage(d diagnosisDeps) (*diagnosisStage, error) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.AddEntry == nil {
		return nil, errors.New("diagnosis stage: no timeline (AddEntry)")
	}
	if d.Config.QueueSize < 1 || d.Config.MaxSeries < 1 {
		return nil, fmt.Errorf("diagnosis stage: queue_size %d and max_series %d must be positive", d.Config.QueueSize, d.Config.MaxSeries)
	}
	do := diagnose.DefaultOptions()
	do.Logger = d.Log.With("component", "diagnose")
	do.Registerer = d.Registerer
	dg, err := diagnose.New(do)
	if err != nil {
		return nil, fmt.Errorf("diagnosis stage: %w", err)
	}
	s := &diagnosisStage{
		d:       d,
		log:     d.Log.With("component", "diagnose"),
		diag:    dg,
		changes: make(chan correlate.Change, d.Config.QueueSize),
		pending: map[string]diagnosisJob{},
	}
	s.m = newDiagnosisMetrics(d.Registerer, s)
	if len(d.Config.Edges) > 0 || len(d.Config.External) > 0 || len(d.Config.Hosts) > 0 {
		spec := diagnose.GraphSpec{Source: "config", External: d.Config.External, Hosts: d.Config.Hosts}
		for _, e := range d.Config.EdgePairs() {
			spec.Edges = append(spec.Edges, diagnose.Edge{From: e[0], To: e[1]})
		}
		s.graph.Store(diagnose.NewGraph(spec))
	}
	return s, nil
}

// SetGraph replaces the call graph (the demo passes the simulator's).
func (s *diagnosisStage) SetGraph(g *diagnose.Graph) { s.graph.Store(g) }

// Register mounts GET /api/v1/incidents/{id}/diagnosis.
func (s *diagnosisStage) Register(srv *api.Server) {
	srv.Handle("GET /api/v1/incidents/{id}/diagnosis", store.RoleViewer, s.serveDiagnosis)
}

// Start starts the worker; Stop ends it.
func (s *diagnosisStage) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		s.run(ctx)
	}()
}

// Stop ends the worker, abandoning incidents still waiting (they are
// logged): a diagnosis half an evaluation delay early would judge too
// little evidence.
func (s *diagnosisStage) Stop(ctx context.Context) error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	select {
	case <-s.done:
	case <-ctx.Done():
		return fmt.Errorf("stop diagnosis: %w", ctx.Err())
	}
	s.mtx.Lock()
	n := len(s.pending)
	s.mtx.Unlock()
	if n > 0 {
		s.log.Info("diagnoses abandoned at stop", "incidents", n)
	}
	return nil
}

// OnChange takes an incident change from the correlator's sink. It never
// blocks: past the queue's bound the change is dropped and counted.
// Opened, reopened and severity changes are diagnosed; others ignored.
func (s *diagnosisStage) OnChange(_ context.Context, c correlate.Change) {
	switch c.Kind {
	case correlate.ChangeOpened, correlate.ChangeSeverity, correlate.ChangeReopened:
	default:
		s.m.changes.WithLabelValues("ignored").Inc()
		return
	}
	c.Incident = c.Incident.Clone()
	c.Entries = nil
	select {
	case s.changes <- c:
		s.m.changes.WithLabelValues("queued").Inc()
	default:
		s.m.changes.WithLabelValues("dropped").Inc()
		s.log.Warn("diagnosis queue full: incident change dropped", "incident", c.Incident.ID, "kind", c.Kind)
	}
}

// run takes changes and diagnoses due incidents until ctx is done.
func (s *diagnosisStage) run(ctx context.Context) {
	t := time.NewTicker(diagnosisTickInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-s.changes:
			s.enqueue(c)
		case <-t.C:
			s.step(ctx)
		}
	}
}

// drain moves every queued change into pending without waiting.
func (s *diagnosisStage) drain() {
	for {
		select {
		case c := <-s.changes:
			s.enqueue(c)
		default:
			return
		}
	}
}

// enqueue schedules a change's incident for diagnosis.
func (s *diagnosisStage) enqueue(c correlate.Change) {
	inc := c.Incident
	s.mtx.Lock()
	defer s.mtx.Unlock()
	for _, t := range []time.Time{inc.UpdatedAt, inc.OpenedAt} {
		if t.After(s.newest) {
			s.newest = t
		}
	}
	anchor := inc.OpenedAt
	if c.Kind == correlate.ChangeReopened && inc.UpdatedAt.After(anchor) {
		anchor = inc.UpdatedAt
	}
	due := anchor.Add(time.Duration(s.d.Config.Delay))
	if old, ok := s.pending[inc.ID]; ok {
		// A later change refreshes the snapshot (more services, a higher
		// severity) but keeps the earlier anchor and due time.
		s.pending[inc.ID] = diagnosisJob{inc: inc, anchor: old.anchor, due: old.due}
		return
	}
	if len(s.pending) >= s.d.Config.QueueSize {
		s.m.changes.WithLabelValues("dropped").Inc()
		s.log.Warn("too many incidents waiting for diagnosis: change dropped", "incident", inc.ID)
		return
	}
	s.pending[inc.ID] = diagnosisJob{inc: inc, anchor: anchor, due: due}
}

// evalNow returns evaluation time.
func (s *diagnosisStage) evalNow() time.Time {
	var now time.Time
	if s.d.Clock != nil {
		now = s.d.Clock()
	}
	s.mtx.Lock()
	if now.IsZero() || s.newest.After(now) {
		now = s.newest
	}
	s.mtx.Unlock()
	return now
}

// step diagnoses every incident whose due time evaluation time has reached,
// oldest due first. It returns how many it diagnosed.
func (s *diagnosisStage) step(ctx context.Context) int {
	s.drain()
	now := s.evalNow()
	if now.IsZero() {
		return 0
	}
	s.mtx.Lock()
	var due []diagnosisJob
	for id, j := range s.pending {
		if !now.Before(j.due) {
			due = append(due, j)
			delete(s.pending, id)
		}
	}
	s.mtx.Unlock()
	sort.Slice(due, func(i, k int) bool { return due[i].due.Before(due[k].due) })
	n := 0
	for _, j := range due {
		if ctx.Err() != nil {
			return n
		}
		if err := s.diagnoseIncident(ctx, j.inc, j.anchor, now); err != nil {
			s.log.Warn("diagnose incident", "incident", j.inc.ID, "err", err)
			continue
		}
		n++
	}
	return n
}

// diagnoseIncident runs one diagnosis of the problem first seen at anchor,
// at evaluation time now, and records it.
func (s *diagnosisStage) diagnoseIncident(ctx context.Context, inc incident.Incident, anchor, now time.Time) error {
	in := s.input(ctx, inc, anchor, now)
	d, err := s.diag.Diagnose(ctx, in)
	if errors.Is(err, diagnose.ErrNoData) {
		s.m.diagnoses.WithLabelValues("no_data").Inc()
		_, aerr := s.d.AddEntry(ctx, inc.ID, incident.Entry{
			Time: now, Kind: incident.EntryDiagnosis,
			Text: fmt.Sprintf("No diagnosis: no metric, log or change evidence for %s between %s and %s.",
				strings.Join(in.Symptoms, ", "), in.Anomalous.Start.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)),
		}, correlate.ChangeUpdated)
		return aerr
	}
	if err != nil {
		s.m.diagnoses.WithLabelValues("error").Inc()
		return fmt.Errorf("diagnose: %w", err)
	}
	s.m.diagnoses.WithLabelValues("ok").Inc()
	rec := diagnosisRecord{IncidentID: inc.ID, At: now, Diagnosis: d, Input: diagSummarise(in)}
	if s.d.Copilot != nil {
		n := s.d.Copilot.Narrate(ctx, diagNarrativeCase(inc, d))
		rec.Narrative = &n
	}
	var errs []error
	if s.d.Store != nil {
		b, err := json.Marshal(rec)
		if err == nil {
			err = s.d.Store.PutState(ctx, diagnosisStatePrefix+inc.ID, b)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("keep diagnosis: %w", err))
		}
	}
	ref := []string{diagnosisStatePrefix + inc.ID}
	if _, err := s.d.AddEntry(ctx, inc.ID, incident.Entry{Time: now, Kind: incident.EntryDiagnosis, Text: diagnosisText(d), Refs: ref}, correlate.ChangeUpdated); err != nil {
		errs = append(errs, fmt.Errorf("timeline: %w", err))
	}
	if n := rec.Narrative; n != nil && n.Text != "" {
		text := fmt.Sprintf("Root-cause narrative (source: %s): %s", n.Source, n.Text)
		if _, err := s.d.AddEntry(ctx, inc.ID, incident.Entry{Time: now, Kind: incident.EntryDiagnosis, Text: diagClip(text, diagnosisEntryMax), Refs: ref}, correlate.ChangeUpdated); err != nil {
			errs = append(errs, fmt.Errorf("timeline narrative: %w", err))
		}
	}
	s.log.Info("incident diagnosed", "incident", inc.ID, "top", d.Top(), "candidates", len(d.Candidates), "series", rec.Input.Series)
	if s.d.OnDiagnosis != nil {
		s.d.OnDiagnosis(ctx, inc, d)
	}
	return errors.Join(errs...)
}

// input gathers the diagnosis input for inc at evaluation time now:
// Normal is the NormalWindow before the anomalous period, which starts Lead
// before anchor (the opening).
func (s *diagnosisStage) input(ctx context.Context, inc incident.Incident, anchor, now time.Time) diagnose.Input {
	c := s.d.Config
	aStart := anchor.Add(-time.Duration(c.Lead))
	end := now
	if !end.After(aStart) {
		end = aStart.Add(time.Second)
	}
	in := diagnose.Input{
		Normal:    diagnose.Window{Start: aStart.Add(-time.Duration(c.NormalWindow)), End: aStart},
		Anomalous: diagnose.Window{Start: aStart, End: end},
		Graph:     s.graph.Load(),
		Symptoms:  append([]string(nil), inc.Services...),
	}
	in.Series = s.series(s.scope(in.Graph, inc.Services), inc.Services, in.Normal.Start, end)
	if s.d.Logs != nil {
		in.Logs = s.d.Logs(in.Normal.Start, end)
		if len(in.Logs) > diagnosisMaxLogs {
			in.Logs = in.Logs[:diagnosisMaxLogs]
		}
	}
	if s.d.Store != nil {
		evs, err := s.d.Store.Events(ctx, store.EventQuery{From: in.Normal.Start, To: end.Add(time.Millisecond), Limit: diagnosisMaxEvents})
		if err != nil {
			s.log.Warn("read events for diagnosis", "incident", inc.ID, "err", err)
		}
		in.Events = evs
	}
	return in
}

// scope returns the services whose series to read, sorted: the incident's,
// everything they depend on (callees, transitively: a cause travels up the
// call graph to its callers), their direct callers (load travels down) and
// the nodes all of these run on. Without a graph it is nil: read all.
func (s *diagnosisStage) scope(g *diagnose.Graph, services []string) []string {
	if g == nil {
		return nil
	}
	set := map[string]bool{}
	queue := append([]string(nil), services...)
	for _, svc := range services {
		set[svc] = true
		for _, n := range g.Callers(svc) {
			set[n] = true
		}
	}
	for len(queue) > 0 {
		svc := queue[0]
		queue = queue[1:]
		for _, n := range g.Callees(svc) {
			if !set[n] {
				set[n] = true
				queue = append(queue, n)
			}
		}
	}
	for svc := range set {
		if h := g.Host(svc); h != "" {
			set[h] = true
		}
	}
	out := make([]string, 0, len(set))
	for svc := range set {
		out = append(out, svc)
	}
	sort.Strings(out)
	return out
}

// series reads the series of the services in scope over [from, to], at
// most Config.MaxSeries. Without a graph (nil scope) every series is read
// while the store holds no more than MaxSeries, else those of the symptoms:
// nothing says which other service could be the cause. Counters become
// per-second rates; histogram buckets are skipped (their rates repeat
// _count once per bucket).
func (s *diagnosisStage) series(scope, symptoms []string, from, to time.Time) []diagnose.Series {
	st := s.d.Metrics
	if st == nil {
		return nil
	}
	limit := s.d.Config.MaxSeries
	var refs []metricstore.Ref
	if scope == nil && st.Len() <= limit {
		refs = st.Series()
	} else {
		if scope == nil {
			scope = symptoms
		}
		for _, svc := range scope {
			for _, name := range []string{"service", "node"} {
				m, err := labels.NewMatcher(labels.MatchEqual, name, svc)
				if err != nil {
					continue
				}
				refs = append(refs, st.Series(m)...)
			}
			if len(refs) >= 2*limit {
				break
			}
		}
	}
	out := make([]diagnose.Series, 0, min(len(refs), limit))
	seen := make(map[telemetry.Fingerprint]bool, len(refs))
	for _, ref := range refs {
		if len(out) >= limit {
			break
		}
		// A series labelled with both a service and a node in scope is
		// matched twice.
		if seen[ref.Fingerprint] {
			continue
		}
		seen[ref.Fingerprint] = true
		ls := ref.Labels
		name := ls.Get("__name__")
		if strings.HasSuffix(name, "_bucket") {
			continue
		}
		svc := ls.Get("service")
		if svc == "" {
			svc = ls.Get("node")
		}
		if svc == "" {
			continue
		}
		pts := st.Range(ref, from, to, 0)
		if diagIsCounter(name) {
			pts = diagPerSecond(pts)
		}
		if len(pts) < 2 {
			continue
		}
		out = append(out, diagnose.Series{Service: svc, Name: diagSeriesName(ls), Kind: diagnose.KindOf(ls), Points: pts})
	}
	return out
}

// diagIsCounter reports whether a metric name follows the Prometheus naming of
// a monotonic counter.
func diagIsCounter(name string) bool {
	for _, suf := range []string{"_total", "_count", "_sum"} {
		if strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}

// diagPerSecond turns counter points into rates between consecutive points; a
// drop is a counter reset, after which the new value is the increase.
func diagPerSecond(pts []telemetry.Point) []telemetry.Point {
	if len(pts) < 2 {
		return nil
	}
	out := make([]telemetry.Point, 0, len(pts)-1)
	for i := 1; i < len(pts); i++ {
		dt := float64(pts[i].T-pts[i-1].T) / 1000
		if dt <= 0 || math.IsNaN(pts[i].V) || math.IsNaN(pts[i-1].V) {
			continue
		}
		inc := pts[i].V - pts[i-1].V
		if inc < 0 {
			inc = pts[i].V
		}
		out = append(out, telemetry.Point{T: pts[i].T, V: inc / dt})
	}
	return out
}

// diagSeriesName is the series as people write it, without the labels that
// only repeat the service.
func diagSeriesName(ls telemetry.Labels) string {
	var b strings.Builder
	b.WriteString(ls.Get("__name__"))
	first := true
	for _, l := range ls {
		switch l.Name {
		case "__name__", "service", "instance", "job", "node":
			continue
		}
		if first {
			b.WriteByte('{')
			first = false
		} else {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", l.Name, l.Value)
	}
	if !first {
		b.WriteByte('}')
	}
	return b.String()
}

func diagSummarise(in diagnose.Input) diagnosisInputSummary {
	sum := diagnosisInputSummary{
		Normal: in.Normal, Anomalous: in.Anomalous, Series: len(in.Series), Logs: len(in.Logs),
		Events: len(in.Events), Symptoms: in.Symptoms,
	}
	if in.Graph != nil {
		sum.Graph = in.Graph.Source()
	}
	return sum
}

// diagnosisText is the timeline entry: the top candidate, its confidence,
// the chain and the next step.
func diagnosisText(d *diagnose.Diagnosis) string {
	var b strings.Builder
	if len(d.Candidates) == 0 {
		b.WriteString("No root-cause candidate stood out.")
	} else {
		c := d.Candidates[0]
		fmt.Fprintf(&b, "Probable root cause: %s (confidence %.0f%%). %s", c.Service, 100*c.Confidence, c.Reason)
		if len(d.Candidates) > 1 {
			var others []string
			for _, o := range d.Candidates[1:min(len(d.Candidates), 3)] {
				others = append(others, fmt.Sprintf("%s %.0f%%", o.Service, 100*o.Confidence))
			}
			fmt.Fprintf(&b, " Also considered: %s.", strings.Join(others, ", "))
		}
	}
	if len(d.Chain) > 0 {
		steps := []string{d.Chain[0].From}
		for _, l := range d.Chain {
			steps = append(steps, fmt.Sprintf("%s (%s, %s)", l.To, l.Via, l.Signal))
		}
		fmt.Fprintf(&b, " Chain: %s.", strings.Join(steps, " → "))
	}
	if d.NextStep != "" {
		fmt.Fprintf(&b, " Next step: %s", d.NextStep)
	}
	return diagClip(b.String(), diagnosisEntryMax)
}

// diagNarrativeCase converts a diagnosis into the copilot's plain values.
func diagNarrativeCase(inc incident.Incident, d *diagnose.Diagnosis) copilot.Case {
	cs := copilot.Case{Title: inc.Title, Started: inc.OpenedAt, Services: inc.Services, NextStep: d.NextStep}
	for _, c := range d.Candidates {
		cs.Candidates = append(cs.Candidates, copilot.Candidate{Service: c.Service, Confidence: c.Confidence, Reason: c.Reason})
	}
	for _, l := range d.Chain {
		var ev []string
		for _, e := range l.Evidence {
			if e.Summary != "" {
				ev = append(ev, e.Summary)
			}
		}
		cs.Chain = append(cs.Chain, copilot.ChainLink{From: l.From, To: l.To, Signal: l.Signal, At: l.Onset, Evidence: strings.Join(ev, "; ")})
	}
	return cs
}

// diagClip cuts s to at most n bytes on a rune boundary.
func diagClip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// serveDiagnosis answers GET /api/v1/incidents/{id}/diagnosis with the kept
// diagnosis and narrative.
func (s *diagnosisStage) serveDiagnosis(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if id == "" || len(id) > 128 || !utf8.ValidString(id) {
		return api.Errorf(http.StatusBadRequest, "bad_request", "incident ID %q is not valid", diagClip(id, 40))
	}
	if s.d.Store == nil {
		return api.Errorf(http.StatusNotFound, "not_found", "no diagnosis for incident %q: diagnoses are not kept", id)
	}
	b, err := s.d.Store.GetState(r.Context(), diagnosisStatePrefix+id)
	if errors.Is(err, store.ErrNotFound) {
		return api.Errorf(http.StatusNotFound, "not_found", "no diagnosis for incident %q (yet)", id)
	}
	if err != nil {
		return fmt.Errorf("read diagnosis: %w", err)
	}
	var rec diagnosisRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return fmt.Errorf("decode diagnosis of %s: %w", id, err)
	}
	api.WriteJSON(w, http.StatusOK, rec)
	return nil
}

// anomalyRange adapts the anomalies stage to diagnosisDeps.Logs and
// actDeps.Anomalies: the anomalies whose window overlaps [from, to], newest
// first, at most diagnosisMaxLogs.
func anomalyRange(s *anomalyStage) func(from, to time.Time) []detect.Anomaly {
	return func(from, to time.Time) []detect.Anomaly {
		vs, _ := s.query(anomalyFilter{since: from, limit: anomaliesMaxLimit})
		var out []detect.Anomaly
		for i := range vs {
			if vs[i].Start.After(to) {
				continue
			}
			out = append(out, vs[i].Anomaly)
			if len(out) == diagnosisMaxLogs {
				break
			}
		}
		return out
	}
}

// anomalyClock adapts the anomalies stage to the Clock of both stages: the
// newest log record time it has seen (evaluation time).
func anomalyClock(s *anomalyStage) func() time.Time {
	return func() time.Time {
		s.mtx.Lock()
		defer s.mtx.Unlock()
		return s.newest
	}
}
