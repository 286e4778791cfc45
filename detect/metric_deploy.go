package detect

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// DeployWatch judges a service's metrics together during the grace after
// its deploy. Each SeriesDetector widens its band after a deploy so that a
// rollout's wobble on one series does not page; a release that breaks the
// service moves several of its metrics at once (errors and latency up,
// throughput down) and keeps them there. The watch reports a deploy
// regression when, within the grace, at least Metrics distinct metrics of
// the service each have a run of at least Points consecutive points that
// are anomalous and outside the widened band: the same evidence that one
// series would need For to show, corroborated across the service.
//
// Not safe for concurrent use; memory is bounded by the series of the
// services within a grace (a service's state is dropped when its grace
// ends).
type DeployWatch struct {
	opts DeployWatchOptions
	svcs map[string]*deployWatchService
}

// DeployWatchOptions configures a DeployWatch.
type DeployWatchOptions struct {
	// Grace is how long after a deploy the service is watched (default
	// 15m, as SeriesOptions.DeployGrace).
	Grace time.Duration
	// Metrics is how many distinct metric names must be out at once
	// (default 2); Points how many consecutive anomalous points each
	// series' run needs (default 2).
	Metrics, Points int
	// Stale is how recent a run's last point must be to count (default
	// 2m): a series that stopped reporting is not still out.
	Stale time.Duration
}

// DefaultDeployWatchOptions returns the defaults.
func DefaultDeployWatchOptions() DeployWatchOptions {
	return DeployWatchOptions{Grace: 15 * time.Minute, Metrics: 2, Points: 2, Stale: 2 * time.Minute}
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
	if o.Stale <= 0 {
		o.Stale = d.Stale
	}
}

// deployWatchService is one deployed service: its graces, oldest first,
// and its series' runs.
type deployWatchService struct {
	wins []deployWindow
	runs map[string]*deployRun // by series key
}

// deployWindow is the grace after one deploy (or several within each
// other's grace).
type deployWindow struct {
	deploy   telemetry.Event // the first deploy
	end      time.Time       // the grace ends
	reported bool
}

// maxDeployWindows bounds the graces kept per service. Events may run
// ahead of samples (they come on their own feed, and a replay hands over
// an hour's events at once), so a later deploy must not end the watch of
// an earlier one whose points have yet to come.
const maxDeployWindows = 8

// deployRun is one series' current run of anomalous points.
type deployRun struct {
	metric string
	start  time.Time // the run's first point; zero when not in a run
	last   time.Time
	points int
	peak   float64 // highest likelihood in the run
	v      float64 // latest value, lower and upper band
	lo, hi float64
}

// NewDeployWatch returns a watch with options o (zero fields take the
// defaults).
func NewDeployWatch(o DeployWatchOptions) *DeployWatch {
	o.validate()
	return &DeployWatch{opts: o, svcs: map[string]*deployWatchService{}}
}

// ObserveEvent starts (or extends) the watch of a deployed service. A
// deploy without a service is not watched: which metrics belong together
// is unknown.
func (w *DeployWatch) ObserveEvent(ev telemetry.Event) {
	if ev.Kind != telemetry.EventDeploy || ev.Service == "" {
		return
	}
	for name, s := range w.svcs {
		// Graces that ended long before this deploy (samples may come
		// behind the events, but not by that much).
		s.wins = slices.DeleteFunc(s.wins, func(win deployWindow) bool { return ev.Time.Sub(win.end) > deployWatchKeep })
		if len(s.wins) == 0 {
			delete(w.svcs, name)
		}
	}
	s := w.svcs[ev.Service]
	if s == nil {
		s = &deployWatchService{runs: map[string]*deployRun{}}
		w.svcs[ev.Service] = s
	}
	if n := len(s.wins); n > 0 && !ev.Time.Before(s.wins[n-1].deploy.Time) && ev.Time.Before(s.wins[n-1].end) {
		// A deploy within the last one's grace (a second rollout, a
		// rollback): one watch from the first deploy, which reports
		// name, to the last grace's end, armed again.
		s.wins[n-1].end, s.wins[n-1].reported = ev.Time.Add(w.opts.Grace), false
		return
	}
	if len(s.wins) == maxDeployWindows {
		s.wins = slices.Delete(s.wins, 0, 1)
	}
	s.wins = append(s.wins, deployWindow{deploy: ev, end: ev.Time.Add(w.opts.Grace)})
}

// deployWatchKeep is how long after its grace a quiet service's watch is
// kept: samples may arrive that much behind the events.
const deployWatchKeep = time.Hour

// Watching reports whether service is within a deploy's grace at t.
func (w *DeployWatch) Watching(service string, t time.Time) bool {
	return w.window(service, t) != nil
}

// window returns the grace of service that holds t, if any.
func (w *DeployWatch) window(service string, t time.Time) *deployWindow {
	s := w.svcs[service]
	if s == nil {
		return nil
	}
	for i := range s.wins {
		if win := &s.wins[i]; !t.Before(win.deploy.Time) && t.Before(win.end) {
			return win
		}
	}
	return nil
}

// Observe takes one scored point of a series of service (metric is the
// metric's name, key identifies the series) and returns the deploy
// regression it completes, if any: at most one per deploy.
func (w *DeployWatch) Observe(service, metric, key string, t time.Time, v float64, sc SeriesScore) *Anomaly {
	s := w.svcs[service]
	if s == nil {
		return nil
	}
	win := w.window(service, t)
	if win == nil && !t.Before(s.wins[len(s.wins)-1].end) {
		delete(w.svcs, service) // every grace has ended
		return nil
	}
	r := s.runs[key]
	if r == nil {
		r = &deployRun{metric: metric}
		s.runs[key] = r
	}
	if win == nil || win.reported || !sc.Anomalous || (v >= sc.Lower && v <= sc.Upper) {
		// Runs count only within a grace: one that began before the
		// deploy is not the release's doing.
		r.start, r.points, r.peak = time.Time{}, 0, 0
		return nil
	}
	if r.start.IsZero() {
		r.start = t
	}
	r.last, r.v, r.lo, r.hi = t, v, sc.Lower, sc.Upper
	r.points++
	r.peak = max(r.peak, sc.Likelihood)
	if r.points < w.opts.Points {
		return nil
	}
	// The strongest long-enough run of each metric, still current.
	best := map[string]*deployRun{}
	for _, o := range s.runs {
		if o.points < w.opts.Points || t.Sub(o.last) > w.opts.Stale {
			continue
		}
		if b := best[o.metric]; b == nil || o.peak > b.peak || o.peak == b.peak && o.start.Before(b.start) {
			best[o.metric] = o
		}
	}
	if len(best) < w.opts.Metrics {
		return nil
	}
	win.reported = true
	names := make([]string, 0, len(best))
	start, peak := t, 0.0
	for name, o := range best {
		names = append(names, name)
		start = minTime(start, o.start)
		peak = max(peak, o.peak)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, name := range names {
		o := best[name]
		parts[i] = fmt.Sprintf("%s %s against %s–%s", name, fmtNum(o.v, ""), fmtNum(o.lo, ""), fmtNum(o.hi, ""))
	}
	what := "a deploy"
	if ver := win.deploy.Attributes["version"]; ver != "" {
		what = "the deploy of " + ver
	}
	a := &Anomaly{
		Type:       TypeMetric,
		Service:    service,
		Score:      peak,
		Confidence: 1,
		Explanation: fmt.Sprintf("%d metrics of %s left their usual range together %s after %s: %s",
			len(names), service, fmtSpan(start.Sub(win.deploy.Time)), what, strings.Join(parts, "; ")),
		Start: start,
		End:   t,
	}
	lm := map[string]string{"kind": "deploy_regression", "metric": names[0], "metrics": strings.Join(names, ",")}
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
