// Package analyst is the copilot's offline analyst: it explains log lines
// and Kubernetes states from a hand-written knowledge base of failure
// signatures, with no LLM and no network, so every copilot feature keeps
// working air-gapped. It is also the baseline an LLM answer is checked
// against.
//
// Key invariant: Explain is deterministic and bounded. The same lines give
// the same report, and the report's size is bounded by Options whatever the
// input, so it is safe on hostile or huge logs.
package analyst

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/vigilops/vigil/logparse"
	"github.com/vigilops/vigil/telemetry"
)

// ErrInvalidOptions is returned by New for options out of range.
var ErrInvalidOptions = errors.New("invalid analyst options")

// Defaults.
const (
	DefaultMaxLines     = 200_000
	DefaultMaxLineBytes = 16 << 10
	DefaultMaxFindings  = 20
	DefaultFoldWindow   = 20
	DefaultMaxLineRefs  = 20
	// maxGroups bounds distinct (signature, entity) pairs, so that a log
	// with a new entity on every line cannot grow the work without bound;
	// past it, new entities share their signature's entity-less group.
	maxGroups = 512
	// maxExampleBytes bounds the example line quoted per finding.
	maxExampleBytes = 300
)

// Options configure an Analyst.
type Options struct {
	// MaxLines is how many lines Explain reads; the rest are ignored and
	// counted in Report.Skipped.
	MaxLines int
	// MaxLineBytes cuts longer lines before matching: signatures sit near
	// the start of a line, and the cut bounds the work per line.
	MaxLineBytes int
	// MaxFindings bounds the findings in a report (most important first).
	MaxFindings int
	// FoldWindow is how many lines apart a symptom (health check, retry,
	// 5xx, generic error) and a cause may be for the symptom to be told as
	// part of the cause's story.
	FoldWindow int
	// MaxLineRefs bounds the line numbers listed per finding.
	MaxLineRefs int
	Logger      *slog.Logger
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{
		MaxLines:     DefaultMaxLines,
		MaxLineBytes: DefaultMaxLineBytes,
		MaxFindings:  DefaultMaxFindings,
		FoldWindow:   DefaultFoldWindow,
		MaxLineRefs:  DefaultMaxLineRefs,
		Logger:       slog.New(slog.DiscardHandler),
	}
}

func (o *Options) validate() error {
	switch {
	case o.MaxLines < 1:
		return fmt.Errorf("%w: max lines %d is below 1", ErrInvalidOptions, o.MaxLines)
	case o.MaxLineBytes < 64:
		return fmt.Errorf("%w: max line bytes %d is below 64", ErrInvalidOptions, o.MaxLineBytes)
	case o.MaxFindings < 1:
		return fmt.Errorf("%w: max findings %d is below 1", ErrInvalidOptions, o.MaxFindings)
	case o.FoldWindow < 0:
		return fmt.Errorf("%w: fold window %d is negative", ErrInvalidOptions, o.FoldWindow)
	case o.MaxLineRefs < 1:
		return fmt.Errorf("%w: max line refs %d is below 1", ErrInvalidOptions, o.MaxLineRefs)
	case o.Logger == nil:
		return fmt.Errorf("%w: nil logger", ErrInvalidOptions)
	}
	return nil
}

// Analyst explains logs and states. It is safe for concurrent use: it holds
// only its options, an immutable knowledge base and a logparse.Parser
// without learning (which shares nothing between calls).
type Analyst struct {
	o      Options
	parser *logparse.Parser
}

// New returns an Analyst.
func New(o Options) (*Analyst, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	po := logparse.DefaultOptions()
	// Learning layouts keeps state between calls; an explanation must
	// depend on its lines only.
	po.AutoLearn = false
	po.MaxLineBytes = o.MaxLineBytes
	po.Logger = o.Logger
	p, err := logparse.New(po)
	if err != nil {
		return nil, fmt.Errorf("new parser: %w", err)
	}
	return &Analyst{o: o, parser: p}, nil
}

// Report is the analyst's answer.
type Report struct {
	// Summary is two to four plain sentences: the most likely cause and
	// what to check first.
	Summary string `json:"summary"`
	// Cause is the most likely cause in one sentence, or "" when nothing
	// was recognised.
	Cause    string    `json:"cause"`
	Findings []Finding `json:"findings"`
	// NextSteps are the checks to run first, most useful first.
	NextSteps []string `json:"next_steps"`
	// Confidence in Cause, from 0 to 1.
	Confidence float64 `json:"confidence"`
	// Lines is how many lines were read; Skipped how many were not
	// (past MaxLines); Omitted how many findings were left out (past
	// MaxFindings).
	Lines   int `json:"lines"`
	Skipped int `json:"skipped,omitempty"`
	Omitted int `json:"omitted,omitempty"`
}

// Finding is one failure signature seen in the lines, about one entity.
type Finding struct {
	Signature string `json:"signature"`
	Title     string `json:"title"`
	// Entity is what the failure is about: host:port, host, file path,
	// exception class, HTTP status, pod or image, when a line names it.
	Entity string `json:"entity,omitempty"`
	// Database names the engine when Entity is a database endpoint.
	Database string `json:"database,omitempty"`
	Count    int    `json:"count"`
	// FirstLine is the 1-based number of the first matching line; Lines
	// lists the first MaxLineRefs of them.
	FirstLine int    `json:"first_line"`
	Lines     []int  `json:"lines"`
	Example   string `json:"example"`
	// Cause is this finding's one-sentence cause.
	Cause       string   `json:"cause"`
	Explanation string   `json:"explanation"`
	Causes      []string `json:"causes"`
	Checks      []string `json:"checks"`
	Severity    Severity `json:"severity"`
	// Related are symptoms folded into this finding's story.
	Related []Related `json:"related,omitempty"`
}

// Related is a symptom told as part of another finding's story.
type Related struct {
	Signature string `json:"signature"`
	Title     string `json:"title"`
	Count     int    `json:"count"`
	FirstLine int    `json:"first_line"`
	Lines     []int  `json:"lines"`
}

// Signatures returns the knowledge base, in matching order, followed by
// the generic fallback. The result is a copy.
func Signatures() []Signature {
	out := make([]Signature, 0, len(knowledgeBase)+1)
	for _, s := range knowledgeBase {
		out = append(out, *s)
	}
	return append(out, sigGeneric)
}

// group collects the lines of one (signature, entity).
type group struct {
	sig     *Signature
	entity  string
	lines   []int // 1-based, ascending
	example string
	related []*group
	folded  bool
}

// Explain reads lines and tells what went wrong.
func (a *Analyst) Explain(lines []string) Report {
	n := min(len(lines), a.o.MaxLines)
	groups := map[string]*group{}
	var order []*group // groups in order of first appearance, for determinism
	var rec telemetry.LogRecord
	for i := 0; i < n; i++ {
		raw := lines[i]
		if len(raw) > a.o.MaxLineBytes {
			raw = raw[:a.o.MaxLineBytes]
		}
		if strings.TrimSpace(raw) == "" {
			continue
		}
		rec = telemetry.LogRecord{Raw: raw}
		a.parser.Parse(&rec, rec.Time)
		l := line{raw: raw, lower: strings.ToLower(raw), status: statusField(rec.Fields)}
		sig, entity, ok := classify(&l, rec.Level)
		if !ok {
			continue
		}
		key := sig.ID + "\x00" + strings.ToLower(entity)
		g := groups[key]
		if g == nil && len(groups) >= maxGroups {
			key, entity = sig.ID+"\x00", ""
			g = groups[key]
		}
		if g == nil {
			g = &group{sig: sig, entity: entity, example: cut(strings.TrimSpace(lines[i]), maxExampleBytes)}
			groups[key] = g
			order = append(order, g)
		}
		g.lines = append(g.lines, i+1)
	}
	order = mergeAnonymous(order)
	rep := a.report(order)
	rep.Lines, rep.Skipped = n, len(lines)-n
	return rep
}

// classify returns the signature a line tells of. The first cause that
// matches wins; a symptom only when no cause matches; the generic fallback
// only for lines that look like errors.
func classify(l *line, lvl telemetry.Level) (*Signature, string, bool) {
	var symptom *Signature
	var symptomEntity string
	for _, s := range knowledgeBase {
		e, ok := s.match(l)
		if !ok {
			continue
		}
		if !s.Symptom {
			return s, e, true
		}
		if symptom == nil {
			symptom, symptomEntity = s, e
		}
	}
	if symptom != nil {
		return symptom, symptomEntity, true
	}
	// An INFO line that mentions "error" is not an error; a line the
	// parser could not level is judged by its words.
	switch {
	case lvl >= telemetry.LevelError:
	case lvl == telemetry.LevelUnknown && anyWord(l.lower, genericPhrases):
	case lvl == telemetry.LevelUnknown && exceptionClass(l, 0) != "":
	default:
		return nil, "", false
	}
	return &sigGeneric, exceptionClass(l, 0), true
}

func anyWord(s string, phrases []string) bool {
	for _, p := range phrases {
		if wordIndex(s, p) >= 0 {
			return true
		}
	}
	return false
}

// statusField reads an HTTP status from the fields logparse extracted
// (access logs, JSON and logfmt lines).
func statusField(f map[string]string) int {
	for _, k := range []string{"status", "status_code", "statusCode", "http.status_code", "http_status"} {
		if v, ok := f[k]; ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 100 && n <= 599 {
				return n
			}
		}
	}
	return 0
}

// mergeAnonymous folds a signature's entity-less group into its only named
// group: multi-line errors often name the endpoint on one line only.
func mergeAnonymous(order []*group) []*group {
	named := map[string][]*group{}
	for _, g := range order {
		if g.entity != "" {
			named[g.sig.ID] = append(named[g.sig.ID], g)
		}
	}
	out := order[:0]
	for _, g := range order {
		if gs := named[g.sig.ID]; g.entity == "" && len(gs) == 1 {
			if g.lines[0] < gs[0].lines[0] {
				gs[0].example = g.example
			}
			gs[0].lines = mergeSorted(gs[0].lines, g.lines)
			continue
		}
		out = append(out, g)
	}
	return out
}

func mergeSorted(a, b []int) []int {
	out := make([]int, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		if j == len(b) || (i < len(a) && a[i] < b[j]) {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	return out
}

// cut shortens s to at most n bytes on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
