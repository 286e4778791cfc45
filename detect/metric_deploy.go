package detect

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// DeployWatch judges a service's request health together during the grace
// after its deploy. Each SeriesDetector widens its band after a deploy so
// that a rollout's wobble on one series does not page; a release that
// breaks the service moves several of its request signals at once (errors
// and latency up, successful requests down) and keeps them there. The
// watch reports a deploy regression when, within the grace, at least
// Metrics distinct metric names of the service each have a run of points
// outside even the widened band, begun by an anomalous one, lasting at
// least Points points and Span: independent signals agreeing stand in for
// the persistence (For) that one series alone would need.
//
// Only request signals are meant to be watched (see DeploySignal): a
// restart moves a process's own metrics on every release (up dips,
// process_start_time_seconds steps, memory drops, CPU spikes), and two of
// those together say nothing about the release. Error and latency signals
// count only when they rise (DeployPoint.UpOnly): their fall is a
// recovery, such as a rollback's. A series that spent a good part of the
// time before the deploy outside its band (TaintShare of the last
// ShareWindow or so) does not count for it: a fix shipped during an outage
// is not the outage's cause. A run counts for the latest deploy at or
// before its start, which the report names.
//
// Events may come ahead of the samples they concern or behind them; each
// service's graces are aged by the newest point of that service, never by
// the events' own clocks or another service's points.
//
// Not safe for concurrent use. Memory: a few hundred bytes per watched
// series seen within Lookback, and at most maxDeployWindows graces per
// service; series and graces that have aged out are dropped as the
// service's points come.
type DeployWatch struct {
	opts DeployWatchOptions
	svcs map[string]*deployService
}

// DeployWatchOptions configures a DeployWatch.
type DeployWatchOptions struct {
	// Grace is how long after a deploy the service is watched (default
	// SeriesOptions.DeployGrace's default: the detectors' bands are
	// widened for as long).
	Grace time.Duration
	// Metrics is how many distinct metric names must be out at once
	// (default 2, at least 2).
	Metrics int
	// Points and Span are how many consecutive out points a series' run
	// needs, and how long from its first to its last (defaults 2 and a
	// minute): three scrapes at 30s, five at 15s. A new pod's first
	// scrapes (cold caches, a warming runtime) are a wobble, not a
	// broken release.
	Points int
	Span   time.Duration
	// Stale is how recent a run's last point must be to count (default
	// 2m, or two of the series' steps if longer): a series that stopped
	// reporting is not still out.
	Stale time.Duration
	// ShareWindow is the time constant of each series' share of points
	// outside its band (default 5m), and TaintShare the share at the
	// deploy from which the series does not count for it (default 0.25:
	// about a minute and a half out of the last five).
	ShareWindow time.Duration
	TaintShare  float64
	// Lookback is how long a series' state is kept after its last point
	// (default 15m).
	Lookback time.Duration
}

// DefaultDeployWatchOptions returns the defaults.
func DefaultDeployWatchOptions() DeployWatchOptions {
	return DeployWatchOptions{Grace: DefaultSeriesOptions().DeployGrace, Metrics: 2, Points: 2,
		Span: time.Minute, Stale: 2 * time.Minute, ShareWindow: 5 * time.Minute, TaintShare: 0.25,
		Lookback: 15 * time.Minute}
}

func (o *DeployWatchOptions) validate() {
	d := DefaultDeployWatchOptions()
	if o.Grace <= 0 {
		o.Grace = d.Grace
	}
	if o.Metrics < 2 {
		// One metric alone is what the series detectors judge.
		o.Metrics = d.Metrics
	}
	if o.Points < 1 {
		o.Points = d.Points
	}
	if o.Span < 0 {
		o.Span = d.Span
	}
	if o.Stale <= 0 {
		o.Stale = d.Stale
	}
	if o.ShareWindow <= 0 {
		o.ShareWindow = d.ShareWindow
	}
	if !(o.TaintShare > 0 && o.TaintShare <= 1) {
		o.TaintShare = d.TaintShare
	}
	if o.Lookback <= 0 {
		o.Lookback = d.Lookback
	}
}

// DeploySignal is the default choice of the series a DeployWatch compares:
// request signals by name (requests, responses, errors, failures,
// exceptions, timeouts, latency, durations, handled calls), without a
// histogram's or summary's _count and _sum (throughput again, under other
// names) and _bucket, and without the process, runtime and machine
// metrics that every restart moves.
func DeploySignal(name string) bool {
	n := strings.ToLower(name)
	for _, p := range []string{"process_", "go_", "jvm_", "python_", "nodejs_", "dotnet_", "node_", "container_", "kube_", "promhttp_"} {
		if strings.HasPrefix(n, p) {
			return false
		}
	}
	if n == "up" || strings.Contains(n, "in_flight") || strings.Contains(n, "inflight") || strings.Contains(n, "active_requests") {
		return false // gauges of concurrency: a restart drains and refills them
	}
	for _, s := range []string{"_count", "_sum", "_bucket", "_created", "_info", "_bytes"} {
		if strings.HasSuffix(n, s) {
			return false
		}
	}
	for _, w := range []string{"request", "response", "error", "fail", "exception", "timeout", "latency", "duration", "handled"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// upOnlyName reports whether a signal counts for a deploy only when it
// rises by its name: errors, failures, exceptions, timeouts, latency and
// durations, whose fall is a recovery. Request and response counts count
// both ways.
func upOnlyName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"error", "fail", "exception", "timeout", "latency", "duration"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// errorLabels reports whether a series counts client or server errors by
// its label (code, status, status_code, response_code or http_status_code
// 4xx or 5xx; grpc_code other than OK), such as
// http_requests_total{code="500"}.
func errorLabels(ls telemetry.Labels) bool {
	for _, l := range ls {
		switch l.Name {
		case "code", "status", "status_code", "response_code", "http_status_code", "http_response_status_code":
			if len(l.Value) == 3 && (l.Value[0] == '4' || l.Value[0] == '5') {
				return true
			}
		case "grpc_code", "rpc_grpc_status_code":
			if l.Value != "OK" && l.Value != "0" && l.Value != "" {
				return true
			}
		}
	}
	return false
}

// DeploySeries returns what a DeployWatch needs to know of a series of a
// watched metric: the name it counts the series under (DeployPoint.Name)
// and whether only its rise counts (DeployPoint.UpOnly). Errors and
// latency by name count only rising. So do a counter's error series by
// their status label (errorLabels), which also count apart from the
// counter's other series, so that a service instrumented with one request
// counter and a histogram (whose buckets, sum and count are not compared)
// still has two signals: errors up and successes down.
func DeploySeries(name string, ls telemetry.Labels) (signal string, upOnly bool) {
	switch {
	case upOnlyName(name):
		return name, true
	case errorLabels(ls):
		return name + ":errors", true
	}
	return name, false
}

// DeployPoint is one scored point of a watched series.
type DeployPoint struct {
	// Service owns the series and Name is its metric name (see
	// DeploySeries): runs of series with the same name count as one
	// metric.
	Service, Name string
	// Series names the series in explanations (e.g.
	// `rate(http_requests_total{code="500"})`) and Unit follows its
	// numbers; Key identifies it.
	Series, Unit string
	Key          telemetry.Fingerprint
	// UpOnly: only a rise counts (see DeploySeries).
	UpOnly bool
	T      time.Time
	V      float64
	Score  SeriesScore
}

// deployService is one service's graces and watched series.
type deployService struct {
	now    time.Time       // the newest point of the service
	pruned time.Time       // when its series were last aged out
	wins   []*deployWindow // by deploy time
	sigs   map[telemetry.Fingerprint]*deploySeries
}

// deployWindow is the grace after one deploy.
type deployWindow struct {
	deploy   telemetry.Event
	end      time.Time
	reported bool
	// qual holds, by metric name, the runs that have lasted long enough.
	qual map[string]map[telemetry.Fingerprint]*deploySeries
}

// deploySeries is one watched series: its recent share of points outside
// the band, whether it was already out when the latest deploy it has seen
// began, and its current run of out points.
type deploySeries struct {
	lastT time.Time
	share float64
	// recent holds the share about every minute for the last quarter
	// hour, so that a deploy event arriving minutes after its own time
	// is judged by the share the series had at that time, not by the
	// release's own first points.
	recent  recentRing
	seenWin *deployWindow // the latest grace this series has had a point in
	tainted bool          // it was out for a good share of the time before seenWin's deploy

	p          DeployPoint // the latest out point of the run
	start      time.Time   // zero when not in a run
	step       time.Duration
	points     int
	peak       float64       // highest likelihood in the run
	qualifying *deployWindow // the window whose qual holds the run
}

// maxDeployWindows bounds the graces kept per service, and
// maxQuietDeployServices the services kept that have deploys but have
// sent no points (their graces cannot age by their own points).
const (
	maxDeployWindows       = 8
	maxQuietDeployServices = 1024
)

// deployWatchKeep is how long after its end a grace is kept: points may
// come that much behind the events.
const deployWatchKeep = time.Hour

// NewDeployWatch returns a watch with options o (zero fields take the
// defaults).
func NewDeployWatch(o DeployWatchOptions) *DeployWatch {
	o.validate()
	return &DeployWatch{opts: o, svcs: map[string]*deployService{}}
}

// ObserveEvent starts the watch of a deployed service. A deploy without a
// service is not watched: which metrics belong together is unknown.
func (w *DeployWatch) ObserveEvent(ev telemetry.Event) {
	if ev.Kind != telemetry.EventDeploy || ev.Service == "" {
		return
	}
	s := w.svcs[ev.Service]
	if s == nil {
		s = &deployService{sigs: map[telemetry.Fingerprint]*deploySeries{}}
		w.svcs[ev.Service] = s
	}
	for _, win := range s.wins {
		if win.deploy.Time.Equal(ev.Time) && win.deploy.ID == ev.ID {
			return // the same deploy again
		}
	}
	win := &deployWindow{deploy: ev, end: ev.Time.Add(w.opts.Grace), qual: map[string]map[telemetry.Fingerprint]*deploySeries{}}
	i, _ := slices.BinarySearchFunc(s.wins, ev.Time, func(x *deployWindow, t time.Time) int { return x.deploy.Time.Compare(t) })
	s.wins = slices.Insert(s.wins, i, win)
	if len(s.wins) > maxDeployWindows {
		forgetWindow(s.wins[0])
		s.wins = s.wins[1:]
	}
	// Services that have sent no points cannot age by their own points;
	// past maxQuietDeployServices of them, the one deployed longest ago
	// goes. (No clock of the events' own: one stamped far ahead would
	// end every other watch.)
	quiet, oldest := 0, ""
	var last time.Time // of oldest
	for name, o := range w.svcs {
		if !o.now.IsZero() || len(o.wins) == 0 {
			continue
		}
		quiet++
		if t := o.wins[len(o.wins)-1].deploy.Time; oldest == "" || t.Before(last) {
			oldest, last = name, t
		}
	}
	if quiet > maxQuietDeployServices {
		delete(w.svcs, oldest)
	}
}

// forgetWindow detaches the runs that qualify for a dropped window.
func forgetWindow(win *deployWindow) {
	for _, rs := range win.qual {
		for _, r := range rs {
			r.qualifying = nil
		}
	}
}

// age drops the service's graces that ended well before its newest point
// and the series silent for longer than Lookback; it runs at most once a
// Lookback of the service's time.
func (w *DeployWatch) age(s *deployService) {
	if s.now.Sub(s.pruned) < w.opts.Lookback {
		return
	}
	s.pruned = s.now
	s.wins = slices.DeleteFunc(s.wins, func(win *deployWindow) bool {
		if s.now.Sub(win.end) > deployWatchKeep {
			forgetWindow(win)
			return true
		}
		return false
	})
	for k, se := range s.sigs {
		if s.now.Sub(se.lastT) > w.opts.Lookback {
			release(se)
			delete(s.sigs, k)
		}
	}
}

// watching reports whether service is within a deploy's grace at t.
func (w *DeployWatch) watching(service string, t time.Time) bool {
	s := w.svcs[service]
	return s != nil && s.window(t) != nil
}

// window returns the grace of the latest deploy at or before t, if t lies
// within it.
func (s *deployService) window(t time.Time) *deployWindow {
	for i := len(s.wins) - 1; i >= 0; i-- {
		if win := s.wins[i]; !t.Before(win.deploy.Time) {
			if t.Before(win.end) {
				return win
			}
			return nil
		}
	}
	return nil
}

// release ends a run's membership of the window it qualified for.
func release(se *deploySeries) {
	if win := se.qualifying; win != nil {
		rs := win.qual[se.p.Name]
		delete(rs, se.p.Key)
		if len(rs) == 0 {
			delete(win.qual, se.p.Name)
		}
		se.qualifying = nil
	}
}

// Observe takes one scored point of a watched series, in time order per
// series, and returns the deploy regression it completes, if any: at most
// one per deploy.
func (w *DeployWatch) Observe(p DeployPoint) *Anomaly {
	s := w.svcs[p.Service]
	if s == nil {
		s = &deployService{sigs: map[telemetry.Fingerprint]*deploySeries{}}
		w.svcs[p.Service] = s
	}
	if p.T.After(s.now) {
		s.now = p.T
	}
	w.age(s)
	se := s.sigs[p.Key]
	if se == nil {
		se = &deploySeries{}
		s.sigs[p.Key] = se
	}
	// The share of recent time outside the band, before this point.
	dt := p.T.Sub(se.lastT)
	if se.lastT.IsZero() || dt < 0 {
		dt = 0
	}
	keep := decay(float64(dt) / float64(w.opts.ShareWindow))
	before := se.share * keep
	outBand := !math.IsNaN(p.V) && (p.V > p.Score.Upper || !p.UpOnly && p.V < p.Score.Lower)
	se.share = before
	if outBand {
		se.share += 1 - keep
	}
	win := s.window(p.T)
	if win != nil && se.seenWin != win {
		// The series' first point in this grace (or since its event
		// came): was it already out at the deploy?
		se.seenWin, se.tainted = win, w.shareAt(se, win.deploy.Time, before) >= w.opts.TaintShare
	}
	se.lastT = p.T
	se.recent.add(p.T.UnixMilli(), se.share)
	// A run begins at an anomalous point outside the band and lasts while
	// the series stays outside it: the widened band is the judge, since
	// the core's likelihood fades as its fast views adapt to a new level.
	if !outBand || se.start.IsZero() && !p.Score.Anomalous {
		if !se.start.IsZero() {
			release(se)
			se.start = time.Time{}
		}
		return nil
	}
	if se.start.IsZero() {
		se.start, se.points, se.peak, se.step = p.T, 0, 0, 0
	}
	if se.points > 0 {
		se.step = p.T.Sub(se.p.T)
	}
	se.p = p
	se.points++
	se.peak = max(se.peak, p.Score.Likelihood)
	win = s.window(se.start)
	if win == nil || win.reported || !p.T.Before(win.end) || se.seenWin == win && se.tainted {
		return nil
	}
	if se.points < w.opts.Points || p.T.Sub(se.start) < w.opts.Span {
		return nil
	}
	if se.qualifying != win {
		release(se)
		rs := win.qual[p.Name]
		if rs == nil {
			rs = map[telemetry.Fingerprint]*deploySeries{}
			win.qual[p.Name] = rs
		}
		rs[p.Key] = se
		se.qualifying = win
	}
	if len(win.qual) < w.opts.Metrics {
		return nil
	}
	// Enough names qualify; each must still have a current run, and the
	// strongest of each is what the report shows.
	best := map[string]*deploySeries{}
	for name, rs := range win.qual {
		for k, o := range rs {
			if p.T.Sub(o.p.T) > max(w.opts.Stale, 2*o.step) {
				delete(rs, k) // stopped reporting while out
				o.qualifying = nil
				continue
			}
			if b := best[name]; b == nil || o.peak > b.peak {
				best[name] = o
			}
		}
		if len(rs) == 0 {
			delete(win.qual, name)
		}
	}
	if len(best) < w.opts.Metrics {
		return nil
	}
	win.reported = true
	return deployReport(p, win, best)
}

// shareAt is a series' share of time out of its band just before t: as
// it stood at the newest kept point before t, decayed to t. When no kept
// point is that old (the event came more than a quarter hour late), the
// oldest kept one stands in with the points since t taken out as if they
// had all been out; when none was kept at all, now (the share before the
// current point) does.
func (w *DeployWatch) shareAt(se *deploySeries, t time.Time, now float64) float64 {
	u := t.UnixMilli()
	if v, at, ok := se.recent.before(u); ok {
		return v * decay(float64(time.Duration(u-at)*time.Millisecond)/float64(w.opts.ShareWindow))
	}
	if v, at, ok := se.recent.oldest(); ok {
		keep := decay(float64(time.Duration(at-u)*time.Millisecond) / float64(w.opts.ShareWindow))
		return max(0, (v-(1-keep))/keep)
	}
	return now
}

// recentRing keeps a value about every recentSpacing over the last
// len(t) spacings: the value and time of the latest point in each.
type recentRing struct {
	t    [16]int64 // unix milliseconds of the slot's latest point; 0: empty
	v    [16]float64
	cur  int
	from int64 // when the current slot began
}

// recentSpacing is the spacing of recentRing's slots: 16 of them cover a
// quarter hour whatever the scrape interval.
const recentSpacing = time.Minute

// add records v at ms (unix milliseconds, in order).
func (r *recentRing) add(ms int64, v float64) {
	switch {
	case r.from == 0:
		r.from = ms
	case ms-r.from >= recentSpacing.Milliseconds():
		r.cur = (r.cur + 1) % len(r.t)
		r.from = ms
	}
	r.t[r.cur], r.v[r.cur] = ms, v
}

// newest returns the time of the newest kept point (0: none).
func (r *recentRing) newest() int64 { return r.t[r.cur] }

// before returns the value of the newest kept point before ms.
func (r *recentRing) before(ms int64) (v float64, at int64, ok bool) {
	for i, ti := range r.t {
		if ti != 0 && ti < ms && (!ok || ti > at) {
			v, at, ok = r.v[i], ti, true
		}
	}
	return v, at, ok
}

// oldest returns the value of the oldest kept point.
func (r *recentRing) oldest() (v float64, at int64, ok bool) {
	for i, ti := range r.t {
		if ti != 0 && (!ok || ti < at) {
			v, at, ok = r.v[i], ti, true
		}
	}
	return v, at, ok
}

// decay is exp(-x), cheaply for the small x of one scrape against the
// share's time constant (within 0.1% up to x = 0.3).
func decay(x float64) float64 {
	if x < 0.3 {
		return 1 / (1 + x + x*x/2 + x*x*x/6)
	}
	return math.Exp(-x)
}

// deployReport builds the anomaly of a deploy regression.
func deployReport(p DeployPoint, win *deployWindow, best map[string]*deploySeries) *Anomaly {
	runs := make([]*deploySeries, 0, len(best))
	for _, r := range best {
		runs = append(runs, r)
	}
	// Strongest first; ties by name, so that reports are repeatable.
	slices.SortFunc(runs, func(a, b *deploySeries) int {
		if a.peak != b.peak {
			if a.peak > b.peak {
				return -1
			}
			return 1
		}
		return strings.Compare(a.p.Name, b.p.Name)
	})
	start, peak := p.T, 0.0
	parts := make([]string, len(runs))
	names := make([]string, len(runs))
	for i, r := range runs {
		start = minTime(start, r.start)
		peak = max(peak, r.peak)
		series := r.p.Series
		if series == "" {
			series = r.p.Name
		}
		lo := r.p.Score.Lower
		if r.p.V >= 0 && lo < 0 {
			lo = 0 // a rate or a duration below zero reads as nonsense
		}
		parts[i] = fmt.Sprintf("%s %s against %s–%s", series, fmtNum(r.p.V, r.p.Unit),
			fmtNum(lo, r.p.Unit), fmtNum(r.p.Score.Upper, r.p.Unit))
		names[i] = r.p.Name
	}
	what := "a deploy"
	if ver := win.deploy.Attributes["version"]; ver != "" {
		what = "the deploy of " + ver
	}
	a := &Anomaly{
		Type:       TypeMetric,
		Service:    p.Service,
		Score:      peak,
		Confidence: 1,
		Explanation: fmt.Sprintf("%d metrics of %s left even their deploy-widened bands together, within %s of %s: %s",
			len(runs), p.Service, p.T.Sub(win.deploy.Time).Round(time.Second), what, strings.Join(parts, "; ")),
		Start: start,
		End:   p.T,
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	lm := map[string]string{"kind": "deploy_regression", "metric": names[0], "metrics": strings.Join(sorted, ","),
		"fingerprint": runs[0].p.Key.String()}
	if win.deploy.ID != "" {
		lm["deploy"] = win.deploy.ID
	}
	a.Labels = telemetry.LabelsFromMap(lm)
	return a
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
