package detect

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// ContentOptions configures ContentDetector.
type ContentOptions struct {
	// MaxCardinality and MinCategorical: a slot that took at most
	// MaxCardinality distinct values over at least MinCategorical
	// observations, the last new one at least MinCategorical/2
	// observations ago, reports the next new value.
	MaxCardinality int
	MinCategorical int
	// MinNumeric is the history a numeric slot needs before it is judged.
	// Numeric slots are judged only once they have too many distinct
	// values to be categorical (a status code is categorical).
	MinNumeric int
	// Z is the robust z-score, on a log scale, beyond which a value is an
	// outlier; the value must also exceed the largest value of the slot's
	// recent history by the factor OutsideRange. Only high values are
	// reported.
	Z, OutsideRange float64
	// Window is the ring of recent values per numeric slot.
	Window int
	// MinNumericAge: a numeric slot is judged only once its first value
	// is this old (evaluation time): a heavy tail shows its rare slow
	// values over hours, not over the first hundred lines.
	MinNumericAge time.Duration
	// MaxTemplates and MaxFields bound the state per service and per
	// template.
	MaxTemplates, MaxFields int
}

// DefaultContentOptions returns the defaults: ≤10 values over ≥200
// observations, numeric judgement after 100 values, z ≥ 6 and 1.5× outside
// the range of the last 128 values.
func DefaultContentOptions() ContentOptions {
	return ContentOptions{MaxCardinality: 10, MinCategorical: 200, MinNumeric: 100, Z: 6, OutsideRange: 1.5,
		Window: 128, MaxTemplates: 2000, MaxFields: 32, MinNumericAge: 6 * time.Hour}
}

func (o *ContentOptions) validate() {
	d := DefaultContentOptions()
	if o.MaxCardinality <= 0 {
		o.MaxCardinality = d.MaxCardinality
	}
	if o.MinCategorical <= 0 {
		o.MinCategorical = d.MinCategorical
	}
	if o.MinNumeric <= 0 {
		o.MinNumeric = d.MinNumeric
	}
	if o.Z <= 0 {
		o.Z = d.Z
	}
	if o.OutsideRange < 1 {
		o.OutsideRange = d.OutsideRange
	}
	if o.Window <= 0 {
		o.Window = d.Window
	}
	if o.MinNumericAge < 0 {
		o.MinNumericAge = d.MinNumericAge
	}
	if o.MinNumeric > o.Window {
		o.MinNumeric = o.Window
	}
	if o.MaxTemplates <= 0 {
		o.MaxTemplates = d.MaxTemplates
	}
	if o.MaxFields <= 0 {
		o.MaxFields = d.MaxFields
	}
}

// ContentDetector watches the parameters of each template (TypeContent):
// numeric values far outside their robust range ("completed in 50000ms"
// where 50ms is usual) and new values of low-cardinality slots
// (`body={"error":"rate_limited"}` where the body always was
// `{"ok":true}`).
//
// Slots come from one of two places. Observe, with only the record, takes
// the message's whitespace tokens by position: every line of a template
// has the same token count, so position i is template token i, and a
// constant token is simply a slot with one value (which is what makes an
// unusual word that the miner folded into the template visible). Lines of
// a template whose token count differs from its first are skipped. When
// the miner's parameters are at hand, ObserveParams uses them instead. In
// both cases the record's structured Fields are slots too, by name.
//
// A ContentDetector is not safe for concurrent use.
type ContentDetector struct {
	opts     ContentOptions
	margin   float64 // math.Log(opts.OutsideRange)
	services map[string]map[string]*ctTemplate
	// The state of the service of the last line: lines come in runs of
	// one service, and services are never forgotten.
	lastName string
	last     map[string]*ctTemplate
	// The last answer of the time since a numeric slot's last value.
	idle ctSubMemo
}

// ctSubMemo remembers the last t.Sub(u). The numeric slots of a template
// were all last updated by the same line, so a line asks the same
// difference once per slot, and time.Time.Sub (an Add and an Equal to
// check for overflow) costs more than comparing the times as values: the
// same representation gives the same difference. The zero memo holds zero
// minus zero, which is right.
type ctSubMemo struct {
	t, u time.Time
	d    time.Duration
}

func (m *ctSubMemo) sub(t, u time.Time) time.Duration {
	if t != m.t || u != m.u {
		m.t, m.u, m.d = t, u, t.Sub(u)
	}
	return m.d
}

type ctTemplate struct {
	ntok     int
	slots    []ctSlot
	fields   map[string]*ctSlot
	template string
}

type ctSlot struct {
	vals     []string // distinct values while categorical
	counts   []int    // per value, for the Good-Turing check
	n        int
	sinceNew int
	overflow bool
	// The shapes of values (digit-bearing words masked) stand in once the
	// values themselves are too many: `{"id":"ch_9f2…","status":"succeeded"}`
	// is one shape, `{"error":"rate_limited",…}` another.
	shapes        []uint64
	shapeExamples []string
	shapeN        int
	shapeSince    int
	shapeOverflow bool
	unit          string
	num           *ctNumeric
}

type ctNumeric struct {
	ring  blRing
	dirty int
	est   Estimate
	// longMax is a slowly decaying maximum (log scale: it halves per
	// day) that remembers the rare slow outliers of a heavy tail longer
	// than the ring does; longAt is when it was last lowered.
	longMax float64
	longAt  time.Time
	// judgedFrom is the time of the first value + MinNumericAge, worked
	// out once: "now is not before it" is "now.Sub(first) ≥
	// MinNumericAge" for one comparison instead of a Sub (an Add and an
	// Equal) per value.
	judgedFrom time.Time
}

var _ LogDetector = (*ContentDetector)(nil)

// NewContentDetector returns a detector with o, defaults filled in.
func NewContentDetector(o ContentOptions) *ContentDetector {
	o.validate()
	return &ContentDetector{opts: o, margin: math.Log(o.OutsideRange), services: make(map[string]map[string]*ctTemplate)}
}

// Name implements LogDetector.
func (d *ContentDetector) Name() string { return "content" }

// Tick implements LogDetector; content is judged per line.
func (d *ContentDetector) Tick(now time.Time) []Anomaly { return nil }

// Observe implements LogDetector with slots taken from message tokens.
func (d *ContentDetector) Observe(rec *telemetry.LogRecord) []Anomaly {
	out, _ := d.observe(rec, "", nil, false, nil, nil)
	return out
}

// ObserveParams is Observe with the template text and the parameters the
// miner extracted for this line; slot i is params[i]. Use one form per
// template: the first call for a template fixes its slot layout.
func (d *ContentDetector) ObserveParams(rec *telemetry.LogRecord, template string, params []string) []Anomaly {
	out, _ := d.observe(rec, template, params, true, nil, nil)
	return out
}

func (d *ContentDetector) template(rec *telemetry.LogRecord, n int) *ctTemplate {
	ts := d.last
	if ts == nil || d.lastName != rec.Service {
		ts = d.services[rec.Service]
		if ts == nil {
			ts = make(map[string]*ctTemplate)
			d.services[rec.Service] = ts
		}
		d.lastName, d.last = rec.Service, ts
	}
	t := ts[rec.TemplateID]
	if t == nil {
		if len(ts) >= d.opts.MaxTemplates {
			return nil
		}
		t = &ctTemplate{ntok: n, slots: make([]ctSlot, n)}
		ts[rec.TemplateID] = t
	}
	return t
}

// observe takes the message's tokens from cut (ctCut) when it is not nil,
// and the template's state from t when the caller has it from an earlier
// line (LogDetectors keeps it). It returns the template's state, nil for
// none.
func (d *ContentDetector) observe(rec *telemetry.LogRecord, template string, params []string, withParams bool, cut []ctTok, t *ctTemplate) ([]Anomaly, *ctTemplate) {
	if rec.TemplateID == "" {
		return nil, nil
	}
	if withParams {
		cut = nil
	} else if cut == nil {
		return d.observeUncut(rec, template, t)
	}
	n := len(params)
	if cut != nil {
		n = len(cut)
	}
	if t == nil {
		if t = d.template(rec, n); t == nil {
			return nil, nil
		}
	}
	if template != "" && t.template == "" {
		t.template = template
	}
	var out []Anomaly
	if n == t.ntok {
		if withParams {
			for i, p := range params {
				out = d.slot(out, rec, t, &t.slots[i], p, "slot", i, "", nil)
			}
		} else {
			for k := range cut {
				out = d.slot(out, rec, t, &t.slots[k], cut[k].tok, "slot", k, "", &cut[k])
			}
		}
	}
	return d.fields(out, rec, t), t
}

// observeUncut is observe for the message's own tokens when the caller has
// not cut it. It is a function of its own so that the hot path, which
// comes with the message cut, does not zero tokBuf on every line.
func (d *ContentDetector) observeUncut(rec *telemetry.LogRecord, template string, t *ctTemplate) ([]Anomaly, *ctTemplate) {
	// The message's tokens, cut once: most lines have few.
	var tokBuf [48]string
	toks := ctTokens(rec.Message, tokBuf[:0])
	n := len(toks)
	if toks == nil {
		n = ctCountTokens(rec.Message)
	}
	if t == nil {
		if t = d.template(rec, n); t == nil {
			return nil, nil
		}
	}
	if template != "" && t.template == "" {
		t.template = template
	}
	var out []Anomaly
	if n == t.ntok {
		if toks != nil {
			for k, tok := range toks {
				out = d.slot(out, rec, t, &t.slots[k], tok, "slot", k, "", nil)
			}
		} else {
			for i, k := 0, 0; ; k++ {
				tok, next := ctNextToken(rec.Message, i)
				if tok == "" {
					break
				}
				i = next
				out = d.slot(out, rec, t, &t.slots[k], tok, "slot", k, "", nil)
			}
		}
	}
	return d.fields(out, rec, t), t
}

// fields learns and judges the record's structured fields, slots by name,
// and orders what the line raised.
func (d *ContentDetector) fields(out []Anomaly, rec *telemetry.LogRecord, t *ctTemplate) []Anomaly {
	for k, v := range rec.Fields {
		s := t.fields[k]
		if s == nil {
			if len(t.fields) >= d.opts.MaxFields {
				continue
			}
			if t.fields == nil {
				t.fields = make(map[string]*ctSlot)
			}
			s = &ctSlot{}
			t.fields[strings.Clone(k)] = s
		}
		out = d.slot(out, rec, t, s, v, "field", 0, k, nil)
	}
	if len(out) > 1 {
		slices.SortFunc(out, func(x, y Anomaly) int { return strings.Compare(x.Labels.String(), y.Labels.String()) })
	}
	return out
}

// slot learns value v of one slot and reports it if it is unusual.
// The slot's name is field for a field, else its index idx: it is only
// needed, and so only built, when the slot reports. nt, when not nil, is
// v already read by ctNumber.
func (d *ContentDetector) slot(out []Anomaly, rec *telemetry.LogRecord, t *ctTemplate, s *ctSlot, v, kind string, idx int, field string, nt *ctTok) []Anomaly {
	o := &d.opts
	fired := false
	s.n++
	s.sinceNew++
	if !s.overflow {
		if i := slices.Index(s.vals, v); i >= 0 {
			s.counts[i]++
		} else {
			if s.n > o.MinCategorical && s.sinceNew > o.MinCategorical/2 && len(s.vals) <= o.MaxCardinality && ctSettled(s.counts, s.n) &&
				!ctOpenSet(s.vals, v) {
				out = append(out, d.newValue(rec, t, s, v, kind, ctSlotName(kind, idx, field)))
				fired = true
			}
			s.sinceNew = 0
			if len(s.vals) >= o.MaxCardinality {
				s.overflow, s.vals, s.counts = true, nil, nil
			} else {
				s.vals = append(s.vals, strings.Clone(v))
				s.counts = append(s.counts, 1)
			}
		}
	} else if !s.shapeOverflow {
		s.shapeN++
		s.shapeSince++
		if h := ctShape(v); !slices.Contains(s.shapes, h) {
			if s.shapeN > o.MinCategorical && s.shapeSince > o.MinCategorical/2 && len(s.shapes) <= o.MaxCardinality {
				out = append(out, d.newShape(rec, t, s, v, kind, ctSlotName(kind, idx, field)))
				fired = true
			}
			s.shapeSince = 0
			if len(s.shapes) >= o.MaxCardinality {
				s.shapeOverflow, s.shapes, s.shapeExamples = true, nil, nil
			} else {
				s.shapes = append(s.shapes, h)
				s.shapeExamples = append(s.shapeExamples, strings.Clone(ctClip(v, 60)))
			}
		}
	}
	var x float64
	var unit string
	var ok bool
	if nt != nil {
		x, unit, ok = nt.v, nt.unit, nt.num
	} else {
		_, x, unit, ok = ctNumber(v)
	}
	if !ok {
		return out
	}
	if s.num == nil {
		s.num = &ctNumeric{ring: blRing{v: make([]float64, 0, o.Window)}, judgedFrom: rec.Time.Add(o.MinNumericAge)}
		s.unit = strings.Clone(unit)
	}
	if unit != s.unit {
		sec, ok1 := ctDurationSeconds(x, unit)
		base, ok2 := ctDurationSeconds(1, s.unit)
		if !ok1 || !ok2 {
			return out
		}
		x = sec / base
	}
	y := ctLog(x)
	num := s.num
	if !fired && s.overflow && len(num.ring.v) >= o.MinNumeric && !rec.Time.Before(num.judgedFrom) {
		// Sorting is the cost here: refresh the estimate only when this
		// value may be an outlier against the cached one, or now and then.
		margin := d.margin
		// (The builtin max treats NaNs and signed zeros as math.Max
		// does, and is compiled inline where math.Max is a call.)
		if num.est.N == 0 || num.dirty >= 4*o.Window || y > max(num.est.Max, num.longMax)+margin {
			num.est = num.ring.estimate(BaselineAllHours)
			num.dirty = 0
		}
		e := &num.est // not a copy: this runs per numeric value
		sd := max(e.Sigma(), 0.05)
		z := math.Abs(y-e.Median) / sd
		// Only values above the range: below it sit the small ids, counts
		// and zeros that a log scale makes look far, and a latency that
		// falls is rarely the news.
		if y > e.Median && z >= o.Z && y > max(e.Max, num.longMax)+margin {
			name := ctSlotName(kind, idx, field)
			out = append(out, Anomaly{
				Type: TypeContent, Service: rec.Service, TemplateID: rec.TemplateID, Template: t.template,
				Score: blScore(z, o.Z), Confidence: blConfidence(len(num.ring.v), o.Window),
				Explanation: "template " + rec.TemplateID + " " + kind + " " + name + ": " + blNum(x) + s.unit + " where " +
					blNum(ctExp(e.Median)) + s.unit + " is usual (range " + blNum(ctExp(e.Min)) + "–" + blNum(ctExp(e.Max)) + s.unit +
					" over the last " + strconv.Itoa(e.N) + " values, z=" + blNum(z) + ")",
				Examples: []string{rec.Raw},
				Start:    rec.Time, End: rec.Time,
				Labels: telemetry.LabelsFromStrings("kind", "numeric", kind, name, "value", v),
			})
		}
	}
	num.ring.add(y)
	num.dirty++
	// Sub is positive exactly when rec.Time is after longAt: one time
	// operation where After and Sub made two.
	if dt := d.idle.sub(rec.Time, num.longAt); dt > 0 && !num.longAt.IsZero() {
		num.longMax -= math.Ln2 * float64(dt) / float64(ctLongMaxHalfLife)
	}
	num.longAt = rec.Time
	num.longMax = max(y, num.longMax)
	return out
}

func (d *ContentDetector) newValue(rec *telemetry.LogRecord, t *ctTemplate, s *ctSlot, v, kind, name string) Anomaly {
	usual := make([]string, 0, 3)
	for i, u := range s.vals {
		if i == 3 {
			usual = append(usual, "…")
			break
		}
		usual = append(usual, strconv.Quote(ctClip(u, 60)))
	}
	card := len(s.vals)
	score := 0.7 + 0.3*(1-float64(card-1)/float64(d.opts.MaxCardinality))
	return Anomaly{
		Type: TypeContent, Service: rec.Service, TemplateID: rec.TemplateID, Template: t.template,
		Score: math.Min(1, score), Confidence: blConfidence(s.n, 5*d.opts.MinCategorical),
		Explanation: "template " + rec.TemplateID + " " + kind + " " + name + ": new value " + strconv.Quote(ctClip(v, 80)) +
			" where " + blNum(float64(s.n-1)) + " earlier lines showed only " + strconv.Itoa(card) + " value(s): " + strings.Join(usual, ", "),
		Examples: []string{rec.Raw},
		Start:    rec.Time, End: rec.Time,
		Labels: telemetry.LabelsFromStrings("kind", "categorical", kind, name, "value", ctClip(v, 120)),
	}
}

// ctSlotName names a slot: field for a field, else the token or
// parameter index idx.
func ctSlotName(kind string, idx int, field string) string {
	if kind == "field" {
		return field
	}
	return strconv.Itoa(idx)
}

// ctLongMaxHalfLife is how fast the long maximum of a numeric slot
// forgets (on the value scale).
const ctLongMaxHalfLife = 24 * time.Hour

// ctSettled is the Good-Turing test: the chance that the next value is new
// is about the share of values seen only once; a slot still showing
// singletons is still being learned.
func ctSettled(counts []int, n int) bool {
	ones := 0
	for _, c := range counts {
		if c == 1 {
			ones++
		}
	}
	return float64(ones)/float64(n) < 0.005
}

func (d *ContentDetector) newShape(rec *telemetry.LogRecord, t *ctTemplate, s *ctSlot, v, kind, name string) Anomaly {
	usual := make([]string, 0, 3)
	for i, u := range s.shapeExamples {
		if i == 3 {
			usual = append(usual, "…")
			break
		}
		usual = append(usual, strconv.Quote(u))
	}
	card := len(s.shapes)
	score := 0.6 + 0.3*(1-float64(card-1)/float64(d.opts.MaxCardinality))
	return Anomaly{
		Type: TypeContent, Service: rec.Service, TemplateID: rec.TemplateID, Template: t.template,
		Score: math.Min(1, score), Confidence: blConfidence(s.shapeN, 5*d.opts.MinCategorical),
		Explanation: "template " + rec.TemplateID + " " + kind + " " + name + ": value of a new shape " + strconv.Quote(ctClip(v, 80)) +
			" where " + blNum(float64(s.shapeN-1)) + " earlier values had only " + strconv.Itoa(card) + " shape(s), like " + strings.Join(usual, ", "),
		Examples: []string{rec.Raw},
		Start:    rec.Time, End: rec.Time,
		Labels: telemetry.LabelsFromStrings("kind", "shape", kind, name, "value", ctClip(v, 120)),
	}
}
