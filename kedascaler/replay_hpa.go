package kedascaler

import (
	"math"
	"time"
)

// HPAModel is the Kubernetes HPA as the replay simulates it. The defaults
// are the documented ones: a 15 s sync period (--horizontal-pod-autoscaler-
// sync-period), a 10% tolerance (--horizontal-pod-autoscaler-tolerance), a
// 300 s scale-down stabilisation window (behavior.scaleDown default), the
// default scale-up policy (at most max(4 pods, 100%) more per 15 s) and no
// scale-up stabilisation.
type HPAModel struct {
	SyncPeriod    time.Duration
	Tolerance     float64
	Stabilization time.Duration
	// ScaleUpPods and ScaleUpPercent are the default scale-up policies;
	// the larger of the two applies per SyncPeriod.
	ScaleUpPods    int
	ScaleUpPercent float64
	// PodStartup is the time from a scale-up decision until the new pod
	// serves (image pull, start, readiness): 90 s, the middle of the usual
	// 1-2 minutes.
	PodStartup time.Duration
	// MetricsDelay is the age of the newest metric the HPA can read: the
	// rate over the last minute as scraped 30 s ago, so the data is a
	// minute old on average (the usual metrics pipeline delay).
	MetricsDelay time.Duration
	MinReplicas  int
	MaxReplicas  int
}

// DefaultHPAModel returns the documented HPA defaults described on HPAModel.
func DefaultHPAModel() HPAModel {
	return HPAModel{
		SyncPeriod:     15 * time.Second,
		Tolerance:      0.1,
		Stabilization:  5 * time.Minute,
		ScaleUpPods:    4,
		ScaleUpPercent: 100,
		PodStartup:     90 * time.Second,
		MetricsDelay:   30 * time.Second,
		MinReplicas:    1,
		MaxReplicas:    500,
	}
}

// hpaSim is one HPA driving one Deployment.
type hpaSim struct {
	m        HPAModel
	target   float64
	replicas int         // desired (spec) replicas
	readyAt  []time.Time // per pod, oldest first
	recs     []recommendation
}

func newHPASim(m HPAModel, target float64) *hpaSim { return &hpaSim{m: m, target: target} }

func (h *hpaSim) start(t time.Time, n int) {
	n = min(max(n, h.m.MinReplicas), h.m.MaxReplicas)
	h.replicas = n
	h.readyAt = h.readyAt[:0]
	for range n {
		h.readyAt = append(h.readyAt, t)
	}
}

// sync is one HPA reconciliation with the metric value v (an AverageValue
// target: desired = ceil(v / target)).
func (h *hpaSim) sync(t time.Time, v float64) {
	cur := h.replicas
	desired := cur
	if ratio := v / (h.target * float64(cur)); math.Abs(ratio-1) > h.m.Tolerance {
		desired = int(math.Ceil(v / h.target))
	}
	desired = min(max(desired, h.m.MinReplicas), h.m.MaxReplicas)

	// Scale-down stabilisation: the highest recommendation of the window.
	cut := t.Add(-h.m.Stabilization)
	i := 0
	for i < len(h.recs) && !h.recs[i].t.After(cut) {
		i++
	}
	h.recs = append(h.recs[:copy(h.recs, h.recs[i:])], recommendation{t, float64(desired)})
	if desired < cur {
		hi := desired
		for _, r := range h.recs {
			hi = max(hi, int(r.v))
		}
		desired = min(cur, hi)
	}
	// Scale-up policy: the larger of +pods and +percent per period.
	if desired > cur {
		limit := max(cur+h.m.ScaleUpPods, int(math.Ceil(float64(cur)*(1+h.m.ScaleUpPercent/100))))
		desired = min(desired, limit)
	}
	switch {
	case desired > cur:
		for range desired - cur {
			h.readyAt = append(h.readyAt, t.Add(h.m.PodStartup))
		}
	case desired < cur:
		// Kubernetes deletes not-yet-ready pods first: the newest.
		h.readyAt = h.readyAt[:desired]
	}
	h.replicas = desired
}

// pods returns the ready and the total pod counts at t.
func (h *hpaSim) pods(t time.Time) (ready, total int) {
	for _, r := range h.readyAt {
		if !r.After(t) {
			ready++
		}
	}
	return ready, len(h.readyAt)
}
