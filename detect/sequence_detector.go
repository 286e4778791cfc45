package detect

import (
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// SequenceDetectorOptions configures a SequenceDetector. Start from
// DefaultSequenceDetectorOptions.
type SequenceDetectorOptions struct {
	// Model configures the sequence model learned online.
	Model SequenceOptions
	// SessionKey names the session a record belongs to; "" leaves the
	// record out. Nil means DefaultSessionKey.
	SessionKey func(*telemetry.LogRecord) string
	// IdleTimeout closes a session that has logged nothing for this long
	// (evaluation time); its end is then judged and, if it was normal, it
	// is learned.
	IdleTimeout time.Duration
	// Warmup is how many sessions are learned before any is judged.
	Warmup int
	// Saturation: judging also waits until this many sessions in a row
	// have been learned without a transition never seen before (the
	// transition table has stopped growing). Once judging starts it
	// stays on.
	Saturation int
	// MaxSessions bounds the open sessions; records of new sessions beyond
	// it are left out until some close.
	MaxSessions int
	// MaxSessionEvents bounds the events kept per session; a longer session
	// is still judged event by event but neither end-checked nor learned.
	MaxSessionEvents int
	// ReorderWindow: two consecutive lines of a session at most this far
	// apart in time carry no reliable order. Threads of one process,
	// buffered writers and a collector merging streams shuffle lines
	// written within a scheduler quantum (1–10 ms) of each other, and
	// lines with one timestamp have no order at all. When such a pair
	// comes in an order never learned while the swapped order is normal,
	// the session is taken in the swapped order instead of reported. 0
	// forgives only equal timestamps.
	ReorderWindow time.Duration
	// Logger receives dropped sessions at debug level.
	Logger *slog.Logger
}

// DefaultSequenceDetectorOptions returns the one configuration used for
// every source. Warmup 1,000 sessions is ten times the model's
// MinSupport, so the common histories are trusted when judging starts.
func DefaultSequenceDetectorOptions() SequenceDetectorOptions {
	return SequenceDetectorOptions{
		Model:            DefaultSequenceOptions(),
		IdleTimeout:      5 * time.Minute,
		Warmup:           1000,
		Saturation:       3000,
		MaxSessions:      100000,
		MaxSessionEvents: 10000,
		ReorderWindow:    10 * time.Millisecond,
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func (o *SequenceDetectorOptions) validate() error {
	if err := o.Model.validate(); err != nil {
		return err
	}
	switch {
	case o.IdleTimeout <= 0:
		return fmt.Errorf("%w: IdleTimeout %v <= 0", ErrInvalidSequenceOptions, o.IdleTimeout)
	case o.Saturation < 0:
		return fmt.Errorf("%w: Saturation %d < 0", ErrInvalidSequenceOptions, o.Saturation)
	case o.Warmup < 0:
		return fmt.Errorf("%w: Warmup %d < 0", ErrInvalidSequenceOptions, o.Warmup)
	case o.MaxSessions < 1:
		return fmt.Errorf("%w: MaxSessions %d < 1", ErrInvalidSequenceOptions, o.MaxSessions)
	case o.MaxSessionEvents < 1:
		return fmt.Errorf("%w: MaxSessionEvents %d < 1", ErrInvalidSequenceOptions, o.MaxSessionEvents)
	case o.ReorderWindow < 0:
		return fmt.Errorf("%w: ReorderWindow %v < 0", ErrInvalidSequenceOptions, o.ReorderWindow)
	}
	if o.SessionKey == nil {
		o.SessionKey = DefaultSessionKey
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

// sessionFields are the record fields that name a session, by preference.
var sessionFields = [...]string{"trace_id", "request_id", "block_id", "user_id"}

// DefaultSessionKey names a record's session by the first of its fields
// trace_id, request_id, block_id, user_id that is set, else by the first
// HDFS block id (blk_<digits>, maybe negative) in its message.
func DefaultSessionKey(rec *telemetry.LogRecord) string {
	for _, f := range sessionFields {
		if v := rec.Fields[f]; v != "" {
			return v
		}
	}
	msg := rec.Message
	if msg == "" {
		msg = rec.Raw
	}
	return blockID(msg)
}

// blockID returns the first blk_<digits> token of s, or "".
func blockID(s string) string {
	for i := 0; i+4 < len(s); i++ {
		if s[i] != 'b' || s[i+1] != 'l' || s[i+2] != 'k' || s[i+3] != '_' {
			continue
		}
		if i > 0 && isWordByte(s[i-1]) {
			continue
		}
		j := i + 4
		if j < len(s) && s[j] == '-' {
			j++
		}
		k := j
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k > j && (k == len(s) || !isWordByte(s[k])) {
			return s[i:k]
		}
	}
	return ""
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// openSession is a session still logging.
type openSession struct {
	service, key string
	events       []string
	truncated    bool // events hit MaxSessionEvents
	flagged      bool // an anomaly was reported; never learned from
	first, last  time.Time
	lastEvent    time.Time // time of the last event appended
	example      string
}

// SequenceDetector finds sessions whose events come in an order, or end
// in a state, unlike the sessions it has seen complete normally. It learns
// online: every session that closes (after IdleTimeout without a record)
// without an anomaly trains its SequenceModel; after Warmup sessions it
// judges each event as it arrives and each session's end as it closes.
// Two lines of a session within ReorderWindow of each other are taken in
// whichever order the model knows: their logged order means nothing.
type SequenceDetector struct {
	opts  SequenceDetectorOptions
	model *SequenceModel

	// mtx protects sessions and dropped.
	mtx      sync.Mutex
	sessions map[string]*openSession // by service + "\x00" + key
	dropped  int
	warm     bool // Warmup and Saturation reached
}

var _ LogDetector = (*SequenceDetector)(nil)

// NewSequenceDetector returns a detector with an untrained model.
func NewSequenceDetector(o SequenceDetectorOptions) (*SequenceDetector, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	return &SequenceDetector{
		opts:     o,
		model:    NewSequenceModel(o.Model),
		sessions: make(map[string]*openSession),
	}, nil
}

// Name implements LogDetector.
func (d *SequenceDetector) Name() string { return "sequence" }

// Model returns the detector's model, e.g. to inspect its invariants.
func (d *SequenceDetector) Model() *SequenceModel { return d.model }

// Observe implements LogDetector: it appends the record's template to its
// session and judges the transition once warmed up. Each session reports
// at most one anomaly.
func (d *SequenceDetector) Observe(rec *telemetry.LogRecord) []Anomaly {
	if rec == nil || rec.TemplateID == "" {
		return nil
	}
	key := d.opts.SessionKey(rec)
	if key == "" {
		return nil
	}
	d.mtx.Lock()
	defer d.mtx.Unlock()
	id := rec.Service + "\x00" + key
	s := d.sessions[id]
	if s == nil {
		if len(d.sessions) >= d.opts.MaxSessions {
			d.dropped++
			d.opts.Logger.Debug("sequence: too many open sessions, record left out",
				"session", key, "max", d.opts.MaxSessions, "dropped", d.dropped)
			return nil
		}
		s = &openSession{service: rec.Service, key: key, first: rec.Time}
		d.sessions[id] = s
	}
	if rec.Time.After(s.last) {
		s.last = rec.Time
	}
	n := len(s.events)
	prevAt := s.lastEvent
	if n < d.opts.MaxSessionEvents {
		s.events = append(s.events, rec.TemplateID)
		s.lastEvent = rec.Time
	} else {
		s.truncated = true
	}
	if s.flagged || !d.warmNow() {
		return nil
	}
	h := d.opts.Model.History
	var hist []string
	if s.truncated {
		hist = s.events[max(0, len(s.events)-h):]
	} else {
		hist = s.events[max(0, n-h):n]
	}
	fromStart := !s.truncated && n <= h
	v, reason := d.model.checkNext(hist, fromStart, rec.TemplateID)
	if !v.anomalous {
		return nil
	}
	if !s.truncated && n > 0 && lsAbs(rec.Time.Sub(prevAt)) <= d.opts.ReorderWindow && d.swappedNormal(s.events, n) {
		// Keep the learned order, so that the next events and the
		// session's end are judged, and the session learned, in it.
		s.events[n-1], s.events[n] = s.events[n], s.events[n-1]
		return nil
	}
	s.flagged = true
	return []Anomaly{d.anomaly(s, rec.TemplateID, v.score, reason, rec.Raw, rec.Time)}
}

// Tick implements LogDetector: it closes sessions idle for IdleTimeout,
// judges their end and count invariants, and learns from those found
// normal. Anomalies come sorted by session.
func (d *SequenceDetector) Tick(now time.Time) []Anomaly {
	d.mtx.Lock()
	defer d.mtx.Unlock()
	var closed []*openSession
	for id, s := range d.sessions {
		if now.Sub(s.last) >= d.opts.IdleTimeout {
			closed = append(closed, s)
			delete(d.sessions, id)
		}
	}
	sort.Slice(closed, func(i, j int) bool {
		if closed[i].service != closed[j].service {
			return closed[i].service < closed[j].service
		}
		return closed[i].key < closed[j].key
	})
	var out []Anomaly
	for _, s := range closed {
		if s.truncated {
			continue
		}
		if s.flagged {
			// Reported once, then learned: a transition that recurs is a
			// new normal, not an anomaly per session forever after.
			d.model.Train(s.events)
			continue
		}
		if d.warmNow() {
			if r := d.model.scoreKnown(s.events); r.Anomalous {
				tid := ""
				if r.Position < len(s.events) {
					tid = s.events[r.Position]
				}
				out = append(out, d.anomaly(s, tid, r.Score, r.Reason, "", s.last))
				d.model.Train(s.events) // reported once, then learned
				continue
			}
		}
		d.model.Train(s.events)
	}
	return out
}

// swappedNormal reports whether events, with its events n-1 and n (the
// last) swapped, is normal at both positions. The caller holds mtx.
func (d *SequenceDetector) swappedNormal(events []string, n int) bool {
	h := d.opts.Model.History
	sw := make([]string, 0, h+2)
	sw = append(sw, events[max(0, n-1-h):n-1]...)
	sw = append(sw, events[n], events[n-1])
	// sw holds up to h events of history, then the swapped pair; it
	// starts at the session's start when n-1 <= h.
	off := max(0, n-1-h) // index in events of sw[0]
	for i := len(sw) - 2; i < len(sw); i++ {
		hist := sw[max(0, i-h):i]
		fromStart := off == 0 && i <= h
		if v, _ := d.model.checkNext(hist, fromStart, sw[i]); v.anomalous {
			return false
		}
	}
	return true
}

// warmNow reports whether judging has started: Warmup sessions learned
// and the last Saturation of them brought no new transition. The caller
// holds mtx.
func (d *SequenceDetector) warmNow() bool {
	if !d.warm && d.model.Sessions() >= d.opts.Warmup && d.model.SinceNovel() >= d.opts.Saturation {
		d.warm = true
	}
	return d.warm
}

// scoreKnown is Score for the online detector: an event whose key the
// model has never learned is not itself a deviation (the new-pattern
// detector reports templates never seen), and it stays out of the count
// invariants; the transitions around it are judged by the histories the
// model knows. A session whose only oddity is a brand-new event is thus
// normal, and learning it teaches the model the new event.
func (m *SequenceModel) scoreKnown(seq []string) SequenceResult {
	return m.score(seq, true)
}

func (d *SequenceDetector) anomaly(s *openSession, templateID string, score float64, reason, example string, end time.Time) Anomaly {
	n := d.model.Sessions()
	a := Anomaly{
		Type:        TypeSequence,
		Service:     s.service,
		TemplateID:  templateID,
		Score:       score,
		Confidence:  float64(n) / float64(n+max(d.opts.Warmup, 1)),
		Explanation: fmt.Sprintf("session %s, after %d events: %s", s.key, len(s.events), reason),
		Start:       s.first,
		End:         end,
		Labels:      telemetry.LabelsFromStrings("session", s.key),
	}
	if example != "" {
		a.Examples = []string{example}
	}
	return a
}

// checkNext judges one event given the last events of its session;
// fromStart says hist begins at the session's start.
func (m *SequenceModel) checkNext(hist []string, fromStart bool, next string) (verdict, string) {
	m.mtx.RLock()
	defer m.mtx.RUnlock()
	toks := make([]int32, 0, len(hist)+2)
	if fromStart {
		toks = append(toks, tokBegin)
	}
	toks = m.tokens(toks, hist)
	id, ok := m.ids[next]
	if !ok {
		// A template never learned is the new-pattern detector's finding,
		// not a sequence anomaly; the session is judged on the rest.
		return verdict{}, ""
	}
	toks = append(toks, id)
	v := m.confirm(toks, len(toks)-1, m.judge(toks, len(toks)-1))
	if !v.anomalous {
		return v, ""
	}
	return v, m.explain(toks, len(toks)-1, v)
}
