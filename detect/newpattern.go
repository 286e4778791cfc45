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
}

// DefaultNewPatternOptions returns a 1h / 200-line warm-up, a 1h rarity
// window and 10,000 templates per service.
func DefaultNewPatternOptions() NewPatternOptions {
	return NewPatternOptions{WarmUp: time.Hour, WarmUpLines: 200, RecentWindow: time.Hour, MaxTemplates: 10000}
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
}

// NewPatternDetector reports a template the first time a warm service
// shows it (TypeNewPattern). The score weighs the line's level (a new
// ERROR template scores higher than a new INFO one) and rarity (how few
// other new templates the service has shown in the recent window).
//
// A NewPatternDetector is not safe for concurrent use.
type NewPatternDetector struct {
	opts     NewPatternOptions
	services map[string]*npService
}

type npService struct {
	first  time.Time
	lines  int
	warm   bool
	known  map[string]struct{}
	recent []time.Time // first sightings after warm-up within RecentWindow
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
	s := d.services[rec.Service]
	if s == nil {
		s = &npService{first: rec.Time, known: make(map[string]struct{})}
		d.services[rec.Service] = s
	}
	s.lines++
	if !s.warm && s.lines >= d.opts.WarmUpLines && rec.Time.Sub(s.first) >= d.opts.WarmUp {
		s.warm = true
	}
	if rec.TemplateID == "" {
		return nil
	}
	if _, ok := s.known[rec.TemplateID]; ok {
		return nil
	}
	if len(s.known) >= d.opts.MaxTemplates {
		return nil
	}
	s.known[rec.TemplateID] = struct{}{}
	if !s.warm {
		return nil
	}
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
	expl := "new " + rec.Level.String() + " template " + rec.TemplateID + " first seen after " +
		blNum(float64(s.lines-1)) + " lines and " + strconv.Itoa(known) + " known templates of " + rec.Service
	if others > 0 {
		expl += " (" + strconv.Itoa(others) + " other new templates in the last " + d.opts.RecentWindow.String() + ")"
	}
	return []Anomaly{{
		Type: TypeNewPattern, Service: rec.Service, TemplateID: rec.TemplateID,
		Score: math.Min(1, score), Confidence: blConfidence(s.lines, 10*max(d.opts.WarmUpLines, 100)),
		Explanation: expl,
		Examples:    []string{rec.Raw},
		Start:       rec.Time, End: rec.Time,
		Labels: telemetry.LabelsFromStrings("level", rec.Level.String()),
	}}
}

// Tick implements LogDetector; new patterns are decided on arrival.
func (d *NewPatternDetector) Tick(now time.Time) []Anomaly { return nil }
