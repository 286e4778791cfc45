package loki

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/vigilops/vigil/internal/jsonscan"
	"github.com/vigilops/vigil/telemetry"
)

// decodeJSON reads a JSON push request into b:
//
//	{"streams":[{"stream":{"job":"x"},"values":[["<ns>","<line>"],["<ns>","<line>",{"k":"v"}]]}]}
//
// It also reads the legacy shape some /api/prom/push senders use,
// {"streams":[{"labels":"{job=\"x\"}","entries":[{"ts":"<RFC3339>","line":"<line>"}]}]},
// and, beyond Loki, timestamps written as JSON integers. Unknown keys are
// skipped. A syntax error, a top level that is not an object, a stream that
// is not an object, "values" that is not an array, or a key repeated where
// it would change the entries' numbering refuse the whole request
// (ErrMalformed); anything else wrong is confined to the entries concerned.
func decodeJSON(b *batch, data []byte) error {
	d := jsonDecoder{b: b}
	d.s.Reset(data)
	err := d.request()
	var se *jsonscan.SyntaxError
	if err != nil && !errors.As(err, &se) {
		// A shape error may have been found before a syntax error further
		// on; report the syntax error, which is what the sender must fix.
		var v jsonscan.Scanner
		v.Reset(data)
		if verr := v.Skip(0); verr != nil {
			return &syntaxError{verr}
		}
		if verr := v.End(); verr != nil {
			return &syntaxError{verr}
		}
		return err
	}
	if err != nil {
		return &syntaxError{err}
	}
	return nil
}

// syntaxError is a JSON syntax error in a push request. It unwraps to
// ErrMalformed, which callers branch on, and to the *jsonscan.SyntaxError
// that says where.
type syntaxError struct{ err error }

func (e *syntaxError) Error() string   { return fmt.Sprintf("%v: %v", ErrMalformed, e.err) }
func (e *syntaxError) Unwrap() []error { return []error{ErrMalformed, e.err} }

// jsonSizeHint guesses the number of entries from the '[' count, which
// bytes.Count finds at memory speed: every values entry opens one.
func jsonSizeHint(data []byte, maxEntries int) int {
	n := bytes.Count(data, []byte{'['})
	if maxEntries > 0 && n > maxEntries {
		n = maxEntries
	}
	return n
}

type jsonDecoder struct {
	s jsonscan.Scanner
	b *batch
	// Scratch reused across streams and entries.
	labels telemetry.Labels
	meta   []kvSpan
}

type kvSpan struct{ k, v jsonscan.Span }

func (d *jsonDecoder) request() error {
	s := &d.s
	switch s.Peek() {
	case 0:
		return malformed("empty body")
	case '{':
	default:
		return malformed("the push request is not a JSON object")
	}
	more, err := s.Open('{', '}')
	seen := false
	for more && err == nil {
		var k jsonscan.Span
		if k, err = s.Key(); err != nil {
			return err
		}
		if s.Equal(k, "streams") {
			if seen {
				return malformed(`duplicate key "streams"`)
			}
			seen = true
			err = d.streams()
		} else {
			err = s.Skip(1)
		}
		if err == nil {
			more, err = s.Next('}')
		}
	}
	if err != nil {
		return err
	}
	return s.End()
}

func (d *jsonDecoder) streams() error {
	s := &d.s
	switch s.Peek() {
	case 'n':
		return s.Literal("null")
	case '[':
	default:
		return malformed(`"streams" is not an array`)
	}
	more, err := s.Open('[', ']')
	for more && err == nil {
		if s.Peek() != '{' {
			return malformed("stream %d is not an object", d.b.streams)
		}
		if err = d.stream(); err == nil {
			more, err = s.Next(']')
		}
	}
	return err
}

func (d *jsonDecoder) stream() error {
	s, b := &d.s, d.b
	b.beginStream()
	var (
		ls                     telemetry.Labels
		labelErr               error
		labelsSeen, valuesSeen bool
		legacySeen             bool
	)
	more, err := s.Open('{', '}')
	for more && err == nil {
		var k jsonscan.Span
		if k, err = s.Key(); err != nil {
			return err
		}
		switch {
		case s.Equal(k, "stream"), s.Equal(k, "labels"):
			if labelsSeen {
				return malformed("stream %d has its labels twice", b.streamIndex())
			}
			labelsSeen = true
			if s.Peek() == '"' {
				ls, labelErr, err = d.labelText()
			} else {
				ls, labelErr, err = d.labelObject()
			}
		case s.Equal(k, "values"):
			if valuesSeen {
				return malformed(`stream %d has "values" twice`, b.streamIndex())
			}
			valuesSeen = true
			err = d.array("values", d.entry)
		case s.Equal(k, "entries"):
			if legacySeen {
				return malformed(`stream %d has "entries" twice`, b.streamIndex())
			}
			legacySeen = true
			err = d.array("entries", d.legacyEntry)
		default:
			err = s.Skip(3)
		}
		if err == nil {
			more, err = s.Next('}')
		}
	}
	if err != nil {
		return err
	}
	b.endStream(ls, labelErr)
	return nil
}

// array reads null or an array whose elements each is read by elem.
func (d *jsonDecoder) array(name string, elem func() error) error {
	s := &d.s
	switch s.Peek() {
	case 'n':
		return s.Literal("null")
	case '[':
	default:
		return malformed("%q of stream %d is not an array", name, d.b.streamIndex())
	}
	more, err := s.Open('[', ']')
	for more && err == nil {
		if err = elem(); err == nil {
			more, err = s.Next(']')
		}
	}
	return err
}

// labelObject reads {"name":"value",...} (or null). A value that is not an
// object of strings, or a bad name, makes labelErr; err is a syntax error.
func (d *jsonDecoder) labelObject() (ls telemetry.Labels, labelErr, err error) {
	s := &d.s
	switch s.Peek() {
	case 'n':
		return nil, nil, s.Literal("null")
	case '{':
	default:
		if err := s.Skip(3); err != nil {
			return nil, nil, err
		}
		return nil, fmt.Errorf("%w: stream labels are not an object", errBadLabels), nil
	}
	scratch := d.labels[:0]
	more, err := s.Open('{', '}')
	for more && err == nil {
		var k jsonscan.Span
		if k, err = s.Key(); err != nil {
			return nil, nil, err
		}
		name := string(s.Bytes(k))
		if s.Peek() != '"' {
			if err = s.Skip(4); err != nil {
				return nil, nil, err
			}
			if labelErr == nil {
				labelErr = fmt.Errorf("%w: value of label %q is not a string", errBadLabels, name)
			}
		} else {
			var v jsonscan.Span
			if v, err = s.Str(); err != nil {
				return nil, nil, err
			}
			switch {
			case labelErr != nil:
			case !validName(name):
				labelErr = fmt.Errorf("%w: invalid label name %q", errBadLabels, name)
			case !v.Empty():
				scratch = append(scratch, telemetry.Label{Name: name, Value: s.Text(v)})
			}
		}
		more, err = s.Next('}')
	}
	d.labels = scratch[:0]
	if err != nil {
		return nil, nil, err
	}
	if labelErr != nil {
		return nil, labelErr, nil
	}
	ls, labelErr = finishLabels(scratch)
	return ls, labelErr, nil
}

// labelText reads the legacy "labels" string, a label set in text.
func (d *jsonDecoder) labelText() (telemetry.Labels, error, error) {
	sp, err := d.s.Str()
	if err != nil {
		return nil, nil, err
	}
	p := labelParser{s: string(d.s.Bytes(sp))}
	ls, labelErr := p.parse(d.labels)
	return ls, labelErr, nil
}

// entry reads one ["<ns>", "<line>", {metadata}?] value.
func (d *jsonDecoder) entry() error {
	s, b := &d.s, d.b
	idx, ok := b.nextEntry()
	if !ok {
		return s.Skip(4)
	}
	if s.Peek() != '[' {
		if err := s.Skip(4); err != nil {
			return err
		}
		b.rejectEntry(idx, reasonBadEntry, "entry is not an array [timestamp, line, structured metadata?]")
		return nil
	}
	var (
		ts     int64
		line   jsonscan.Span
		meta   = d.meta[:0]
		bad    reason
		badMsg string
		n      int
	)
	more, err := s.Open('[', ']')
	if err != nil {
		return err
	}
	for more {
		c := s.Peek()
		switch n {
		case 0:
			var tsOK bool
			if ts, tsOK, err = d.timestamp(c); err == nil && !tsOK && badMsg == "" {
				bad, badMsg = reasonBadTimestamp, "timestamp is not a decimal string of nanoseconds since the epoch"
			}
		case 1:
			if c == '"' {
				line, err = s.Str()
			} else if err = s.Skip(5); err == nil && badMsg == "" {
				bad, badMsg = reasonBadEntry, "line is not a string"
			}
		case 2:
			var metaOK bool
			if meta, metaOK, err = d.metadata(meta); err == nil && !metaOK && badMsg == "" {
				bad, badMsg = reasonBadEntry, "structured metadata is not an object of strings"
			}
		default:
			if err = s.Skip(5); err == nil && badMsg == "" {
				bad, badMsg = reasonBadEntry, "entry has more than three elements"
			}
		}
		if err != nil {
			return err
		}
		n++
		if more, err = s.Next(']'); err != nil {
			return err
		}
	}
	d.meta = meta[:0]
	if badMsg == "" && n < 2 {
		bad, badMsg = reasonBadEntry, "entry needs a timestamp and a line"
	}
	if badMsg != "" {
		b.rejectEntry(idx, bad, badMsg)
		return nil
	}
	raw := s.Bytes(line)
	if b.lineTooLong(idx, len(raw)) {
		return nil
	}
	rec := telemetry.LogRecord{Time: unixNano(ts), Raw: string(raw)}
	if len(meta) > 0 {
		rec.Fields = make(map[string]string, len(meta))
		for _, kv := range meta {
			if !kv.k.Empty() {
				k := s.Text(kv.k)
				rec.Fields[k] = s.Text(kv.v)
			}
		}
	}
	b.recs = append(b.recs, rec)
	return nil
}

// timestamp reads a timestamp value: a string of decimal nanoseconds, or
// (beyond Loki) a JSON integer.
func (d *jsonDecoder) timestamp(c byte) (int64, bool, error) {
	s := &d.s
	switch {
	case c == '"':
		sp, err := s.Str()
		if err != nil {
			return 0, false, err
		}
		ts, ok := parseNanos(s.Bytes(sp))
		return ts, ok, nil
	case c == '-' || (c >= '0' && c <= '9'):
		text, integer, err := s.Number()
		if err != nil || !integer {
			return 0, false, err
		}
		ts, ok := parseNanos(text)
		return ts, ok, nil
	}
	return 0, false, s.Skip(5)
}

// metadata reads an entry's structured metadata: an object of strings, or
// null. ok is false when the value is valid JSON of another shape.
func (d *jsonDecoder) metadata(meta []kvSpan) ([]kvSpan, bool, error) {
	s := &d.s
	switch s.Peek() {
	case 'n':
		return meta, true, s.Literal("null")
	case '{':
	default:
		return meta, false, s.Skip(5)
	}
	ok := true
	more, err := s.Open('{', '}')
	for more && err == nil {
		var k, v jsonscan.Span
		if k, err = s.Key(); err != nil {
			return meta, false, err
		}
		if s.Peek() == '"' {
			if v, err = s.Str(); err != nil {
				return meta, false, err
			}
			meta = append(meta, kvSpan{k, v})
		} else {
			if err = s.Skip(6); err != nil {
				return meta, false, err
			}
			ok = false
		}
		more, err = s.Next('}')
	}
	return meta, ok, err
}

// legacyEntry reads one {"ts":"<RFC3339>","line":"<line>"} value of the
// legacy push format. ts may also be a string of decimal nanoseconds.
func (d *jsonDecoder) legacyEntry() error {
	s, b := &d.s, d.b
	idx, ok := b.nextEntry()
	if !ok {
		return s.Skip(4)
	}
	if s.Peek() != '{' {
		if err := s.Skip(4); err != nil {
			return err
		}
		b.rejectEntry(idx, reasonBadEntry, `entry is not an object {"ts", "line"}`)
		return nil
	}
	var (
		ts            time.Time
		line          jsonscan.Span
		tsSeen, lSeen bool
		bad           reason
		badMsg        string
	)
	more, err := s.Open('{', '}')
	for more && err == nil {
		var k jsonscan.Span
		if k, err = s.Key(); err != nil {
			return err
		}
		c := s.Peek()
		switch {
		case s.Equal(k, "ts"):
			tsSeen = true
			if c != '"' {
				err = s.Skip(5)
				bad, badMsg = reasonBadTimestamp, "ts is not a string"
				break
			}
			var sp jsonscan.Span
			if sp, err = s.Str(); err != nil {
				return err
			}
			var tsOK bool
			if ts, tsOK = parseLegacyTime(s.Bytes(sp)); !tsOK {
				bad, badMsg = reasonBadTimestamp, "ts is not an RFC 3339 time"
			}
		case s.Equal(k, "line"):
			lSeen = true
			if c == '"' {
				line, err = s.Str()
			} else {
				err = s.Skip(5)
				bad, badMsg = reasonBadEntry, "line is not a string"
			}
		default:
			err = s.Skip(5)
		}
		if err == nil {
			more, err = s.Next('}')
		}
	}
	if err != nil {
		return err
	}
	if badMsg == "" && (!tsSeen || !lSeen) {
		bad, badMsg = reasonBadEntry, `entry needs "ts" and "line"`
	}
	if badMsg != "" {
		b.rejectEntry(idx, bad, badMsg)
		return nil
	}
	raw := s.Bytes(line)
	if b.lineTooLong(idx, len(raw)) {
		return nil
	}
	b.recs = append(b.recs, telemetry.LogRecord{Time: ts, Raw: string(raw)})
	return nil
}

func parseLegacyTime(v []byte) (time.Time, bool) {
	if ns, ok := parseNanos(v); ok {
		return unixNano(ns), true
	}
	t, err := time.Parse(time.RFC3339Nano, string(v))
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}
