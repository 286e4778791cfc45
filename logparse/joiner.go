package logparse

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// Joiner defaults.
const (
	DefaultJoinMaxLines = 500
	DefaultJoinMaxBytes = 64 << 10
	DefaultJoinTimeout  = 2 * time.Second
)

// JoinOptions configure a Joiner.
type JoinOptions struct {
	// Parser parses pushed records whose Format is empty, and the lines
	// glued from container pieces. Default: a Parser with DefaultOptions.
	Parser *Parser
	// MaxLines and MaxBytes bound one joined entry. Lines past the bound
	// are dropped (and counted in Fields["dropped_lines"]) rather than
	// split into entries of their own: a frame is noise without its head.
	MaxLines int
	MaxBytes int
	// Timeout is how long an entry waits for more lines once its last line
	// arrived; Flush emits entries older than that.
	Timeout time.Duration
}

// DefaultJoinOptions returns the defaults.
func DefaultJoinOptions() JoinOptions {
	return JoinOptions{MaxLines: DefaultJoinMaxLines, MaxBytes: DefaultJoinMaxBytes, Timeout: DefaultJoinTimeout}
}

func (o *JoinOptions) fillDefaults() error {
	d := DefaultJoinOptions()
	if o.MaxLines == 0 {
		o.MaxLines = d.MaxLines
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = d.MaxBytes
	}
	if o.Timeout == 0 {
		o.Timeout = d.Timeout
	}
	if o.Parser == nil {
		p, err := New(DefaultOptions())
		if err != nil {
			return err
		}
		o.Parser = p
	}
	return nil
}

func (o *JoinOptions) validate() error {
	switch {
	case o.MaxLines < 1:
		return fmt.Errorf("%w: join max lines %d is below 1", ErrInvalidOptions, o.MaxLines)
	case o.MaxBytes < 64:
		return fmt.Errorf("%w: join max bytes %d is below 64", ErrInvalidOptions, o.MaxBytes)
	case o.Timeout < 0:
		return fmt.Errorf("%w: join timeout %v is negative", ErrInvalidOptions, o.Timeout)
	}
	return nil
}

// Joiner glues multi-line entries of one stream back together: Java,
// Python and Go stack traces and indented continuation lines onto the line
// that started them, and container pieces (CRI "P" lines, Docker lines
// without a newline) onto the line that completes them. Every line is held
// until the next one shows whether it continues, or until Flush finds it
// older than Timeout.
//
// A Joiner keeps the state of one stream and is not safe for concurrent
// use. Time is passed in, never read from the clock.
type Joiner struct {
	o   JoinOptions
	cur *entry // the entry being built, nil when none
	// partials holds container pieces per stream (stdout, stderr): the
	// runtime interleaves the two.
	partials map[string]*pieces
}

// NewJoiner returns a Joiner.
func NewJoiner(o JoinOptions) (*Joiner, error) {
	if err := o.fillDefaults(); err != nil {
		return nil, err
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	return &Joiner{o: o, partials: map[string]*pieces{}}, nil
}

// entry is a head record and the lines that continue it.
type entry struct {
	head    telemetry.LogRecord
	headTxt string
	raws    []string // Raw of each continuation line
	stack   []string // text of each continuation line (container wrapper removed)
	lines   int
	bytes   int
	dropped int
	kind    stackKind
	last    time.Time
	excType string
	excMsg  string
	pyLast  string // the latest Python exception line: the one that propagated
}

// pieces are the container pieces of one unfinished line.
type pieces struct {
	first telemetry.LogRecord
	pre   preset // what the receiver set on the first piece
	meta  containerLine
	raws  []string
	inner strings.Builder
	last  time.Time
}

// Push adds a record and returns the records completed by it (and by
// Timeout), oldest first. Records with an empty Format are parsed first.
func (j *Joiner) Push(rec telemetry.LogRecord, now time.Time) []telemetry.LogRecord {
	out := j.expire(now, nil, false)
	var pre preset
	if rec.Format == "" {
		pre = presetOf(&rec)
		j.o.Parser.Parse(&rec, now)
	}
	text := rec.Raw
	if rec.Fields[FieldContainerRuntime] != "" {
		if c, ok := j.o.Parser.unwrapContainer(rec.Raw); ok {
			var done bool
			if rec, text, done = j.piece(rec, pre, c, now); !done {
				return out
			}
		}
	}
	return j.line(rec, strings.TrimRight(text, "\r\n"), now, out)
}

// piece handles one container line: a partial one is held, a final one
// completes its held pieces. It returns the whole line's record and text,
// and done = false while pieces are held. pre is what the receiver set on
// rec, when Push parsed it.
func (j *Joiner) piece(rec telemetry.LogRecord, pre preset, c containerLine, now time.Time) (telemetry.LogRecord, string, bool) {
	pc := j.partials[c.stream]
	if c.partial {
		if pc == nil {
			pc = &pieces{first: rec, pre: pre, meta: c}
			j.partials[c.stream] = pc
		}
		pc.raws = append(pc.raws, rec.Raw)
		pc.inner.WriteString(c.inner)
		pc.last = now
		if pc.inner.Len() < j.o.MaxBytes && len(pc.raws) < j.o.MaxLines {
			return rec, "", false
		}
		rec, text := j.finishPieces(c.stream, now)
		return rec, text, true
	}
	if pc == nil {
		return rec, c.inner, true
	}
	pc.raws = append(pc.raws, rec.Raw)
	pc.inner.WriteString(c.inner)
	rec, text := j.finishPieces(c.stream, now)
	return rec, text, true
}

// finishPieces parses the glued line of a stream's pieces and returns it
// with its text.
func (j *Joiner) finishPieces(stream string, now time.Time) (telemetry.LogRecord, string) {
	pc := j.partials[stream]
	delete(j.partials, stream)
	rec := telemetry.LogRecord{
		Time:    pc.first.Time,
		Service: pc.first.Service,
		Labels:  pc.first.Labels,
		Raw:     strings.Join(pc.raws, "\n"),
		Fields:  pc.pre.fields,
		Level:   pc.pre.level,
		Message: pc.pre.message,
	}
	meta := pc.meta
	meta.inner, meta.partial = pc.inner.String(), false
	j.o.Parser.parseUnwrapped(&rec, meta, now)
	return rec, meta.inner
}

// line runs the multi-line logic on a whole line.
func (j *Joiner) line(rec telemetry.LogRecord, text string, now time.Time, out []telemetry.LogRecord) []telemetry.LogRecord {
	// Only lines nothing could be read from continue an entry, and
	// indented ones, whatever a detector made of their trimmed text.
	indented := text != "" && (text[0] == ' ' || text[0] == '\t')
	if e := j.cur; e != nil && (rec.Format == string(FormatPlain) || indented) {
		if k, ok := continues(text, e.kind); ok && (indented || e.kind != stackNone || k == stackNone || errorish(e.head.Level)) {
			j.add(e, rec.Raw, text, k, now)
			return out
		}
	}
	if j.cur != nil {
		out = append(out, j.cur.record())
	}
	j.cur = &entry{head: rec, headTxt: text, kind: stackHead(text), lines: 1, bytes: len(rec.Raw), last: now}
	if typ, msg, ok := exceptionOf(text, j.cur.kind); ok {
		j.cur.excType, j.cur.excMsg = typ, msg
	}
	return out
}

// errorish tells whether a head may own a stack trace that starts on the
// next, unindented line. An INFO line followed by "Traceback ..." is more
// likely an unrelated crash printed to stderr than the INFO's own trace.
func errorish(l telemetry.Level) bool {
	return l == telemetry.LevelUnknown || l >= telemetry.LevelWarn
}

func (j *Joiner) add(e *entry, raw, text string, k stackKind, now time.Time) {
	switch {
	case e.kind == stackPython && k == stackPythonEnd:
		// The exception line; in a chain the last one is what propagated.
		if typ, msg, ok := exceptionOf(text, k); ok {
			e.excType, e.excMsg, e.pyLast = typ, msg, text
		}
	case e.excType == "" && k == stackJava:
		if typ, msg, ok := exceptionOf(text, k); ok {
			e.excType, e.excMsg = typ, msg
		}
	}
	e.kind, e.last = k, now
	if e.lines+1 > j.o.MaxLines || e.bytes+1+len(raw) > j.o.MaxBytes {
		e.dropped++
		return
	}
	e.lines++
	e.bytes += 1 + len(raw)
	e.raws = append(e.raws, raw)
	e.stack = append(e.stack, text)
}

// record builds the joined record: Raw holds every line with its newline,
// Message stays the head's (it is what templating groups on), the rest of
// the lines go to Fields["stack"].
func (e *entry) record() telemetry.LogRecord {
	rec := e.head
	if len(e.raws) == 0 && e.dropped == 0 {
		return rec
	}
	var b strings.Builder
	b.Grow(e.bytes)
	b.WriteString(rec.Raw)
	for _, r := range e.raws {
		b.WriteByte('\n')
		b.WriteString(r)
	}
	rec.Raw = b.String()
	f := make(map[string]string, len(rec.Fields)+5)
	for k, v := range rec.Fields {
		f[k] = v
	}
	stack := e.stack
	for len(stack) > 0 && trimSpace(stack[len(stack)-1]) == "" {
		stack = stack[:len(stack)-1]
	}
	for len(stack) > 0 && trimSpace(stack[0]) == "" {
		stack = stack[1:]
	}
	if len(stack) > 0 {
		f[FieldStack] = strings.Join(stack, "\n")
	}
	if e.excType != "" {
		f[FieldExceptionType] = e.excType
		if e.excMsg != "" {
			f[FieldExceptionMessage] = e.excMsg
		}
	}
	if e.dropped > 0 {
		f[FieldTruncated] = "true"
		f[FieldDroppedLines] = strconv.Itoa(e.dropped)
	}
	rec.Fields = f
	// A traceback that starts the entry has no message of its own; the
	// exception line says what happened.
	if strings.HasPrefix(e.headTxt, pyTraceback) && e.pyLast != "" {
		rec.Message = e.pyLast
	}
	if rec.Level == telemetry.LevelUnknown {
		switch {
		case e.kind == stackGo:
			rec.Level = telemetry.LevelFatal
		case e.excType != "":
			rec.Level = telemetry.LevelError
		}
	}
	return rec
}

// expire emits entries and pieces idle for Timeout (all of them when all).
func (j *Joiner) expire(now time.Time, out []telemetry.LogRecord, all bool) []telemetry.LogRecord {
	for stream, pc := range j.partials {
		if all || now.Sub(pc.last) >= j.o.Timeout {
			// A line completed by timeout still continues the entry
			// before it, if it would have.
			rec, text := j.finishPieces(stream, now)
			out = j.line(rec, strings.TrimRight(text, "\r\n"), now, out)
		}
	}
	if j.cur != nil && (all || now.Sub(j.cur.last) >= j.o.Timeout) {
		out = append(out, j.cur.record())
		j.cur = nil
	}
	return out
}

// Flush emits the entries (and container pieces) that have waited Timeout
// since their last line. Call it on a tick so a stream that goes quiet
// still delivers its last entry.
func (j *Joiner) Flush(now time.Time) []telemetry.LogRecord {
	return j.expire(now, nil, false)
}

// Drain emits everything held, at the end of a stream.
func (j *Joiner) Drain(now time.Time) []telemetry.LogRecord {
	return j.expire(now, nil, true)
}

// Pending reports whether the Joiner holds lines.
func (j *Joiner) Pending() bool { return j.cur != nil || len(j.partials) > 0 }
