package diagnose

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/telemetry"
)

// maxWeak bounds the weak series kept per service.
const maxWeak = 16

// svcState is everything gathered about one service.
type svcState struct {
	name   string
	series []seriesScore // anomalous series (score > 1), strongest first
	// weak are series that moved past the threshold without leaving their
	// normal range: not enough to rank on, enough to show in a chain.
	weak   []seriesScore
	logs   []detect.Anomaly
	events []telemetry.Event
	// metric, log and change evidence strengths; e their sum. local, up
	// and down split the metric evidence by how it travels: local kinds
	// stay, up kinds (latency, errors) are explained by callees, down kinds
	// (traffic) by callers.
	metric, log, change, e float64
	local, up, down        float64
	// load is the part of down from traffic that rose: more work; drop
	// the part from traffic that fell.
	load, drop float64
	// upLat and upErr split up into latency and the rest; latRise is the
	// largest rise of a latency series in its own unit (seconds).
	upLat, upErr, latRise float64
	// origin marks a caller of services whose traffic fell: a candidate
	// even without evidence of its own (see markOrigins).
	origin bool
	// logVolume is log evidence from line counts (frequency, error
	// bursts), which rise with traffic; logNew the rest (new templates,
	// new values, silence).
	logVolume, logNew float64
	onset             int64 // earliest anomalous onset, ms; MaxInt64 if none
}

// Diagnose ranks root-cause candidates for the incident described by in.
// It never blocks on I/O; ctx is checked between the stages so a caller can
// bound the work on very large inputs.
func (d *Diagnoser) Diagnose(ctx context.Context, in Input) (*Diagnosis, error) {
	start := time.Now() // for the duration metric only, never for judging
	diag, err := d.diagnose(ctx, in)
	d.metrics.observe(time.Since(start), err)
	return diag, err
}

func (d *Diagnoser) diagnose(ctx context.Context, in Input) (*Diagnosis, error) {
	if in.Anomalous.Start.IsZero() || !in.Anomalous.End.After(in.Anomalous.Start) {
		return nil, fmt.Errorf("%w: the anomalous window must have a start before its end", ErrInvalidInput)
	}
	if in.Normal.Start.IsZero() && in.Normal.End.IsZero() {
		in.Normal = Window{Start: time.UnixMilli(math.MinInt64 / 2), End: in.Anomalous.Start}
		if first, ok := firstPoint(in.Series); ok {
			in.Normal.Start = time.UnixMilli(first)
		}
	}
	if !in.Normal.End.After(in.Normal.Start) {
		return nil, fmt.Errorf("%w: the normal window must have a start before its end", ErrInvalidInput)
	}
	states := map[string]*svcState{}
	get := func(name string) *svcState {
		s := states[name]
		if s == nil {
			s = &svcState{name: name, onset: math.MaxInt64}
			states[name] = s
		}
		return s
	}
	step := sampleStep(in.Series, in.Anomalous)
	dist := findDisturbance(in.Series, in.Normal, step, d.opts.MaxPoints)
	for i := range in.Series {
		s := &in.Series[i]
		if s.Service == "" {
			return nil, fmt.Errorf("%w: series %d (%s) has no service", ErrInvalidInput, i, s.Name)
		}
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		sc, ok := scoreSeries(s, in.Normal, in.Anomalous, d.opts.Threshold, d.opts.MaxPoints, dist)
		if !ok {
			continue
		}
		st := get(s.Service)
		switch {
		case sc.score > 1:
			st.series = append(st.series, sc)
		case sc.z > d.opts.Threshold && len(st.weak) < maxWeak:
			st.weak = append(st.weak, sc)
		}
	}
	d.attributeLogs(in, get)
	d.attributeEvents(in, get)
	if len(states) == 0 {
		return nil, ErrNoData
	}
	for _, st := range states {
		sort.SliceStable(st.series, func(i, j int) bool { return st.series[i].score > st.series[j].score })
		if len(st.series) > 0 {
			top := math.Log(st.series[0].score)
			for _, sc := range st.series {
				w := math.Log(sc.score)
				// The onset is that of the service's strong series: a
				// series barely past its bar starts early by chance.
				if w >= top/2 {
					st.onset = min(st.onset, sc.onset)
				}
				switch {
				case sc.kind.local():
					st.local = max(st.local, w)
				case sc.kind == KindTraffic:
					st.down = max(st.down, w)
					if sc.change == "up" {
						st.load = max(st.load, w)
					} else {
						st.drop = max(st.drop, w)
					}
				default:
					st.up = max(st.up, w)
					if sc.kind == KindLatency && sc.change == "up" {
						st.upLat = max(st.upLat, w)
						st.latRise = max(st.latRise, sc.observed-sc.median)
					} else {
						st.upErr = max(st.upErr, w)
					}
				}
			}
			st.metric = max(st.local, st.up, st.down)
		}
		st.e = st.metric + st.log + st.change
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if in.Graph != nil {
		shareExternal(in.Graph, states, get)
		markOrigins(in.Graph, states, get)
	}
	names := make([]string, 0, len(states))
	for n, st := range states {
		if st.e > 0 || st.origin {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		return &Diagnosis{At: in.Anomalous.Start, NextStep: "No service deviates from its normal period: widen the windows or check that the right telemetry is collected."}, nil
	}
	scores := d.walk(in.Graph, names, states, in.Anomalous, step)
	if in.Graph != nil && len(in.Symptoms) > 0 {
		if dep := dependencies(in.Graph, in.Symptoms); dep != nil {
			for i, n := range names {
				if !dep[n] {
					scores[i] *= unrelatedWeight
				}
			}
		}
	}
	cands := make([]Candidate, 0, len(names))
	total := 0.0
	for i, n := range names {
		total += scores[i]
		st := states[n]
		c := Candidate{Service: n, Score: scores[i], Evidence: st.evidence()}
		if st.onset != math.MaxInt64 {
			c.Onset = time.UnixMilli(st.onset).UTC()
		}
		cands = append(cands, c)
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		if !a.Onset.Equal(b.Onset) {
			return !a.Onset.IsZero() && (b.Onset.IsZero() || a.Onset.Before(b.Onset))
		}
		return a.Service < b.Service
	})
	if len(cands) > d.opts.MaxCandidates {
		cands = cands[:d.opts.MaxCandidates]
	}
	for i := range cands {
		if total > 0 {
			cands[i].Confidence = cands[i].Score / total
		}
		cands[i].Reason = reason(states[cands[i].Service], in.Graph)
	}
	diag := &Diagnosis{At: in.Anomalous.Start, Candidates: cands}
	if in.Graph != nil {
		diag.GraphSource = in.Graph.Source()
	}
	diag.Chain = d.chain(in.Graph, cands[0].Service, states)
	diag.NextStep = nextStep(states[cands[0].Service], in.Graph)
	return diag, nil
}

func firstPoint(ss []Series) (int64, bool) {
	first, ok := int64(math.MaxInt64), false
	for i := range ss {
		if len(ss[i].Points) > 0 {
			first, ok = min(first, ss[i].Points[0].T), true
		}
	}
	return first, ok
}

// attributeLogs adds log anomalies inside the anomalous period (or starting
// up to ChangeWindow before it) as evidence. A log anomaly whose lines name
// an external dependency of its service is that dependency's evidence:
// external services have no telemetry of their own.
func (d *Diagnoser) attributeLogs(in Input, get func(string) *svcState) {
	from := in.Anomalous.Start.Add(-d.opts.ChangeWindow)
	for _, a := range in.Logs {
		if a.Service == "" || a.End.Before(from) || !a.Start.Before(in.Anomalous.End) {
			continue
		}
		svc := a.Service
		if g := in.Graph; g != nil {
			for _, c := range g.Callees(a.Service) {
				if g.External(c) && mentions(a, a.Service, c, g.aliasesOf(c)) {
					svc = c
					break
				}
			}
		}
		st := get(svc)
		st.logs = append(st.logs, a)
		w := 2 * a.Score * max(a.Confidence, 0.5)
		st.log = max(st.log, w)
		if a.Type == detect.TypeFrequency || a.Type == detect.TypeErrorBurst {
			st.logVolume = max(st.logVolume, w)
		} else {
			st.logNew = max(st.logNew, w)
		}
		on := a.Start.UnixMilli()
		if on >= in.Anomalous.Start.UnixMilli() || st.onset == math.MaxInt64 {
			st.onset = min(st.onset, max(on, in.Anomalous.Start.UnixMilli()))
		}
	}
}

// mentions reports whether the anomaly's template or lines name the
// dependency dep of service svc: its full name, or a distinctive word of it
// (four letters or more, not part of svc's own name: "provider" in
// payment-provider, called by payments) or one of its aliases (host names).
func mentions(a detect.Anomaly, svc, dep string, aliases []string) bool {
	words := append([]string{dep}, aliases...)
	for _, w := range strings.FieldsFunc(dep, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
		if len(w) >= 4 && !strings.Contains(svc, w) {
			words = append(words, w)
		}
	}
	texts := append([]string{a.Template}, a.Examples...)
	for _, t := range texts {
		for _, w := range words {
			if strings.Contains(t, w) {
				return true
			}
		}
	}
	return false
}

// attributeEvents adds deploys and config changes shortly before or during
// the anomalous period: a change right before trouble is the classic cause.
func (d *Diagnoser) attributeEvents(in Input, get func(string) *svcState) {
	from := in.Anomalous.Start.Add(-d.opts.ChangeWindow)
	for _, ev := range in.Events {
		if ev.Service == "" || ev.Time.Before(from) || !ev.Time.Before(in.Anomalous.End) {
			continue
		}
		w := 0.0
		switch ev.Kind {
		case telemetry.EventDeploy, telemetry.EventConfigChange:
			w = 1
		case telemetry.EventKubernetes:
			w = 0.25
		default:
			continue // scaling reacts to load; it is a symptom, not a cause
		}
		st := get(ev.Service)
		st.events = append(st.events, ev)
		st.change = max(st.change, w)
	}
}

func (st *svcState) evidence() []Evidence {
	var out []Evidence
	for i := range st.series {
		if i == 5 {
			break
		}
		out = append(out, st.series[i].evidence())
	}
	for i, a := range st.logs {
		if i == 3 {
			break
		}
		ev := Evidence{Kind: EvidenceLog, Service: a.Service, Series: string(a.Type), Score: a.Score, Onset: a.Start, Change: "appears", Summary: a.Explanation, Examples: a.Examples}
		if a.Template != "" {
			ev.Series = string(a.Type) + ": " + a.Template
		}
		if a.Type == detect.TypeSilence {
			ev.Change = "absent"
		}
		out = append(out, ev)
	}
	for _, ev := range st.events {
		sum := ev.Summary
		if sum == "" {
			sum = fmt.Sprintf("%s of %s", ev.Kind, ev.Service)
		}
		out = append(out, Evidence{Kind: EvidenceEvent, Service: ev.Service, Series: string(ev.Kind), Onset: ev.Time, Change: "appears", Summary: sum})
	}
	return out
}

func reason(st *svcState, g *Graph) string {
	var parts []string
	if len(st.events) > 0 {
		parts = append(parts, fmt.Sprintf("a %s at %s", st.events[0].Kind, st.events[0].Time.Format(time.TimeOnly)))
	}
	if len(st.series) > 0 {
		s := st.series[0]
		name := s.name
		if s.svc != st.name {
			// An external service's series, as this service measured it.
			name = fmt.Sprintf("%s %s as %s saw it", s.svc, s.name, st.name)
		}
		parts = append(parts, fmt.Sprintf("%s %s %.1f× beyond its normal extreme", name, s.change, s.score))
	}
	if len(st.logs) > 0 {
		parts = append(parts, fmt.Sprintf("%d log anomalies (%s)", len(st.logs), st.logs[0].Type))
	}
	if len(parts) == 0 {
		return "no direct evidence"
	}
	r := strings.Join(parts, "; ")
	if g != nil && g.External(st.name) {
		r += "; external, seen through its callers' logs"
	}
	return r
}
