package sim

import (
	"testing"
	"time"
)

func TestSeasonality(t *testing.T) {
	monday := DefaultOptions().Start
	saturday := monday.AddDate(0, 0, 5)
	// The simulated edge rate, measured as Prometheus would from the
	// frontend's request counters over a 10-minute window.
	o := DefaultOptions()
	o.LogScale = 0
	b := run(t, o, monday.Add(20*time.Hour))
	fe := series(&b, "http_requests_total", "service", "frontend")
	rate := func(h int) float64 {
		from := monday.Add(time.Duration(h) * time.Hour)
		return increase(fe, from, from.Add(10*time.Minute)) / 600
	}
	night, evening := rate(4), rate(19)
	if evening < 3*night {
		t.Errorf("edge rate at 19:00 is %.1f/s, at 04:00 %.1f/s: want the evening well above the night", evening, night)
	}

	var wd, we float64
	for h := 0; h < 24; h++ {
		wd += seasonal(monday.Add(time.Duration(h)*time.Hour).AddDate(0, 0, 2))
		we += seasonal(saturday.Add(time.Duration(h) * time.Hour))
	}
	if we >= 0.95*wd {
		t.Errorf("a Saturday carries %.0f, a Wednesday %.0f: want the weekend lower", we, wd)
	}
	if sat, wed := seasonal(saturday.Add(20*time.Hour)), seasonal(monday.AddDate(0, 0, 2).Add(20*time.Hour)); sat > 0.85*wed {
		t.Errorf("Saturday evening %.0f vs Wednesday evening %.0f: want a weaker weekend evening peak", sat, wed)
	}
	if sat, wed := seasonal(saturday.Add(7*time.Hour)), seasonal(monday.AddDate(0, 0, 2).Add(7*time.Hour)); sat > 0.8*wed {
		t.Errorf("Saturday 07:00 %.0f vs Wednesday 07:00 %.0f: want a later weekend morning", sat, wed)
	}
}

func TestSeasonalIsContinuous(t *testing.T) {
	start := DefaultOptions().Start
	prev := seasonal(start)
	for m := 1; m < 8*24*60; m++ {
		v := seasonal(start.Add(time.Duration(m) * time.Minute))
		if d := v - prev; d > 0.03*peakEdgeRPS || d < -0.03*peakEdgeRPS {
			t.Fatalf("jump of %.1f at minute %d", d, m)
		}
		prev = v
	}
}
