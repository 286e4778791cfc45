package detect

import (
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"
	"unsafe"

	"github.com/vigilops/vigil/telemetry"
)

// TypeMetric is the anomaly type of a metric series far from its learned
// behaviour.
const TypeMetric Type = "metric"

var unsafeSizeofCore = unsafe.Sizeof(metricCore{})

// SeriesOptions configures a SeriesDetector.
type SeriesOptions struct {
	// Service and Metric name the series in anomalies ("checkout",
	// "p99 latency").
	Service, Metric string
	// Unit is appended to numbers in explanations ("s", "%"); may be empty.
	Unit string
	// Threshold is the score at or above which a point counts as
	// anomalous (default 0.6).
	Threshold float64
	// For is how long the score must stay at or above Threshold before an
	// Anomaly is reported (default 5m, Prometheus' "for:"). An episode
	// that has stayed on one side and been strong (about 6 sigma or more)
	// for its latest For/4 is reported then, once the change is at least
	// a tenth of the usual level: an outage need not wait as long as a
	// borderline wobble. An episode carried by the spread view (a rise in
	// variance) needs For plus that view's memory, 20 steps.
	For time.Duration
	// DeployGrace is how long after a deploy of the service the band is
	// widened and scores damped (default 15m); DeployWiden is the factor
	// (default 3).
	DeployGrace time.Duration
	DeployWiden float64
	// Weekly asks for weekly seasonality (default true): a week-ago
	// forecast beside the day-ago one, and hour-of-week slots in the band.
	// It needs two weeks of history, and a warning says so until then.
	Weekly bool
	// Logger receives the short-history and drift notices (default
	// slog.Default()).
	Logger *slog.Logger
}

// DefaultSeriesOptions returns the defaults used everywhere, NAB included.
func DefaultSeriesOptions() SeriesOptions {
	return SeriesOptions{
		Threshold:   0.6,
		For:         5 * time.Minute,
		DeployGrace: 15 * time.Minute,
		DeployWiden: 3,
		Weekly:      true,
	}
}

func (o *SeriesOptions) validate() error {
	if math.IsNaN(o.Threshold) || o.Threshold < 0 || o.Threshold > 1 {
		return fmt.Errorf("threshold %v is outside [0,1]", o.Threshold)
	}
	if o.For < 0 || o.DeployGrace < 0 {
		return fmt.Errorf("for and deploy grace must not be negative")
	}
	if o.DeployWiden < 1 {
		o.DeployWiden = 1
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// SeriesScore is the judgement of one point.
type SeriesScore struct {
	// Score is the calibrated anomaly score in [0,1] (the benchmark's
	// anomaly_score); it is damped for a while after a detection so that
	// one incident scores once.
	Score float64
	// Likelihood in [0,1] judges the point against a fixed bar (0.39 at
	// about 3.3 sigma, 0.6 at about 4) instead of the series' own recent
	// surprises and without the damping, so it stays high while a
	// deviation lasts; it drives Anomalous and persistence.
	Likelihood float64
	// Expected is the learned usual value at this time; Lower and Upper
	// bound the usual band (for plotting).
	Expected, Lower, Upper float64
	// Anomalous is Likelihood >= Threshold, judged within a deploy's
	// grace against the widened band (DeployWatch reads it there).
	Anomalous bool
	// Drift says the model no longer fits the recent data (it is
	// adapting); ShortHistory says the history is too short for the
	// seasonality asked for, with Warning in words.
	Drift        bool
	ShortHistory bool
	Warning      string
	// History is how much of the series the detector has seen.
	History time.Duration
	// Anomaly is set once per episode, when the series has been anomalous
	// for Options.For.
	Anomaly *Anomaly
}

// MaxValue is the largest magnitude a SeriesDetector judges: far beyond
// any real measurement (a byte counter of a zettabyte is 1e21), and small
// enough that the squares and differences of the statistics cannot
// overflow float64 into NaN.
const MaxValue = 1e150

// bandRel is the floor of the band view's deviation as a share of the
// usual level.
const bandRel = 0.1

// maxRing bounds a seasonal ring: a week at one-minute steps.
const maxRing = 7 * 24 * 60

// warnShortHistory is constant so that the first two weeks of a series do
// not cost an allocation per point.
const warnShortHistory = "history is shorter than the two weeks weekly seasonality needs; using daily seasonality until then"

// SeriesDetector is the streaming, causal detector of one metric series:
// it scores each point on arrival from what came before, learns a
// seasonal band (hour of day, and hour of week once two weeks are seen)
// and turns a persistent high score into an Anomaly.
//
// A SeriesDetector is not safe for concurrent use; the app keeps one per
// series on the worker that owns the service.
type SeriesDetector struct {
	opts SeriesOptions
	core metricCore
	rng  rangeView
	band seasonBand

	first time.Time     // first point seen: the history's start
	step  time.Duration // between the first two points
	// graceFrom and grace bound the current deploy grace: from the
	// first deploy's time to the last one's time plus DeployGrace.
	graceFrom, grace time.Time
	// graceLevel is the level a young series had when the grace began
	// (the fast forecast before its first point at or after graceFrom),
	// graceOf the graceFrom it was taken for.
	graceLevel float64
	graceOf    time.Time
	// recent holds the fast forecast about every minute for the last
	// quarter hour, so that a deploy event arriving minutes after its
	// own time still finds the level the series had then.
	recent recentRing
	// outSince is the start of the current run of points outside the
	// trusted band (zero when the latest point was inside it).
	outSince time.Time
	// episode: start of the current run of anomalous points, peak values
	epStart    time.Time
	epPeak     float64
	epReported bool
	// stStart is the start of the episode's current strong run (zero
	// when the latest point was not strong), stUp its side: see persist.
	stStart time.Time
	stUp    bool
	epUp    bool // the episode began above the expected value
	epMixed bool // it has been on both sides of it since
	// epScore is the episode's highest score before any deploy or
	// hold-off damping, rawScore the latest such score.
	epScore, rawScore float64
	// quantum is the core's resolution as of the previous point, and
	// epQuantum the one when the current episode began.
	quantum, epQuantum float64
	// Past excursions, for the paging gate (see news): epSur is
	// the current episode's highest paging surprise (nats); exPend the
	// highest of the excursion that the last episodes belong to, which
	// ended at exPendEnd, and exPaged whether one of them paged; exSur the
	// largest of the unpaged excursions before it, as of exAt, halving
	// every exHalfLife.
	epSur, exPend, exSur float64
	// epAway is the highest paging surprise of the episode's points that
	// did not move the series back toward its usual level; only that
	// part of an episode is remembered as an excursion. A series coming back
	// after an incident (5xx falling to nothing after a rollback, up
	// returning to 1) surprises the views that had adapted to the
	// incident, but the return is not the series' routine: remembered,
	// it would hide the next occurrence for days. usual is the latest
	// usual level (see Observe), prevV the value before the latest point.
	epAway, usual, prevV float64
	// epBase is the value before the current episode began.
	epBase float64
	// level is the level excursions are measured from (see Observe);
	// mean is the plain mean of the nMean points so far that were not
	// anomalous, kept only while the long mean is young.
	level, mean float64
	nMean       int
	// epSize, epSizeAway, exPendSize and exSize are epSur, epAway, exPend
	// and exSur for the memory's second measure, size (see news);
	// epStrong says the episode was large on its own (see strongSize).
	epSize, epSizeAway, exPendSize, exSize float64
	epStrong                               bool
	exPendEnd, exAt                        time.Time
	exPaged                                bool
	// epHeld says the episode met every condition to page but the
	// memory's (see persist): it is not remembered.
	epHeld      bool
	warnedShort bool
	warnedDrift bool
}

// NewSeriesDetector returns a detector for one series. Invalid options are
// replaced by defaults (and logged), so that a typo in configuration
// never stops detection.
func NewSeriesDetector(o SeriesOptions) *SeriesDetector {
	if err := o.validate(); err != nil {
		d := DefaultSeriesOptions()
		d.Service, d.Metric, d.Unit, d.Logger = o.Service, o.Metric, o.Unit, o.Logger
		_ = d.validate()
		d.Logger.Warn("metric detector options invalid; using defaults", "series", o.Metric, "err", err)
		o = d
	}
	return &SeriesDetector{opts: o}
}

// ObserveEvent lets the detector know of a change event; a deploy of the
// detector's service (or of any service when Service is empty) widens the
// band and damps the score for DeployGrace, since a rollout briefly moves
// metrics without anything being wrong.
func (d *SeriesDetector) ObserveEvent(ev telemetry.Event) {
	if ev.Kind != telemetry.EventDeploy {
		return
	}
	if d.opts.Service != "" && ev.Service != "" && ev.Service != d.opts.Service {
		return
	}
	from, end := ev.Time, ev.Time.Add(d.opts.DeployGrace)
	switch {
	case d.grace.IsZero() || from.After(d.grace):
		// A new grace. The band widens from the deploy's own time, not
		// from when the event arrived: an event sent ahead of time must
		// not widen the band around the points before it.
		d.graceFrom, d.grace = from, end
	case end.Before(d.graceFrom):
		// An older deploy, whose grace ends before the current one
		// begins. If the current one has not begun (an event stamped
		// ahead of the points, perhaps on a skewed clock) and this one
		// has not ended, the points at hand belong to this one;
		// otherwise it arrived late and the current one stands.
		if now := d.recent.newest(); now != 0 && d.graceFrom.UnixMilli() > now && end.UnixMilli() > now {
			d.graceFrom, d.grace = from, end
		}
	default:
		// A deploy within the grace (a second rollout, a rollback)
		// extends it; the level taken at its start is kept.
		if from.Before(d.graceFrom) {
			d.graceFrom = from
		}
		if end.After(d.grace) {
			d.grace = end
		}
	}
}

// inGrace reports whether t lies within a deploy's grace.
func (d *SeriesDetector) inGrace(t time.Time) bool {
	return !t.Before(d.graceFrom) && t.Before(d.grace)
}

// levelAt is the fast forecast as it stood just before t: after the
// newest kept point before t, or, when the kept points do not reach back
// that far (an event that arrived long after its time), the long mean,
// which moves too slowly for a release to have shifted it much.
func (d *SeriesDetector) levelAt(t time.Time) float64 {
	if v, _, ok := d.recent.before(t.UnixMilli()); ok {
		return v
	}
	return d.core.long
}

// Observe scores one point at evaluation time t. Points must come in time
// order; NaN, infinite and absurdly large values (beyond ±MaxValue) are
// skipped (scored 0) so a broken exporter cannot poison the model.
func (d *SeriesDetector) Observe(t time.Time, v float64) SeriesScore {
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > MaxValue {
		return SeriesScore{}
	}
	switch d.core.n {
	case 0:
		d.first = t
	case 1:
		// The seasonal models need a known step; the weekly one is kept
		// only when asked for and when its ring fits (1-minute steps or
		// coarser: 10,080 values, 40 KiB).
		// Rings are capped at maxRing values (40 KiB), so a series costs
		// at most about 50 KiB whatever its step: seconds-resolution
		// series go without the daily model, sub-minute ones without
		// the weekly one.
		d.step = t.Sub(d.first)
		d.band.setStep(d.step)
		if step := t.Sub(d.first); step > 0 && step <= time.Hour {
			if n := int(24 * time.Hour / step); n <= maxRing {
				d.core.season[0].ring = make([]float32, n)
			}
			if n := int(7 * 24 * time.Hour / step); d.opts.Weekly && n <= maxRing {
				d.core.season[1].ring = make([]float32, n)
			}
			d.core.jitterK = min(mcJitterMaxK, max(1, int((mcJitter+step/2)/step)))
		}
	}
	u := t.Unix()
	exp, lo, hi, ok := d.band.estimate(u)
	score := combinedScore(d.core.observe(v), d.rng.observe(v))
	d.rawScore = d.core.last.score
	d.band.add(u, v)
	s := SeriesScore{Score: score, Likelihood: d.core.last.raw, Drift: d.core.drift()}
	if !ok {
		exp, lo, hi = d.core.fast, d.core.fast-3*d.core.errAbs*1.2533, d.core.fast+3*d.core.errAbs*1.2533
	}
	// The usual level, which paging measures changes from (see persist):
	// the seasonal band's; until the band is trusted, the long mean once
	// it has seen its own span of points (1/mcLongAlpha) and so
	// represents the level, the fast forecast before that.
	d.usual = exp
	if !ok && d.core.n >= int(1/mcLongAlpha) {
		d.usual = d.core.long
	}
	// The level that the memory of excursions measures from (see
	// persist) is the usual one, except while the long mean is young:
	// then the plain mean of the points so far. The fast forecast absorbs
	// a step within a few points, so that an outage in a series' first
	// hours would be measured as small, and its end, back to the real
	// usual level, as an excursion of its own: remembered at the surprise
	// cap, that end hid the same outage's recurrences for days. The early
	// report's rel keeps the usual level: the first jobs of a cron series
	// would page on the plain mean.
	young := !ok && d.core.n < int(1/mcLongAlpha)
	d.level = d.usual
	if young {
		d.level = d.mean
	}
	if d.inGrace(t) {
		if !d.graceOf.Equal(d.graceFrom) {
			d.graceOf, d.graceLevel = d.graceFrom, d.levelAt(d.graceFrom)
		}
		if !ok && d.core.n >= int(1/mcLongAlpha) {
			// Until the seasonal band is trusted, the grace is judged
			// against the level the series had when the grace began,
			// with its point noise (at least a tenth of that level, as
			// bandZ): the fast forecast catches up with a broken release
			// within a few points and would let it pass as the new
			// normal before the grace ends, and the long mean lags a
			// daily pattern by hours, so that a morning's rise alone
			// would look like a broken release.
			exp = d.graceLevel
			sd := d.yardstick(exp)
			lo, hi = exp-bandWidth*sd, exp+bandWidth*sd
		}
		// During a deploy's grace the band is wider and the score damped
		// by the same factor's worth of surprise.
		half := (hi - lo) / 2 * d.opts.DeployWiden
		s.Score /= d.opts.DeployWiden
		// The likelihood is judged against the widened band: the same z
		// shrunk by the widening, so that a rollout's wobble is forgiven
		// but a release that breaks the service (5xx from nearly none)
		// still pages within the grace. The core's views adapt within
		// minutes, so that they would let a broken release pass as the
		// new normal before the grace ends; the seasonal band, learned
		// over days, does not, and it is what the grace is judged by.
		zOps := d.core.last.zOps
		if ok || d.core.n >= int(1/mcLongAlpha) {
			if zb := d.bandZ(v, exp, lo, hi); zb > zOps {
				zOps = zb
			}
		}
		r := mcSurprise(zOps/d.opts.DeployWiden) / mcOpsRef
		s.Likelihood = mcOneMinusExp(0.5 * r * r)
		lo, hi = exp-half, exp+half
	}
	s.Expected, s.Lower, s.Upper = exp, lo, hi
	d.recent.add(t.UnixMilli(), d.core.fast)
	if ok && (v < lo || v > hi) {
		if d.outSince.IsZero() {
			d.outSince = t
		}
	} else {
		d.outSince = time.Time{}
	}
	// Paging needs more history than scoring: a few hours of points.
	// A value less than one step of the series' resolution from the
	// expected one is not worth a page however rare: a gauge of whole
	// connections that mostly reads 0 reads 1 now and then. The
	// resolution is the one known before the episode began, so that a
	// series that never moved (up stuck at 1) still pages when it first
	// steps. That holds only while the episode keeps to one side: once a
	// series that had never moved swings back and forth (a pool that sat
	// at 0 for hours now flickers between 0 and 1 connections), its new
	// resolution applies, since a step one way and back is its ordinary
	// noise, not an outage. The expected value comes from float32 rings,
	// hence the slack. A value outside the trusted seasonal band counts
	// whatever its distance in steps: up reading 0 where the band, having
	// learned an earlier outage at this hour, expects 0.994, is one step
	// from usual in all but rounding.
	q := d.quantum
	if !d.epStart.IsZero() && !d.epMixed && (v > exp) == d.epUp {
		q = d.epQuantum
	}
	s.Anomalous = s.Likelihood >= d.opts.Threshold && d.core.n > 4*mcWarmup &&
		(math.Abs(v-exp) >= 0.999*q || ok && (v < lo || v > hi))
	if s.Anomalous && young && d.core.last.opsView == viewResid && d.atLevel(v) {
		// Only the fast forecast finds this point strange: it is still
		// catching up with a jump the series has already undone (a job's
		// CPU back at idle, a burst over). A value at its usual level is
		// no incident, whatever a lagging forecast says. This holds only
		// while the series is young, when the fast forecast is all the
		// level views have: later the level and band views judge such a
		// point on their own, and the value before an episode is a poor
		// yardstick for a series drifting slowly away (a machine cooling
		// down reads as "back where it was" at every point); on NAB the
		// rule applied at every age cost three windows for six pages.
		s.Anomalous = false
	}
	if s.Anomalous && d.epStart.IsZero() {
		d.epQuantum = q
	}
	if young && !s.Anomalous {
		// Anomalous points are kept out of the mean: learning an
		// outage's level would make its plateau look like a return.
		d.nMean++
		d.mean += (v - d.mean) / float64(d.nMean)
	}
	d.quantum = d.core.quantum
	span := t.Sub(d.first)
	s.History = span
	if d.opts.Weekly && span < 14*24*time.Hour {
		s.ShortHistory = true
		s.Warning = warnShortHistory
		if !d.warnedShort && span >= 24*time.Hour {
			d.warnedShort = true
			d.opts.Logger.Debug("metric detector: short history", "service", d.opts.Service, "metric", d.opts.Metric, "history", fmtSpan(span))
		}
	}
	if s.Drift && !d.warnedDrift {
		d.warnedDrift = true
		d.opts.Logger.Debug("metric detector: model no longer fits; adapting", "service", d.opts.Service, "metric", d.opts.Metric)
	}
	d.persist(t, v, &s)
	return s
}

// yardstick is the smallest deviation that counts around level: the
// series' long-run point noise, its resolution, or bandRel of the level,
// whichever is largest.
func (d *SeriesDetector) yardstick(level float64) float64 {
	return max(1.2533*d.core.errLT, d.core.quantum, bandRel*math.Abs(level))
}

// bandZ is how many of the seasonal band's deviations v lies from this
// hour's usual value. The deviation is never below the series' long-run
// point noise nor its resolution, so that a band learned from quiet hours
// cannot make ordinary noise, or one count more than usual, look like
// news; nor below bandRel of the usual level, so that this view speaks
// only of changes that matter (some 40% of the level at the paging bar
// of about 4 deviations). A series that never moved still stands out on
// its first step.
func (d *SeriesDetector) bandZ(v, exp, lo, hi float64) float64 {
	sd := max((hi-lo)/(2*bandWidth), d.yardstick(exp)) + 1e-9
	return math.Abs(v-exp) / sd
}

// StateBytes is the memory the detector holds for its series.
func (d *SeriesDetector) StateBytes() int {
	return int(unsafe.Sizeof(*d)) - int(unsafeSizeofCore) + d.core.stateBytes()
}

func fmtNum(v float64, unit string) string {
	a := math.Abs(v)
	var s string
	switch {
	case a == 0:
		s = "0"
	case a >= 100:
		s = strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 1:
		s = strconv.FormatFloat(v, 'f', 2, 64)
	default:
		s = strconv.FormatFloat(v, 'g', 2, 64)
	}
	return s + unit
}

func fmtSpan(d time.Duration) string {
	if d >= 24*time.Hour {
		return strconv.FormatFloat(d.Hours()/24, 'f', 1, 64) + " days"
	}
	return d.Round(time.Minute).String()
}
