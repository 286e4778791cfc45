package amapi

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// TestConcurrentPostGet runs posts, gets, bus-fed updates and GC at once;
// with -race it checks the locking, and at the end that nothing was lost.
func TestConcurrentPostGet(t *testing.T) {
	f := newFixture(t, nil)
	// The bus hands every accepted batch back to the State, as the app wires it.
	f.sink.Then = func(as []telemetry.Alert) {
		if err := f.r.State().Update(as, f.clock.Now()); err != nil {
			t.Error(err)
		}
	}
	const posters, batches, perBatch = 6, 20, 16
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for p := range posters {
		wg.Go(func() {
			for b := range batches {
				var sb strings.Builder
				sb.WriteByte('[')
				for i := range perBatch {
					if i > 0 {
						sb.WriteByte(',')
					}
					fmt.Fprintf(&sb, `{"labels":{"alertname":"A%d","poster":"%d","batch":"%d","sev":"%s"},"endsAt":"2024-05-01T12:00:00Z"}`, i, p, b, []string{"crit", "warn"}[i%2])
				}
				sb.WriteByte(']')
				if w := f.post(t, sb.String()); w.Code != 200 {
					t.Errorf("post: %d %s", w.Code, w.Body)
					return
				}
			}
		})
	}
	var readers sync.WaitGroup
	for _, q := range []string{"", `filter=sev%3D~%22cr.*%22`, `filter=poster%3D%221%22&filter=sev%3D%22warn%22`} {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				f.list(t, q)
			}
		})
	}
	readers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			f.r.State().GC(f.clock.Now())
			f.clock.Advance(time.Millisecond)
		}
	})
	wg.Wait()
	close(stop)
	readers.Wait()

	want := posters * batches * perBatch
	if n := len(f.sink.got()); n != want {
		t.Fatalf("sink got %d alerts, want %d", n, want)
	}
	if n := f.r.State().Len(); n != want {
		t.Fatalf("state holds %d alerts, want %d", n, want)
	}
	if n := len(f.list(t, "filter=sev%3D%22crit%22")); n != want/2 {
		t.Fatalf("listed %d crit alerts, want %d", n, want/2)
	}
}

// TestResolveTimeoutSynctest uses the real clock inside a synctest bubble:
// an alert posted without endsAt leaves the list after the resolve timeout
// and the State after the retention.
func TestResolveTimeoutSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, func(o *Options) { o.Now = nil })
		if w := f.post(t, `[{"labels":{"alertname":"A"}}]`); w.Code != 200 {
			t.Fatalf("post: %d %s", w.Code, w.Body)
		}
		time.Sleep(DefaultResolveTimeout - time.Second)
		if n := len(f.list(t, "")); n != 1 {
			t.Fatalf("listed %d before the resolve timeout", n)
		}
		time.Sleep(time.Second)
		if n := len(f.list(t, "")); n != 0 {
			t.Fatalf("listed %d at the resolve timeout", n)
		}
		// Re-posting before GC starts it afresh rather than merging into
		// the resolved one.
		time.Sleep(time.Minute)
		if w := f.post(t, `[{"labels":{"alertname":"A"}}]`); w.Code != 200 {
			t.Fatalf("re-post: %d %s", w.Code, w.Body)
		}
		got := f.list(t, "")
		if len(got) != 1 || got[0].StartsAt != formatTime(time.Now()) {
			t.Fatalf("re-posted alert %+v, want startsAt now", got)
		}
		time.Sleep(DefaultResolveTimeout + DefaultRetention)
		if n := f.r.State().GC(time.Now()); n != 1 || f.r.State().Len() != 0 {
			t.Fatalf("GC removed %d, Len %d", n, f.r.State().Len())
		}
	})
}
