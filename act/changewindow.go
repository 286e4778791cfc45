package act

import (
	"fmt"
	"strings"
	"time"
)

// ChangeWindow is a weekly period in which automatic runs may start, e.g.
// "mon-fri 09:00-17:00 Europe/Berlin". An end at or before the start spans
// midnight ("sat 22:00-02:00" runs into Sunday).
type ChangeWindow struct {
	Days       [7]bool // by time.Weekday
	Start, End time.Duration
	Location   *time.Location
	text       string
}

func (w ChangeWindow) String() string { return w.text }

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseChangeWindow parses "DAYS HH:MM-HH:MM [ZONE]": DAYS is a comma list
// of day names or ranges (mon-fri, sat,sun) or "*"; ZONE an IANA name
// (UTC when absent).
func ParseChangeWindow(s string) (ChangeWindow, error) {
	w := ChangeWindow{text: s, Location: time.UTC}
	f := strings.Fields(s)
	if len(f) < 2 || len(f) > 3 {
		return w, fmt.Errorf("change window %q: want \"DAYS HH:MM-HH:MM [ZONE]\"", s)
	}
	if f[0] == "*" {
		for i := range w.Days {
			w.Days[i] = true
		}
	} else {
		for _, part := range strings.Split(strings.ToLower(f[0]), ",") {
			a, b, isRange := strings.Cut(part, "-")
			da, ok1 := weekdays[a]
			db, ok2 := weekdays[b]
			if !ok1 || (isRange && !ok2) {
				return w, fmt.Errorf("change window %q: bad day %q (mon..sun, ranges like mon-fri)", s, part)
			}
			if !isRange {
				db = da
			}
			for d := da; ; d = (d + 1) % 7 {
				w.Days[d] = true
				if d == db {
					break
				}
			}
		}
	}
	from, to, ok := strings.Cut(f[1], "-")
	var err error
	if w.Start, err = clock(from); err != nil || !ok {
		return w, fmt.Errorf("change window %q: bad start time %q (HH:MM)", s, from)
	}
	if w.End, err = clock(to); err != nil {
		return w, fmt.Errorf("change window %q: bad end time %q (HH:MM)", s, to)
	}
	if len(f) == 3 {
		loc, err := time.LoadLocation(f[2])
		if err != nil {
			return w, fmt.Errorf("change window %q: zone: %w", s, err)
		}
		w.Location = loc
	}
	return w, nil
}

func clock(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, err
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// Contains reports whether t falls in the window.
func (w ChangeWindow) Contains(t time.Time) bool {
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	since := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second
	day := t.Weekday()
	if w.End > w.Start {
		return w.Days[day] && since >= w.Start && since < w.End
	}
	// Spans midnight: late on a listed day, or early on the day after one.
	return (w.Days[day] && since >= w.Start) || (w.Days[(day+6)%7] && since < w.End)
}
