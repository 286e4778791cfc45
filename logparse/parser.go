package logparse

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigilops/vigil/telemetry"
)

// Parser detects the format of log lines and extracts their parts. It is
// safe for concurrent use: the per-line path shares nothing but the
// per-source table of learned layouts, which is read without locks.
type Parser struct {
	o Options
	// sources holds learned layouts and learning samples per source; it
	// has its own synchronisation.
	sources *sourceTable
}

// New returns a Parser.
func New(o Options) (*Parser, error) {
	o.fillDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	return &Parser{o: o, sources: newSourceTable(o.MaxSources)}, nil
}

// pass carries what one Parse call learns on its way down through container
// wrappers to the innermost line.
type pass struct {
	layout *Layout // the source's learned layout, tried before the detectors
	depth  int     // 1 inside a container wrapper
	body   string  // the innermost line, as a learning sample
	weak   bool    // the innermost line was not (or barely) understood
	done   bool    // body and weak are set
}

// Parse fills rec's Format, Level, Message and Fields from rec.Raw, and
// rec.Time when the line carries a timestamp (otherwise Time is left as the
// receiver set it). now is the reference for timestamps without a year or
// date; when zero, rec.Time is used, and when both are zero such
// timestamps are recognised but not converted. Parse never fails: a line it
// cannot read gets Format "plain" and Message = Raw trimmed.
//
// What the receiver already set is kept, since it came from the protocol
// beside the line (Loki structured metadata, OTLP severity and trace ids,
// an NDJSON message):
//   - Fields: the fields read from the line are added, and where both have
//     a key the receiver's value wins. The receiver's map is not written
//     to, so receivers may share one between records.
//   - Level: kept when the line yields none.
//   - Message: kept when the line is only a plain line.
//
// Format is always the parser's. A caller that reuses a record for another
// line must therefore clear Fields, Level and Message first.
func (p *Parser) Parse(rec *telemetry.LogRecord, now time.Time) {
	pre := presetOf(rec)
	rec.Format, rec.Level, rec.Message, rec.Fields = "", telemetry.LevelUnknown, "", nil
	ref := now
	if ref.IsZero() {
		ref = rec.Time
	}
	var ps pass
	key, keyed := "", false
	if p.sources.layouts.Load() > 0 {
		key, keyed = p.o.SourceKey(rec), true
		if st := p.sources.get(key); st != nil {
			ps.layout = st.layout.Load()
		}
	}
	p.parseBody(rec, rec.Raw, ref, &ps)
	if p.o.AutoLearn && ps.weak && ps.layout == nil {
		if !keyed {
			key = p.o.SourceKey(rec)
		}
		p.observe(key, ps.body)
	}
	pre.keep(rec)
}

// preset is what a receiver set on a record before it was parsed.
type preset struct {
	fields  map[string]string
	level   telemetry.Level
	message string
}

func presetOf(rec *telemetry.LogRecord) preset {
	return preset{fields: rec.Fields, level: rec.Level, message: rec.Message}
}

// keep puts back into a parsed record what the receiver set, as Parse
// documents. The parsed Fields map is always new, so it is the one
// written to.
func (pre preset) keep(rec *telemetry.LogRecord) {
	switch {
	case pre.fields == nil:
	case rec.Fields == nil:
		rec.Fields = pre.fields
	default:
		for k, v := range pre.fields {
			rec.Fields[k] = v
		}
	}
	if rec.Level == telemetry.LevelUnknown {
		rec.Level = pre.level
	}
	if pre.message != "" && rec.Format == string(FormatPlain) {
		rec.Message = pre.message
	}
}

// parseUnwrapped parses the content of a container line that the Joiner
// glued from pieces, as Parse would have parsed the whole line (keeping
// what the receiver set, too).
func (p *Parser) parseUnwrapped(rec *telemetry.LogRecord, c containerLine, now time.Time) {
	pre := presetOf(rec)
	rec.Format, rec.Level, rec.Message, rec.Fields = "", telemetry.LevelUnknown, "", nil
	ref := now
	if ref.IsZero() {
		ref = rec.Time
	}
	var ps pass
	if p.sources.layouts.Load() > 0 {
		if st := p.sources.get(p.o.SourceKey(rec)); st != nil {
			ps.layout = st.layout.Load()
		}
	}
	p.parseContainerInner(rec, c, ref, &ps)
	pre.keep(rec)
}

// parseBody parses one line, falling back to plain.
func (p *Parser) parseBody(rec *telemetry.LogRecord, s string, ref time.Time, ps *pass) {
	if len(s) > p.o.MaxLineBytes {
		p.plain(rec, trimSpace(strings.ToValidUTF8(cutUTF8(s, p.o.MaxLineBytes), "\uFFFD")))
		return
	}
	if !utf8.ValidString(s) {
		p.plain(rec, trimSpace(strings.ToValidUTF8(s, "\uFFFD")))
		return
	}
	line := trimSpace(s)
	if line == "" || strings.IndexByte(line, 0) >= 0 {
		p.plain(rec, line)
		return
	}
	// A configured layout is the user's word and goes first; a learned one
	// only fills in where the detectors read a line poorly, since it was
	// learned from exactly such lines. Either applies to the application's
	// line, never to a container wrapper around it.
	var lay *Layout
	if ps != nil && ps.layout != nil && !(ps.depth == 0 && p.isContainerLine(line)) {
		lay = ps.layout
	}
	if lay != nil && lay.Origin == OriginConfig && lay.apply(rec, line, ref, p.o.Location) {
		return
	}
	if !p.parseLine(rec, line, ref, ps) {
		p.plain(rec, line)
	}
	if ps != nil && ps.done {
		return // a wrapped line was parsed, and judged, further down
	}
	weak := rec.Format == string(FormatPlain) ||
		(rec.Format == string(FormatHeader) && rec.Level == telemetry.LevelUnknown)
	if weak && lay != nil && lay.Origin != OriginConfig && lay.apply(rec, line, ref, p.o.Location) {
		weak = false
	}
	if ps != nil {
		ps.body, ps.weak, ps.done = line, weak, true
	}
}

// isContainerLine is a cheap look at whether a line is a container
// wrapper, for the (rare) sources with a layout.
func (p *Parser) isContainerLine(line string) bool {
	if strings.HasPrefix(line, `{"log":`) {
		return true
	}
	_, ok := criParts(line, p.o.Location)
	return ok
}

func (p *Parser) plain(rec *telemetry.LogRecord, msg string) {
	rec.Format = string(FormatPlain)
	rec.Message = msg
}

// cutUTF8 cuts s to at most n bytes without splitting a rune.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for k := 0; k < utf8.UTFMax && n > 0 && !utf8.RuneStart(s[n]); k++ {
		n--
	}
	return s[:n]
}

// parseLine dispatches on the first byte: formats start differently enough
// that at most two or three detectors ever look at a line.
func (p *Parser) parseLine(rec *telemetry.LogRecord, line string, ref time.Time, ps *pass) bool {
	outer := ps != nil && ps.depth == 0
	switch c := line[0]; {
	case c == '{':
		return p.parseJSON(rec, line, ref, ps)
	case c == '<':
		return p.parseSyslog(rec, line, ref)
	case c == '[':
		return p.parseHeader(rec, line, ref)
	case isDigit(c):
		if outer {
			if cl, ok := criParts(line, p.o.Location); ok {
				p.parseContainerInner(rec, cl, ref, ps)
				return true
			}
		}
		return p.parseHeader(rec, line, ref) || p.parseAccess(rec, line, ref) || p.parseRedis(rec, line, ref)
	case isAlpha(c) || c == '_' || c == '@':
		if (c == 'I' || c == 'W' || c == 'E' || c == 'F') && len(line) > 5 && isDigit(line[1]) {
			if p.parseKlog(rec, line, ref) {
				return true
			}
		}
		if looksLogfmt(line) && p.parseLogfmt(rec, line, ref) {
			return true
		}
		if _, ok := monthAt(line, 0); ok && len(line) > 3 && line[3] == ' ' {
			if p.parse3164(rec, -1, line, ref) {
				return true
			}
		}
		return p.parsePythonBasic(rec, line) || p.parseHeader(rec, line, ref) || p.parseAccess(rec, line, ref)
	case c == ':':
		return p.parseAccess(rec, line, ref) // IPv6 client, "::1 - - [..."
	}
	return false
}

// detectRef stands in for "now" where there is none: in Detect, and when a
// layout is checked against samples, where a yearless timestamp must become
// a time to count. A leap year, so that Feb 29 is read.
var detectRef = time.Date(2000, time.July, 1, 0, 0, 0, 0, time.UTC)

var detectParser, _ = New(Options{AutoLearn: false})

// Detect reports the format of one line: the outermost layer, so a CRI or
// Docker container line is FormatCRI or FormatDocker whatever it wraps.
// It does the work of a full parse; on the hot path use Parser.Parse,
// which yields the format along with everything else.
func Detect(line string) Format {
	rec := telemetry.LogRecord{Raw: line}
	var ps pass
	detectParser.parseBody(&rec, line, detectRef, &ps)
	if rt := rec.Fields[FieldContainerRuntime]; rt != "" {
		return Format(rt)
	}
	return Format(rec.Format)
}
