package detect

import (
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
