package ndjson

import (
	"strconv"
	"strings"
	"time"

	"github.com/vigilops/vigil/internal/jsonscan"
	"github.com/vigilops/vigil/telemetry"
)

// Keys read from a JSON line, each list in order of preference. When a
// key appears twice in a line the later one counts, as in encoding/json.
var (
	timeKeys    = [...]string{"time", "timestamp", "ts", "@timestamp"}
	serviceKeys = [...]string{"service", "service.name", "app"}
	messageKeys = [...]string{"msg", "message", "log", "line"}
	levelKeys   = [...]string{"level", "lvl", "severity", "log.level"}
)

// maxFlattenDepth bounds how deep nested objects are flattened into dotted
// keys; deeper objects are kept as their JSON text.
const maxFlattenDepth = 8

// kind is the JSON type of a flattened value.
type kind uint8

const (
	kindString kind = iota
	kindNumber
	kindBool
	kindRaw // an array, or an object nested too deep: its JSON text
)

type kv struct {
	key, val string
	kind     kind
}

// lineConfig is what decoding a line needs from the options.
type lineConfig struct {
	maxLine        int
	maxFields      int
	defaultService string
	labels         telemetry.Labels
}

// lineDecoder turns lines into records. It keeps scratch space between
// lines and is not safe for concurrent use.
type lineDecoder struct {
	cfg lineConfig
	s   jsonscan.Scanner
	kvs []kv
	key []byte
	raw string // the record's Raw: values without escapes are cut from it
}

// decode turns one line (without its line ending, not blank, within the
// length limit) into a record. now is the time of lines that carry none.
// It reports whether the line was a JSON object; any other line is kept
// whole as a plain line, for logparse to read.
func (d *lineDecoder) decode(line []byte, now time.Time) (telemetry.LogRecord, bool) {
	rec := telemetry.LogRecord{Time: now, Service: d.cfg.defaultService, Labels: d.cfg.labels, Raw: string(line)}
	if !d.parse(line, rec.Raw) {
		return rec, false
	}
	rec.Format = "json"
	d.apply(&rec)
	return rec, true
}

// parse reads line as one JSON object into d.kvs, flattened.
func (d *lineDecoder) parse(line []byte, raw string) bool {
	d.s.Reset(line)
	d.raw = raw
	d.kvs = d.kvs[:0]
	d.key = d.key[:0]
	if d.s.Peek() != '{' {
		return false
	}
	if err := d.object(0); err != nil {
		return false
	}
	return d.s.End() == nil
}

// object reads an object, at the scanner's position, whose keys are
// prefixed by d.key.
func (d *lineDecoder) object(depth int) error {
	s := &d.s
	plen := len(d.key)
	more, err := s.Open('{', '}')
	for more && err == nil {
		var k jsonscan.Span
		if k, err = s.Key(); err != nil {
			return err
		}
		d.key = d.key[:plen]
		if plen > 0 {
			d.key = append(d.key, '.')
		}
		d.key = append(d.key, s.Bytes(k)...)
		if err = d.value(k, plen, depth); err != nil {
			return err
		}
		more, err = s.Next('}')
	}
	d.key = d.key[:plen]
	return err
}

// value reads the value of the member whose full key is d.key.
func (d *lineDecoder) value(k jsonscan.Span, plen, depth int) error {
	s := &d.s
	c := s.Peek()
	if c == '{' && depth < maxFlattenDepth {
		return d.object(depth + 1)
	}
	start := s.Pos()
	var kd kind
	var val string
	switch {
	case c == '{' || c == '[':
		if err := s.Skip(depth + 1); err != nil {
			return err
		}
		kd, val = kindRaw, d.raw[start:s.Pos()]
	case c == '"':
		sp, err := s.Str()
		if err != nil {
			return err
		}
		kd, val = kindString, d.cut(sp)
	case c == 'n':
		return s.Literal("null") // a null says nothing: no field
	case c == 't' || c == 'f':
		word := "true"
		if c == 'f' {
			word = "false"
		}
		if err := s.Literal(word); err != nil {
			return err
		}
		kd, val = kindBool, d.raw[start:s.Pos()]
	default:
		if _, _, err := s.Number(); err != nil {
			return err
		}
		kd, val = kindNumber, d.raw[start:s.Pos()]
	}
	var key string
	if plen == 0 && s.Verbatim(k) {
		key = d.raw[k.Start:k.End]
	} else {
		key = string(d.key)
	}
	// Past the bound only the keys apply reads are kept, so that a line
	// with many fields still gets its time, service, message and level.
	if len(d.kvs) >= d.cfg.maxFields && !roleKey(key) {
		return nil
	}
	d.kvs = append(d.kvs, kv{key: key, val: val, kind: kd})
	return nil
}

// cut returns a string's value: a substring of the record's Raw when it
// needs no decoding (the record holds Raw anyway), else a new string.
func (d *lineDecoder) cut(sp jsonscan.Span) string {
	if d.s.Verbatim(sp) {
		return d.raw[sp.Start:sp.End]
	}
	return d.s.Text(sp)
}

// apply moves the time, service, message and level keys into the record
// and the rest into Fields.
func (d *lineDecoder) apply(rec *telemetry.LogRecord) {
	const none = -1
	// The index of the last kv of each key, per list.
	tc := [len(timeKeys)]int{none, none, none, none}
	sc := [len(serviceKeys)]int{none, none, none}
	mc := [len(messageKeys)]int{none, none, none, none}
	lc := [len(levelKeys)]int{none, none, none, none}
	for i := range d.kvs {
		k := d.kvs[i].key
		if r := rank(k, timeKeys[:]); r >= 0 {
			tc[r] = i
		}
		if r := rank(k, serviceKeys[:]); r >= 0 {
			sc[r] = i
		}
		if r := rank(k, messageKeys[:]); r >= 0 {
			mc[r] = i
		}
		if r := rank(k, levelKeys[:]); r >= 0 {
			lc[r] = i
		}
	}
	var used [4]string // keys taken out of Fields
	n := 0
	for _, i := range tc {
		if i == none {
			continue
		}
		if t, ok := parseTime(d.kvs[i]); ok {
			rec.Time = t
			used[n], n = d.kvs[i].key, n+1
			break
		}
	}
	for _, i := range sc {
		if i != none && d.kvs[i].kind == kindString && d.kvs[i].val != "" {
			rec.Service = d.kvs[i].val
			used[n], n = d.kvs[i].key, n+1
			break
		}
	}
	for _, i := range mc {
		if i != none && d.kvs[i].kind == kindString {
			rec.Message = d.kvs[i].val
			used[n], n = d.kvs[i].key, n+1
			break
		}
	}
	for _, i := range lc {
		if i == none || (d.kvs[i].kind != kindString && d.kvs[i].kind != kindNumber) {
			continue
		}
		if lv := telemetry.ParseLevel(d.kvs[i].val); lv != telemetry.LevelUnknown {
			rec.Level = lv
			used[n], n = d.kvs[i].key, n+1
			break
		}
	}
	rest := 0
	for i := range d.kvs {
		if !taken(d.kvs[i].key, used[:n]) {
			rest++
		}
	}
	if rest == 0 {
		return
	}
	rec.Fields = make(map[string]string, rest)
	for i := range d.kvs {
		if !taken(d.kvs[i].key, used[:n]) {
			rec.Fields[d.kvs[i].key] = d.kvs[i].val
		}
	}
}

func rank(k string, keys []string) int {
	for r, x := range keys {
		if k == x {
			return r
		}
	}
	return -1
}

func roleKey(k string) bool {
	return rank(k, timeKeys[:]) >= 0 || rank(k, serviceKeys[:]) >= 0 || rank(k, messageKeys[:]) >= 0 || rank(k, levelKeys[:]) >= 0
}

func taken(k string, used []string) bool {
	for _, u := range used {
		if k == u {
			return true
		}
	}
	return false
}

// Layouts tried for string times, after RFC 3339 (which also reads
// fractional seconds). Times without a zone are UTC.
var timeLayouts = [...]string{
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
}

// parseTime reads a time value: an RFC 3339 string (or one of
// timeLayouts), or a number of seconds, milliseconds, microseconds or
// nanoseconds since the epoch (told apart by magnitude), as a JSON number
// or a string of digits.
func parseTime(x kv) (time.Time, bool) {
	switch x.kind {
	case kindNumber:
		return epoch(x.val)
	case kindString:
	default:
		return time.Time{}, false
	}
	if digits(x.val) {
		return epoch(x.val)
	}
	if t, err := time.Parse(time.RFC3339Nano, x.val); err == nil {
		return t.UTC(), true
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, x.val); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// epoch reads a non-negative number of seconds, milliseconds,
// microseconds or nanoseconds since the epoch, the unit told apart by the
// magnitude of its integer part. Decimals are converted exactly (to the
// nanosecond); exponent forms, which only JSON numbers have, through
// float64.
func epoch(s string) (time.Time, bool) {
	if !digits(s) {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 || f >= 1e20 || s == "" || s[0] < '0' || s[0] > '9' {
			return time.Time{}, false
		}
		s = strconv.FormatFloat(f, 'f', -1, 64)
	}
	ip, fp, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(ip, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	var perSec int64 // units per second
	switch {
	case n < 1e11:
		perSec = 1
	case n < 1e14:
		perSec = 1e3
	case n < 1e17:
		perSec = 1e6
	default:
		perSec = 1e9
	}
	unitNs := int64(1e9) / perSec
	nsec := (n % perSec) * unitNs
	for i, scale := 0, unitNs/10; i < len(fp) && scale > 0; i, scale = i+1, scale/10 {
		nsec += int64(fp[i]-'0') * scale
	}
	return time.Unix(n/perSec, nsec).UTC(), true
}

// digits reports whether s is a decimal number without sign or exponent.
func digits(s string) bool {
	dot := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.' && !dot && i > 0:
			dot = true
		case c < '0' || c > '9':
			return false
		}
	}
	return s != ""
}
