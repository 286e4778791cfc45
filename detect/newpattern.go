package detect

import (
	"math"
	"strconv"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// NewPatternOptions configures NewPatternDetector.
type NewPatternOptions struct {
	// WarmUp and WarmUpLines: a service is warm once WarmUp of its own
	// evaluation time has passed since its first line and it has sent at
	// least WarmUpLines lines. Templates first seen before that are learned
	// silently.
	WarmUp      time.Duration
	WarmUpLines int
	// RecentWindow is how far back other new templates of the same service
	// count against the rarity of one more: a service that sheds a new
	// template every few minutes makes each one less surprising.
	RecentWindow time.Duration
	// MaxTemplates bounds the templates remembered per service; past it new
	// templates are neither remembered nor reported.
	MaxTemplates int
	// SaturationLines: warm-up also waits until the service's template
	// discovery has flattened, i.e. this many lines in a row brought no
	// new template. Once warm, a service stays warm.
	SaturationLines int
	// MaxNovelty: a new template is reported only while the Good–Turing
	// estimate of the chance that a line shows a template never seen
	// before, (templates seen exactly once) / (lines seen), is at most
	// this. A service that keeps shedding one-off templates makes one
	// more unsurprising; it is learned silently.
	MaxNovelty float64
	// BurstLines and BurstWindow: a new template below WARN (INFO, DEBUG,
	// unknown level) is reported only when it recurs BurstLines times
	// within BurstWindow of its first line.
	BurstLines  int
	BurstWindow time.Duration
	// RecurLines: a new WARN or ERROR template is reported on its first
	// line only in a service that has never logged a line at that level
	// or above; elsewhere it must show RecurLines lines within BurstWindow
	// of its first. A service that already fails a request now and then
	// sheds rare error variants that each show once and not again for
	// hours (a timeout here, a broken pipe there); one such line is that
	// background, a recurrence within minutes is news. A FATAL template
	// always reports on its first line. 1 reports every new WARN or worse
	// at once.
	RecurLines int
}

// DefaultNewPatternOptions returns a 1h / 200-line warm-up that also waits
// for 2,000 lines without a new template, a 1h rarity window, 10,000
// templates per service, a novelty ceiling of 1 in 2,000 lines, INFO
// templates reported when they recur 10 times in 10 minutes, and WARN or
// ERROR templates, in a service that logged such lines before, when they
// recur at all (a second line) within those 10 minutes.
func DefaultNewPatternOptions() NewPatternOptions {
	return NewPatternOptions{WarmUp: time.Hour, WarmUpLines: 200, RecentWindow: time.Hour, MaxTemplates: 10000,
		SaturationLines: 2000, MaxNovelty: 1.0 / 2000, BurstLines: 10, BurstWindow: 10 * time.Minute, RecurLines: 2}
}

func (o *NewPatternOptions) validate() {
	d := DefaultNewPatternOptions()
	if o.WarmUp < 0 {
		o.WarmUp = d.WarmUp
	}
	if o.WarmUpLines < 0 {
		o.WarmUpLines = d.WarmUpLines
	}
	if o.RecentWindow <= 0 {
		o.RecentWindow = d.RecentWindow
	}
	if o.MaxTemplates <= 0 {
		o.MaxTemplates = d.MaxTemplates
	}
	if o.SaturationLines < 0 {
		o.SaturationLines = d.SaturationLines
	}
	if o.MaxNovelty <= 0 {
		o.MaxNovelty = d.MaxNovelty
	}
	if o.BurstLines <= 0 {
		o.BurstLines = d.BurstLines
	}
	if o.BurstWindow <= 0 {
		o.BurstWindow = d.BurstWindow
	}
	if o.RecurLines <= 0 {
		o.RecurLines = d.RecurLines
	}
}

// NewPatternDetector reports a template the first time a warm service
// shows it (TypeNewPattern), once it has shown enough lines of it for its
// level (see BurstLines and RecurLines). The score weighs the line's level
// (a new ERROR template scores higher than a new INFO one) and rarity (how
// few other new templates the service has shown in the recent window).
//
// A NewPatternDetector is not safe for concurrent use.
type NewPatternDetector struct {
	opts     NewPatternOptions
	services map[string]*npService
	// The state of the service of the last line: lines come in runs of
	// one service, and services are never forgotten.
	lastName string
	last     *npService
}

type npService struct {
	first   time.Time
	lines   int
	lastNew int // lines when the last new template appeared
	warm    bool
	// maxLevel is the highest level of any line seen so far.
	maxLevel telemetry.Level
	known    map[string]npSeen // pattern → sightings
	recent   []time.Time       // first sightings after warm-up within RecentWindow
	pending  map[string]*npPending
}

// npSeen is how often a pattern was seen (saturating at 2) and when first.
type npSeen struct {
	n  int
	at time.Time
}

// npPending is a new template waiting to show a burst: need lines within
// BurstWindow of its first.
type npPending struct {
	first   *telemetry.LogRecord
	n, need int
	novelty float64 // Good–Turing estimate at its first line
	lines   int     // service lines at its first line
}

var _ LogDetector = (*NewPatternDetector)(nil)

// NewNewPatternDetector returns a detector with o, defaults filled in.
func NewNewPatternDetector(o NewPatternOptions) *NewPatternDetector {
	o.validate()
	return &NewPatternDetector{opts: o, services: make(map[string]*npService)}
}

// Name implements LogDetector.
func (d *NewPatternDetector) Name() string { return "new_pattern" }

// Seen reports whether service has shown template id.
func (d *NewPatternDetector) Seen(service, id string) bool {
	s := d.services[service]
	if s == nil {
		return false
	}
	_, ok := s.known[id]
	return ok
}

// npExceptionType is the field in which logparse puts the exception
// class of a joined stack trace (logparse.FieldExceptionType).
const npExceptionType = "exception.type"

// npLevelWeight is the part of the score that comes from severity.
func npLevelWeight(l telemetry.Level) float64 {
	switch {
	case l >= telemetry.LevelFatal:
		return 1
	case l == telemetry.LevelError:
		return 0.9
	case l == telemetry.LevelWarn:
		return 0.7
	case l == telemetry.LevelInfo, l == telemetry.LevelUnknown:
		return 0.5
	}
	return 0.3
}

// Observe implements LogDetector.
func (d *NewPatternDetector) Observe(rec *telemetry.LogRecord) []Anomaly {
	s := d.last
	if s == nil || d.lastName != rec.Service {
		s = d.service(rec)
		d.lastName, d.last = rec.Service, s
	}
	return d.observeIn(s, rec)
}

// service returns the state of rec's service, new if need be.
func (d *NewPatternDetector) service(rec *telemetry.LogRecord) *npService {
	s := d.services[rec.Service]
	if s == nil {
		s = &npService{first: rec.Time, known: make(map[string]npSeen), pending: make(map[string]*npPending)}
		d.services[rec.Service] = s
	}
	return s
}

// settled reports whether lines of template id without an exception type
// can no longer change s beyond the line count and warm-up (see
// observeSettled): the template was seen twice, so its count has
// saturated, and waits for no burst. Nothing undoes that, as known
// templates are never forgotten and a pending burst only starts at a
// first sighting.
func (s *npService) settled(id string) bool {
	c, ok := s.known[id]
	return ok && c.n >= 2 && s.pending[id] == nil
}

// observeSettled is observeIn for a line of a settled template (see
// settled) without an exception type: all that is left is counting it.
func (d *NewPatternDetector) observeSettled(s *npService, rec *telemetry.LogRecord) {
	s.lines++
	if rec.Level > s.maxLevel {
		s.maxLevel = rec.Level
	}
	d.warmUp(s, rec)
}

func (d *NewPatternDetector) warmUp(s *npService, rec *telemetry.LogRecord) {
	if !s.warm && s.lines >= d.opts.WarmUpLines && rec.Time.Sub(s.first) >= d.opts.WarmUp &&
		s.lines-s.lastNew >= d.opts.SaturationLines {
		s.warm = true
	}
}

// observeIn is Observe for the service state s.
func (d *NewPatternDetector) observeIn(s *npService, rec *telemetry.LogRecord) []Anomaly {
	s.lines++
	d.warmUp(s, rec)
	// Whether the service logged at this level or above before this line.
	levelSeen := s.maxLevel >= rec.Level
	if rec.Level > s.maxLevel {
		s.maxLevel = rec.Level
	}
	if rec.TemplateID == "" {
		return nil
	}
	// The pattern is the template, and with it the exception type when
	// the line carries a stack trace: a template that logs a failure with
	// the exception attached ("Checkout failed for order …") shows a new
	// failure mode as a new exception type, not as a new template.
	key := rec.TemplateID
	exc := rec.Fields[npExceptionType]
	if exc != "" {
		key += "\x00" + exc
	}
	if c, ok := s.known[key]; ok {
		if c.n == 1 {
			s.known[key] = npSeen{2, c.at}
		}
		if p := s.pending[key]; p != nil {
			if rec.Time.Sub(p.first.Time) > d.opts.BurstWindow {
				delete(s.pending, key)
				return nil
			}
			if p.n++; p.n >= p.need {
				delete(s.pending, key)
				return d.report(s, p.first, p.lines, p.novelty, p.n, rec.Time)
			}
		}
		return nil
	}
	if len(s.known) >= d.opts.MaxTemplates {
		return nil
	}
	// Good–Turing: the chance that the next line shows an unseen template
	// is about the share of lines that were a template's only sighting.
	// Sightings within the last RecentWindow are left out: they are the
	// present, perhaps the incident itself (a release logs its startup
	// lines, then fails), not the service's steady novelty.
	once, cut := 0, rec.Time.Add(-d.opts.RecentWindow)
	for _, c := range s.known {
		if c.n == 1 && c.at.Before(cut) {
			once++
		}
	}
	novelty := float64(once) / float64(max(s.lines-1, 1))
	s.known[key] = npSeen{1, rec.Time}
	s.lastNew = s.lines
	if !s.warm || novelty > d.opts.MaxNovelty {
		return nil
	}
	need := 1
	switch {
	case rec.Level < telemetry.LevelWarn:
		need = d.opts.BurstLines
	case rec.Level < telemetry.LevelFatal && levelSeen:
		need = d.opts.RecurLines
	}
	if need > 1 {
		if len(s.pending) < d.opts.MaxTemplates {
			c := *rec
			s.pending[key] = &npPending{first: &c, n: 1, need: need, novelty: novelty, lines: s.lines}
		}
		return nil
	}
	return d.report(s, rec, s.lines, novelty, 1, rec.Time)
}

// report scores and words one new template; n lines of it were seen by end.
func (d *NewPatternDetector) report(s *npService, rec *telemetry.LogRecord, lines int, novelty float64, n int, end time.Time) []Anomaly {
	// Forget sightings that left the window, then score.
	cut := rec.Time.Add(-d.opts.RecentWindow)
	i := 0
	for i < len(s.recent) && s.recent[i].Before(cut) {
		i++
	}
	s.recent = append(s.recent[:0], s.recent[i:]...)
	others := len(s.recent)
	s.recent = append(s.recent, rec.Time)
	rarity := 1 / (1 + float64(others)/3)
	w := npLevelWeight(rec.Level)
	score := w * (0.6 + 0.4*rarity)
	known := len(s.known) - 1
	what := "template " + rec.TemplateID
	if exc := rec.Fields[npExceptionType]; exc != "" {
		what = "exception " + exc + " in template " + rec.TemplateID
	}
	expl := "new " + rec.Level.String() + " " + what + " first seen after " +
		blNum(float64(lines-1)) + " lines and " + strconv.Itoa(known) + " known templates of " + rec.Service +
		" (chance of a new template " + blNum(novelty*100) + "% a line)"
	if n > 1 {
		expl += ", " + strconv.Itoa(n) + " lines of it in " + end.Sub(rec.Time).Round(time.Second).String()
	}
	if others > 0 {
		expl += " (" + strconv.Itoa(others) + " other new templates in the last " + d.opts.RecentWindow.String() + ")"
	}
	return []Anomaly{{
		Type: TypeNewPattern, Service: rec.Service, TemplateID: rec.TemplateID,
		Score: math.Min(1, score), Confidence: blConfidence(s.lines, 10*max(d.opts.WarmUpLines, 100)),
		Explanation: expl,
		Examples:    []string{rec.Raw},
		Start:       rec.Time, End: end,
		Labels: telemetry.LabelsFromStrings("level", rec.Level.String()),
	}}
}

// Tick implements LogDetector: it forgets low-level new templates whose
// burst window passed without a burst (they stay known).
func (d *NewPatternDetector) Tick(now time.Time) []Anomaly {
	for _, s := range d.services {
		for id, p := range s.pending {
			if now.Sub(p.first.Time) > d.opts.BurstWindow {
				delete(s.pending, id)
			}
		}
	}
	return nil
}
