package detect

import (
	"fmt"
	"math"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// Paging: how a SeriesDetector turns anomalous points into one Anomaly per
// episode. A point is anomalous on a fixed bar (SeriesScore.Likelihood);
// an episode pages when it has persisted (For, or For/4 for a strong
// one-sided run, or For and the spread view's memory for a rise in
// variance), is news against the series' own history (the score's
// judgement and the memory of past unpaged excursions), and its latest
// value lies outside the trusted seasonal band.

// spreadMemory is how long the spread view remembers a few large errors:
// the span of its short error average, 1/mcSpreadAlpha steps. A level
// jump of a point or two (a job starting, a burst's first scrape) keeps
// that average raised for about this long after the data are calm again,
// so an episode carried by the spread view must outlast this echo before
// For counts as persistence.
func spreadMemory(step time.Duration) time.Duration {
	return time.Duration(float64(step) / mcSpreadAlpha)
}

// strongLikelihood is the likelihood (about 6 sigma) from which a
// one-sided run needs only a quarter of For to be reported.
const strongLikelihood = 0.9999

// strongRel is the smallest change, as a share of the usual level, that
// an early report needs at the moment it is made.
const strongRel = 0.1

// persist turns a run of anomalous points lasting For into one Anomaly,
// and keeps the memory of the excursions that did not page.
func (d *SeriesDetector) persist(t time.Time, v float64, s *SeriesScore) {
	if !s.Anomalous {
		if !d.epStart.IsZero() {
			if d.epReported {
				d.exPaged = true
			}
			if !d.epHeld {
				d.exPend, d.exPendSize = max(d.exPend, d.epAway), max(d.exPendSize, d.epSizeAway)
			}
			d.exPendEnd = t
		}
		d.epStart, d.epReported, d.epPeak, d.epScore, d.epSur, d.epAway, d.epHeld = time.Time{}, false, 0, 0, 0, 0, false
		d.epSize, d.epSizeAway, d.epStrong = 0, 0, false
		d.prevV = v
		return
	}
	// returning: this point moved the series back toward its usual
	// level (see epAway; level is the usual one but while the series is
	// young, see Observe).
	returning := math.Abs(v-d.level) < math.Abs(d.prevV-d.level)
	if d.epStart.IsZero() {
		d.epBase = d.prevV
	}
	d.prevV = v
	// rel is the change as a share of the usual level (see Observe): the
	// seasonal band's, or the long mean until the band is trusted, not
	// the fast forecast, which absorbs a step within a few points.
	rel := math.Abs(v-d.usual) / (math.Abs(d.usual) + 1e-9)
	up := v > s.Expected
	if d.epStart.IsZero() {
		if d.exPend > 0 && t.Sub(d.exPendEnd) > d.opts.For {
			if !d.exPaged {
				// The pending excursion has been decaying since it ended,
				// not since the next one began.
				f, g := d.exDecay(t), math.Exp2(-float64(t.Sub(d.exPendEnd))/float64(exHalfLife))
				d.exSur, d.exSize, d.exAt = max(f*d.exSur, g*d.exPend), max(f*d.exSize, g*d.exPendSize), t
			}
			d.exPend, d.exPendSize, d.exPaged = 0, 0, false
		}
		d.epStart, d.stStart, d.epUp, d.epMixed = t, time.Time{}, up, false
	}
	if s.Likelihood >= d.epPeak {
		d.epPeak = s.Likelihood
	}
	d.epScore = max(d.epScore, d.rawScore)
	d.epMixed = d.epMixed || up != d.epUp
	// The strong run is the episode's latest stretch of points at or
	// beyond strongLikelihood, all on one side.
	if s.Likelihood >= strongLikelihood {
		if d.stStart.IsZero() || up != d.stUp {
			d.stStart, d.stUp = t, up
		}
	} else {
		d.stStart = time.Time{}
	}
	sur := mcSurprise(d.core.last.zOps)
	d.epSur = max(d.epSur, sur)
	// Only the part of the episode that moved away from the usual level
	// or stayed away is remembered (see epAway); nor is an excursion
	// during a deploy's grace the series' routine: the deploy explains
	// it, and a release that broke the service but went unpaged must not
	// hide the next broken release. The same holds for the size, the
	// memory's second measure (see news).
	// While the long mean is young, the level is a plain mean of a few
	// hours and the long-run noise still growing from zero: no episode
	// counts as large on its own then, so none pages on its size alone
	// and none escapes the memory (see epHeld).
	size := (v - d.level) * (v - d.level)
	d.epSize = max(d.epSize, size)
	d.epStrong = d.epStrong || d.core.n >= int(1/mcLongAlpha) && d.strongSize(v)
	if !returning && !d.inGrace(t) {
		d.epAway = max(d.epAway, sur)
		d.epSizeAway = max(d.epSizeAway, size)
	}
	// Evidence accumulates faster from a stronger deviation: a run of
	// points far beyond the bar (likelihood at least strongLikelihood,
	// about 6 sigma against 4 for the bar) has shown in a quarter of For
	// what a borderline one shows in all of it. The run is judged on its
	// own, not from the episode's first point: a ramp (memory filling, a
	// counter's rate over its window, a rollout reaching its pods)
	// crosses the bar weakly before it is strong, and those first
	// borderline points say nothing against the strong ones that follow.
	// Only a one-sided episode (an outage, a shift, a surge) qualifies,
	// since a rise in variance swings both ways and needs all of For to
	// be told from noise. And the change must be at least strongRel of
	// the usual level when the report is made, which keeps a series whose
	// noise is tiny (a job's steady CPU) from paging early on a change
	// nobody would act on; it is judged now rather than over the run, so
	// a ramp pages as soon as it both matters and has been certain for
	// For/4.
	//
	// An episode that the spread view carries must outlast that view's
	// own memory (spreadMemory) before For counts: otherwise the echo of
	// a jump of a point or two passes for a lasting rise in variance.
	need := d.opts.For
	if !d.stStart.IsZero() && !d.epMixed && rel >= strongRel && t.Sub(d.stStart) >= d.opts.For/4 {
		need = d.opts.For / 4
	} else if d.core.last.opsView == viewSpread {
		need += spreadMemory(d.step)
	}
	// The likelihood judges against a fixed bar; an episode is reported
	// only if it is also news against the series' own history (see
	// news). That is what keeps a series with a
	// routine but irregular pattern (a cron job whose runs vary in length)
	// from paging every time.
	if d.epReported || t.Sub(d.epStart) < need || !d.scoreNews() {
		return
	}
	if !d.news() {
		// An episode that the memory alone held back (it persisted, the
		// score found it news, it was large on its own, see strongSize,
		// and it lies outside the trusted band) is not remembered: it
		// would have paged on its own merits, so it is no evidence of the
		// series' routine, only of the memory. Were it remembered, a
		// fault that recurs at the size of an earlier unpaged one would
		// renew that memory each time and stay hidden for as long as it
		// recurs; not remembered, the memory decays from the last
		// excursion that was routine by some other test.
		d.epHeld = d.epHeld || d.epStrong && d.outside(t)
		return
	}
	// A report says "v against lo–hi usual at this hour"; while v lies
	// inside the trusted band, the report would refute itself, and the
	// episode waits until the series has kept outside the band for a
	// while (see outside).
	trusted := d.band.trusted(t)
	if !d.outside(t) {
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
	if !trusted {
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

// outside reports whether the episode may be reported at t: the series
// has kept outside the trusted band for For/10 (two points at 30-second
// steps and the default For), or the band is not trusted yet. One point just past the
// band's edge is not enough: a level that wandered inside the band for
// the whole episode would page on the first point of a new hour whose
// band is a little narrower.
func (d *SeriesDetector) outside(t time.Time) bool {
	return !d.band.trusted(t) || !d.outSince.IsZero() && t.Sub(d.outSince) >= d.opts.For/10
}

// scoreNews reports whether the score, which judges each point against
// the series' recent surprises, found the episode news; the score taken
// is the one before the hold-off's damping, since an outage that starts
// within a hundred points of an unrelated detection is still news. A
// rise in variance breaks into several episodes, and the score spends
// itself (raising its reference and starting its hold-off) on the first
// of them, often before that one lasts For: so
// a variance change counts as news while the score is holding off after
// a recent news point. It does not count without one: a variance change
// that the score never found news is the routine kind (a nightly job
// whose start makes the fast forecast's errors jump although the daily
// model expects it).
func (d *SeriesDetector) scoreNews() bool {
	return d.epScore >= mcHoldAt || (d.core.last.kind() == "variance_change" && d.core.cool > 0)
}

// news reports whether the episode stands out from the series' past
// excursions that did not page (excursion memory); persist asks it only
// of an episode that the score, which judges each point against the
// series' recent surprises, found news (scoreNews). The score forgets a
// surprise within a few hundred points (a couple of hours at 30s steps),
// so that a series with bursts every hour or two finds each burst news
// again, while this memory is kept in time (exHalfLife). Episodes separated by less than For are one
// excursion (a burst's start and end, the swings of a variance change),
// judged against the excursions before it. The bar is the score's
// (mcNews); the first excursion of a series is always news.
//
// The memory keeps two measures, and an episode that beats it in either
// is news. The surprise is capped (mcZCap, about 37 sigma: 688 nats) and
// measured against the noise of the moment, so an outage on a quiet
// series and the next one, three times larger, both read 688: once the
// memory holds a capped excursion, no later one can beat it by surprise.
// The size, the squared distance from the level excursions are measured
// from (see Observe), has no cap and no yardstick that varies with the
// noise of the moment: a routine burst has the same size whenever it
// comes, and an outage three times as large has nine times its size. It
// counts only for an episode that is large on its own (see strongSize),
// since otherwise the surprise came from tiny noise, not a large change.
func (d *SeriesDetector) news() bool {
	f := d.exDecay(d.epStart)
	past := f * d.exSur
	if past <= 0 || mcNews(d.epSur/past) {
		return true
	}
	return d.epStrong && mcNews(d.epSize/(f*d.exSize+1e-300))
}

// mcNews reports whether a ratio r of a new surprise to the usual largest
// one is news: whether the score's likelihood 1-exp(-r²/2) reaches
// mcHoldAt (r above about 1.18).
func mcNews(r float64) bool {
	return mcOneMinusExp(0.5*r*r) >= mcHoldAt
}

// exHalfLife is how long the memory of past excursions takes to halve:
// a week, the span over which false pages are counted. If a series'
// routine excursions came from one unchanging process, the chance that
// the latest is the largest of the last N is 1/N, so a memory of a
// week's excursions pages on routine ones about once a week at most, and
// less with mcNews' margin; a memory of a day (as before) pages about
// once a day per series with irregular routine bursts. The cost is that
// an excursion of a real fault that did not page on this series (a
// neighbour's outage seen in its error rate) is taken for routine for
// days: a fault of the same size recurring within about a week pages on
// other series, or not at all. One that paged is never remembered (an
// incident is not the series' routine).
const exHalfLife = 7 * 24 * time.Hour

// exDecay is the factor by which the memory of past excursions has
// decayed at t.
func (d *SeriesDetector) exDecay(t time.Time) float64 {
	if d.exAt.IsZero() {
		return 0
	}
	return math.Exp2(-float64(t.Sub(d.exAt)) / float64(exHalfLife))
}

// strongZ2 is the squared z from which an episode counts as large on its
// own: the z whose z²/2 is the paging surprise at which the likelihood
// reaches strongLikelihood (21.5 nats; z about 6.6).
var strongZ2 = 2 * mcOpsRef * math.Sqrt(-2*math.Log(1-strongLikelihood))

// strongSize reports whether v lies far from the level against a
// yardstick that cannot collapse to nothing: the series' long-run point
// noise, its resolution, or a tenth of the level (bandRel), whichever is
// largest, as bandZ does. Up stuck at 1 reading 0 is 10 such units away.
func (d *SeriesDetector) strongSize(v float64) bool {
	sd := d.yardstick(d.level) + 1e-9
	dv := v - d.level
	return dv*dv >= strongZ2*sd*sd
}

// atLevel reports whether v lies within the series' ordinary point noise
// (three long-run deviations of its forecast errors) of the level
// excursions are measured from, or of the value the series had just
// before the current episode began (the plain mean of a young series
// that alternates between idle and busy lies between the two). The
// resolution plays no part: up at 0 is one step from 1, not at it.
func (d *SeriesDetector) atLevel(v float64) bool {
	tol := 3 * 1.2533 * d.core.errLT
	return math.Abs(v-d.level) <= tol || !d.epStart.IsZero() && math.Abs(v-d.epBase) <= tol
}
