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
	// and tick; their anomalies are deduplicated with the rest.
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
	return &LogDetectors{
		opts:       o,
		frequency:  NewFrequencyDetector(o.Frequency),
		newPattern: NewNewPatternDetector(o.NewPattern),
		content:    NewContentDetector(o.Content),
		silence:    NewSilenceDetector(o.Silence),
		metrics:    NewLogMetrics(o.Metrics),
		last:       make(map[lsKey]time.Time),
		texts:      make(map[lsTextKey]string),
	}
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
	var out []Anomaly
	out = append(out, d.frequency.Observe(rec)...)
	out = append(out, d.newPattern.Observe(rec)...)
	// Without the miner's parameters, the content detector and the
	// metrics both read the message's tokens: cut it once.
	var buf [16]ctTok
	var toks []ctTok
	if !withParams {
		toks = ctCut(rec.Message, buf[:0])
	}
	out = append(out, d.content.observe(rec, template, params, withParams, toks)...)
	out = append(out, d.silence.Observe(rec)...)
	for _, x := range d.opts.Extra {
		out = append(out, x.Observe(rec)...)
	}
	d.metrics.observe(rec, toks)
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
	d.samples = append(d.samples, d.metrics.Tick(now)...)
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
