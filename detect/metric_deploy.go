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
// that are anomalous and outside even the widened band, lasting at least
// Points points and Span: independent signals agreeing stand in for the
// persistence (For) that one series alone would need.
//
// Only request signals are meant to be watched (see DeploySignal): a
// restart moves a process's own metrics on every release (up dips,
// process_start_time_seconds steps, memory drops, CPU spikes), and two of
// those together say nothing about the release. A series that was already
// out of its band shortly before the deploy (within Lookback) does not
// count for it, nor does a run that began before it: a fix shipped during
// an outage is not the outage's cause. A run counts for the latest deploy
// at or before its start, which the report names.
//
// Events may come ahead of the samples they concern or behind them; the
// graces are aged by the newest point seen, not by the events' own clocks.
// Not safe for concurrent use. Memory is bounded by the services deployed
// within the last grace and keep (at most maxDeployWindows graces each)
// and the series out of their band within Lookback.
type DeployWatch struct {
	opts DeployWatchOptions
	now  time.Time // the newest point seen
	svcs map[string][]*deployWindow
	runs map[telemetry.Fingerprint]*deployRun
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
	// needs, and how long from its first to its last (defaults 2 and
	// 30s): two scrapes at 30s, three at 15s.
	Points int
	Span   time.Duration
	// Stale is how recent a run's last point must be to count (default
	// 2m): a series that stopped reporting is not still out.
	Stale time.Duration
	// Lookback is how long before a deploy a series must have stayed in
	// its band for its runs to count for that deploy (default 15m).
	Lookback time.Duration
}

// DefaultDeployWatchOptions returns the defaults.
func DefaultDeployWatchOptions() DeployWatchOptions {
	return DeployWatchOptions{Grace: DefaultSeriesOptions().DeployGrace, Metrics: 2, Points: 2,
		Span: 30 * time.Second, Stale: 2 * time.Minute, Lookback: 15 * time.Minute}
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
	if o.Lookback < 0 {
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
	for _, p := range []string{"process_", "go_", "jvm_", "python_", "nodejs_", "dotnet_", "node_", "container_", "kube_", "up"} {
		if strings.HasPrefix(n, p) && (p != "up" || n == "up") {
			return false
		}
	}
	for _, s := range []string{"_count", "_sum", "_bucket", "_created", "_info"} {
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

// DeployPoint is one scored point of a watched series.
type DeployPoint struct {
	// Service owns the series and Name is its metric name: runs of
	// series with the same name count as one metric.
	Service, Name string
	// Series names the series in explanations (e.g.
	// `rate(http_requests_total{code="500"})`) and Unit follows its
	// numbers; Key identifies it.
	Series, Unit string
	Key          telemetry.Fingerprint
	T            time.Time
	V            float64
	Score        SeriesScore
}

// deployWindow is the grace after one deploy.
type deployWindow struct {
	deploy   telemetry.Event
	end      time.Time
	reported bool
	// qual holds, by metric name, the runs that have lasted long enough.
	qual map[string]map[telemetry.Fingerprint]*deployRun
}

// deployRun is one series' latest run of out points.
type deployRun struct {
	p          DeployPoint // the latest out point
	start      time.Time   // zero when not in a run
	points     int
	peak       float64       // highest likelihood in the run
	prevOut    time.Time     // the last out point before the run began
	qualifying *deployWindow // the window whose qual holds the run
}

// maxDeployWindows bounds the graces kept per service.
const maxDeployWindows = 8

// deployWatchKeep is how long after its end a grace is kept: points may
// come that much behind the events.
const deployWatchKeep = time.Hour

// NewDeployWatch returns a watch with options o (zero fields take the
// defaults).
func NewDeployWatch(o DeployWatchOptions) *DeployWatch {
	o.validate()
	return &DeployWatch{opts: o, svcs: map[string][]*deployWindow{}, runs: map[telemetry.Fingerprint]*deployRun{}}
}

// ObserveEvent starts the watch of a deployed service. A deploy without a
// service is not watched: which metrics belong together is unknown.
func (w *DeployWatch) ObserveEvent(ev telemetry.Event) {
	if ev.Kind != telemetry.EventDeploy || ev.Service == "" {
		return
	}
	w.prune()
	wins := w.svcs[ev.Service]
	for _, win := range wins {
		if win.deploy.Time.Equal(ev.Time) {
			return // the same deploy again
		}
	}
	win := &deployWindow{deploy: ev, end: ev.Time.Add(w.opts.Grace), qual: map[string]map[telemetry.Fingerprint]*deployRun{}}
	i, _ := slices.BinarySearchFunc(wins, ev.Time, func(x *deployWindow, t time.Time) int { return x.deploy.Time.Compare(t) })
	wins = slices.Insert(wins, i, win)
	if len(wins) > maxDeployWindows {
		w.forget(wins[0])
		wins = wins[1:]
	}
	w.svcs[ev.Service] = wins
}

// prune drops the graces that ended well before the newest point, and the
// runs of series silent for longer than Lookback and Stale.
func (w *DeployWatch) prune() {
	if w.now.IsZero() {
		return
	}
	for svc, wins := range w.svcs {
		wins = slices.DeleteFunc(wins, func(win *deployWindow) bool {
			if w.now.Sub(win.end) > deployWatchKeep {
				w.forget(win)
				return true
			}
			return false
		})
		if len(wins) == 0 {
			delete(w.svcs, svc)
		} else {
			w.svcs[svc] = wins
		}
	}
	for k, r := range w.runs {
		if w.now.Sub(r.p.T) > w.opts.Lookback+w.opts.Stale {
			w.release(r)
			delete(w.runs, k)
		}
	}
}

// forget detaches the runs that qualify for a dropped window.
func (w *DeployWatch) forget(win *deployWindow) {
	for _, rs := range win.qual {
		for _, r := range rs {
			r.qualifying = nil
		}
	}
}

// Watching reports whether service is within a deploy's grace at t.
func (w *DeployWatch) Watching(service string, t time.Time) bool {
	return w.window(service, t) != nil
}

// window returns the grace of the latest deploy of service at or before
// t, if t lies within it.
func (w *DeployWatch) window(service string, t time.Time) *deployWindow {
	wins := w.svcs[service]
	for i := len(wins) - 1; i >= 0; i-- {
		if win := wins[i]; !t.Before(win.deploy.Time) {
			if t.Before(win.end) {
				return win
			}
			return nil
		}
	}
	return nil
}

// release ends r's membership of the window it qualified for.
func (w *DeployWatch) release(r *deployRun) {
	if win := r.qualifying; win != nil {
		rs := win.qual[r.p.Name]
		delete(rs, r.p.Key)
		if len(rs) == 0 {
			delete(win.qual, r.p.Name)
		}
		r.qualifying = nil
	}
}

// Observe takes one scored point of a watched series, in time order per
// series, and returns the deploy regression it completes, if any: at most
// one per deploy.
func (w *DeployWatch) Observe(p DeployPoint) *Anomaly {
	if p.T.After(w.now) {
		w.now = p.T
	}
	out := p.Score.Anomalous && !math.IsNaN(p.V) && (p.V < p.Score.Lower || p.V > p.Score.Upper)
	r := w.runs[p.Key]
	if !out {
		if r != nil && !r.start.IsZero() {
			w.release(r)
			r.start = time.Time{}
		}
		if r != nil && p.T.Sub(r.p.T) > w.opts.Lookback {
			delete(w.runs, p.Key)
		}
		return nil
	}
	if r == nil {
		r = &deployRun{}
		w.runs[p.Key] = r
	}
	if r.start.IsZero() {
		r.prevOut = r.p.T
		r.start, r.points, r.peak = p.T, 0, 0
	}
	r.p = p
	r.points++
	r.peak = max(r.peak, p.Score.Likelihood)
	win := w.window(p.Service, r.start)
	if win == nil || win.reported || !p.T.Before(win.end) {
		return nil
	}
	if t := r.prevOut; !t.IsZero() && t.Before(win.deploy.Time) && !t.Before(win.deploy.Time.Add(-w.opts.Lookback)) {
		return nil // out shortly before the deploy: not the release's doing
	}
	if r.points < w.opts.Points || p.T.Sub(r.start) < w.opts.Span {
		return nil
	}
	if r.qualifying != win {
		w.release(r)
		rs := win.qual[p.Name]
		if rs == nil {
			rs = map[telemetry.Fingerprint]*deployRun{}
			win.qual[p.Name] = rs
		}
		rs[p.Key] = r
		r.qualifying = win
	}
	if len(win.qual) < w.opts.Metrics {
		return nil
	}
	// Enough names qualify; each must still have a current run, and the
	// strongest of each is what the report shows.
	best := map[string]*deployRun{}
	for name, rs := range win.qual {
		for k, o := range rs {
			if p.T.Sub(o.p.T) > w.opts.Stale {
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
	return w.report(p, win, best)
}

// report builds the anomaly of a deploy regression.
func (w *DeployWatch) report(p DeployPoint, win *deployWindow, best map[string]*deployRun) *Anomaly {
	runs := make([]*deployRun, 0, len(best))
	for _, r := range best {
		runs = append(runs, r)
	}
	// Strongest first; ties by name, so that reports are repeatable.
	slices.SortFunc(runs, func(a, b *deployRun) int {
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
		parts[i] = fmt.Sprintf("%s %s against %s–%s", series, fmtNum(r.p.V, r.p.Unit),
			fmtNum(r.p.Score.Lower, r.p.Unit), fmtNum(r.p.Score.Upper, r.p.Unit))
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
