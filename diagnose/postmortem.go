package diagnose

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// TimelineEntry is one entry of an incident's timeline.
type TimelineEntry struct {
	Time time.Time `json:"time"`
	// Kind is what happened: alert, anomaly, ack, note, action, resolve...
	Kind string `json:"kind"`
	Text string `json:"text"`
}

// IncidentInfo is the plain description of an incident a postmortem needs;
// the caller fills it from its incident store.
type IncidentInfo struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Start is when the incident opened; Ack and Resolve are zero when it
	// has not been acknowledged or resolved.
	Start    time.Time       `json:"start"`
	Ack      time.Time       `json:"ack,omitzero"`
	Resolve  time.Time       `json:"resolve,omitzero"`
	Services []string        `json:"services,omitempty"`
	Timeline []TimelineEntry `json:"timeline,omitempty"`
}

// WritePostmortem renders a Markdown postmortem draft (summary, impact,
// timeline, root cause, contributing factors, follow-up actions) from the
// incident and its diagnosis (which may be nil). Every statement it makes
// comes from the inputs; what it cannot know is left as a marked prompt for
// the authors.
func WritePostmortem(w io.Writer, inc IncidentInfo, d *Diagnosis) error {
	var b strings.Builder
	title := inc.Title
	if title == "" {
		title = "Incident " + inc.ID
	}
	fmt.Fprintf(&b, "# Postmortem: %s\n\n", mdText(title))
	if inc.ID != "" {
		fmt.Fprintf(&b, "Incident `%s` · ", mdCode(inc.ID))
	}
	fmt.Fprintf(&b, "Status: **draft**\n\n")

	b.WriteString("## Summary\n\n")
	top := topCandidate(d)
	fmt.Fprintf(&b, "%s", mdText(title))
	if !inc.Start.IsZero() {
		fmt.Fprintf(&b, " began at %s", stamp(inc.Start))
	}
	if !inc.Resolve.IsZero() {
		fmt.Fprintf(&b, " and was resolved at %s, %s later", stamp(inc.Resolve), humanDuration(inc.Resolve.Sub(inc.Start)))
	} else {
		b.WriteString(" and is not resolved yet")
	}
	b.WriteString(".")
	if top != nil {
		fmt.Fprintf(&b, " The probable root cause is **%s** (confidence %.0f%%): %s.", mdText(top.Service), 100*top.Confidence, mdText(top.Reason))
	}
	b.WriteString("\n\n")

	b.WriteString("## Impact\n\n")
	affected := affectedServices(inc, d)
	if len(affected) > 0 {
		fmt.Fprintf(&b, "- Affected services: %s\n", mdText(strings.Join(affected, ", ")))
	}
	if !inc.Start.IsZero() {
		if !inc.Ack.IsZero() {
			fmt.Fprintf(&b, "- Time to acknowledge: %s\n", humanDuration(inc.Ack.Sub(inc.Start)))
		}
		if !inc.Resolve.IsZero() {
			fmt.Fprintf(&b, "- Time to resolve: %s\n", humanDuration(inc.Resolve.Sub(inc.Start)))
		}
	}
	b.WriteString("- User impact: _to be filled in (requests failed, customers affected, revenue)_\n\n")

	b.WriteString("## Timeline\n\n")
	tl := timeline(inc, d)
	if len(tl) == 0 {
		b.WriteString("_No timeline entries._\n")
	} else {
		b.WriteString("| Time (UTC) | Kind | What happened |\n|---|---|---|\n")
		for _, e := range tl {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", stamp(e.Time), mdCell(e.Kind), mdCell(e.Text))
		}
	}
	b.WriteString("\n")

	b.WriteString("## Root cause\n\n")
	if top == nil {
		b.WriteString("_No root cause was diagnosed: to be filled in._\n\n")
	} else {
		fmt.Fprintf(&b, "**%s** (confidence %.0f%%). %s\n\n", mdText(top.Service), 100*top.Confidence, mdText(top.Reason))
		for _, e := range top.Evidence {
			fmt.Fprintf(&b, "- %s: %s", e.Kind, mdText(e.Summary))
			if !e.Onset.IsZero() {
				fmt.Fprintf(&b, " (from %s)", stamp(e.Onset))
			}
			b.WriteString("\n")
			for i, ex := range e.Examples {
				if i == 2 {
					break
				}
				fmt.Fprintf(&b, "  `%s`\n", mdCode(truncate(ex, 200)))
			}
		}
		if len(d.Chain) > 0 {
			b.WriteString("\nHow it spread:\n\n")
			for i, l := range d.Chain {
				fmt.Fprintf(&b, "%d. %s → %s (%s, %s) at %s\n", i+1, mdText(l.From), mdText(l.To), l.Via, mdText(l.Signal), stamp(l.Onset))
			}
		}
		b.WriteString("\n")
	}

	b.WriteString("## Contributing factors\n\n")
	factors := 0
	if d != nil {
		for _, c := range d.Candidates[min(1, len(d.Candidates)):] {
			if c.Confidence < 0.05 || factors == 4 {
				break
			}
			fmt.Fprintf(&b, "- %s (confidence %.0f%%): %s\n", mdText(c.Service), 100*c.Confidence, mdText(c.Reason))
			factors++
		}
	}
	if factors == 0 {
		b.WriteString("- _None identified by the diagnosis: to be filled in._\n")
	}
	if !inc.Start.IsZero() && !inc.Ack.IsZero() && inc.Ack.Sub(inc.Start) > 15*time.Minute {
		fmt.Fprintf(&b, "- Acknowledgement took %s.\n", humanDuration(inc.Ack.Sub(inc.Start)))
	}
	b.WriteString("\n")

	b.WriteString("## Follow-up actions\n\n")
	if d != nil && d.NextStep != "" {
		fmt.Fprintf(&b, "- [ ] %s\n", mdText(d.NextStep))
	}
	if top != nil {
		fmt.Fprintf(&b, "- [ ] Add or tune an alert on %s's leading signal so the next occurrence pages before users notice.\n", mdText(top.Service))
	}
	b.WriteString("- [ ] _Owner, action, due date: to be filled in._\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func topCandidate(d *Diagnosis) *Candidate {
	if d == nil || len(d.Candidates) == 0 {
		return nil
	}
	return &d.Candidates[0]
}

func affectedServices(inc IncidentInfo, d *Diagnosis) []string {
	set := map[string]bool{}
	for _, s := range inc.Services {
		set[s] = true
	}
	if d != nil {
		for _, l := range d.Chain {
			set[l.From], set[l.To] = true, true
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// timeline merges the incident's entries with the diagnosis' first signals.
func timeline(inc IncidentInfo, d *Diagnosis) []TimelineEntry {
	out := slices.Clone(inc.Timeline)
	if !inc.Start.IsZero() && !hasKind(out, "open") {
		out = append(out, TimelineEntry{Time: inc.Start, Kind: "open", Text: "incident opened"})
	}
	if !inc.Ack.IsZero() && !hasKind(out, "ack") {
		out = append(out, TimelineEntry{Time: inc.Ack, Kind: "ack", Text: "incident acknowledged"})
	}
	if !inc.Resolve.IsZero() && !hasKind(out, "resolve") {
		out = append(out, TimelineEntry{Time: inc.Resolve, Kind: "resolve", Text: "incident resolved"})
	}
	if d != nil {
		for i, l := range d.Chain {
			if i == 6 {
				break
			}
			text := fmt.Sprintf("%s: %s shows it", l.To, l.Signal)
			if l.From != l.To {
				text = fmt.Sprintf("%s → %s: %s", l.From, l.To, l.Signal)
			}
			out = append(out, TimelineEntry{Time: l.Onset, Kind: "signal", Text: text})
		}
	}
	slices.SortStableFunc(out, func(a, b TimelineEntry) int { return a.Time.Compare(b.Time) })
	return out
}

func hasKind(es []TimelineEntry, kind string) bool {
	return slices.ContainsFunc(es, func(e TimelineEntry) bool { return e.Kind == kind })
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

func humanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return d.Round(time.Second).String()
}

// mdText neutralises characters that would start Markdown structure inside
// running text (an incident title from an alert can hold anything).
func mdText(s string) string {
	r := strings.NewReplacer("\n", " ", "\r", " ", "|", "\\|", "*", "\\*", "_", "\\_", "`", "'", "<", "&lt;", ">", "&gt;", "[", "\\[", "]", "\\]")
	return r.Replace(s)
}

func mdCell(s string) string { return mdText(s) }

func mdCode(s string) string {
	return strings.NewReplacer("`", "'", "\n", " ", "\r", " ").Replace(s)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
