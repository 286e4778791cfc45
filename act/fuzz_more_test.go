package act

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzParseChangeWindow holds ParseChangeWindow to its contract: a rejected
// spec gets an error quoting it; an accepted one has sane fields, parses
// back from its String form, really opens at its start time on each listed
// day, stays shut on days neither listed nor following a listed one, and
// stops being accepted once garbage is glued to its days or times.
func FuzzParseChangeWindow(f *testing.F) {
	for _, s := range []string{
		"mon-fri 09:00-17:00", "sat 22:00-02:00", "fri-mon 00:00-23:59",
		"* 10:00-11:00 Europe/Berlin", "sat,sun 01:00-05:00 UTC", "MON 9:00-10:00",
		"mon 09:00-09:00", "sun-sat 00:00-00:00 America/New_York", "tue 23:30-00:30 Australia/Sydney",
		"", "mon", "moon 09:00-10:00", "mon 9-10", "mon 09:00-10:00 Mars/Base", "mon 09:00",
		"mon- 09:00-10:00", "mon-fri-sat 09:00-10:00", "mon,,fri 09:00-10:00", "* 24:00-01:00",
		"mon 09:00-17:00-18:00", "mon 09:60-10:00", "mon 09:00-10:00 ../etc/passwd",
		"mon 09:00-10:00 Local", "mon 09:00-10:00 UTC extra", "\xff 09:00-10:00", "*,mon 09:00-10:00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseChangeWindow(s)
		if err != nil {
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", s)) {
				t.Fatalf("ParseChangeWindow(%q): error %q does not quote the spec", s, err)
			}
			return
		}
		if w.String() != s {
			t.Fatalf("String() = %q, want %q", w.String(), s)
		}
		if w.Location == nil {
			t.Fatalf("ParseChangeWindow(%q): nil location", s)
		}
		for _, d := range []time.Duration{w.Start, w.End} {
			if d < 0 || d >= 24*time.Hour || d%time.Minute != 0 {
				t.Fatalf("ParseChangeWindow(%q): clock %v not a minute of the day", s, d)
			}
		}
		anyDay := false
		for _, on := range w.Days {
			anyDay = anyDay || on
		}
		if !anyDay {
			t.Fatalf("ParseChangeWindow(%q): no day selected", s)
		}
		again, err := ParseChangeWindow(w.String())
		if err != nil || again.Days != w.Days || again.Start != w.Start || again.End != w.End ||
			again.Location.String() != w.Location.String() {
			t.Fatalf("reparse of %q: %+v, %v; first %+v", s, again, err, w)
		}
		checkWindowDays(t, w)

		// Garbage glued to a field must be refused, not cut off.
		fields := strings.Fields(s)
		for i := 0; i < 2; i++ {
			g := append([]string(nil), fields...)
			g[i] += "x"
			bad := strings.Join(g, " ")
			if _, err := ParseChangeWindow(bad); err == nil {
				t.Fatalf("ParseChangeWindow(%q) accepted (from valid %q)", bad, s)
			}
		}
		if _, err := ParseChangeWindow(s + " a b"); err == nil {
			t.Fatalf("ParseChangeWindow(%q) accepted an extra field", s+" a b")
		}
	})
}

// checkWindowDays checks Contains against Days at the window's start: open
// on each listed day, shut on a day that is neither listed nor the day after
// a listed one. Days whose start time falls into a DST gap (so the wall
// clock never shows it) are skipped.
func checkWindowDays(t *testing.T, w ChangeWindow) {
	t.Helper()
	h, m := int(w.Start/time.Hour), int(w.Start%time.Hour/time.Minute)
	for d := time.Sunday; d <= time.Saturday; d++ {
		// 2026-01-04 and 2026-07-05 are Sundays; two seasons so that at
		// least one is clear of a DST change in any zone.
		for _, base := range []time.Time{
			time.Date(2026, 1, 4+int(d), h, m, 0, 0, w.Location),
			time.Date(2026, 7, 5+int(d), h, m, 0, 0, w.Location),
		} {
			if base.Hour() != h || base.Minute() != m || base.Weekday() != d {
				continue
			}
			got := w.Contains(base)
			switch {
			case w.Days[d] && !got:
				t.Fatalf("%q: shut at its start %v on a listed day", w.String(), base)
			case !w.Days[d] && !w.Days[(d+6)%7] && got:
				t.Fatalf("%q: open at %v on an unlisted day", w.String(), base)
			}
			break
		}
	}
}
