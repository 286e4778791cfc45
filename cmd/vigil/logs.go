package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/logparse"
	"github.com/vigilops/vigil/logtemplate"
	"github.com/vigilops/vigil/telemetry"
)

// Bounds of `vigil logs templates`.
const (
	defaultMaxLineBytes = 1 << 20
	// maxParamValues bounds the distinct values counted per parameter; past
	// it, new values are no longer told apart and "distinct" is a floor.
	maxParamValues = 100
	// maxParamValueBytes bounds one counted value.
	maxParamValueBytes = 256
	// topParamValues is how many of the most frequent values are shown.
	topParamValues = 5
	// progressEvery is how many lines pass between progress updates (and
	// checks for cancellation).
	progressEvery = 4096
)

// newLogsCmd returns `vigil logs`, the commands that work on log files.
func newLogsCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "logs",
		Short: "Work with log files",
	}
	c.AddCommand(newLogsTemplatesCmd(), newLogsAnalyzeCmd())
	return c
}

func newLogsTemplatesCmd() *cobra.Command {
	var (
		asJSON   bool
		top      int
		service  string
		maxBytes int
	)
	c := &cobra.Command{
		Use:   "templates FILE|-",
		Short: "Mine the templates of a log file",
		Long: `Read a log file (- for standard input) line by line, parse each line as
vigil serve does (format, level, message; stack traces and other
continuation lines are joined onto the line that started them) and mine the
messages into templates. Print the templates, most frequent first, with
their count, ID, an example and a summary of each parameter: how many
distinct values it took (counted up to 100), the most frequent ones, and
the range when all are numbers. Parameter summaries cover the lines seen
since the template took its final number of parameters.

--json prints {"lines":N,"entries":N,"templates":[{"id","template","count",
"examples":[...],"params":[{"slot","distinct","top":[{"value","count"}]}]}]};
lines counts physical lines, entries the joined log entries (the template
counts add up to entries minus blank ones).

  vigil logs templates /var/log/app.log --top 20
  kubectl logs deploy/checkout | vigil logs templates - --service checkout`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if top < 0 {
				return usageError{fmt.Errorf("logs templates: --top %d is negative", top)}
			}
			if maxBytes < 64 {
				return usageError{fmt.Errorf("logs templates: --max-line-bytes %d is below 64", maxBytes)}
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			in, size, name, closeIn, err := openLogInput(a[0], cmd.InOrStdin())
			if err != nil {
				return fmt.Errorf("logs templates: %w", err)
			}
			defer closeIn()
			tm, err := newTemplateMiner(service, time.Now())
			if err != nil {
				return fmt.Errorf("logs templates: %w", err)
			}
			began := time.Now()
			prog := newReadProgress(cmd.ErrOrStderr(), "reading "+name, size, began)
			err = tm.read(ctx, in, maxBytes, prog)
			prog.done()
			if err != nil {
				return fmt.Errorf("logs templates: read %s: %w", name, err)
			}
			elapsed := time.Since(began)
			rep := tm.report(top)
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false) // templates are full of "<*>"
				return enc.Encode(rep)
			}
			return writeTemplatesText(cmd.OutOrStdout(), rep, tm.miner.Len(), elapsed, maxBytes)
		},
	}
	fl := c.Flags()
	fl.BoolVar(&asJSON, "json", false, "print JSON instead of text")
	fl.IntVar(&top, "top", 0, "print only the N most frequent templates (0: all)")
	fl.StringVar(&service, "service", "", "service the lines come from (a label in the output; also keys learned header layouts)")
	fl.IntVar(&maxBytes, "max-line-bytes", defaultMaxLineBytes, "truncate longer lines to this many bytes (they are counted)")
	return c
}

// openLogInput opens path, or stdin for "-". size is the file's size, or
// -1 when unknown (stdin, pipes).
func openLogInput(path string, stdin io.Reader) (r io.Reader, size int64, name string, closeFn func(), err error) {
	if path == "-" {
		return stdin, -1, "standard input", func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, "", nil, err // *PathError names the path
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, "", nil, err
	}
	if fi.IsDir() {
		f.Close()
		return nil, 0, "", nil, fmt.Errorf("%s is a directory, not a log file", path)
	}
	size = -1
	if fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return f, size, path, func() { f.Close() }, nil
}

// templateMiner runs the serve pipeline's log steps over one stream: parse,
// join, mine.
type templateMiner struct {
	service string
	now     time.Time // the reference time for parsing, and the Joiner's clock
	joiner  *logparse.Joiner
	miner   *logtemplate.Miner
	params  map[string][]paramStats // by template ID

	lines, entries, blank, truncated int64
}

func newTemplateMiner(service string, now time.Time) (*templateMiner, error) {
	po := logparse.DefaultOptions()
	// The report says what was found; the parser's own notices (a header
	// layout learned) would only interleave with it on the terminal.
	po.Logger = slog.New(slog.DiscardHandler)
	p, err := logparse.New(po)
	if err != nil {
		return nil, err
	}
	jo := logparse.DefaultJoinOptions()
	jo.Parser = p
	j, err := logparse.NewJoiner(jo)
	if err != nil {
		return nil, err
	}
	m, err := logtemplate.New(logtemplate.DefaultOptions())
	if err != nil {
		return nil, err
	}
	return &templateMiner{service: service, now: now, joiner: j, miner: m, params: map[string][]paramStats{}}, nil
}

// read mines every line of r. The Joiner's clock stands still: entries
// end where the content says, never because reading paused.
func (tm *templateMiner) read(ctx context.Context, r io.Reader, maxBytes int, prog *readProgress) error {
	lr := &lineReader{r: bufio.NewReaderSize(r, 64<<10), max: maxBytes}
	for {
		line, trunc, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		tm.lines++
		if trunc {
			tm.truncated++
		}
		rec := telemetry.LogRecord{Service: tm.service, Raw: string(line)}
		tm.mine(tm.joiner.Push(rec, tm.now))
		if tm.lines%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			prog.update(lr.n, tm.lines, time.Now())
		}
	}
	tm.mine(tm.joiner.Drain(tm.now))
	return nil
}

func (tm *templateMiner) mine(recs []telemetry.LogRecord) {
	for i := range recs {
		tm.entries++
		msg := recs[i].Message
		if msg == "" {
			msg = recs[i].Raw
		}
		if strings.TrimSpace(msg) == "" {
			tm.blank++
			continue
		}
		m := tm.miner.Add(msg)
		ps := tm.params[m.TemplateID]
		if len(ps) != len(m.Params) {
			// The template gained or lost parameters: what was counted
			// belongs to other positions.
			ps = make([]paramStats, len(m.Params))
			tm.params[m.TemplateID] = ps
		}
		for k, v := range m.Params {
			ps[k].add(v)
		}
	}
}

// paramStats summarises the values of one parameter of a template.
type paramStats struct {
	seen     int64
	values   map[string]int64 // at most maxParamValues
	capped   bool             // a value was not counted: len(values) is a floor
	nonNum   bool             // some value is not a number
	min, max float64
}

func (p *paramStats) add(v string) {
	p.seen++
	if f, ok := number(v); ok && !p.nonNum {
		if p.seen == 1 || f < p.min {
			p.min = f
		}
		if p.seen == 1 || f > p.max {
			p.max = f
		}
	} else {
		p.nonNum = true
	}
	if len(v) > maxParamValueBytes {
		v = v[:maxParamValueBytes]
	}
	if n, ok := p.values[v]; ok {
		p.values[v] = n + 1
		return
	}
	if len(p.values) >= maxParamValues {
		p.capped = true
		return
	}
	if p.values == nil {
		p.values = map[string]int64{}
	}
	// A copy: v points into the line, which must not stay alive for it.
	p.values[strings.Clone(v)] = 1
}

// merge adds the counts of q, the same parameter of a template merged
// into this one.
func (p *paramStats) merge(q *paramStats) {
	if q.seen == 0 {
		return
	}
	if p.seen == 0 {
		p.min, p.max = q.min, q.max
	} else {
		p.min, p.max = min(p.min, q.min), max(p.max, q.max)
	}
	p.seen += q.seen
	p.nonNum = p.nonNum || q.nonNum
	p.capped = p.capped || q.capped
	for v, n := range q.values {
		if _, ok := p.values[v]; !ok && len(p.values) >= maxParamValues {
			p.capped = true
			continue
		}
		if p.values == nil {
			p.values = map[string]int64{}
		}
		p.values[v] += n
	}
}

// number reads a decimal number; "NaN", "Inf" and hex do not count.
func number(s string) (float64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// templatesReport is the output of `vigil logs templates`.
type templatesReport struct {
	Service   string         `json:"service,omitempty"`
	Lines     int64          `json:"lines"`
	Entries   int64          `json:"entries"`
	Blank     int64          `json:"blank,omitempty"`
	Truncated int64          `json:"truncated,omitempty"`
	Templates []templateJSON `json:"templates"`
}

type templateJSON struct {
	ID       string      `json:"id"`
	Template string      `json:"template"`
	Count    int64       `json:"count"`
	Examples []string    `json:"examples"`
	Params   []paramJSON `json:"params"`
}

type paramJSON struct {
	Slot int `json:"slot"`
	// Distinct is the number of distinct values; with DistinctCapped, a
	// floor.
	Distinct       int          `json:"distinct"`
	DistinctCapped bool         `json:"distinct_capped,omitempty"`
	Top            []valueCount `json:"top"`
	Min            *float64     `json:"min,omitempty"`
	Max            *float64     `json:"max,omitempty"`
}

type valueCount struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// report builds the output, with the top templates (all when top is 0).
func (tm *templateMiner) report(top int) templatesReport {
	ts := tm.miner.Templates() // most frequent first
	if top > 0 && len(ts) > top {
		ts = ts[:top]
	}
	rep := templatesReport{
		Service: tm.service, Lines: tm.lines, Entries: tm.entries, Blank: tm.blank, Truncated: tm.truncated,
		Templates: make([]templateJSON, 0, len(ts)),
	}
	for _, t := range ts {
		tj := templateJSON{ID: t.ID, Template: t.Template, Count: t.Count, Examples: t.Examples, Params: []paramJSON{}}
		if tj.Examples == nil {
			tj.Examples = []string{}
		}
		ps := make([]paramStats, len(t.Slots))
		if own := tm.params[t.ID]; len(own) == len(ps) {
			copy(ps, own)
		}
		for _, alias := range t.Aliases {
			if other := tm.params[alias]; len(other) == len(ps) {
				for k := range ps {
					ps[k].merge(&other[k])
				}
			}
		}
		for k := range ps {
			tj.Params = append(tj.Params, ps[k].summary(k))
		}
		rep.Templates = append(rep.Templates, tj)
	}
	return rep
}

func (p *paramStats) summary(slot int) paramJSON {
	out := paramJSON{Slot: slot, Distinct: len(p.values), DistinctCapped: p.capped, Top: []valueCount{}}
	for v, n := range p.values {
		out.Top = append(out.Top, valueCount{v, n})
	}
	slices.SortFunc(out.Top, func(a, b valueCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	out.Top = out.Top[:min(len(out.Top), topParamValues)]
	if p.seen > 0 && !p.nonNum {
		lo, hi := p.min, p.max
		out.Min, out.Max = &lo, &hi
	}
	return out
}

func writeTemplatesText(w io.Writer, rep templatesReport, total int, elapsed time.Duration, maxBytes int) error {
	bw := bufio.NewWriter(w)
	cw, iw := len("COUNT"), len("ID")
	for _, t := range rep.Templates {
		cw = max(cw, len(strconv.FormatInt(t.Count, 10)))
		iw = max(iw, len(t.ID))
	}
	indent := strings.Repeat(" ", cw+2+iw+2)
	fmt.Fprintf(bw, "%*s  %-*s  %s\n", cw, "COUNT", iw, "ID", "TEMPLATE")
	for _, t := range rep.Templates {
		fmt.Fprintf(bw, "%*d  %-*s  %s\n", cw, t.Count, iw, t.ID, t.Template)
		if len(t.Examples) > 0 {
			fmt.Fprintf(bw, "%sexample: %s\n", indent, oneLine(t.Examples[0]))
		}
		for _, p := range t.Params {
			fmt.Fprintf(bw, "%s<%d> %s\n", indent, p.Slot+1, paramText(p))
		}
	}
	secs := elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(rep.Lines) / secs
	}
	fmt.Fprintf(bw, "\n%d lines, %d entries, %d templates", rep.Lines, rep.Entries, total)
	if len(rep.Templates) < total {
		fmt.Fprintf(bw, " (%d shown)", len(rep.Templates))
	}
	shown := elapsed.Round(time.Millisecond)
	if elapsed < 10*time.Millisecond {
		shown = elapsed.Round(time.Microsecond)
	}
	fmt.Fprintf(bw, " in %s (%.0f lines/s)\n", shown, rate)
	if rep.Truncated > 0 {
		fmt.Fprintf(bw, "%d lines longer than %d bytes were truncated\n", rep.Truncated, maxBytes)
	}
	return bw.Flush()
}

func paramText(p paramJSON) string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(p.Distinct))
	if p.DistinctCapped {
		b.WriteByte('+')
	}
	b.WriteString(" distinct:")
	for i, v := range p.Top {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, " %s (%d)", strconv.Quote(v.Value), v.Count)
	}
	if p.Distinct > len(p.Top) {
		b.WriteString(", ...")
	}
	if p.Min != nil {
		fmt.Fprintf(&b, "; range %s..%s", formatNumber(*p.Min), formatNumber(*p.Max))
	}
	return b.String()
}

// formatNumber writes integers (and other numbers of log-like size) in
// full, not in exponent form.
func formatNumber(f float64) string {
	if f > -1e21 && f < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// oneLine shows the first line of a (joined) entry.
func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// lineReader reads lines of any length in bounded memory: the bytes past
// max are skipped.
type lineReader struct {
	r   *bufio.Reader
	max int
	buf []byte
	n   int64 // bytes read
}

// next returns the next line without its end of line, and whether it was
// cut. The line is valid until the next call. It returns io.EOF at the end.
func (lr *lineReader) next() ([]byte, bool, error) {
	lr.buf = lr.buf[:0]
	cut, got := false, false
	for {
		chunk, err := lr.r.ReadSlice('\n')
		lr.n += int64(len(chunk))
		got = got || len(chunk) > 0
		if err == nil {
			chunk = chunk[:len(chunk)-1]
		}
		if room := lr.max - len(lr.buf); len(chunk) > room {
			chunk, cut = chunk[:max(room, 0)], true
		}
		lr.buf = append(lr.buf, chunk...)
		switch {
		case err == nil:
			return trimCR(lr.buf), cut, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && got:
			return trimCR(lr.buf), cut, nil // a last line without a newline
		default:
			return nil, false, err
		}
	}
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// readProgress reports reading progress on stderr: by bytes against the
// file's size, or by lines when the size is unknown (stdin). Like
// progress, it redraws in place on a terminal and prints occasional lines
// otherwise; it stays silent for inputs read within a second.
type readProgress struct {
	w       io.Writer
	label   string
	tty     bool
	total   int64 // bytes, -1 when unknown
	start   time.Time
	last    time.Time
	lastPct int
	shown   bool
}

// readProgressQuiet is how long reading goes before progress shows.
const readProgressQuiet = time.Second

func newReadProgress(w io.Writer, label string, total int64, now time.Time) *readProgress {
	return &readProgress{w: w, label: label, tty: newProgress(w, label).tty, total: total, start: now, last: now, lastPct: -1}
}

func (p *readProgress) update(bytes, lines int64, now time.Time) {
	if now.Sub(p.start) < readProgressQuiet {
		return
	}
	if p.total > 0 {
		pct := int(100 * min(bytes, p.total) / p.total)
		switch {
		case p.tty && (pct != p.lastPct || now.Sub(p.last) >= 200*time.Millisecond):
			bar := strings.Repeat("#", pct/5) + strings.Repeat(".", 20-pct/5)
			fmt.Fprintf(p.w, "\r%s [%s] %3d%% %s of %s, %d lines", p.label, bar, pct, byteSize(bytes), byteSize(p.total), lines)
		case !p.tty && pct/10 != p.lastPct/10:
			fmt.Fprintf(p.w, "%s %d%% (%s of %s, %d lines)\n", p.label, pct, byteSize(bytes), byteSize(p.total), lines)
		default:
			return
		}
		p.lastPct = pct
	} else {
		switch {
		case p.tty && now.Sub(p.last) >= 200*time.Millisecond:
			fmt.Fprintf(p.w, "\r%s: %d lines, %s", p.label, lines, byteSize(bytes))
		case !p.tty && (!p.shown || now.Sub(p.last) >= 10*time.Second):
			fmt.Fprintf(p.w, "%s: %d lines, %s\n", p.label, lines, byteSize(bytes))
		default:
			return
		}
	}
	p.last, p.shown = now, true
}

func (p *readProgress) done() {
	if p.tty && p.shown {
		fmt.Fprintln(p.w)
	}
}

// byteSize formats a byte count with a binary unit.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
