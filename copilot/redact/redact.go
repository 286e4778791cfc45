// Package redact scrubs secrets and personal data from text before it leaves
// the process for an LLM, and maps the placeholders in the answer back to the
// real values locally.
//
// Key invariant: every value a scanner detects is replaced, in the text that is
// returned, by a placeholder such as <EMAIL_1> that is stable for the life of
// the Redactor (same value → same placeholder), and every placeholder the
// Redactor emits can be turned back into its value only by that Redactor.
// Nothing but the redacted text, kinds and counts is ever recorded.
package redact

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kind names a class of sensitive value; it is the stem of its placeholders.
type Kind string

// Kinds detected by the built-in scanners.
const (
	KindOpenAIKey    Kind = "OPENAI_KEY"
	KindAnthropicKey Kind = "ANTHROPIC_KEY"
	KindGitHubToken  Kind = "GITHUB_TOKEN"
	KindGitLabToken  Kind = "GITLAB_TOKEN"
	KindSlackToken   Kind = "SLACK_TOKEN"
	KindStripeKey    Kind = "STRIPE_KEY"
	KindGoogleAPIKey Kind = "GOOGLE_API_KEY"
	KindSendGridKey  Kind = "SENDGRID_KEY"
	KindTwilioKey    Kind = "TWILIO_KEY"
	KindNPMToken     Kind = "NPM_TOKEN"
	KindHFToken      Kind = "HF_TOKEN"
	KindAWSKey       Kind = "AWS_KEY"
	KindAWSSecret    Kind = "AWS_SECRET"
	KindJWT          Kind = "JWT"
	KindBearer       Kind = "BEARER"
	KindBasicAuth    Kind = "BASIC_AUTH"
	KindPrivateKey   Kind = "PRIVATE_KEY"
	KindPassword     Kind = "PASSWORD"
	KindSecret       Kind = "SECRET"
	KindToken        Kind = "TOKEN"
	KindAPIKey       Kind = "API_KEY"
	KindK8sSecret    Kind = "K8S_SECRET"
	KindEmail        Kind = "EMAIL"
	KindPhone        Kind = "PHONE"
	KindCard         Kind = "CARD"
	KindIP           Kind = "IP"
	KindName         Kind = "NAME"
)

// ErrInvalidOptions is wrapped by New when Options do not validate.
var ErrInvalidOptions = errors.New("invalid redact options")

// Pattern is an extra, site-specific detector.
type Pattern struct {
	// Kind is the placeholder stem; upper-case letters, digits and '_'.
	Kind Kind
	// Expr is an RE2 expression. When it has a capturing group only group 1
	// is replaced, so "emp_id=(\d+)" keeps "emp_id=" readable for the model.
	Expr string
}

// Options configure a Redactor.
type Options struct {
	// RedactIPs also replaces IPv4/IPv6 addresses. Off by default because
	// addresses are key evidence in ops logs and rarely personal there.
	RedactIPs bool
	// Names replaces values of name-like fields (user=, username, full_name,
	// customer, and person-looking values of name).
	Names bool
	// Patterns are extra detectors, run after the built-in ones.
	Patterns []Pattern
	// Record, when set, is called with a Record of every text that was
	// redacted for sending, after redaction. It must not block for long.
	Record func(Record)
	// LogSize bounds the in-memory log returned by Log; 0 keeps none.
	LogSize int
	// MinRecurrence is the shortest detected value whose other, undetected
	// occurrences in the same text are replaced too (a name seen once under
	// user= and again in free text). Shorter values would clobber common words.
	MinRecurrence int
	// Logger receives debug messages; never values.
	Logger *slog.Logger
}

// DefaultOptions returns the options Vigil uses: everything but IPs on.
func DefaultOptions() Options {
	return Options{
		Names:         true,
		LogSize:       1000,
		MinRecurrence: 4,
		Logger:        slog.Default(),
	}
}

func (o *Options) validate() error {
	if o.LogSize < 0 {
		return fmt.Errorf("%w: LogSize %d < 0", ErrInvalidOptions, o.LogSize)
	}
	if o.MinRecurrence < 1 {
		return fmt.Errorf("%w: MinRecurrence %d < 1", ErrInvalidOptions, o.MinRecurrence)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	for _, p := range o.Patterns {
		if !validKind(p.Kind) {
			return fmt.Errorf("%w: pattern kind %q: want [A-Z][A-Z0-9_]*", ErrInvalidOptions, p.Kind)
		}
		if _, err := regexp.Compile(p.Expr); err != nil {
			return fmt.Errorf("%w: pattern %s: %v", ErrInvalidOptions, p.Kind, err)
		}
	}
	return nil
}

func validKind(k Kind) bool {
	if k == "" || k[0] < 'A' || k[0] > 'Z' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Finding locates one replaced value in the input. It deliberately carries no
// value: callers that need it slice the input they still hold.
type Finding struct {
	Kind        Kind
	Placeholder string
	Start, End  int // byte offsets in the input text
}

// Record is the local trace of what was sent: the redacted text, never values.
type Record struct {
	Time   time.Time
	Text   string
	Counts map[Kind]int
}

// Redactor redacts texts and restores answers within one session. Its
// placeholders are meaningful only to itself. Safe for concurrent use.
type Redactor struct {
	opts    Options
	custom  []*regexp.Regexp
	customK []Kind

	mtx      sync.Mutex // mtx protects byValue, byHolder, counter and log.
	byValue  map[string]string
	byHolder map[string]string
	counter  map[Kind]int
	log      []Record // ring of at most opts.LogSize
	logNext  int
}

// New returns a Redactor for one session (one conversation with a model).
func New(opts Options) (*Redactor, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	r := &Redactor{
		opts:     opts,
		byValue:  map[string]string{},
		byHolder: map[string]string{},
		counter:  map[Kind]int{},
	}
	for _, p := range opts.Patterns {
		r.custom = append(r.custom, regexp.MustCompile(p.Expr))
		r.customK = append(r.customK, p.Kind)
	}
	return r, nil
}

// Redact is RedactAt with a zero time.
func (r *Redactor) Redact(text string) (string, []Finding) {
	return r.RedactAt(time.Time{}, text)
}

// RedactAt replaces every detected value in text by its placeholder, records
// the result as sent at time at, and returns it with the findings.
func (r *Redactor) RedactAt(at time.Time, text string) (string, []Finding) {
	out, fs := r.redact(text)
	r.record(at, out, fs)
	return out, fs
}

// redact does the work without recording, for callers that record the whole
// request body once (JSONMessages).
func (r *Redactor) redact(text string) (string, []Finding) {
	spans := r.detect(text)
	if len(spans) == 0 {
		return text, nil
	}
	fs := make([]Finding, len(spans))
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	r.mtx.Lock()
	for i, s := range spans {
		ph := r.placeholderLocked(s.kind, text[s.start:s.end], text)
		fs[i] = Finding{Kind: s.kind, Placeholder: ph, Start: s.start, End: s.end}
		b.WriteString(text[last:s.start])
		b.WriteString(ph)
		last = s.end
	}
	r.mtx.Unlock()
	b.WriteString(text[last:])
	return b.String(), fs
}

// placeholderLocked returns the session's placeholder for value, minting one
// that does not already occur literally in text: otherwise Restore would turn
// that literal into the value and the round trip would break.
func (r *Redactor) placeholderLocked(k Kind, value, text string) string {
	if ph, ok := r.byValue[value]; ok {
		return ph
	}
	for {
		r.counter[k]++
		ph := "<" + string(k) + "_" + strconv.Itoa(r.counter[k]) + ">"
		if strings.Contains(text, ph) {
			continue
		}
		r.byValue[value] = ph
		r.byHolder[ph] = value
		return ph
	}
}

func (r *Redactor) record(at time.Time, text string, fs []Finding) {
	if r.opts.Record == nil && r.opts.LogSize == 0 {
		return
	}
	rec := Record{Time: at, Text: text, Counts: map[Kind]int{}}
	for _, f := range fs {
		rec.Counts[f.Kind]++
	}
	if r.opts.LogSize > 0 {
		r.mtx.Lock()
		if len(r.log) < r.opts.LogSize {
			r.log = append(r.log, rec)
		} else {
			r.log[r.logNext] = rec
			r.logNext = (r.logNext + 1) % r.opts.LogSize
		}
		r.mtx.Unlock()
	}
	if r.opts.Record != nil {
		r.opts.Record(rec)
	}
}

// Log returns the recorded texts, oldest first.
func (r *Redactor) Log() []Record {
	r.mtx.Lock()
	defer r.mtx.Unlock()
	out := make([]Record, 0, len(r.log))
	out = append(out, r.log[r.logNext:]...)
	out = append(out, r.log[:r.logNext]...)
	return out
}

// Restore replaces this session's placeholders in text (typically a model's
// answer) with the real values. Unknown placeholder-like text is kept as is.
func (r *Redactor) Restore(text string) string {
	if strings.IndexByte(text, '<') < 0 {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	r.mtx.Lock()
	defer r.mtx.Unlock()
	for i := 0; i < len(text); {
		j := strings.IndexByte(text[i:], '<')
		if j < 0 {
			break
		}
		i += j
		end := placeholderEnd(text, i)
		if end < 0 {
			i++
			continue
		}
		if v, ok := r.byHolder[text[i:end]]; ok {
			b.WriteString(text[last:i])
			b.WriteString(v)
			last = end
		}
		i = end
	}
	b.WriteString(text[last:])
	return b.String()
}

// placeholderEnd returns the end of a <KIND_N> starting at i, or -1.
func placeholderEnd(s string, i int) int {
	j := i + 1
	for j < len(s) && j-i < 64 {
		c := s[j]
		switch {
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
			j++
			continue
		case c == '>' && j > i+1:
			return j + 1
		}
		return -1
	}
	return -1
}

// span is one detected value; prio breaks ties at the same start, lower wins.
type span struct {
	start, end int
	kind       Kind
	prio       int
}

// merge sorts spans and unions overlapping ones. Union rather than "first
// wins" so that a partial overlap can never leave the tail of a value behind.
func merge(spans []span) []span {
	if len(spans) < 2 {
		return spans
	}
	sort.Slice(spans, func(i, j int) bool {
		a, b := spans[i], spans[j]
		if a.start != b.start {
			return a.start < b.start
		}
		if a.prio != b.prio {
			return a.prio < b.prio
		}
		return a.end > b.end
	})
	out := spans[:1]
	for _, s := range spans[1:] {
		cur := &out[len(out)-1]
		if s.start < cur.end {
			if s.end > cur.end {
				cur.end = s.end
			}
			continue
		}
		out = append(out, s)
	}
	return out
}
