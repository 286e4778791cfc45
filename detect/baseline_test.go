package detect

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBaselineFallback(t *testing.T) {
	b := NewBaseline(DefaultBaselineOptions())
	day1 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	if _, ok := b.Estimate(day1); ok {
		t.Fatal("estimate without history")
	}
	// Night hours at 5, then 40 minutes of 100 at 10:00 on day one.
	for i := range 60 {
		b.Add(day1.Add(-8*time.Hour+time.Duration(i)*time.Minute), 5)
	}
	for i := range 40 {
		b.Add(day1.Add(time.Duration(i)*time.Minute), 100)
	}
	e, ok := b.Estimate(day1.Add(45 * time.Minute))
	if !ok || e.Level != BaselineAllHours {
		t.Fatalf("day one: %+v, want the all-hours fallback", e)
	}
	// On day two, 10:00 has a day of its own history.
	day2 := day1.Add(24 * time.Hour)
	b.Add(day2, 100)
	e, ok = b.Estimate(day2)
	if !ok || e.Level != BaselineHourOfDay || e.Median != 100 || e.MAD != 0 {
		t.Fatalf("day two: %+v, want median 100 at this hour", e)
	}
}

func TestBlNum(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{{1000, "1,000"}, {1234567, "1,234,567"}, {12.34, "12.3"}, {0.0123, "0.012"}, {-2500, "-2,500"}, {3, "3"}, {150.6, "151"}}
	for _, tt := range tests {
		if got := blNum(tt.v); got != tt.want {
			t.Errorf("blNum(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestBlPoissonUpper(t *testing.T) {
	if p := blPoissonUpper(1, 1); p < 0.63 || p > 0.64 {
		t.Errorf("P(X≥1|1) = %v, want 1-1/e", p)
	}
	if p := blPoissonUpper(100, 10); p <= 0 || p > 1e-40 {
		t.Errorf("P(X≥100|10) = %v, want tiny but positive", p)
	}
}

// TestBaselineSortedMirror: Estimate, which keeps a sorted mirror of the
// bucket it last read up to date step by step, answers exactly what
// sorting the bucket afresh answers, through bucket switches, evictions,
// ties, NaNs and infinities, and rings larger than the stack buffers.
func TestBaselineSortedMirror(t *testing.T) {
	tests := []struct {
		name string
		opts BaselineOptions
		val  func(r *rand.Rand) float64
	}{
		{"counts", DefaultBaselineOptions(), func(r *rand.Rand) float64 { return float64(r.IntN(20)) }},
		{"reals", DefaultBaselineOptions(), func(r *rand.Rand) float64 { return r.NormFloat64() * 100 }},
		{"special", DefaultBaselineOptions(), func(r *rand.Rand) float64 {
			switch r.IntN(40) {
			case 0:
				return math.NaN()
			case 1:
				return math.Inf(1)
			case 2:
				return math.Inf(-1)
			}
			return float64(r.IntN(5))
		}},
		{"large rings", BaselineOptions{WeekBucket: 150, DayBucket: 300, AllBucket: 500, MinSamples: 30}, func(r *rand.Rand) float64 {
			return float64(r.IntN(1000))
		}},
	}
	same := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			b := NewBaseline(tt.opts)
			at := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
			var checked int
			for i := 0; i < 4*24*60; i++ {
				e, ok := b.Estimate(at)
				if ok {
					var ref Estimate
					slot := b.opts.slot(at)
					switch e.Level {
					case BaselineHourOfWeek:
						ref = b.week[slot.week].estimate(e.Level)
					case BaselineHourOfDay:
						ref = b.day[slot.hour].estimate(e.Level)
					default:
						ref = b.all.estimate(e.Level)
					}
					if e.N != ref.N || !same(e.Median, ref.Median) || !same(e.MAD, ref.MAD) || !same(e.Mean, ref.Mean) ||
						!same(e.Min, ref.Min) || !same(e.Max, ref.Max) {
						t.Fatalf("step %d: %+v, sorting afresh gives %+v", i, e, ref)
					}
					// The MAD the plain way: sort the deviations.
					var dev []float64
					for _, x := range b.sorted {
						dev = append(dev, math.Abs(x-e.Median))
					}
					slices.Sort(dev)
					if mad := blMedianSorted(dev); !same(mad, e.MAD) {
						t.Fatalf("step %d: MAD %v, sorting the deviations gives %v", i, e.MAD, mad)
					}
					checked++
				}
				b.Add(at, tt.val(r))
				// Now and then a second value in one interval, so that
				// the mirror is more than one step behind.
				if r.IntN(50) == 0 {
					b.Add(at, tt.val(r))
				}
				at = at.Add(time.Minute)
			}
			if checked < 1000 {
				t.Fatalf("only %d estimates checked", checked)
			}
		})
	}
}
