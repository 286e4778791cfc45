package loki

import (
	"bytes"
	"errors"
	"fmt"
	"time"

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
	d := jsonDecoder{s: scanner{b: data}, b: b}
	err := d.request()
	var se *syntaxError
	if err != nil && !errors.As(err, &se) {
		// A shape error may have been found before a syntax error further
		// on; report the syntax error, which is what the sender must fix.
		v := scanner{b: data}
		if verr := v.skip(0); verr != nil {
			return verr
		}
		if verr := v.end(); verr != nil {
			return verr
		}
	}
	return err
}

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
	s scanner
	b *batch
	// Scratch reused across streams and entries.
	labels telemetry.Labels
	meta   []kvSpan
}

type kvSpan struct{ k, v span }

func (d *jsonDecoder) request() error {
	s := &d.s
	switch s.peek() {
	case 0:
		return malformed("empty body")
	case '{':
	default:
		return malformed("the push request is not a JSON object")
	}
	more, err := s.open('{', '}')
	seen := false
	for more && err == nil {
		var k span
		if k, err = s.key(); err != nil {
			return err
		}
		if s.keyIs(k, "streams") {
			if seen {
				return malformed(`duplicate key "streams"`)
			}
			seen = true
			err = d.streams()
		} else {
			err = s.skip(1)
		}
		if err == nil {
			more, err = s.next('}')
		}
	}
	if err != nil {
		return err
	}
	return s.end()
}

func (d *jsonDecoder) streams() error {
	s := &d.s
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case '[':
	default:
		return malformed(`"streams" is not an array`)
	}
	more, err := s.open('[', ']')
	for more && err == nil {
		if s.peek() != '{' {
			return malformed("stream %d is not an object", d.b.streams)
		}
		if err = d.stream(); err == nil {
			more, err = s.next(']')
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
	more, err := s.open('{', '}')
	for more && err == nil {
		var k span
		if k, err = s.key(); err != nil {
			return err
		}
		switch {
		case s.keyIs(k, "stream"), s.keyIs(k, "labels"):
			if labelsSeen {
				return malformed("stream %d has its labels twice", b.streamIndex())
			}
			labelsSeen = true
			if s.peek() == '"' {
				ls, labelErr, err = d.labelText()
			} else {
				ls, labelErr, err = d.labelObject()
			}
		case s.keyIs(k, "values"):
			if valuesSeen {
				return malformed(`stream %d has "values" twice`, b.streamIndex())
			}
			valuesSeen = true
			err = d.array("values", d.entry)
		case s.keyIs(k, "entries"):
			if legacySeen {
				return malformed(`stream %d has "entries" twice`, b.streamIndex())
			}
			legacySeen = true
			err = d.array("entries", d.legacyEntry)
		default:
			err = s.skip(3)
		}
		if err == nil {
			more, err = s.next('}')
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
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case '[':
	default:
		return malformed("%q of stream %d is not an array", name, d.b.streamIndex())
	}
	more, err := s.open('[', ']')
	for more && err == nil {
		if err = elem(); err == nil {
			more, err = s.next(']')
		}
	}
	return err
}

// labelObject reads {"name":"value",...} (or null). A value that is not an
// object of strings, or a bad name, makes labelErr; err is a syntax error.
func (d *jsonDecoder) labelObject() (ls telemetry.Labels, labelErr, err error) {
	s := &d.s
	switch s.peek() {
	case 'n':
		return nil, nil, s.literal("null")
	case '{':
	default:
		if err := s.skip(3); err != nil {
			return nil, nil, err
		}
		return nil, fmt.Errorf("%w: stream labels are not an object", errBadLabels), nil
	}
	scratch := d.labels[:0]
	more, err := s.open('{', '}')
	for more && err == nil {
		var k span
		if k, err = s.key(); err != nil {
			return nil, nil, err
		}
		name := string(s.bytes(k))
		if s.peek() != '"' {
			if err = s.skip(4); err != nil {
				return nil, nil, err
			}
			if labelErr == nil {
				labelErr = fmt.Errorf("%w: value of label %q is not a string", errBadLabels, name)
			}
		} else {
			var v span
			if v, err = s.str(); err != nil {
				return nil, nil, err
			}
			switch {
			case labelErr != nil:
			case !validName(name):
				labelErr = fmt.Errorf("%w: invalid label name %q", errBadLabels, name)
			case v.end > v.start:
				scratch = append(scratch, telemetry.Label{Name: name, Value: s.string(v)})
			}
		}
		more, err = s.next('}')
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
	sp, err := d.s.str()
	if err != nil {
		return nil, nil, err
	}
	p := labelParser{s: string(d.s.bytes(sp))}
	ls, labelErr := p.parse(d.labels)
	return ls, labelErr, nil
}

// entry reads one ["<ns>", "<line>", {metadata}?] value.
func (d *jsonDecoder) entry() error {
	s, b := &d.s, d.b
	idx, ok := b.nextEntry()
	if !ok {
		return s.skip(4)
	}
	if s.peek() != '[' {
		if err := s.skip(4); err != nil {
			return err
		}
		b.rejectEntry(idx, reasonBadEntry, "entry is not an array [timestamp, line, structured metadata?]")
		return nil
	}
	s.i++
	var (
		ts     int64
		line   span
		meta   = d.meta[:0]
		bad    reason
		badMsg string
		n      int
	)
	more := s.peek() != ']'
	if !more {
		s.i++
	}
	for more {
		c := s.peek()
		var err error
		switch n {
		case 0:
			var tsOK bool
			if ts, tsOK, err = d.timestamp(c); err == nil && !tsOK && badMsg == "" {
				bad, badMsg = reasonBadTimestamp, "timestamp is not a decimal string of nanoseconds since the epoch"
			}
		case 1:
			if c == '"' {
				line, err = s.str()
			} else if err = s.skip(5); err == nil && badMsg == "" {
				bad, badMsg = reasonBadEntry, "line is not a string"
			}
		case 2:
			var metaOK bool
			if meta, metaOK, err = d.metadata(meta); err == nil && !metaOK && badMsg == "" {
				bad, badMsg = reasonBadEntry, "structured metadata is not an object of strings"
			}
		default:
			if err = s.skip(5); err == nil && badMsg == "" {
				bad, badMsg = reasonBadEntry, "entry has more than three elements"
			}
		}
		if err != nil {
			return err
		}
		n++
		if more, err = s.next(']'); err != nil {
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
	raw := s.bytes(line)
	if b.lineTooLong(idx, len(raw)) {
		return nil
	}
	rec := telemetry.LogRecord{Time: unixNano(ts), Raw: string(raw)}
	if len(meta) > 0 {
		rec.Fields = make(map[string]string, len(meta))
		for _, kv := range meta {
			if kv.k.end > kv.k.start {
				k := s.string(kv.k)
				rec.Fields[k] = s.string(kv.v)
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
		sp, err := s.str()
		if err != nil {
			return 0, false, err
		}
		ts, ok := parseNanos(s.bytes(sp))
		return ts, ok, nil
	case c == '-' || (c >= '0' && c <= '9'):
		start, integer, err := s.number()
		if err != nil || !integer {
			return 0, false, err
		}
		ts, ok := parseNanos(s.b[start:s.i])
		return ts, ok, nil
	}
	return 0, false, s.skip(5)
}

// metadata reads an entry's structured metadata: an object of strings, or
// null. ok is false when the value is valid JSON of another shape.
func (d *jsonDecoder) metadata(meta []kvSpan) ([]kvSpan, bool, error) {
	s := &d.s
	switch s.peek() {
	case 'n':
		return meta, true, s.literal("null")
	case '{':
	default:
		return meta, false, s.skip(5)
	}
	ok := true
	more, err := s.open('{', '}')
	for more && err == nil {
		var k, v span
		if k, err = s.key(); err != nil {
			return meta, false, err
		}
		if s.peek() == '"' {
			if v, err = s.str(); err != nil {
				return meta, false, err
			}
			meta = append(meta, kvSpan{k, v})
		} else {
			if err = s.skip(6); err != nil {
				return meta, false, err
			}
			ok = false
		}
		more, err = s.next('}')
	}
	return meta, ok, err
}

// legacyEntry reads one {"ts":"<RFC3339>","line":"<line>"} value of the
// legacy push format. ts may also be a string of decimal nanoseconds.
func (d *jsonDecoder) legacyEntry() error {
	s, b := &d.s, d.b
	idx, ok := b.nextEntry()
	if !ok {
		return s.skip(4)
	}
	if s.peek() != '{' {
		if err := s.skip(4); err != nil {
			return err
		}
		b.rejectEntry(idx, reasonBadEntry, `entry is not an object {"ts", "line"}`)
		return nil
	}
	var (
		ts            time.Time
		line          span
		tsSeen, lSeen bool
		bad           reason
		badMsg        string
	)
	more, err := s.open('{', '}')
	for more && err == nil {
		var k span
		if k, err = s.key(); err != nil {
			return err
		}
		c := s.peek()
		switch {
		case s.keyIs(k, "ts"):
			tsSeen = true
			if c != '"' {
				err = s.skip(5)
				bad, badMsg = reasonBadTimestamp, "ts is not a string"
				break
			}
			var sp span
			if sp, err = s.str(); err != nil {
				return err
			}
			var tsOK bool
			if ts, tsOK = parseLegacyTime(s.bytes(sp)); !tsOK {
				bad, badMsg = reasonBadTimestamp, "ts is not an RFC 3339 time"
			}
		case s.keyIs(k, "line"):
			lSeen = true
			if c == '"' {
				line, err = s.str()
			} else {
				err = s.skip(5)
				bad, badMsg = reasonBadEntry, "line is not a string"
			}
		default:
			err = s.skip(5)
		}
		if err == nil {
			more, err = s.next('}')
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
	raw := s.bytes(line)
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
