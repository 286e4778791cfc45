package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/copilot"
	"github.com/vigilops/vigil/copilot/analyst"
	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/telemetry"
)

// Bounds of `vigil logs analyze`.
const (
	// maxShownAnomalies is how many anomalies the report lists.
	maxShownAnomalies = 20
	// maxAnomalyExamples is how many example lines are shown per anomaly.
	maxAnomalyExamples = 3
	// maxEvidenceLines is how many evidence lines the text report lists,
	// one per kind of line (evidenceGroup).
	maxEvidenceLines = 30
	// synthStep is the time between entries that carry no timestamp of
	// their own, so that the detectors' windows still move.
	synthStep = time.Second
	// tickEvery is how much evaluation time passes between detector ticks.
	tickEvery = time.Minute
	// closeAfter is how far past the last entry the final tick goes, so
	// that open windows close. Silences found by that tick are dropped:
	// the end of the input is not the service going quiet.
	closeAfter = 10 * time.Minute
	// followPoll and followSummaryEvery pace --follow.
	followPoll         = 500 * time.Millisecond
	followSummaryEvery = 30 * time.Second
)

// summaryBy says who wrote the summary.
func summaryBy(ex copilot.Explanation) string {
	switch {
	case ex.Source != copilot.SourceAnalyst:
		return "(" + ex.Source + ")"
	case ex.Note != "":
		return "(offline analyst: " + ex.Note + ")"
	}
	return "(offline analyst; no LLM configured)"
}

func newLogsAnalyzeCmd() *cobra.Command {
	var (
		asJSON   bool
		follow   bool
		binaryOK bool
		service  string
		maxBytes int
		cfgFile  string
	)
	c := &cobra.Command{
		Use:   "analyze FILE|-",
		Short: "Find what looks wrong in a log file and explain it",
		Long: `Read a log file (- for standard input), parse, join and mine it as vigil
serve does, run the log detectors over it (new patterns, frequency and
error bursts, unusual parameter values, silences, unlikely sequences) and
explain the error and warning lines with the offline analyst. Entries are
judged at their own timestamps; entries without one are spaced a second
apart. Print:

  What looks wrong  the anomalies, highest score first (at most 20)
  Evidence          the error and warning lines the analyst used
  Summary           the most likely cause and what to check first

The detectors learn normal from the input itself (about an hour of history),
so a short excerpt is explained by the analyst alone.

--json prints {"lines","entries","templates","anomalies":[...],
"anomalies_total","analysis":{...}}, analysis being the analyst's report with
line numbers of the input.

-f/--follow keeps reading a growing file (every 500 ms): it prints new
anomalies as they are found and an updated summary every 30 s while input
arrives, and a last one on Ctrl-C.

  vigil logs analyze /var/log/app.log
  kubectl logs deploy/checkout --since 1h | vigil logs analyze - --service checkout
  vigil logs analyze -f /var/log/app.log`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if maxBytes < 64 {
				return usageError{fmt.Errorf("logs analyze: --max-line-bytes %d is below 64", maxBytes)}
			}
			if follow && a[0] == "-" {
				return usageError{errors.New("logs analyze: --follow needs a file, not standard input")}
			}
			if follow && asJSON {
				return usageError{errors.New("logs analyze: --follow prints text; it does not combine with --json")}
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			if service == "" {
				service = inputServiceName(a[0])
			}
			in, size, name, closeIn, err := openLogInput(a[0], cmd.InOrStdin())
			if err != nil {
				return fmt.Errorf("logs analyze: %w", err)
			}
			defer closeIn()
			cop, err := loadCopilot(cfgFile)
			if err != nil {
				return err
			}
			la, err := newLogAnalyzer(service, time.Now(), cop)
			if err != nil {
				return fmt.Errorf("logs analyze: %w", err)
			}
			br := bufio.NewReaderSize(in, 64<<10)
			if !binaryOK {
				// Peek fills what the input has ready (a whole small file, the
				// first 64 KiB of a big one); a short read is not an error here.
				head, _ := br.Peek(64 << 10)
				if why := binaryReason(head); why != "" {
					return fmt.Errorf("logs analyze: %s does not look like a text log (%s); a compressed log reads with `zcat FILE | vigil logs analyze -`, and --binary analyses it anyway", name, why)
				}
			}
			lr := &lineReader{r: br, max: maxBytes}
			if follow {
				ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
				defer stop()
				return la.follow(ctx, lr, cmd.OutOrStdout(), maxBytes)
			}
			prog := newReadProgress(cmd.ErrOrStderr(), "reading "+name, size, time.Now())
			err = la.read(ctx, lr, prog)
			prog.done()
			if err != nil {
				return fmt.Errorf("logs analyze: read %s: %w", name, err)
			}
			// A file read to its end: silence is judged up to its last
			// entry and no further.
			la.finish(time.Time{})
			rep := la.report(ctx)
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false) // templates are full of "<*>"
				return enc.Encode(rep)
			}
			return writeAnalyzeText(cmd.OutOrStdout(), rep, maxBytes)
		},
	}
	fl := c.Flags()
	fl.BoolVar(&asJSON, "json", false, "print JSON instead of text")
	fl.BoolVarP(&follow, "follow", "f", false, "keep reading the file as it grows (Ctrl-C to stop)")
	fl.BoolVar(&binaryOK, "binary", false, "analyse input that does not look like text (NUL bytes, mostly non-UTF-8) instead of refusing it")
	fl.StringVar(&service, "service", "", "service the lines come from (a label in the output; also keys learned header layouts; default: the file's name without .log, or stdin)")
	fl.IntVar(&maxBytes, "max-line-bytes", defaultMaxLineBytes, "truncate longer lines to this many bytes (they are counted)")
	fl.StringVar(&cfgFile, "config", "", "configuration file whose copilot section names an LLM (default: offline analyst; VIGIL_COPILOT_* variables apply too)")
	return c
}

// inputServiceName names the service of an input given without --service,
// so that explanations never read "service :": the file's base name
// without a log-like extension, or "stdin".
func inputServiceName(path string) string {
	if path == "-" {
		return "stdin"
	}
	base := filepath.Base(path)
	switch ext := filepath.Ext(base); strings.ToLower(ext) {
	case ".log", ".txt", ".json", ".jsonl", ".ndjson":
		if trimmed := strings.TrimSuffix(base, ext); trimmed != "" {
			return trimmed
		}
	}
	return base
}

// evidenceLine is one physical line kept for the analyst.
type evidenceLine struct {
	n    int64 // 1-based line number in the input
	text string
	// template is the miner's template ID of the entry the line belongs
	// to, and part the line's place in that entry (0 for its first line):
	// the text report groups lines of one template and place.
	template string
	part     int
}

// logAnalyzer runs the log steps of the serve pipeline over one stream:
// parse, join and mine (the templateMiner of `logs templates`), then the
// log detectors; it keeps the error and warning lines for the analyst.
type logAnalyzer struct {
	tm       *templateMiner
	det      *detect.LogDetectors
	cop      *copilot.Copilot
	clock    time.Time // the Joiner's clock: tm.now in batch, wall time when following
	base     time.Time // the time of the first entry when none has a timestamp
	last     time.Time // the latest evaluation time seen
	lastTick time.Time
	// lastWall is the wall-clock time (clock) at which last last moved
	// on: when following, the log's clock now is last plus the wall time
	// since lastWall (followNow).
	lastWall time.Time
	// live is set when following, once the file's initial content is
	// read: entries without a timestamp are then stamped on arrival.
	live bool

	anomalies []detect.Anomaly
	// evidence holds the lines the analyst reads, at most
	// analyst.DefaultMaxLines of the latest.
	evidence []evidenceLine
	// emitted counts the physical lines of the entries the Joiner has
	// given back, so an entry's first line number is emitted+1.
	emitted int64
}

func newLogAnalyzer(service string, now time.Time, cop *copilot.Copilot) (*logAnalyzer, error) {
	tm, err := newTemplateMiner(service, now)
	if err != nil {
		return nil, err
	}
	seq, err := detect.NewSequenceDetector(detect.DefaultSequenceDetectorOptions())
	if err != nil {
		return nil, err
	}
	o := detect.DefaultLogDetectorsOptions()
	o.Extra = append(o.Extra, seq)
	return &logAnalyzer{
		tm: tm, det: detect.NewLogDetectors(o), cop: cop,
		clock: now, base: now.Truncate(time.Second),
	}, nil
}

// read analyses every line of lr up to its end.
func (la *logAnalyzer) read(ctx context.Context, lr *lineReader, prog *readProgress) error {
	for {
		line, trunc, err := lr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		la.push(line, trunc)
		if la.tm.lines%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if prog != nil {
				prog.update(lr.n, la.tm.lines, time.Now())
			}
		}
	}
}

func (la *logAnalyzer) push(line []byte, trunc bool) {
	la.tm.lines++
	if trunc {
		la.tm.truncated++
	}
	rec := telemetry.LogRecord{Service: la.tm.service, Raw: string(line)}
	la.observe(la.tm.joiner.Push(rec, la.clock))
}

// finish ends the input: pending entries are let out and the detectors'
// windows closed. now is the log-clock time up to which a silence may be
// judged, never before the last entry: the zero time (a file read to its
// end) means the last entry's time, since the end of a finite input says
// nothing about the service; when following, the time followNow maps the
// wall clock to. The tick that closes the other detectors' windows goes
// closeAfter further; the silences it finds are not reported.
func (la *logAnalyzer) finish(now time.Time) {
	la.observe(la.tm.joiner.Drain(la.clock))
	if la.last.IsZero() {
		return
	}
	if now.Before(la.last) {
		now = la.last
	}
	if now.After(la.lastTick) {
		la.lastTick = now
		la.anomalies = append(la.anomalies, la.det.Tick(now)...)
	}
	for _, a := range la.det.Tick(now.Add(closeAfter)) {
		if a.Type != detect.TypeSilence {
			la.anomalies = append(la.anomalies, a)
		}
	}
}

// tickAt ticks the detectors at now once tickEvery has passed since the
// last tick; the first call only starts the count.
func (la *logAnalyzer) tickAt(now time.Time) {
	switch {
	case la.lastTick.IsZero():
		la.lastTick = now
	case now.Sub(la.lastTick) >= tickEvery:
		la.lastTick = now
		la.anomalies = append(la.anomalies, la.det.Tick(now)...)
	}
}

// followNow maps wall, a wall-clock time, onto the log's clock: the last
// entry's time plus the wall time since it was read. A follower that
// stopped 3 s after the last line has seen 3 s of quiet, not more; the
// zero time before any entry.
func (la *logAnalyzer) followNow(wall time.Time) time.Time {
	if la.last.IsZero() {
		return time.Time{}
	}
	return la.last.Add(max(0, wall.Sub(la.lastWall)))
}

func (la *logAnalyzer) observe(recs []telemetry.LogRecord) {
	for i := range recs {
		rec := &recs[i]
		first := la.emitted + 1
		la.emitted += int64(strings.Count(rec.Raw, "\n")) + 1
		la.tm.entries++
		msg := rec.Message
		if msg == "" {
			msg = rec.Raw
		}
		if strings.TrimSpace(msg) == "" {
			la.tm.blank++
			continue
		}
		switch {
		case !rec.Time.IsZero():
		case la.last.IsZero():
			rec.Time = la.base
		case la.live:
			// Arrival on the log's clock: spacing a slow live stream a
			// second apart would teach the detectors a rate it never had.
			rec.Time = la.followNow(la.clock)
		default:
			rec.Time = la.last.Add(synthStep)
		}
		if rec.Time.After(la.last) {
			la.last, la.lastWall = rec.Time, la.clock
		}
		// The tick comes before the entry is seen: a gap between two
		// entries is judged (a silence, say) at the time of the entry
		// that ends it, which would otherwise close it unseen.
		la.tickAt(la.last)
		m := la.tm.miner.Add(msg)
		rec.TemplateID = m.TemplateID
		la.anomalies = append(la.anomalies, la.det.ObserveParams(rec, m.Template, m.Params)...)
		// The analyst reads what may say what went wrong: warnings and
		// worse, and lines whose level is unknown. Every line of a joined
		// entry is kept, as the exception often sits in a later one.
		if rec.Level >= telemetry.LevelWarn || rec.Level == telemetry.LevelUnknown {
			for k, l := range strings.Split(rec.Raw, "\n") {
				la.keep(evidenceLine{n: first + int64(k), text: l, template: m.TemplateID, part: k})
			}
		}
	}
}

func (la *logAnalyzer) keep(e evidenceLine) {
	if len(la.evidence) >= analyst.DefaultMaxLines {
		// Keep the latest half: what went wrong most recently matters most.
		n := copy(la.evidence, la.evidence[len(la.evidence)/2:])
		clear(la.evidence[n:])
		la.evidence = la.evidence[:n]
	}
	la.evidence = append(la.evidence, e)
}

// analyzeReport is the output of `vigil logs analyze`.
type analyzeReport struct {
	Service   string `json:"service,omitempty"`
	Lines     int64  `json:"lines"`
	Entries   int64  `json:"entries"`
	Truncated int64  `json:"truncated,omitempty"`
	Templates int    `json:"templates"`
	// Anomalies are the highest scored, at most 20; AnomaliesTotal counts
	// all of them.
	Anomalies      []detect.Anomaly `json:"anomalies"`
	AnomaliesTotal int              `json:"anomalies_total"`
	// Summary is the copilot's: the model's when one is configured and
	// could be trusted with the input, else the analyst's.
	Summary summaryJSON `json:"summary"`
	// Analysis is the offline analyst's report; its line numbers are those
	// of the input.
	Analysis analyst.Report `json:"analysis"`
	// Evidence are the lines the analysis cites, by line number.
	Evidence []evidenceJSON `json:"evidence"`
	// groups are Evidence's lines by kind, as the text report lists them.
	groups []evidenceGroup
}

type summaryJSON struct {
	Source     string   `json:"source"`
	Summary    string   `json:"summary"`
	Cause      string   `json:"cause"`
	NextSteps  []string `json:"next_steps"`
	Confidence float64  `json:"confidence"`
	Note       string   `json:"note,omitempty"`
}

type evidenceJSON struct {
	Line int64  `json:"line"`
	Text string `json:"text"`
	// TemplateID is the template of the entry the line belongs to.
	TemplateID string `json:"template_id,omitempty"`
}

// evidenceGroup is the cited lines of one kind: of one template, at one
// place in their entries (a stack trace's lines stay apart), and cited by
// one finding. A long run of near-identical lines is shown as one.
type evidenceGroup struct {
	First, Last int64 // line numbers
	Count       int
	Text        string // the first line's
}

func (la *logAnalyzer) report(ctx context.Context) analyzeReport {
	as := slices.Clone(la.anomalies)
	sortAnomalies(as)
	total := len(as)
	as = as[:min(len(as), maxShownAnomalies)]
	for i := range as {
		as[i].Examples = as[i].Examples[:min(len(as[i].Examples), maxAnomalyExamples)]
		as[i].Explanation = clarifyExplanation(as[i].Explanation)
	}
	if as == nil {
		as = []detect.Anomaly{}
	}
	ex, ev, groups := la.explain(ctx)
	return analyzeReport{
		Service: la.tm.service, Lines: la.tm.lines, Entries: la.tm.entries, Truncated: la.tm.truncated,
		Templates: la.tm.miner.Len(), Anomalies: as, AnomaliesTotal: total,
		Summary: summaryJSON{
			Source: ex.Source, Summary: ex.Summary, Cause: ex.Cause, NextSteps: ex.NextSteps,
			Confidence: ex.Confidence, Note: ex.Note,
		},
		Analysis: ex.Analysis, Evidence: ev, groups: groups,
	}
}

// noveltyPhrase is the new-pattern detector's wording of its Good–Turing
// estimate, which reads as nonsense when it is 0.
var noveltyPhrase = regexp.MustCompile(`\(chance of a new template ([0-9][0-9.,e+-]*)% a line\)`)

// clarifyExplanation rewords the parts of detector explanations that are
// unclear on their own in a report.
func clarifyExplanation(s string) string {
	return noveltyPhrase.ReplaceAllStringFunc(s, func(m string) string {
		v := noveltyPhrase.FindStringSubmatch(m)[1]
		if v == "0" {
			return "(no earlier template had been seen only once, so a new one was not expected)"
		}
		return "(new templates were expected on about " + v + "% of lines)"
	})
}

// sortAnomalies orders by score, highest first, then by time.
func sortAnomalies(as []detect.Anomaly) {
	slices.SortStableFunc(as, func(a, b detect.Anomaly) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return a.Start.Compare(b.Start)
	})
}

// explain asks the copilot about the kept lines and turns the analyst's line
// numbers (positions in what it read) into line numbers of the input. It
// returns the cited lines too, one by one and grouped by kind.
func (la *logAnalyzer) explain(ctx context.Context) (copilot.Explanation, []evidenceJSON, []evidenceGroup) {
	texts := make([]string, len(la.evidence))
	for i, e := range la.evidence {
		texts[i] = e.text
	}
	ex := la.cop.Explain(ctx, texts)
	rep := ex.Analysis
	// cited holds the lines cited, each with the first finding citing it.
	type citedLine struct {
		e       evidenceLine
		finding string
	}
	cited := map[int64]citedLine{}
	remap := func(ns []int, finding string) []int {
		out := make([]int, 0, len(ns))
		for _, n := range ns {
			if n < 1 || n > len(la.evidence) {
				continue
			}
			e := la.evidence[n-1]
			if _, ok := cited[e.n]; !ok {
				cited[e.n] = citedLine{e, finding}
			}
			out = append(out, int(e.n))
		}
		return out
	}
	at := func(n int) int {
		if n < 1 || n > len(la.evidence) {
			return n
		}
		return int(la.evidence[n-1].n)
	}
	rep.Findings = slices.Clone(rep.Findings)
	for i := range rep.Findings {
		f := &rep.Findings[i]
		f.FirstLine = at(f.FirstLine)
		f.Lines = remap(f.Lines, f.Signature)
		f.Related = slices.Clone(f.Related)
		for k := range f.Related {
			r := &f.Related[k]
			r.FirstLine = at(r.FirstLine)
			r.Lines = remap(r.Lines, r.Signature)
		}
	}
	// The summary and explanations cite lines as the analyst numbered them: "(first at
	// line N" and "(line N)".
	renumber := func(s string) string {
		return analystLineRef.ReplaceAllStringFunc(s, func(m string) string {
			sub := analystLineRef.FindStringSubmatch(m)
			n, err := strconv.Atoi(sub[2])
			if err != nil {
				return m
			}
			return sub[1] + strconv.Itoa(at(n))
		})
	}
	rep.Summary = renumber(rep.Summary)
	for i := range rep.Findings {
		rep.Findings[i].Explanation = renumber(rep.Findings[i].Explanation)
	}
	if ex.Source == copilot.SourceAnalyst {
		ex.Summary = rep.Summary
	}
	ex.Analysis = rep
	lines := make([]citedLine, 0, len(cited))
	for _, c := range cited {
		lines = append(lines, c)
	}
	slices.SortFunc(lines, func(a, b citedLine) int { return cmp.Compare(a.e.n, b.e.n) })
	// Templates merge as the miner learns: a line is grouped under the
	// template its ID has become.
	resolved := map[string]string{}
	resolve := func(id string) string {
		if id == "" {
			return ""
		}
		r, ok := resolved[id]
		if !ok {
			r = id
			if t, found := la.tm.miner.Lookup(id); found {
				r = t.ID
			}
			resolved[id] = r
		}
		return r
	}
	type groupKey struct {
		template, finding string
		part              int
	}
	ev := make([]evidenceJSON, 0, len(lines))
	var groups []evidenceGroup
	groupAt := map[groupKey]int{} // index in groups
	for _, c := range lines {
		id := resolve(c.e.template)
		ev = append(ev, evidenceJSON{Line: c.e.n, Text: c.e.text, TemplateID: id})
		k := groupKey{id, c.finding, c.e.part}
		if id == "" {
			k.finding += "\x00" + c.e.text // no template: only identical lines are alike
		}
		if i, ok := groupAt[k]; ok {
			groups[i].Count++
			groups[i].Last = c.e.n
			continue
		}
		groupAt[k] = len(groups)
		groups = append(groups, evidenceGroup{First: c.e.n, Last: c.e.n, Count: 1, Text: c.e.text})
	}
	return ex, ev, groups
}

// analystLineRef finds the line references in an analyst's summary.
var analystLineRef = regexp.MustCompile(`(\(first at line |\(line )([0-9]+)`)

func writeAnalyzeText(w io.Writer, rep analyzeReport, maxBytes int) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "What looks wrong")
	if len(rep.Anomalies) == 0 {
		fmt.Fprintln(bw, "  No anomalies: nothing departs from what the detectors learned. They learn")
		fmt.Fprintln(bw, "  normal from the input itself (about an hour of history), so a short excerpt")
		fmt.Fprintln(bw, "  is judged by the analyst alone (see Summary).")
	}
	writeAnomalies(bw, rep.Anomalies, 0)
	if rep.AnomaliesTotal > len(rep.Anomalies) {
		fmt.Fprintf(bw, "  (%d more anomalies with lower scores not shown)\n", rep.AnomaliesTotal-len(rep.Anomalies))
	}
	fmt.Fprintln(bw)
	writeEvidenceAndSummary(bw, rep)
	fmt.Fprintf(bw, "\n%d lines, %d entries, %d templates, %d anomalies\n", rep.Lines, rep.Entries, rep.Templates, rep.AnomaliesTotal)
	if rep.Truncated > 0 {
		fmt.Fprintf(bw, "%d lines longer than %d bytes were truncated\n", rep.Truncated, maxBytes)
	}
	return bw.Flush()
}

// writeAnomalies lists anomalies, numbered from from+1.
func writeAnomalies(w io.Writer, as []detect.Anomaly, from int) {
	for i, a := range as {
		fmt.Fprintf(w, "  %d. %s", from+i+1, a.Type)
		if a.Service != "" {
			fmt.Fprintf(w, " in %s", a.Service)
		}
		fmt.Fprintf(w, " (score %.2f, confidence %.2f) at %s\n", a.Score, a.Confidence, a.Start.Format(time.RFC3339))
		if a.Template != "" {
			fmt.Fprintf(w, "     template: %s\n", a.Template)
		} else if a.TemplateID != "" {
			fmt.Fprintf(w, "     template: %s\n", a.TemplateID)
		}
		if a.Explanation != "" {
			fmt.Fprintf(w, "     %s\n", clarifyExplanation(a.Explanation))
		}
		for _, ex := range a.Examples[:min(len(a.Examples), maxAnomalyExamples)] {
			fmt.Fprintf(w, "     e.g. %s\n", oneLine(ex))
		}
	}
}

func writeEvidenceAndSummary(w io.Writer, rep analyzeReport) {
	fmt.Fprintln(w, "Evidence")
	if len(rep.Evidence) == 0 {
		fmt.Fprintln(w, "  No error or warning line matched a known failure.")
	}
	// One line per kind of line, with its count and its first example:
	// twenty lines that differ only in a request ID say it once.
	gs := rep.groups
	for _, g := range gs[:min(len(gs), maxEvidenceLines)] {
		if g.Count == 1 {
			fmt.Fprintf(w, "  line %d: %s\n", g.First, g.Text)
			continue
		}
		fmt.Fprintf(w, "  %d cited lines alike (%d to %d), e.g. line %d: %s\n", g.Count, g.First, g.Last, g.First, g.Text)
	}
	if len(gs) > maxEvidenceLines {
		rest := 0
		for _, g := range gs[maxEvidenceLines:] {
			rest += g.Count
		}
		fmt.Fprintf(w, "  (%d more lines of %d other kinds not shown)\n", rest, len(gs)-maxEvidenceLines)
	}
	a := rep.Summary
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Summary "+summaryBy(copilot.Explanation{Source: a.Source, Note: a.Note}))
	fmt.Fprintf(w, "  %s\n", a.Summary)
	if a.Cause != "" {
		fmt.Fprintf(w, "  Cause: %s (confidence %.2f)\n", a.Cause, a.Confidence)
	}
	if len(a.NextSteps) > 0 {
		fmt.Fprintln(w, "  Next steps:")
		for _, s := range a.NextSteps {
			fmt.Fprintf(w, "    - %s\n", s)
		}
	}
}

// follow analyses what lr holds, then keeps polling it for appended lines
// until ctx ends. New anomalies are printed as found; the summary is
// printed at the start, every followSummaryEvery while input arrives, and
// at the end. The Joiner runs on the wall clock here, so an entry is let
// out once no continuation line has come for its timeout.
//
// Silence is judged on the log's clock as followNow maps the wall clock to
// it: only wall time that passed with no line counts as quiet.
//
// A line being written when a poll reads it may be read in two pieces.
func (la *logAnalyzer) follow(ctx context.Context, lr *lineReader, w io.Writer, maxBytes int) error {
	shown := 0
	flushNew := func() {
		if len(la.anomalies) > shown {
			fresh := slices.Clone(la.anomalies[shown:])
			sortAnomalies(fresh)
			fmt.Fprintln(w, "What looks wrong (new)")
			writeAnomalies(w, fresh, shown)
			shown = len(la.anomalies)
		}
	}
	summary := func() error {
		fmt.Fprintln(w)
		writeEvidenceAndSummary(w, la.report(ctx))
		_, err := fmt.Fprintf(w, "(%d lines, %d entries, %d templates, %d anomalies so far)\n\n", la.tm.lines, la.tm.entries, la.tm.miner.Len(), len(la.anomalies))
		return err
	}
	readAll := func() (int64, error) {
		before := la.tm.lines
		began := time.Now()
		la.clock = began
		err := la.read(ctx, lr, nil)
		la.observe(la.tm.joiner.Flush(time.Now()))
		if la.lastWall.Equal(began) {
			// The lines of this pass count as read at its end: the time a
			// long first read takes is not quiet.
			la.lastWall = time.Now()
		}
		if now := la.followNow(time.Now()); !now.IsZero() {
			la.tickAt(now)
		}
		return la.tm.lines - before, err
	}
	if _, err := readAll(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("logs analyze: %w", err)
	}
	// What the file held at the start is complete: let its last entry out.
	la.clock = time.Now()
	la.observe(la.tm.joiner.Drain(la.clock))
	la.live = true
	flushNew()
	if err := summary(); err != nil {
		return err
	}
	lastSummary, pending := time.Now(), false
	t := time.NewTicker(followPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			la.finish(la.followNow(time.Now()))
			flushNew()
			return summary()
		case <-t.C:
		}
		n, err := readAll()
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("logs analyze: %w", err)
		}
		flushNew()
		pending = pending || n > 0
		if pending && time.Since(lastSummary) >= followSummaryEvery {
			if err := summary(); err != nil {
				return err
			}
			lastSummary, pending = time.Now(), false
		}
	}
}

// binaryReason says why the start of an input does not look like a text
// log ("" when it does): a NUL byte, or more than a tenth of its bytes
// neither printable UTF-8 nor the usual white space and escapes.
func binaryReason(head []byte) string {
	if len(head) == 0 {
		return ""
	}
	if i := bytes.IndexByte(head, 0); i >= 0 {
		return fmt.Sprintf("a NUL byte at offset %d", i)
	}
	bad := 0
	for i := 0; i < len(head); {
		r, n := utf8.DecodeRune(head[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			// A rune cut by the end of the sample is not evidence.
			if len(head)-i >= utf8.UTFMax {
				bad++
			}
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r' && r != '\f' && r != '\v' && r != 0x1b:
			bad++
		}
		i += max(n, 1)
	}
	if bad*10 > len(head) {
		return fmt.Sprintf("%d of its first %d bytes are not text", bad, len(head))
	}
	return ""
}
