package detect

import (
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// TestSilenceJudgedUpToNow checks the contract callers build on: a silence
// is judged at the time Tick is given and no later, so a reader of a finite
// input that ticks at its last line's time reports no silence at its end,
// while a gap between two lines is found by a tick at the time of the line
// that ends it, made before that line is observed.
func TestSilenceJudgedUpToNow(t *testing.T) {
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	const steady = 2 * time.Hour
	cases := []struct {
		name string
		gap  time.Duration // quiet after the first steady run; 0: none
		// tick is when the detector is ticked after the lines, relative
		// to the last line; negative: no final tick.
		tick      time.Duration
		wantGap   bool // a silence from the end of the first run
		wantFinal bool // a silence from the final tick
	}{
		{name: "end of input at the last line", tick: 0},
		{name: "a few seconds after the last line", tick: 3 * time.Second},
		{name: "gap between lines", gap: 30 * time.Minute, tick: 0, wantGap: true},
		{name: "short pause between lines", gap: 20 * time.Second, tick: 0},
		// The detector reports what it is asked about: a caller that
		// ticks 10 minutes past the last line is told of 10 minutes of
		// quiet. Not ticking past the end is the caller's part.
		{name: "ten minutes past the last line", tick: 10 * time.Minute, wantFinal: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := NewSilenceDetector(DefaultSilenceOptions())
			var got []Anomaly
			lastTick := start
			ts := start
			feed := func(until time.Time) {
				for ; ts.Before(until); ts = ts.Add(time.Second) {
					if ts.Sub(lastTick) >= time.Minute {
						lastTick = ts
						got = append(got, d.Tick(ts)...)
					}
					d.Observe(&telemetry.LogRecord{Service: "api", Time: ts, Raw: "line at " + ts.Format(time.RFC3339)})
				}
			}
			feed(start.Add(steady))
			gapStart := ts.Add(-time.Second)
			if tc.gap > 0 {
				ts = ts.Add(tc.gap)
				feed(ts.Add(time.Hour))
			}
			last := ts.Add(-time.Second)
			if before := len(got); before > 0 && !tc.wantGap {
				t.Fatalf("silences while lines flowed: %+v", got)
			}
			var final []Anomaly
			if tc.tick >= 0 {
				final = d.Tick(last.Add(tc.tick))
			}

			foundGap := false
			for _, a := range got {
				if a.Type != TypeSilence || a.Service != "api" {
					t.Errorf("unexpected anomaly %+v", a)
					continue
				}
				if !a.Start.Equal(gapStart) || !a.End.Equal(gapStart.Add(tc.gap+time.Second)) {
					t.Errorf("silence %v..%v, want %v..%v", a.Start, a.End, gapStart, gapStart.Add(tc.gap+time.Second))
				}
				if !strings.Contains(a.Explanation, "no lines for "+(tc.gap+time.Second).String()) {
					t.Errorf("explanation %q does not give the gap %v", a.Explanation, tc.gap+time.Second)
				}
				foundGap = true
			}
			if foundGap != tc.wantGap {
				t.Errorf("silence in the gap found %v, want %v (%+v)", foundGap, tc.wantGap, got)
			}
			if (len(final) > 0) != tc.wantFinal {
				t.Errorf("final tick at last line %+v gave %+v, want a silence: %v", tc.tick, final, tc.wantFinal)
			}
			for _, a := range final {
				if a.Type != TypeSilence || !a.Start.Equal(last) || !a.End.Equal(last.Add(tc.tick)) {
					t.Errorf("final silence %+v, want %v..%v", a, last, last.Add(tc.tick))
				}
			}
			if d.Silent("api") != tc.wantFinal {
				t.Errorf("Silent = %v, want %v", d.Silent("api"), tc.wantFinal)
			}
		})
	}
}
