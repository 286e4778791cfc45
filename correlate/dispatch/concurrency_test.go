package dispatch

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// TestConcurrentPutTickExplain exercises the locking under -race: alerts
// arrive and resolve while groups flush and are explained and listed.
func TestConcurrentPutTickExplain(t *testing.T) {
	f := newFixture(t, baseYAML, nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	var clockMu sync.Mutex
	now := t0
	tick := func() time.Time {
		clockMu.Lock()
		defer clockMu.Unlock()
		now = now.Add(10 * time.Second)
		return now
	}
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				a := telemetry.Alert{Labels: telemetry.LabelsFromStrings("alertname", "A"+strconv.Itoa(i%7), "g", strconv.Itoa(g)), StartsAt: t0, EndsAt: t0.Add(time.Hour)}
				if i%3 == 0 {
					a.EndsAt = t0
				}
				if err := f.d.Put([]telemetry.Alert{a}, t0.Add(time.Duration(i)*time.Second)); err != nil {
					t.Error(err)
					return
				}
				f.d.Explain(a.Labels.Fingerprint(), t0)
			}
		}(g)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			f.d.Tick(ctx, tick())
			f.d.Groups(nil)
		}
	}()
	wg.Wait()
	// Everything still open flushes and resolved alerts leave.
	end := t0.Add(3 * time.Hour)
	for i := 0; i < 100; i++ {
		f.d.Tick(ctx, end.Add(time.Duration(i)*5*time.Minute))
	}
	for _, g := range f.d.Groups(nil) {
		for _, a := range g.Alerts {
			t.Errorf("alert %s still held in %s after it ended", a.Labels, g.Key)
		}
	}
}
