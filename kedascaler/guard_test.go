package kedascaler

import (
	"slices"
	"testing"
	"time"
)

func TestGuard(t *testing.T) {
	spec := defaultSpec() // tolerance 5%, cap 100%
	spec.Stabilization = 5 * time.Minute
	type step struct {
		at     time.Duration // after t0
		raw    float64
		want   float64
		guards []string
	}
	tests := []struct {
		name  string
		spec  func(s *Spec)
		steps []step
	}{
		{"first value is served as is", nil, []step{{0, 40, 40, nil}}},
		{"small falls are ignored, small rises pass", func(s *Spec) { s.Stabilization = 0 }, []step{
			{0, 100, 100, nil},
			{time.Minute, 96, 100, []string{GuardHysteresis}},
			{2 * time.Minute, 94, 94, nil},
			{3 * time.Minute, 96, 96, nil},
		}},
		{"a fall waits for the stabilisation window", nil, []step{
			{0, 100, 100, nil},
			{time.Minute, 50, 100, []string{GuardStabilization}},
			{4 * time.Minute, 50, 100, []string{GuardStabilization}},
			// At 5m1s the 100 of t0 has left the window: every
			// recommendation of the last 5 minutes says 50.
			{5*time.Minute + time.Second, 50, 50, nil},
		}},
		{"a fall goes to the window's highest recommendation", nil, []step{
			{0, 100, 100, nil},
			{time.Minute, 80, 100, []string{GuardStabilization}},
			{2 * time.Minute, 60, 100, []string{GuardStabilization}},
			{5*time.Minute + time.Second, 60, 80, []string{GuardStabilization}},
			{6*time.Minute + time.Second, 60, 60, nil},
		}},
		{"rises are not stabilised but capped", nil, []step{
			{0, 10, 10, nil},
			{15 * time.Second, 50, 20, []string{GuardRateCap}},
			{30 * time.Second, 50, 40, []string{GuardRateCap}},
			{45 * time.Second, 50, 50, nil},
		}},
		{"cap bounds a fall too", func(s *Spec) { s.Stabilization = 0; s.MaxChange = 0.25 }, []step{
			{0, 100, 100, nil},
			{time.Minute, 10, 75, []string{GuardRateCap}},
		}},
		{"stabilised fall still subject to hysteresis", nil, []step{
			{0, 100, 100, nil},
			{time.Minute, 97, 100, []string{GuardStabilization}},
			{6 * time.Minute, 97, 100, []string{GuardHysteresis}},
		}},
		{"guards off", func(s *Spec) { s.Stabilization, s.Tolerance, s.MaxChange = 0, 0, 0 }, []step{
			{0, 100, 100, nil},
			{time.Second, 1, 1, nil},
			{2 * time.Second, 1000, 1000, nil},
		}},
		{"NaN and negatives never reach KEDA", nil, []step{
			{0, -5, 0, nil},
			{time.Second, 100, 100, nil},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := spec
			if tc.spec != nil {
				tc.spec(&s)
			}
			var g guard
			for i, st := range tc.steps {
				got, acted := g.apply(t0.Add(st.at), st.raw, s)
				if got != st.want || !slices.Equal(acted, st.guards) {
					t.Fatalf("step %d (raw %g at +%s) = %g %v, want %g %v", i, st.raw, st.at, got, acted, st.want, st.guards)
				}
			}
		})
	}
}

func TestGuardWindowBounded(t *testing.T) {
	s := defaultSpec()
	s.Stabilization = time.Hour
	var g guard
	for i := range 3 * maxRecommendations {
		g.apply(t0.Add(time.Duration(i)*time.Millisecond), float64(i%7), s)
	}
	if len(g.recs) > maxRecommendations {
		t.Fatalf("kept %d recommendations, bound is %d", len(g.recs), maxRecommendations)
	}
}
