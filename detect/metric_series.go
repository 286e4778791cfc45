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
	// that is strong throughout (about 6 sigma or more, one-sided, and at
	// least a tenth of the usual level) is reported after For/4: an
	// outage need not wait as long as a borderline wobble.
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
	// Anomalous is Likelihood >= Threshold outside a deploy's grace.
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

// strongLikelihood is the likelihood (about 6 sigma) from which an
// episode needs only a quarter of For to be reported.
const strongLikelihood = 0.9999

// strongRel is the smallest relative change that an early report needs.
const strongRel = 0.1

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
	band seasonBand

	first time.Time // first point seen: the history's start
	grace time.Time // deploy grace ends
	// episode: start of the current run of anomalous points, peak values
	epStart    time.Time
	epPeak     float64
	epReported bool
	epLow      float64 // lowest likelihood of the episode
	epRel      float64 // smallest change of the episode, relative to the usual level
	epUp       bool    // the episode began above the expected value
	epMixed    bool    // it has been on both sides of it since
	// epScore is the episode's highest score before any deploy damping,
	// rawScore the latest such score.
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
	exPendEnd, exAt      time.Time
	exPaged              bool
	warnedShort          bool
	warnedDrift          bool
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
	if end := ev.Time.Add(d.opts.DeployGrace); end.After(d.grace) {
		d.grace = end
	}
}

// Observe scores one point at evaluation time t. Points must come in time
// order; NaN and infinite values are skipped (scored 0) so a broken
// exporter cannot poison the model.
func (d *SeriesDetector) Observe(t time.Time, v float64) SeriesScore {
	if math.IsNaN(v) || math.IsInf(v, 0) {
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
		d.band.setStep(t.Sub(d.first))
		if step := t.Sub(d.first); step > 0 && step <= time.Hour {
			if n := int(24 * time.Hour / step); n <= maxRing {
				d.core.season[0].ring = make([]float32, n)
			}
			if n := int(7 * 24 * time.Hour / step); d.opts.Weekly && n <= maxRing {
				d.core.season[1].ring = make([]float32, n)
			}
		}
	}
	u := t.Unix()
	exp, lo, hi, ok := d.band.estimate(u)
	score := d.core.observe(v)
	d.rawScore = score
	d.band.add(u, v)
	s := SeriesScore{Score: score, Likelihood: d.core.last.raw, Drift: d.core.drift()}
	if !ok {
		exp, lo, hi = d.core.fast, d.core.fast-3*d.core.errAbs*1.2533, d.core.fast+3*d.core.errAbs*1.2533
	}
	if t.Before(d.grace) {
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
		if ok {
			if zb := d.bandZ(v, exp, lo, hi); zb > zOps {
				zOps = zb
			}
		}
		r := mcSurprise(zOps/d.opts.DeployWiden) / mcOpsRef
		s.Likelihood = mcOneMinusExp(0.5 * r * r)
		lo, hi = exp-half, exp+half
	}
	s.Expected, s.Lower, s.Upper = exp, lo, hi
	// Paging needs more history than scoring: a few hours of points.
	// A value less than one step of the series' resolution from the
	// expected one is not worth a page however rare: a gauge of whole
	// connections that mostly reads 0 reads 1 now and then. The
	// resolution is the one known before the episode began, so that a
	// series that never moved (up stuck at 1) still pages when it first
	// steps. The expected value comes from float32 rings, hence the slack.
	q := d.quantum
	if !d.epStart.IsZero() {
		q = d.epQuantum
	}
	s.Anomalous = s.Likelihood >= d.opts.Threshold && d.core.n > 4*mcWarmup &&
		math.Abs(v-exp) >= 0.999*q
	if s.Anomalous && d.epStart.IsZero() {
		d.epQuantum = q
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

// persist turns a run of anomalous points lasting For into one Anomaly.
func (d *SeriesDetector) persist(t time.Time, v float64, s *SeriesScore) {
	if !s.Anomalous {
		if !d.epStart.IsZero() {
			if d.epReported {
				d.exPaged = true
			}
			d.exPend, d.exPendEnd = max(d.exPend, d.epSur), t
		}
		d.epStart, d.epReported, d.epPeak, d.epScore, d.epSur = time.Time{}, false, 0, 0, 0
		return
	}
	// rel is the change as a share of the usual level.
	rel := math.Abs(v-s.Expected) / (math.Abs(s.Expected) + 1e-9)
	up := v > s.Expected
	if d.epStart.IsZero() {
		if d.exPend > 0 && t.Sub(d.exPendEnd) > d.opts.For {
			if !d.exPaged {
				d.exSur, d.exAt = max(d.pastSur(t), d.exPend), t
			}
			d.exPend, d.exPaged = 0, false
		}
		d.epStart, d.epLow, d.epRel, d.epUp, d.epMixed = t, s.Likelihood, rel, up, false
	}
	if s.Likelihood >= d.epPeak {
		d.epPeak = s.Likelihood
	}
	d.epLow, d.epRel = min(d.epLow, s.Likelihood), min(d.epRel, rel)
	d.epScore = max(d.epScore, d.rawScore)
	d.epMixed = d.epMixed || up != d.epUp
	d.epSur = max(d.epSur, mcSurprise(d.core.last.zOps))
	// Evidence accumulates faster from a stronger deviation: an episode
	// every point of which lies far beyond the bar (likelihood at least
	// strongLikelihood, about 6 sigma against 4 for the bar) and away
	// from the usual level by at least strongRel of it has shown in a
	// quarter of For what a borderline one shows in all of it. The
	// second condition keeps a series whose noise is tiny (a job's
	// steady CPU) from paging early on a change nobody would act on; and
	// only a one-sided episode (an outage, a shift, a surge) qualifies,
	// since a rise in variance swings both ways and needs all of For to
	// be told from noise.
	need := d.opts.For
	if d.epLow >= strongLikelihood && d.epRel >= strongRel && !d.epMixed {
		need /= 4
	}
	// The likelihood judges against a fixed bar; an episode is reported
	// only if it is also news against the series' own history (see
	// news). That is what keeps a series with a
	// routine but irregular pattern (a cron job whose runs vary in length)
	// from paging every time.
	if d.epReported || t.Sub(d.epStart) < need || !d.news() {
		return
	}
	d.epReported = true
	conf := math.Min(1, float64(d.core.n)/float64(10*mcWarmup))
	if s.ShortHistory {
		conf *= 0.7
	}
	name := d.opts.Metric
	if name == "" {
		name = "value"
	}
	when := "at this hour"
	if !d.band.trusted(t) {
		when = "recently"
	}
	a := Anomaly{
		Type:       TypeMetric,
		Service:    d.opts.Service,
		Score:      d.epPeak,
		Confidence: conf,
		Explanation: fmt.Sprintf("%s %s against %s–%s usual %s", name, fmtNum(v, d.opts.Unit),
			fmtNum(s.Lower, d.opts.Unit), fmtNum(s.Upper, d.opts.Unit), when),
		Start: d.epStart,
		End:   t,
	}
	// The kind is judged when the episode has lasted For: by then a
	// sudden but sustained change reads as a level shift, not a spike.
	lm := map[string]string{"kind": d.core.last.kind()}
	if d.opts.Metric != "" {
		lm["metric"] = d.opts.Metric
	}
	a.Labels = telemetry.LabelsFromMap(lm)
	s.Anomaly = &a
}

// scoreNews reports whether the score, which judges each point against
// the series' recent surprises, found the episode news. A rise in variance
// breaks into several episodes, and the score spends itself (and starts
// its hold-off) on the first of them, often before that one lasts For: so
// a variance change counts as news while the score is holding off after
// a recent news point. It does not count without one: a variance change
// that the score never found news is the routine kind (a nightly job
// whose start makes the fast forecast's errors jump although the daily
// model expects it).
func (d *SeriesDetector) scoreNews() bool {
	return d.epScore >= mcHoldAt || (d.core.last.kind() == "variance_change" && d.core.cool > 0)
}

// news reports whether the episode is news against the series' own
// history, in two ways. The score, which judges each point against the
// series' recent surprises, must have found it news (scoreNews). And it
// must stand out from the series' past excursions that did not page
// (excursion memory): the score forgets a surprise within a few hundred
// points (a couple of hours at 30s steps), so that a series with bursts
// every hour or two finds each burst news again, while this memory is
// kept in time (exHalfLife). Episodes separated by less than For are one
// excursion (a burst's start and end, the swings of a variance change),
// judged against the excursions before it. The bar is the score's
// (mcNews); the first excursion of a series is always news.
func (d *SeriesDetector) news() bool {
	past := d.pastSur(d.epStart)
	return d.scoreNews() && (past <= 0 || mcNews(d.epSur/past))
}

// mcNews reports whether a ratio r of a new surprise to the usual largest
// one is news: whether the score's likelihood 1-exp(-r²/2) reaches
// mcHoldAt (r above about 1.18).
func mcNews(r float64) bool {
	return mcOneMinusExp(0.5*r*r) >= mcHoldAt
}

// exHalfLife is how long the memory of past excursions takes to halve:
// a day, the detector's shortest season. A routine burst every few hours
// meets its predecessors' surprise nearly undiminished, but a fault that
// recurs a day later meets half of it (and one that paged is not
// remembered at all: an incident is not the series' routine).
const exHalfLife = 24 * time.Hour

// pastSur is the largest surprise of past unpaged excursions, decayed
// to t.
func (d *SeriesDetector) pastSur(t time.Time) float64 {
	if d.exSur == 0 {
		return 0
	}
	return d.exSur * math.Exp2(-float64(t.Sub(d.exAt))/float64(exHalfLife))
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
	sd := max((hi-lo)/(2*bandWidth), 1.2533*d.core.errLT, d.core.quantum, bandRel*math.Abs(exp)) + 1e-9
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
