package logparse

import (
	"strings"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// Container runtimes wrap each line the application wrote: Docker's
// json-file driver in a JSON object, CRI runtimes (containerd, CRI-O, what
// Kubernetes nodes write under /var/log/pods) in a
// "<RFC3339Nano> <stream> <tag> <content>" prefix. Both split long lines: CRI
// tags the pieces P (partial) and the last F (full); Docker leaves the
// newline off every piece but the last. The wrapper is peeled here and the
// content parsed like any line; the Joiner glues the pieces.

// containerLine is an unwrapped container log line.
type containerLine struct {
	runtime Format
	stream  string
	time    time.Time
	inner   string
	partial bool
}

// criParts reads the CRI prefix. The timestamp is always RFC 3339 with a
// 'T' and a zone, and the stream is stdout or stderr; anything else is not
// CRI, which keeps ISO-led application lines from being taken for it.
func criParts(line string, loc *time.Location) (containerLine, bool) {
	var c containerLine
	sp := strings.IndexByte(line, ' ')
	if sp < 20 || sp > 40 || line[10] != 'T' || len(line) < sp+9 {
		return c, false
	}
	switch line[sp+1 : sp+8] {
	case "stdout ", "stderr ":
	default:
		return c, false
	}
	t, n, kind := parseTimePrefix(line[:sp], time.Time{}, loc)
	if kind != tsISO || n != sp {
		return c, false
	}
	rest := line[sp+8:]
	tagEnd := strings.IndexByte(rest, ' ')
	tag := rest
	if tagEnd >= 0 {
		tag = rest[:tagEnd]
		c.inner = rest[tagEnd+1:]
	}
	if tag == "" || len(tag) > 16 {
		return c, false
	}
	for i := 0; i < len(tag); i++ {
		if !isUpper(tag[i]) && tag[i] != ':' {
			return c, false
		}
	}
	c.runtime, c.stream, c.time = FormatCRI, line[sp+1:sp+7], t
	// Tags are colon-separated; P is the only one defined besides F.
	c.partial = tag == "P" || strings.HasPrefix(tag, "P:") || strings.Contains(tag, ":P")
	return c, true
}

// dockerLine converts dockerParts' result.
func dockerLine(log, stream, ts string, loc *time.Location) containerLine {
	c := containerLine{runtime: FormatDocker, stream: stream}
	c.partial = !strings.HasSuffix(log, "\n")
	log = strings.TrimSuffix(log, "\n")
	c.inner = strings.TrimSuffix(log, "\r")
	c.time, _ = parseTimeValue(ts, time.Time{}, loc)
	return c
}

// unwrapContainer peels the container wrapper off a raw line, for the
// Joiner, which needs the content of pieces Parse has already reported.
func (p *Parser) unwrapContainer(raw string) (containerLine, bool) {
	// Only the line end goes: a CRI piece's trailing spaces are content.
	line := trimLeft(strings.TrimRight(raw, "\r\n"))
	if line == "" {
		return containerLine{}, false
	}
	if line[0] != '{' {
		return criParts(line, p.o.Location)
	}
	buf := getKVs()
	kvs, _, ok := scanJSON(line, (*buf)[:0], p.o.MaxFields)
	defer func() { putKVs(buf, kvs) }()
	if !ok {
		return containerLine{}, false
	}
	log, stream, ts, ok := dockerParts(kvs)
	if !ok {
		return containerLine{}, false
	}
	c := dockerLine(log, stream, ts, p.o.Location)
	// The inner string may hold escapes and so be a fresh string, or be a
	// substring of raw; either way it outlives the pooled slice.
	return c, true
}

// coarser reports whether the application's time is the runtime's cut to
// whole seconds: then both say the same and the runtime's says it better,
// which keeps lines in order within the second.
func coarser(app, runtime time.Time) bool {
	return app.Nanosecond() == 0 && runtime.Sub(app) >= 0 && runtime.Sub(app) < time.Second
}

// parseContainerInner parses the content of a container line and records the
// wrapper in Fields. The application's own timestamp wins over the
// runtime's (it is when the event happened, not when it was collected); the
// runtime's serves when the content has none, and as the reference for
// yearless stamps inside.
func (p *Parser) parseContainerInner(rec *telemetry.LogRecord, c containerLine, ref time.Time, ps *pass) {
	iref := ref
	if !c.time.IsZero() {
		iref = c.time
	}
	saved := rec.Time
	rec.Time = time.Time{}
	if ps != nil {
		ps.depth++
		defer func() { ps.depth-- }()
	}
	p.parseBody(rec, c.inner, iref, ps)
	switch {
	case rec.Time.IsZero() && c.time.IsZero():
		rec.Time = saved
	case rec.Time.IsZero(), coarser(rec.Time, c.time):
		rec.Time = c.time
	}
	setField(rec, FieldContainerRuntime, string(c.runtime))
	if c.stream != "" {
		setField(rec, FieldContainerStream, c.stream)
	}
	if c.partial {
		setField(rec, FieldContainerPartial, "true")
	}
}
