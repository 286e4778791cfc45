package analyst

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// symptomPhrase names a folded symptom inside a sentence.
var symptomPhrase = map[string]string{
	"health-check": "the failing health check",
	"retry":        "the retries",
	"http-5xx":     "the HTTP 5xx errors",
	"crashloop":    "the crash loop",
	"error":        "the other errors",
}

// fold tells each symptom as part of the nearest cause's story when they
// are at most FoldWindow lines apart (a cause before the symptom wins a
// tie). A symptom with no cause nearby stays a finding of its own, and
// retries with no cause fold into another nearby symptom, since "retrying"
// alone says nothing.
func (a *Analyst) fold(order []*group) {
	for _, s := range order {
		if !s.sig.Symptom {
			continue
		}
		first := s.lines[0]
		var best *group
		bestD := math.MaxInt
		for _, c := range order {
			if c == s || c.folded {
				continue
			}
			if c.sig.Symptom && (s.sig.ID != "retry" || c.sig.ID == "retry") {
				continue
			}
			d := nearest(c.lines, first)
			if d < 0 {
				// A cause after its symptom happens when logs interleave,
				// but one before it is the usual story: weigh it double.
				d = -d*4 + 1
			} else {
				d *= 2
			}
			if d <= 2*a.o.FoldWindow && d < bestD {
				best, bestD = c, d
			}
		}
		if best != nil {
			s.folded = true
			best.related = append(best.related, s)
		}
	}
}

// nearest returns first minus the closest line in lines: positive when the
// closest line comes before first.
func nearest(lines []int, first int) int {
	i, _ := slices.BinarySearch(lines, first)
	best := math.MaxInt
	if i < len(lines) {
		best = first - lines[i] // <= 0
	}
	if i > 0 {
		if d := first - lines[i-1]; d < abs(best) {
			best = d
		}
	}
	return best
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// finding turns a group into a Finding.
func (a *Analyst) finding(g *group) Finding {
	s := g.sig
	f := Finding{
		Signature:   s.ID,
		Title:       s.Title,
		Entity:      g.entity,
		Count:       len(g.lines),
		FirstLine:   g.lines[0],
		Lines:       slices.Clone(g.lines[:min(len(g.lines), a.o.MaxLineRefs)]),
		Example:     g.example,
		Cause:       s.causeText(g.entity),
		Explanation: s.Explanation,
		Causes:      slices.Clone(s.Causes),
		Checks:      s.fillChecks(g.entity),
		Severity:    s.Severity,
	}
	if db, ok := databaseOf(g.entity); ok && s.dbCause != "" {
		f.Database = db.engine
		f.Cause = fmt.Sprintf(s.dbCause, db.label(g.entity))
		f.Explanation = "This is the service's database: " + f.Cause + ". " + s.Explanation
		// The database checks already cover reachability (nc, network
		// policy, firewall), so the generic ones that repeat them go.
		checks := db.checks(g.entity)
		for _, c := range f.Checks {
			lc := strings.ToLower(c)
			if !strings.Contains(lc, "nc -vz") && !strings.Contains(lc, "networkpolicy") {
				checks = append(checks, c)
			}
		}
		f.Checks = checks
	}
	for _, r := range g.related {
		f.Related = append(f.Related, Related{
			Signature: r.sig.ID,
			Title:     r.sig.Title,
			Count:     len(r.lines),
			FirstLine: r.lines[0],
			Lines:     slices.Clone(r.lines[:min(len(r.lines), a.o.MaxLineRefs)]),
		})
	}
	if len(f.Related) > 0 {
		f.Explanation += " " + capitalize(relatedSentence(f))
	}
	return f
}

// relatedSentence says which symptoms follow from the finding.
func relatedSentence(f Finding) string {
	var names []string
	for _, r := range f.Related {
		p, ok := symptomPhrase[r.Signature]
		if !ok {
			p = "the " + strings.ToLower(r.Title)
		}
		names = append(names, fmt.Sprintf("%s (line %d)", p, r.FirstLine))
	}
	verb := "is"
	if len(names) > 1 || strings.HasSuffix(names[0][:strings.Index(names[0], " (")], "s") {
		verb = "are"
	}
	return fmt.Sprintf("%s %s a consequence of this, not a separate problem.", joinAnd(names), verb)
}

func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// rank orders findings: most severe first, then the earliest (the first
// failure usually causes the later ones), then the most frequent.
func rank(fs []Finding) {
	slices.SortStableFunc(fs, func(x, y Finding) int {
		if c := cmp.Compare(y.Severity, x.Severity); c != 0 {
			return c
		}
		if c := cmp.Compare(x.FirstLine, y.FirstLine); c != 0 {
			return c
		}
		return cmp.Compare(y.Count, x.Count)
	})
}

// report builds the Report from the groups.
func (a *Analyst) report(order []*group) Report {
	a.fold(order)
	var fs []Finding
	for _, g := range order {
		if !g.folded {
			fs = append(fs, a.finding(g))
		}
	}
	rank(fs)
	rep := Report{Findings: []Finding{}, NextSteps: []string{}}
	if len(fs) > a.o.MaxFindings {
		rep.Omitted = len(fs) - a.o.MaxFindings
		fs = fs[:a.o.MaxFindings]
	}
	rep.Findings = append(rep.Findings, fs...)
	if len(fs) == 0 {
		rep.Summary = "No known failure signature or error line was found. If something is wrong, the lines given may not cover it: widen the time range or include the failing component's logs."
		return rep
	}
	top := fs[0]
	rep.Cause = capitalize(top.Cause) + "."
	rep.NextSteps = nextSteps(fs)
	rep.Confidence = confidence(fs)
	rep.Summary = summary(top, fs, rep.Omitted)
	return rep
}

// summary says, in two to four sentences, what happened and what to check
// first.
func summary(top Finding, fs []Finding, omitted int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Most likely cause: %s (first at line %d", top.Cause, top.FirstLine)
	if top.Count > 1 {
		fmt.Fprintf(&b, ", %d lines", top.Count)
	}
	b.WriteString(").")
	if len(top.Related) > 0 {
		b.WriteString(" " + capitalize(relatedSentence(top)))
	}
	if len(top.Checks) > 0 {
		b.WriteString(" First, " + strings.TrimSuffix(top.Checks[0], ".") + ".")
	}
	if others := len(fs) - 1 + omitted; others > 0 {
		var titles []string
		for _, f := range fs[1:min(len(fs), 4)] {
			titles = append(titles, strings.ToLower(f.Title))
		}
		plural := "s"
		if others == 1 {
			plural = ""
		}
		fmt.Fprintf(&b, " Also seen: %d other finding%s (%s).", others, plural, strings.Join(titles, ", "))
	}
	return b.String()
}

// nextSteps lists the top finding's checks, then the first check of the
// next two findings.
func nextSteps(fs []Finding) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, c := range fs[0].Checks[:min(3, len(fs[0].Checks))] {
		add(c)
	}
	for _, f := range fs[1:min(len(fs), 3)] {
		if len(f.Checks) > 0 {
			add(f.Checks[0])
		}
	}
	return out
}

// confidence is a heuristic: a specific signature with a named entity and
// corroborating symptoms is likelier right than a generic error, and a
// rival cause of the same severity makes any single story less certain.
func confidence(fs []Finding) float64 {
	top := fs[0]
	c := 0.6
	if top.Signature == sigGeneric.ID {
		c = 0.3
	}
	if top.Entity != "" {
		c += 0.1
	}
	if len(top.Related) > 0 {
		c += 0.1
	}
	c += math.Min(0.1, 0.02*float64(top.Count-1))
	for _, f := range fs[1:] {
		if f.Severity == top.Severity && f.Signature != top.Signature && f.Signature != sigGeneric.ID {
			c -= 0.1
			break
		}
	}
	c = math.Max(0.05, math.Min(0.95, c))
	return math.Round(c*100) / 100
}
