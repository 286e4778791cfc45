package detect

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestSeriesPageRampPagesEarly: a step seen first half-way (a counter's
// rate over a window that straddles the change, a rollout reaching half
// its pods) crosses the bar weakly before it is strong; it pages once it
// has been strong for For/4, not a full For after that first point.
func TestSeriesPageRampPagesEarly(t *testing.T) {
	spikeAt := 3*1440 + 600
	o := DefaultSeriesOptions()
	d := NewSeriesDetector(o)
	got, _ := mtRun(d, 4, func(i int, _ time.Time, v float64) float64 {
		switch {
		case i == spikeAt:
			return v + 0.05 // about 5 noise sigmas: past the bar, not strong
		case i > spikeAt && i < spikeAt+30:
			return v + 0.5
		}
		return v
	})
	if len(got) == 0 {
		t.Fatal("a half-hour step of 50 sigma was never reported")
	}
	a := got[0]
	onset := mtT0.Add(time.Duration(spikeAt) * time.Minute)
	t.Logf("step: episode from +%v, reported at +%v: %s", a.Start.Sub(onset), a.End.Sub(onset), a.Explanation)
	if !a.Start.Equal(onset) {
		t.Fatalf("episode began at +%v, want at the first, weak point", a.Start.Sub(onset))
	}
	if a.End.Sub(a.Start) >= o.For {
		t.Errorf("reported %v after the episode began, want less than For (%v): the strong run should page after For/4", a.End.Sub(a.Start), o.For)
	}
	if a.End.Sub(onset.Add(time.Minute)) < o.For/4 {
		t.Errorf("reported %v after the strong run began, want at least For/4", a.End.Sub(onset.Add(time.Minute)))
	}
}

// TestSeriesPageSmallSteps covers series that move in whole steps.
func TestSeriesPageSmallSteps(t *testing.T) {
	at := 3*1440 + 60 // day 4, 01:00
	tests := []struct {
		name   string
		value  func(i int, rng *rand.Rand) float64
		window [2]int // anomalies counted from, to (point index)
		want   int    // at least this many in each window; 0 means none at all
		again  [2]int // a second window that must also page (zero: none)
	}{
		{
			// A pool that sat at 0 connections for days and now flickers
			// between 0 and 1: its ordinary noise from now on.
			name: "never-moved gauge starts flickering",
			value: func(i int, _ *rand.Rand) float64 {
				if i >= at && i%2 == 0 {
					return 1
				}
				return 0
			},
			window: [2]int{at, at + 120},
		},
		{
			// up stuck at 1, then down for 15 minutes in the same hour of
			// two nights: both outages page, although the hour's band has
			// learned the first (it expects a little less than 1) and
			// the series' return to 1 surprised the adapted views.
			name: "outage recurs a day later",
			value: func(i int, _ *rand.Rand) float64 {
				if (i >= at && i < at+15) || (i >= at+1440+30 && i < at+1440+45) {
					return 0
				}
				return 1
			},
			window: [2]int{at, at + 15},
			want:   1,
			again:  [2]int{at + 1440 + 30, at + 1440 + 45},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewSeriesDetector(DefaultSeriesOptions())
			rng := rand.New(rand.NewPCG(5, 6))
			var idx []int
			for i := 0; i < 5*1440; i++ {
				if s := d.Observe(mtT0.Add(time.Duration(i)*time.Minute), tc.value(i, rng)); s.Anomaly != nil {
					idx = append(idx, i)
				}
			}
			in := func(w [2]int) int {
				n := 0
				for _, i := range idx {
					if i >= w[0] && i < w[1] {
						n++
					}
				}
				return n
			}
			if tc.want == 0 {
				if len(idx) > 0 {
					t.Fatalf("anomalies at points %v, want none", idx)
				}
				return
			}
			if in(tc.window) < tc.want {
				t.Errorf("no anomaly in points %v; all at %v", tc.window, idx)
			}
			if tc.again != [2]int{} && in(tc.again) < tc.want {
				t.Errorf("no anomaly in points %v (the recurrence); all at %v", tc.again, idx)
			}
		})
	}
}

// TestSeriesPageSpreadEcho: a jump of a few points keeps the spread view's
// short error average raised for about 20 steps after the data are calm
// again; that echo is not a lasting rise in variance.
func TestSeriesPageSpreadEcho(t *testing.T) {
	const step = 30 * time.Second
	for _, n := range []int{1, 2, 3} {
		for _, size := range []float64{0.05, 0.3} {
			d := NewSeriesDetector(DefaultSeriesOptions())
			rng := rand.New(rand.NewPCG(7, uint64(n)))
			jumpAt := 3 * 2880
			for i := 0; i < 4*2880; i++ {
				v := 0.5 + 0.01*rng.NormFloat64()
				if i >= jumpAt && i < jumpAt+n {
					v += size
				}
				s := d.Observe(mtT0.Add(time.Duration(i)*step), v)
				if s.Anomaly != nil && i >= jumpAt {
					t.Errorf("a %d-point jump of %v was reported at +%v as %s: %s", n, size,
						time.Duration(i-jumpAt)*step, s.Anomaly.Labels.Get("kind"), s.Anomaly.Explanation)
				}
			}
		}
	}
}

// TestSeriesPageInsideBand: a report says "v against lo–hi usual at this
// hour", so nothing is reported while the value lies inside the trusted
// band: a level the series often holds at this hour is not an incident,
// however much it differs from yesterday at the same minute.
func TestSeriesPageInsideBand(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	d := NewSeriesDetector(DefaultSeriesOptions())
	const days = 6
	for i := 0; i < days*1440; i++ {
		tm := mtT0.Add(time.Duration(i) * time.Minute)
		v := 0.5 + 0.005*rng.NormFloat64()
		// Between 10:00 and 11:00 the series holds one of two levels,
		// switching every 20 minutes in a pattern that differs by day;
		// the upper level creeps up, so each day's is a little news.
		if h := (i % 1440) / 60; h == 10 {
			block := (i % 1440 % 60) / 20
			if (i/1440+block)%2 == 1 {
				v += 0.1 * (1 + 0.15*float64(i/1440)) // a little higher each day
			}
		}
		s := d.Observe(tm, v)
		if s.Anomaly != nil && i >= 3*1440 {
			t.Errorf("day %d %s: reported %s inside the hour's usual levels: %s", i/1440, tm.Format("15:04"),
				s.Anomaly.Labels.Get("kind"), s.Anomaly.Explanation)
		}
	}
}

// TestSeriesPageRecurringCapped covers the memory of unpaged excursions
// when surprises hit their cap (about 37 sigma). A quiet series (level 1,
// noise 0.02) has a two-point spike to 3 on day 3 at 13:00, too short to
// page, remembered at the capped surprise. Ten-minute outages follow, at
// hours the daily model has not seen them (it would forecast them), and
// must page or not as listed. A recurrence of the spike's size ties with
// it and stays quiet until the memory has decayed enough (about 1.7 days
// at a week's half-life); one far larger pages, although its surprise
// ties too; and a recurrence that the memory alone held back does not
// renew the memory.
func TestSeriesPageRecurringCapped(t *testing.T) {
	const day = 1440
	spike := 3*day + 13*60
	type outage struct {
		start int // point index (minutes)
		level float64
		page  bool
	}
	tests := []struct {
		name    string
		outages []outage
	}{
		{"same size the next night ties with the spike", []outage{{4*day + 60, 3, false}}},
		{"far larger the next night pages", []outage{{4*day + 60, 10, true}}},
		{"slightly larger the next night ties", []outage{{4*day + 60, 3.1, false}}},
		// The first is held back by the memory alone; were it remembered,
		// the second would tie with it as well.
		{"held recurrence does not renew the memory", []outage{{4*day + 60, 3, false}, {5*day + 13*60, 3, true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewSeriesDetector(DefaultSeriesOptions())
			rng := rand.New(rand.NewPCG(21, 22))
			paged := make([]bool, len(tc.outages))
			for i := 0; i < 6*day; i++ {
				v := 1 + 0.02*rng.NormFloat64()
				if i == spike || i == spike+1 {
					v = 3
				}
				in := -1
				for k, o := range tc.outages {
					if i >= o.start && i < o.start+10 {
						v = o.level
					}
					if i >= o.start && i < o.start+30 {
						in = k
					}
				}
				s := d.Observe(mtT0.Add(time.Duration(i)*time.Minute), v)
				if s.Anomaly == nil {
					continue
				}
				if in < 0 {
					t.Errorf("day %d %s: paged outside any outage: %s", i/day,
						mtT0.Add(time.Duration(i)*time.Minute).Format("15:04"), s.Anomaly.Explanation)
					continue
				}
				paged[in] = true
			}
			for k, o := range tc.outages {
				if paged[k] != o.page {
					t.Errorf("outage %d (day %d, to %v): paged %v, want %v", k, o.start/day, o.level, paged[k], o.page)
				}
			}
		})
	}
}

// TestSeriesPageJobReturnsToIdle: a young series (a cron worker's CPU, 30s
// scrapes) idles, then runs a three-minute job and idles again. The fast
// forecast lags behind the return to idle, but a value back where the
// series was before the episode is no incident, and the first job's noise
// is no rise in variance while the long-run yardstick has not met a job.
func TestSeriesPageJobReturnsToIdle(t *testing.T) {
	d := NewSeriesDetector(DefaultSeriesOptions())
	rng := rand.New(rand.NewPCG(3, 4))
	const step = 30 * time.Second
	for i := 0; i < 6*120; i++ { // six hours
		v := 0.0025 + 0.0001*rng.NormFloat64()
		min := i % 120 // minutes*2 into the hour
		switch {
		case i >= 120 && min >= 10 && min < 16: // hourly three-minute job
			v = 0.17 + 0.005*rng.NormFloat64()
		case i >= 240 && min >= 20 && min < 60: // a longer, noisier run from hour 2
			v = 0.37 + 0.01*rng.NormFloat64()
		}
		ts := mtT0.Add(time.Duration(i) * step)
		s := d.Observe(ts, v)
		if s.Anomaly != nil && math.Abs(v-0.0025) < 0.001 {
			t.Errorf("point %d (%s): reported %q at the idle value %.4f", i, ts.Format("15:04:05"), s.Anomaly.Explanation, v)
		}
		if s.Anomaly != nil && s.Anomaly.Labels.Get("kind") == "variance_change" {
			t.Errorf("point %d (%s): reported a variance change %q in the series' first hours", i, ts.Format("15:04:05"), s.Anomaly.Explanation)
		}
	}
}
