package logparse

import (
	"fmt"
	"strings"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// PatternSyntax describes the layout pattern language, for humans writing
// configuration and for the prompt of an LLM-backed PatternProposer.
const PatternSyntax = `A layout pattern describes the header of a log line.
%{time}          a timestamp in any common form (ISO 8601, RFC 3339, syslog "Jan _2 15:04:05", Apache, epoch)
%{time:LAYOUT}   a timestamp in a Go time layout, e.g. %{time:02.01.2006 15:04:05}
%{level}         a severity word (INFO, warn, E, ...)
%{message}       the rest of the line, the log message; must come last
%{name}          any other header part, kept as field "name" (letters, digits, _ . -)
%%               a literal percent sign
A run of spaces matches one or more spaces; every other character matches itself.
A part other than time or message ends where the text that follows it in the pattern begins.
Example: for "2024-10-10 13:55:36 | WARN | auth | login failed" answer
%{time} | %{level} | %{component} | %{message}`

// Layout origins.
const (
	OriginConfig    = "config"
	OriginHeuristic = "heuristic"
	OriginProposer  = "proposer"
)

// Layout is a compiled header pattern (see PatternSyntax). A Layout is
// immutable once compiled and safe for concurrent use.
type Layout struct {
	// Pattern is the source text.
	Pattern string
	// Origin says where the pattern came from: OriginConfig,
	// OriginHeuristic or OriginProposer.
	Origin string
	// Coverage is the fraction of learning samples the layout read, with a
	// parseable time; zero for configured layouts.
	Coverage float64

	elems []elem
}

type elemKind uint8

const (
	elLit elemKind = iota
	elSpace
	elCapture
)

type elem struct {
	kind   elemKind
	lit    string // elLit: the text; elCapture: the field name
	layout string // a %{time:LAYOUT}'s Go layout
}

// maxLayoutFields bounds the named parts of a pattern.
const maxLayoutFields = 16

// CompileLayout compiles a pattern written in the PatternSyntax language.
func CompileLayout(pattern string) (*Layout, error) {
	l := &Layout{Pattern: pattern, Origin: OriginConfig}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			l.elems = append(l.elems, elem{kind: elLit, lit: lit.String()})
			lit.Reset()
		}
	}
	captures := 0
	for i := 0; i < len(pattern); {
		c := pattern[i]
		switch {
		case c == ' ' || c == '\t':
			flush()
			for i < len(pattern) && (pattern[i] == ' ' || pattern[i] == '\t') {
				i++
			}
			l.elems = append(l.elems, elem{kind: elSpace})
		case c == '%' && strings.HasPrefix(pattern[i:], "%%"):
			lit.WriteByte('%')
			i += 2
		case c == '%' && strings.HasPrefix(pattern[i:], "%{"):
			end := strings.IndexByte(pattern[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("%w: unclosed %%{ at byte %d", ErrBadPattern, i)
			}
			name, arg, _ := strings.Cut(pattern[i+2:i+end], ":")
			name = canonicalCapture(name)
			if !validCaptureName(name) {
				return nil, fmt.Errorf("%w: bad part name %q", ErrBadPattern, name)
			}
			if arg != "" && name != "time" {
				return nil, fmt.Errorf("%w: only time takes a layout, not %q", ErrBadPattern, name)
			}
			flush()
			if n := len(l.elems); n > 0 && l.elems[n-1].kind == elCapture && l.elems[n-1].lit != "time" {
				return nil, fmt.Errorf("%w: %%{%s} directly follows another part; nothing tells where one ends", ErrBadPattern, name)
			}
			l.elems = append(l.elems, elem{kind: elCapture, lit: name, layout: arg})
			captures++
			i += end + 1
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	if captures == 0 {
		return nil, fmt.Errorf("%w: no %%{...} part", ErrBadPattern)
	}
	if captures > maxLayoutFields {
		return nil, fmt.Errorf("%w: more than %d parts", ErrBadPattern, maxLayoutFields)
	}
	seen := map[string]bool{}
	for k, e := range l.elems {
		if e.kind != elCapture {
			continue
		}
		if seen[e.lit] {
			return nil, fmt.Errorf("%w: %%{%s} appears twice", ErrBadPattern, e.lit)
		}
		seen[e.lit] = true
		if e.lit == "message" && k != len(l.elems)-1 {
			return nil, fmt.Errorf("%w: %%{message} must come last", ErrBadPattern)
		}
	}
	return l, nil
}

// canonicalCapture maps the names people (and models) use for the
// well-known parts to ours.
func canonicalCapture(n string) string {
	switch strings.ToLower(strings.TrimSpace(n)) {
	case "time", "timestamp", "ts", "date", "datetime":
		return "time"
	case "level", "severity", "lvl", "loglevel":
		return "level"
	case "message", "msg", "body", "rest":
		return "message"
	}
	return strings.TrimSpace(n)
}

func validCaptureName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !isAlpha(c) && !isDigit(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// layoutMatch is what a layout extracted from a line.
type layoutMatch struct {
	time    time.Time
	hasTime bool
	level   telemetry.Level
	message string
	fields  [maxLayoutFields]struct{ k, v string }
	nf      int
}

// match reads line with the layout.
func (l *Layout) match(line string, ref time.Time, loc *time.Location, m *layoutMatch) bool {
	i := 0
	for k := 0; k < len(l.elems); k++ {
		e := &l.elems[k]
		switch e.kind {
		case elLit:
			if !strings.HasPrefix(line[i:], e.lit) {
				return false
			}
			i += len(e.lit)
		case elSpace:
			j := i
			for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
				j++
			}
			lastBeforeMessage := k+2 == len(l.elems) && l.elems[k+1].lit == "message"
			if j == i && !lastBeforeMessage && j < len(line) {
				return false
			}
			i = j
		case elCapture:
			switch e.lit {
			case "message":
				m.message = line[i:]
				i = len(line)
			case "time":
				n, ok := l.matchTime(line, i, k, ref, loc, m)
				if !ok {
					return false
				}
				i += n
			default:
				end := l.captureEnd(line, i, k)
				if end <= i {
					return false
				}
				v := trimSpace(line[i:end])
				if e.lit == "level" {
					if m.level = layoutLevel(v); m.level == telemetry.LevelUnknown {
						return false
					}
				} else {
					m.fields[m.nf].k, m.fields[m.nf].v = e.lit, v
					m.nf++
				}
				i = end
			}
		}
	}
	if i < len(line) {
		m.message = line[i:]
	}
	return true
}

// captureEnd finds where a part starting at line[i:] ends: at the text the
// pattern has after it.
func (l *Layout) captureEnd(line string, i, k int) int {
	if k+1 >= len(l.elems) {
		return len(line)
	}
	switch next := &l.elems[k+1]; next.kind {
	case elLit:
		if j := strings.Index(line[i:], next.lit); j >= 0 {
			return i + j
		}
		return -1
	default: // elSpace
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		return j
	}
}

// matchTime reads a time at line[i:] and returns the bytes consumed.
func (l *Layout) matchTime(line string, i, k int, ref time.Time, loc *time.Location, m *layoutMatch) (int, bool) {
	e := &l.elems[k]
	if e.layout == "" {
		t, n, kind := learnTimePrefix(line[i:], ref, loc)
		if kind == tsNone {
			return 0, false
		}
		m.time, m.hasTime = t, true
		return n, true
	}
	// A Go layout may hold spaces; take as many words as it has, or stop
	// earlier where the pattern's next literal begins.
	words := strings.Count(e.layout, " ") + 1
	end := i
	for w := 0; w < words && end < len(line); w++ {
		for end < len(line) && line[end] == ' ' {
			end++
		}
		for end < len(line) && line[end] != ' ' {
			end++
		}
	}
	try := func(end int) bool {
		t, err := time.ParseInLocation(e.layout, line[i:end], loc)
		if err != nil {
			return false
		}
		m.time, m.hasTime = t.UTC(), true
		return true
	}
	if try(end) {
		return end - i, true
	}
	if k+1 < len(l.elems) && l.elems[k+1].kind == elLit {
		lit := l.elems[k+1].lit
		for from := i; from < end; {
			j := strings.Index(line[from:end], lit)
			if j < 0 {
				break
			}
			if try(from + j) {
				return from + j - i, true
			}
			from += j + 1
		}
	}
	return 0, false
}

// apply reads line into rec when the layout matches it.
func (l *Layout) apply(rec *telemetry.LogRecord, line string, ref time.Time, loc *time.Location) bool {
	var m layoutMatch
	if !l.match(line, ref, loc, &m) {
		return false
	}
	if m.hasTime && !m.time.IsZero() {
		rec.Time = m.time
	}
	rec.Level = m.level
	rec.Message = trimSpace(m.message)
	rec.Format = string(FormatLearned)
	rec.Fields = nil
	if m.nf > 0 {
		rec.Fields = make(map[string]string, m.nf)
		for _, f := range m.fields[:m.nf] {
			rec.Fields[f.k] = f.v
		}
	}
	return true
}

// coverage is the fraction of samples the layout reads with a time.
func (l *Layout) coverage(samples []string, loc *time.Location) float64 {
	if len(samples) == 0 {
		return 0
	}
	hits := 0
	for _, s := range samples {
		var m layoutMatch
		if l.match(trimSpace(s), detectRef, loc, &m) && m.hasTime {
			hits++
		}
	}
	return float64(hits) / float64(len(samples))
}
