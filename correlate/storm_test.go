package correlate

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/incident"
)

// stormScore is how a correlator did on a storm.
type stormScore struct {
	raw         int // alerts and anomalies received
	events      int
	incidents   int
	purity      float64 // size-weighted share of each incident's majority truth
	found       int     // faults that are the majority of some incident
	noiseOnly   int     // incidents whose majority is noise
	noiseInInc  int     // noise signals inside incidents
	noiseSignal int
	faultIncs   int     // incidents whose majority is a fault
	faultPurity float64 // purity over those only
	reduction   float64
	missing     []int
}

// runStorm feeds a storm through a correlator with the default options and
// scores the result against the ground truth, which only this function
// sees.
func runStorm(t testing.TB, st *Storm) stormScore {
	t.Helper()
	o := DefaultOptions()
	o.Registerer = prometheus.NewRegistry()
	o.Topology = NewGraph(st.Edges)
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Where each signal went: its group at the time, which is the group it
	// stays in (no merges or splits happen here).
	placed := make([]*group, len(st.Signals))
	var sc stormScore
	for i := range st.Signals {
		s := st.Signals[i].Signal
		if err := c.Observe(ctx, s); err != nil {
			t.Fatalf("observe %d: %v", i, err)
		}
		if s.Kind == incident.SignalEvent {
			sc.events++
			continue
		}
		sc.raw++
		if st.Signals[i].Truth < 0 {
			sc.noiseSignal++
		}
		c.mtx.Lock()
		if m := c.byKey[s.Key]; m != nil {
			placed[i] = m.g
		}
		c.mtx.Unlock()
	}
	last := st.Signals[len(st.Signals)-1].Signal.Time
	if err := c.Tick(ctx, last.Add(2*o.ReopenWindow)); err != nil {
		t.Fatal(err)
	}

	counts := map[*group]map[int]int{}
	for i, g := range placed {
		if g == nil || !g.opened {
			continue
		}
		if counts[g] == nil {
			counts[g] = map[int]int{}
		}
		counts[g][st.Signals[i].Truth]++
	}
	found := map[int]bool{}
	var total, majSum, fTotal, fMaj int
	for _, byTruth := range counts {
		maj, majN, size := 0, -1, 0
		for tr, n := range byTruth {
			size += n
			if n > majN || n == majN && tr < maj {
				maj, majN = tr, n
			}
		}
		total += size
		majSum += majN
		sc.noiseInInc += byTruth[-1]
		if maj < 0 {
			sc.noiseOnly++
		} else {
			found[maj] = true
			sc.faultIncs++
			fTotal += size
			fMaj += majN
		}
	}
	sc.incidents = len(counts)
	if total > 0 {
		sc.purity = float64(majSum) / float64(total)
	}
	sc.found = len(found)
	if fTotal > 0 {
		sc.faultPurity = float64(fMaj) / float64(fTotal)
	}
	for i := range st.Truths {
		if !found[i] {
			sc.missing = append(sc.missing, i)
		}
	}
	sc.reduction = 1 - float64(sc.incidents)/float64(sc.raw)
	if got := c.Stats().Opened; got != int64(sc.incidents) {
		t.Errorf("ledger counts %d incidents opened, the run placed signals in %d", got, sc.incidents)
	}
	return sc
}

func TestStormNoiseReduction(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		st, err := GenerateStorm(StormOptions{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Services) < 20 || len(st.Truths) < 15 {
			t.Fatalf("seed %d: storm has %d services and %d faults; want at least 20 and 15", seed, len(st.Services), len(st.Truths))
		}
		sc := runStorm(t, st)
		t.Logf("seed %d: %d alerts+anomalies (%d noise), %d events, %d faults → %d incidents (reduction %.4f), purity %.4f, faults found %d/%d in %d incidents (their purity %.4f), noise-only incidents %d, noise signals inside incidents %d",
			seed, sc.raw, sc.noiseSignal, sc.events, len(st.Truths), sc.incidents, sc.reduction, sc.purity, sc.found, len(st.Truths), sc.faultIncs, sc.faultPurity, sc.noiseOnly, sc.noiseInInc)
		if sc.raw < 5000 {
			t.Errorf("seed %d: only %d alerts and anomalies; the storm must have at least 5000", seed, sc.raw)
		}
		if sc.reduction < 0.95 {
			t.Errorf("seed %d: reduction %.4f, want >= 0.95", seed, sc.reduction)
		}
		if sc.purity < 0.9 {
			t.Errorf("seed %d: purity %.4f, want >= 0.9", seed, sc.purity)
		}
		if len(sc.missing) > 0 {
			t.Errorf("seed %d: faults %v are the majority of no incident", seed, sc.missing)
		}
	}
}
