package detect

import (
	"sync"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// LogDetectorsOptions configures LogDetectors: one option set per
// detector, the dedup cooldown, and detectors added from elsewhere.
type LogDetectorsOptions struct {
	Frequency  FrequencyOptions
	NewPattern NewPatternOptions
	Content    ContentOptions
	Silence    SilenceOptions
	Metrics    LogMetricsOptions
	// Cooldown: after an anomaly of one (type, service, template), others
	// of the same key starting within Cooldown are dropped, so one
	// incident raises one anomaly per Cooldown rather than one per line.
	Cooldown time.Duration
	// Extra detectors (the sequence detector, for one) receive every record
	// and tick; their anomalies are deduplicated with the rest. They see a
	// copy of the record that is reused for the next line, so they must
	// copy what they keep of it (as the detectors of this package do).
	Extra []LogDetector
	// MaxTemplateTexts bounds the template texts remembered from
	// ObserveParams to fill Anomaly.Template.
	MaxTemplateTexts int
}

// DefaultLogDetectorsOptions returns every detector's defaults and a 15m
// cooldown.
func DefaultLogDetectorsOptions() LogDetectorsOptions {
	return LogDetectorsOptions{
		Frequency:        DefaultFrequencyOptions(),
		NewPattern:       DefaultNewPatternOptions(),
		Content:          DefaultContentOptions(),
		Silence:          DefaultSilenceOptions(),
		Metrics:          DefaultLogMetricsOptions(),
		Cooldown:         15 * time.Minute,
		MaxTemplateTexts: 100000,
	}
}

func (o *LogDetectorsOptions) validate() {
	if o.Cooldown < 0 {
		o.Cooldown = 0
	}
	if o.MaxTemplateTexts <= 0 {
		o.MaxTemplateTexts = DefaultLogDetectorsOptions().MaxTemplateTexts
	}
}

// LogDetectors is the log side of detection in one value: it fans each
// record out to the frequency, new-pattern, content and silence detectors
// (and any Extra), keeps the log-derived metrics, and returns the merged
// anomalies with repeats of one (type, service, template) inside Cooldown
// removed.
//
// LogDetectors is safe for concurrent use; mtx serialises everything, as
// the records of one service must be seen in order anyway.
type LogDetectors struct {
	opts LogDetectorsOptions

	mtx        sync.Mutex // protects all below
	frequency  *FrequencyDetector
	newPattern *NewPatternDetector
	content    *ContentDetector
	silence    *SilenceDetector
	metrics    *LogMetrics
	last       map[lsKey]time.Time // start of the last anomaly let through per key
	texts      map[lsTextKey]string
	samples    []telemetry.Sample
	suppressed int
	// droppedSamples counts the samples Samples was too late for.
	droppedSamples int
	// services holds each service's state in every detector, and
	// lastSvc/lastName the one of the last line: lines come in runs of
	// one service, and services are never forgotten.
	services     map[string]*lsService
	lastName     string
	lastSvc      *lsService
	maxTemplates int // per service in services, the largest detector bound
	// toks is the buffer the message's tokens are cut into, kept rather
	// than declared per line, which would zero its 1 KiB every line.
	toks [16]ctTok
	// extraRec is the copy of the record handed to the Extra detectors.
	// Passing them rec itself, through an interface, would make every
	// caller's record escape to the heap: one allocation per line for a
	// caller that keeps its records on the stack.
	extraRec telemetry.LogRecord
}

// lsService is one service's state in every detector, found with one map
// lookup per line rather than one per detector, and its templates'.
type lsService struct {
	freq      *freqService
	np        *npService
	sl        *slService
	lm        *lmService
	templates map[string]*lsTemplate
}

// lsTemplate is what the detectors keep of one template of a service, so
// that a line costs one template lookup here instead of one in each of
// them. A nil pointer is not known yet, or not kept by that detector (its
// bound was reached); the detector then looks for itself, as alone.
type lsTemplate struct {
	freq    *freqSeries
	content *ctTemplate
	// firstSeen is the log metrics' first sighting, once known is set.
	firstSeen time.Time
	known     bool
	// settled: the new-pattern detector has nothing left to learn from
	// lines of this template without an exception type (npService.settled).
	settled bool
}

type lsKey struct {
	typ               Type
	service, template string
}

type lsTextKey struct{ service, template string }

var _ LogDetector = (*LogDetectors)(nil)

// NewLogDetectors returns the detector set with o, defaults filled in.
func NewLogDetectors(o LogDetectorsOptions) *LogDetectors {
	o.validate()
	d := &LogDetectors{
		opts:       o,
		frequency:  NewFrequencyDetector(o.Frequency),
		newPattern: NewNewPatternDetector(o.NewPattern),
		content:    NewContentDetector(o.Content),
		silence:    NewSilenceDetector(o.Silence),
		metrics:    NewLogMetrics(o.Metrics),
		last:       make(map[lsKey]time.Time),
		texts:      make(map[lsTextKey]string),
		services:   make(map[string]*lsService),
	}
	d.maxTemplates = max(d.frequency.opts.MaxTemplates, d.content.opts.MaxTemplates,
		d.metrics.opts.MaxTemplates, d.newPattern.opts.MaxTemplates)
	return d
}

// service returns the state of rec's service, new if need be.
func (d *LogDetectors) service(rec *telemetry.LogRecord) *lsService {
	s := d.services[rec.Service]
	if s == nil {
		s = &lsService{
			freq:      d.frequency.service(rec),
			np:        d.newPattern.service(rec),
			sl:        d.silence.service(rec),
			lm:        d.metrics.service(rec),
			templates: make(map[string]*lsTemplate),
		}
		d.services[rec.Service] = s
	}
	return s
}

// template returns the shared record of template id in s, new if need be,
// or nil once s holds maxTemplates of them.
func (d *LogDetectors) template(s *lsService, id string) *lsTemplate {
	t := s.templates[id]
	if t == nil && len(s.templates) < d.maxTemplates {
		t = &lsTemplate{}
		s.templates[id] = t
	}
	return t
}

// Name implements LogDetector.
func (d *LogDetectors) Name() string { return "log" }

// Observe implements LogDetector.
func (d *LogDetectors) Observe(rec *telemetry.LogRecord) []Anomaly {
	d.mtx.Lock()
	defer d.mtx.Unlock()
	return d.observe(rec, "", nil, false)
}

// ObserveParams is Observe for a caller that has the miner's template text
// and the line's parameters: content detection then uses the parameters
// as slots, and anomalies of the template carry its text.
func (d *LogDetectors) ObserveParams(rec *telemetry.LogRecord, template string, params []string) []Anomaly {
	d.mtx.Lock()
	defer d.mtx.Unlock()
	return d.observe(rec, template, params, true)
}

func (d *LogDetectors) observe(rec *telemetry.LogRecord, template string, params []string, withParams bool) []Anomaly {
	if template != "" && rec.TemplateID != "" && len(d.texts) < d.opts.MaxTemplateTexts {
		k := lsTextKey{rec.Service, rec.TemplateID}
		if _, ok := d.texts[k]; !ok {
			d.texts[k] = template
		}
	}
	s := d.lastSvc
	if s == nil || d.lastName != rec.Service {
		s = d.service(rec)
		d.lastName, d.lastSvc = rec.Service, s
	}
	// The template's record; a stand-in (that is not kept) for a line
	// without a template or past the bound, so that the steps below need
	// no nil checks: its empty fields make each detector look for itself.
	var spare lsTemplate
	t := &spare
	if rec.TemplateID != "" {
		if kept := d.template(s, rec.TemplateID); kept != nil {
			t = kept
		}
	}

	var out, as []Anomaly
	as, t.freq = d.frequency.observeIn(s.freq, t.freq, rec)
	out = append(out, as...)

	if t.settled && rec.Fields[npExceptionType] == "" {
		d.newPattern.observeSettled(s.np, rec)
	} else {
		out = append(out, d.newPattern.observeIn(s.np, rec)...)
		t.settled = rec.TemplateID != "" && s.np.settled(rec.TemplateID)
	}

	// Without the miner's parameters, the content detector and the
	// metrics both read the message's tokens: cut it once.
	var toks []ctTok
	if !withParams {
		toks = ctCut(rec.Message, d.toks[:0])
	}
	as, t.content = d.content.observe(rec, template, params, withParams, toks, t.content)
	out = append(out, as...)

	d.silence.observeIn(s.sl, rec)

	if len(d.opts.Extra) > 0 {
		d.extraRec = *rec
		for _, x := range d.opts.Extra {
			out = append(out, x.Observe(&d.extraRec)...)
		}
		d.extraRec = telemetry.LogRecord{} // hold on to none of the line
	}
	if !t.known {
		t.firstSeen, t.known = d.metrics.firstSeen(s.lm, rec)
	}
	d.metrics.observeIn(s.lm, rec, toks, t.firstSeen, t.known)
	return d.dedup(out)
}

// Tick implements LogDetector. It also closes the log-derived metrics'
// intervals; collect their samples with Samples.
func (d *LogDetectors) Tick(now time.Time) []Anomaly {
	d.mtx.Lock()
	defer d.mtx.Unlock()
	var out []Anomaly
	out = append(out, d.frequency.Tick(now)...)
	out = append(out, d.newPattern.Tick(now)...)
	out = append(out, d.content.Tick(now)...)
	out = append(out, d.silence.Tick(now)...)
	for _, x := range d.opts.Extra {
		out = append(out, x.Tick(now)...)
	}
	// The samples wait for Samples within the log metrics' MaxPending.
	ss := d.metrics.Tick(now)
	if room := max(0, d.metrics.opts.MaxPending-len(d.samples)); len(ss) > room {
		d.droppedSamples += len(ss) - room
		ss = ss[:room]
	}
	d.samples = append(d.samples, ss...)
	for k, t := range d.last {
		if now.Sub(t) >= d.opts.Cooldown {
			delete(d.last, k)
		}
	}
	return d.dedup(out)
}

// Samples returns the log-derived samples of the intervals closed so far
// and forgets them.
func (d *LogDetectors) Samples() []telemetry.Sample {
	d.mtx.Lock()
	defer d.mtx.Unlock()
	s := d.samples
	d.samples = nil
	return s
}

// Suppressed is how many anomalies the cooldown has dropped.
func (d *LogDetectors) Suppressed() int {
	d.mtx.Lock()
	defer d.mtx.Unlock()
	return d.suppressed
}

// DroppedSamples is how many log-derived samples were dropped because
// Tick or Samples came too late (LogMetricsOptions.MaxPending).
func (d *LogDetectors) DroppedSamples() int {
	d.mtx.Lock()
	defer d.mtx.Unlock()
	return d.droppedSamples + d.metrics.Dropped()
}

// Silent reports whether service is in a reported silence.
func (d *LogDetectors) Silent(service string) bool {
	d.mtx.Lock()
	defer d.mtx.Unlock()
	return d.silence.Silent(service)
}

func (d *LogDetectors) dedup(as []Anomaly) []Anomaly {
	if len(as) == 0 {
		return nil
	}
	out := as[:0]
	for _, a := range as {
		k := lsKey{a.Type, a.Service, a.TemplateID}
		if t, ok := d.last[k]; ok && lsAbs(a.Start.Sub(t)) < d.opts.Cooldown {
			d.suppressed++
			continue
		}
		d.last[k] = a.Start
		if a.Template == "" && a.TemplateID != "" {
			a.Template = d.texts[lsTextKey{a.Service, a.TemplateID}]
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func lsAbs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
