package kedascaler

import (
	"testing"
	"time"
)

func TestHPASim(t *testing.T) {
	type sync struct {
		at          time.Duration
		metric      float64
		wantDesired int
		wantReady   int // ready pods at the sync
	}
	tests := []struct {
		name  string
		start int
		syncs []sync
	}{
		{"within tolerance nothing moves", 10, []sync{
			{0, 109, 10, 10},
			{15 * time.Second, 91, 10, 10},
		}},
		{"scale up waits for pod start-up", 10, []sync{
			{0, 150, 15, 10},
			{75 * time.Second, 150, 15, 10},
			{90 * time.Second, 150, 15, 15},
		}},
		{"scale up limited to max(4 pods, 100%) per sync", 2, []sync{
			{0, 1000, 6, 2},
			{15 * time.Second, 1000, 12, 2},
		}},
		{"scale down waits for the stabilisation window", 20, []sync{
			{0, 200, 20, 20},
			{15 * time.Second, 50, 20, 20},
			{4*time.Minute + 45*time.Second, 50, 20, 20},
			{5 * time.Minute, 50, 5, 5},
		}},
		{"min and max replicas", 3, []sync{
			{0, 0, 1, 1},
			{5*time.Minute + time.Second, 0, 1, 1},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := DefaultHPAModel()
			m.Stabilization = 5 * time.Minute
			h := newHPASim(m, 10)
			h.start(t0, tc.start)
			for i, s := range tc.syncs {
				at := t0.Add(s.at)
				h.sync(at, s.metric)
				ready, total := h.pods(at)
				if h.replicas != s.wantDesired || total != s.wantDesired || ready != s.wantReady {
					t.Fatalf("sync %d (metric %g at +%s): desired %d total %d ready %d; want %d, %d ready",
						i, s.metric, s.at, h.replicas, total, ready, s.wantDesired, s.wantReady)
				}
			}
		})
	}
}

func TestLoadTrace(t *testing.T) {
	// Load k at step k (15 s): the 1-minute rate at t averages the four
	// steps before t; the HPA sees it 30 s late.
	lt := &loadTrace{start: t0, step: 15 * time.Second, delay: 30 * time.Second}
	for k := range 40 {
		lt.load = append(lt.load, float64(k))
	}
	if v, ok := lt.rate(t0.Add(2 * time.Minute)); !ok || v != (4+5+6+7)/4.0 {
		t.Fatalf("rate at +2m = %g %v, want 5.5", v, ok)
	}
	if v := lt.observed(t0.Add(2*time.Minute + 30*time.Second)); v != 5.5 {
		t.Fatalf("observed at +2m30s = %g, want the rate at +2m, 5.5", v)
	}
	pts, _ := lt.Range(t.Context(), Query{}, t0, t0.Add(3*time.Minute+20*time.Second), time.Minute)
	if len(pts) != 2 || !time.UnixMilli(pts[1].T).Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("Range = %v, want points at +1m and +2m only (+3m is not visible until +3m30s)", pts)
	}
}
