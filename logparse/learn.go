package logparse

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// Learning a header layout from sample lines. Each line is cut into tokens
// whose shape is kept (a time, a level word, a [bracketed] group, a word, a
// number, a punctuation mark, each with whether a space came before), and
// the header is the longest run of shapes that at least LearnThreshold of
// the lines share from their start. Words and numbers at the end of that
// run are taken for the start of the message (messages often begin with
// the same shape of word), so the header ends on punctuation, a group, a
// level or the time. The run must hold a time. The result is a pattern in
// the PatternSyntax language, checked against the samples like any other.

// PatternProposer proposes a header pattern (PatternSyntax) for sample lines
// the heuristic learner could not read, typically by asking an LLM. The
// proposal is validated before use, and asked for at most once per source.
type PatternProposer interface {
	ProposeHeaderPattern(ctx context.Context, samples []string) (string, error)
}

// PatternProposerFunc adapts a function to PatternProposer.
type PatternProposerFunc func(ctx context.Context, samples []string) (string, error)

// ProposeHeaderPattern calls f.
func (f PatternProposerFunc) ProposeHeaderPattern(ctx context.Context, samples []string) (string, error) {
	return f(ctx, samples)
}

// maxLearnTokens bounds how far into a line a header is looked for.
const maxLearnTokens = 16

type shapeKind byte

const (
	shTime   shapeKind = 'T'
	shLevel  shapeKind = 'L'
	shGroup  shapeKind = 'G'
	shWord   shapeKind = 'W'
	shNumber shapeKind = 'N'
	shPunct  shapeKind = 'P'
)

type shape struct {
	kind        shapeKind
	open, close byte // brackets around a time, level or group
	lit         byte // the punctuation mark
	space       bool // whitespace came before
}

var closers = map[byte]byte{'[': ']', '(': ')', '<': '>', '{': '}'}

func isWordByte(c byte) bool {
	return isAlpha(c) || isDigit(c) || c == '_' || c == '.' || c == '$' || c == '/' || c == '@' || c == '#' || c == '-'
}

// shapes tokenises the start of a line. wide[k] is set when token k is set
// off by a tab or two or more spaces, as aligned columns are.
func shapes(line string, loc *time.Location) (out []shape, wide []bool) {
	out = make([]shape, 0, maxLearnTokens)
	wide = make([]bool, 0, maxLearnTokens)
	hasTime := false
	i := 0
	for len(out) < maxLearnTokens && i < len(line) {
		var sh shape
		from := i
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
			sh.space = true
		}
		if i >= len(line) {
			break
		}
		wide = append(wide, i-from >= 2 || (i > from && line[i-1] == '\t'))
		c := line[i]
		if c == '-' && len(out) == 0 && (i+1 == len(line) || line[i+1] == ' ' || line[i+1] == '\t') {
			// A lone "-" where a line starts is an empty field (the
			// placeholder access logs and alert labels use), the same
			// column as a word in the lines where the field is set.
			sh.kind = shWord
			out = append(out, sh)
			i++
			continue
		}
		if !hasTime {
			// A bare time of day counts only at the start (logback's
			// default); later in a line it is more likely the time part of
			// a date this reader does not know, whose day would be lost.
			if _, n, kind := learnTimePrefix(line[i:], detectRef, loc); kind != tsNone && (kind != tsClock || i == 0) {
				sh.kind, hasTime = shTime, true
				out = append(out, sh)
				i += n
				continue
			}
		}
		if cl, ok := closers[c]; ok {
			lim := min(len(line), i+1+120)
			if end := strings.IndexByte(line[i+1:lim], cl); end >= 0 {
				inner := trimSpace(line[i+1 : i+1+end])
				sh.open, sh.close = c, cl
				switch {
				case !hasTime && timeWhole(inner, loc):
					sh.kind, hasTime = shTime, true
				case learnLevel(inner) != telemetry.LevelUnknown:
					sh.kind = shLevel
				default:
					sh.kind = shGroup
				}
				out = append(out, sh)
				i += end + 2
				continue
			}
		}
		if isWordByte(c) && c != '-' {
			j := i
			for j < len(line) && isWordByte(line[j]) {
				j++
			}
			switch w := line[i:j]; {
			case learnLevel(w) != telemetry.LevelUnknown:
				sh.kind = shLevel
			case allDigits(w):
				sh.kind = shNumber
			default:
				sh.kind = shWord
			}
			out = append(out, sh)
			i = j
			continue
		}
		sh.kind, sh.lit = shPunct, c
		out = append(out, sh)
		i++
	}
	return out, wide[:len(out)]
}

func timeWhole(s string, loc *time.Location) bool {
	_, n, kind := learnTimePrefix(s, detectRef, loc)
	return kind != tsNone && n == len(s)
}

// learnHeuristic finds a layout shared by at least threshold of the samples.
func learnHeuristic(samples []string, threshold float64, loc *time.Location) (*Layout, error) {
	need := int(math.Ceil(threshold * float64(len(samples))))
	toks := make([][]shape, len(samples))
	wides := make([][]bool, len(samples))
	cands := make([]int, 0, len(samples))
	for i, s := range samples {
		toks[i], wides[i] = shapes(trimSpace(s), loc)
		cands = append(cands, i)
	}
	var prefix []shape
	counts := map[shape]int{}
	for pos := 0; pos < maxLearnTokens; pos++ {
		clear(counts)
		for _, c := range cands {
			if pos < len(toks[c]) {
				counts[toks[c][pos]]++
			}
		}
		var best shape
		bestN := 0
		for sh, n := range counts {
			if n > bestN || (n == bestN && shapeLess(sh, best)) {
				best, bestN = sh, n
			}
		}
		if bestN < need {
			break
		}
		kept := cands[:0]
		for _, c := range cands {
			if pos < len(toks[c]) && toks[c][pos] == best {
				kept = append(kept, c)
			}
		}
		cands = kept
		prefix = append(prefix, best)
	}
	kept := prefix
	// Words and numbers at the end of the run are taken for the start of
	// the message (messages often begin with the same shape of word),
	// unless the message is set off from them by a column gap. Numbers
	// that directly follow the last punctuation-free header part (a time,
	// a level, a group) are given back: a bare number there is a header
	// field (a pid, a flag) far more often than the first word of most of
	// a source's messages.
	full := len(prefix)
	for len(prefix) > 0 {
		last := prefix[len(prefix)-1]
		if (last.kind != shWord && last.kind != shNumber) || gapAfter(wides, len(prefix)-1, need) {
			break
		}
		prefix = prefix[:len(prefix)-1]
	}
	if k := len(prefix); k > 0 && prefix[k-1].kind != shPunct {
		for k < full && kept[k].kind == shNumber {
			k++
		}
		prefix = kept[:k]
	}
	hasTime, informative := false, false
	for _, sh := range prefix {
		switch sh.kind {
		case shTime:
			hasTime = true
		case shLevel, shGroup, shWord, shNumber:
			informative = true
		}
	}
	if !hasTime {
		return nil, fmt.Errorf("%w: no timestamp shared by %d of %d lines", ErrNoLayout, need, len(samples))
	}
	if !informative {
		// "%{time} %{message}" is what the built-in detectors already do.
		return nil, fmt.Errorf("%w: the shared header is a bare timestamp", ErrNoLayout)
	}
	l, err := CompileLayout(patternOf(prefix))
	if err != nil {
		return nil, err
	}
	l.Origin = OriginHeuristic
	if l.Coverage = l.coverage(samples, loc); l.Coverage < threshold {
		return nil, fmt.Errorf("%w: %q reads %.0f%% of the samples", ErrNoLayout, l.Pattern, 100*l.Coverage)
	}
	return l, nil
}

// gapAfter reports whether at least need lines have a column gap after
// token k.
func gapAfter(wides [][]bool, k, need int) bool {
	n := 0
	for _, w := range wides {
		if k+1 < len(w) && w[k+1] {
			n++
		}
	}
	return n >= need
}

// shapeLess orders shapes so ties are broken the same way every run.
func shapeLess(a, b shape) bool {
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	if a.lit != b.lit {
		return a.lit < b.lit
	}
	if a.open != b.open {
		return a.open < b.open
	}
	return !a.space && b.space
}

// patternOf writes the pattern for a run of header shapes.
func patternOf(prefix []shape) string {
	var b strings.Builder
	named, component, pid := 0, false, false
	name := func(sh shape) string {
		named++
		switch {
		case sh.kind == shNumber && !pid:
			pid = true
			return "pid"
		case sh.kind != shNumber && !component:
			component = true
			return "component"
		}
		return "field" + strconv.Itoa(named)
	}
	for k, sh := range prefix {
		if sh.space && k > 0 {
			b.WriteByte(' ')
		}
		if sh.open != 0 {
			b.WriteByte(sh.open)
		}
		switch sh.kind {
		case shTime:
			b.WriteString("%{time}")
		case shLevel:
			b.WriteString("%{level}")
		case shGroup, shWord, shNumber:
			b.WriteString("%{" + name(sh) + "}")
		case shPunct:
			if sh.lit == '%' {
				b.WriteString("%%")
			} else {
				b.WriteByte(sh.lit)
			}
		}
		if sh.close != 0 {
			b.WriteByte(sh.close)
		}
	}
	b.WriteString(" %{message}")
	return b.String()
}

// Learn finds the header layout of a source from sample lines, first with
// the heuristic learner and, when that fails and a Proposer is set, by
// asking it. An accepted layout reads at least LearnThreshold of the samples
// with a parseable time; it is stored for the source and returned, and from
// then on Parse tries it first for that source's lines.
func (p *Parser) Learn(ctx context.Context, source string, samples []string) (*Layout, error) {
	if len(samples) < minLearnSamples {
		return nil, fmt.Errorf("learn %q: %w: %d, need %d", source, ErrTooFewSamples, len(samples), minLearnSamples)
	}
	l, herr := learnHeuristic(samples, p.o.LearnThreshold, p.o.Location)
	if herr == nil {
		p.SetLayout(source, l)
		p.o.Logger.Info("learned log header layout", "source", source, "pattern", l.Pattern, "origin", l.Origin, "coverage", l.Coverage)
		return l, nil
	}
	if p.o.Proposer == nil {
		return nil, fmt.Errorf("learn %q: %w", source, herr)
	}
	return p.propose(ctx, source, samples)
}

// propose asks the Proposer and validates its answer.
func (p *Parser) propose(ctx context.Context, source string, samples []string) (*Layout, error) {
	pat, err := p.o.Proposer.ProposeHeaderPattern(ctx, samples)
	if err != nil {
		return nil, fmt.Errorf("learn %q: propose header pattern: %w", source, err)
	}
	l, err := CompileLayout(cleanProposal(pat))
	if err != nil {
		return nil, fmt.Errorf("learn %q: proposed pattern: %w", source, err)
	}
	if !l.hasTime() {
		return nil, fmt.Errorf("learn %q: %w: proposed pattern %q has no %%{time}", source, ErrNoLayout, l.Pattern)
	}
	l.Origin = OriginProposer
	if l.Coverage = l.coverage(samples, p.o.Location); l.Coverage < p.o.LearnThreshold {
		return nil, fmt.Errorf("learn %q: %w: proposed pattern %q reads %.0f%% of the samples",
			source, ErrNoLayout, l.Pattern, 100*l.Coverage)
	}
	p.SetLayout(source, l)
	p.o.Logger.Info("learned log header layout", "source", source, "pattern", l.Pattern, "origin", l.Origin, "coverage", l.Coverage)
	return l, nil
}

func (l *Layout) hasTime() bool {
	for _, e := range l.elems {
		if e.kind == elCapture && e.lit == "time" {
			return true
		}
	}
	return false
}

// cleanProposal strips what models wrap answers in: code fences, quotes,
// a "pattern:" label, further lines of explanation.
func cleanProposal(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "```")
	if nl := strings.IndexByte(s, '\n'); nl >= 0 && !strings.Contains(s[:nl], "%{") {
		s = s[nl+1:] // the fence's language tag
	}
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, "%{") {
			s = line
			break
		}
	}
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "```"))
	if low := strings.ToLower(s); strings.HasPrefix(low, "pattern:") {
		s = strings.TrimSpace(s[len("pattern:"):])
	}
	if len(s) >= 2 && (s[0] == '`' || s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		s = s[1 : len(s)-1]
	}
	return s
}
