package analyst

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes the report as plain text for a terminal: the summary,
// then each finding with its checks. It is what `vigil explain` prints.
func WriteText(w io.Writer, r Report) error {
	var b strings.Builder
	b.WriteString(r.Summary + "\n")
	if r.Cause != "" {
		fmt.Fprintf(&b, "\nCause: %s (confidence %.2f)\n", r.Cause, r.Confidence)
	}
	for i, f := range r.Findings {
		fmt.Fprintf(&b, "\n%d. [%s] %s", i+1, f.Severity, f.Title)
		if f.Entity != "" {
			fmt.Fprintf(&b, " — %s", f.Entity)
		}
		if f.Database != "" {
			fmt.Fprintf(&b, " (%s)", f.Database)
		}
		fmt.Fprintf(&b, "\n   %d line(s): %s\n", f.Count, lineList(f.Lines, f.Count))
		fmt.Fprintf(&b, "   e.g. %s\n", f.Example)
		for _, r := range f.Related {
			fmt.Fprintf(&b, "   + %s: %d line(s): %s\n", r.Title, r.Count, lineList(r.Lines, r.Count))
		}
		fmt.Fprintf(&b, "   %s\n", f.Explanation)
		if len(f.Causes) > 0 {
			b.WriteString("   Likely causes:\n")
			for _, c := range f.Causes {
				fmt.Fprintf(&b, "     - %s\n", c)
			}
		}
		if len(f.Checks) > 0 {
			b.WriteString("   Checks:\n")
			for _, c := range f.Checks {
				fmt.Fprintf(&b, "     - %s\n", c)
			}
		}
	}
	if r.Omitted > 0 {
		fmt.Fprintf(&b, "\n(%d more finding(s) not shown)\n", r.Omitted)
	}
	if r.Skipped > 0 {
		fmt.Fprintf(&b, "\n(%d line(s) past the limit were not read)\n", r.Skipped)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func lineList(lines []int, count int) string {
	s := make([]string, len(lines))
	for i, n := range lines {
		s[i] = fmt.Sprint(n)
	}
	out := strings.Join(s, ", ")
	if count > len(lines) {
		out += ", …"
	}
	return out
}
