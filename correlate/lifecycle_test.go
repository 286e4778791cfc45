package correlate

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilops/vigil/incident"
)

func TestAutoResolveAndReopen(t *testing.T) {
	h := newHarness(t, nil)
	a := alertOf("HighLatency", "checkout", "p1", "warning")
	b := alertOf("HighErrorRate", "checkout", "p2", "warning")
	h.fire(a, 0)
	h.fire(b, 1)
	h.resolve(a, 5)
	h.resolve(b, 6)
	h.tick(12) // quiet for 6m: not yet
	if st := h.only().Status; st != incident.StatusOpen {
		t.Fatalf("status after 6 quiet minutes = %s, want open", st)
	}
	h.tick(17)
	inc := h.only()
	if inc.Status != incident.StatusResolved || inc.ResolvedBy != "vigil" {
		t.Fatalf("after 11 quiet minutes: status %s by %q, want resolved by vigil", inc.Status, inc.ResolvedBy)
	}
	h.fire(a, 30) // within the reopen window
	inc = h.only()
	if inc.Status != incident.StatusOpen || inc.Reopened != 1 {
		t.Fatalf("after the alert fired again: status %s reopened %d, want open and 1", inc.Status, inc.Reopened)
	}
	want := []ChangeKind{ChangeOpened, ChangeResolved, ChangeReopened}
	if got := h.rec.kinds(); !slices.Equal(got, want) {
		t.Errorf("changes %v, want %v", got, want)
	}
	st := h.c.Stats()
	if st.Opened != 1 || st.Resolved != 1 || st.Reopened != 1 || st.Active != 1 {
		t.Errorf("stats %+v", st.Stats)
	}
	if st.MTTR != 16*time.Minute {
		t.Errorf("MTTR %v, want 16m (opened at 1m, resolved at 17m)", st.MTTR)
	}
}

func TestAcknowledgeAndResolveByHand(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	h.fire(alertOf("NodeDown", "checkout", "p1", "critical"), 0)
	id := h.only().ID
	inc, err := h.c.Acknowledge(ctx, id, incident.Action{At: at(4), By: "alice"})
	if err != nil || inc.Status != incident.StatusAcknowledged || inc.AcknowledgedBy != "alice" {
		t.Fatalf("ack: %+v, %v", inc, err)
	}
	if _, err := h.c.Acknowledge(ctx, id, incident.Action{At: at(5), By: "bob"}); err != nil {
		t.Errorf("second ack: %v", err)
	}
	if got := h.c.Stats(); got.MTTA != 4*time.Minute || got.Acknowledged != 1 {
		t.Errorf("MTTA %v over %d, want 4m over 1", got.MTTA, got.Acknowledged)
	}
	if _, err := h.c.Resolve(ctx, id, incident.Action{At: at(6), By: "alice", Text: "rolled back"}); err != nil {
		t.Fatal(err)
	}
	h.fire(alertOf("NodeDown", "checkout", "p1", "critical"), 7) // a re-send, not a re-fire
	if st := h.only().Status; st != incident.StatusResolved {
		t.Errorf("a re-send of a still-firing alert reopened a resolved incident: %s", st)
	}
	_, err = h.c.Acknowledge(ctx, id, incident.Action{At: at(8)})
	if !errors.Is(err, incident.ErrTransition) {
		t.Errorf("ack of resolved: %v, want ErrTransition", err)
	}
	_, err = h.c.Acknowledge(ctx, "inc-nope", incident.Action{At: at(8)})
	if !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("ack of missing: %v, want ErrNotFound", err)
	}
	if _, err := h.c.AddNote(ctx, id, incident.Action{At: at(9), By: "alice", Text: "postmortem Friday"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.AddNote(ctx, id, incident.Action{At: at(9)}); !errors.Is(err, incident.ErrInvalid) {
		t.Errorf("empty note: %v, want ErrInvalid", err)
	}
	tl, _ := h.c.Timeline(ctx, id)
	if last := tl[len(tl)-1]; last.Kind != incident.EntryNote || last.Text != "alice: postmortem Friday" {
		t.Errorf("last entry %+v", last)
	}
}

func TestFeedbackDowngrades(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	h.fire(alertOf("DiskAlmostFull", "reports", "p1", "critical"), 0)
	first := h.only()
	if first.Severity != incident.SeverityCritical || first.Urgency != incident.UrgencyPage {
		t.Fatalf("first: %s/%s, want critical page", first.Severity, first.Urgency)
	}
	if _, err := h.c.Feedback(ctx, first.ID, incident.FalsePositive, "", incident.Action{At: at(1), By: "bob"}); err != nil {
		t.Fatal(err)
	}
	st := h.c.Stats()
	if st.FalsePositives != 1 || st.Precision != 0 {
		t.Errorf("after one false positive: %d FP, precision %v", st.FalsePositives, st.Precision)
	}
	// The same signature, an hour later on another pod: downgraded to a
	// warning, which alone no longer pages anyone at once.
	h.fire(alertOf("DiskAlmostFull", "reports", "p2", "critical"), 60)
	h.c.mtx.Lock()
	var m *member
	for _, mm := range h.c.byKey {
		if mm.m.FirstSeen.Equal(at(60)) {
			m = mm
		}
	}
	h.c.mtx.Unlock()
	if m == nil || m.m.Severity != incident.SeverityWarning || !strings.Contains(m.m.Reason, "downgraded: marked false positive 1 times") {
		t.Fatalf("member after feedback: %+v", m)
	}
	if n := len(h.incidents()); n != 1 {
		t.Errorf("the downgraded signal opened an incident at once: %d incidents", n)
	}
	// A true positive on the first takes the false positive back.
	if _, err := h.c.Feedback(ctx, first.ID, incident.TruePositive, "", incident.Action{At: at(61)}); err != nil {
		t.Fatal(err)
	}
	if st := h.c.Stats(); st.TruePositives != 1 || st.FalsePositives != 0 || st.Precision != 1 {
		t.Errorf("after changing the verdict: %+v", st.Stats)
	}
}

func TestFeedbackMutes(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.MuteAfter = 2 })
	h.c.learn.verdict([]string{"alert:NodeDown@checkout"}, incident.FalsePositive)
	h.c.learn.verdict([]string{"alert:NodeDown@checkout"}, incident.FalsePositive)
	h.fire(alertOf("NodeDown", "checkout", "p1", "critical"), 0)
	h.fire(alertOf("NodeDown", "checkout", "p2", "critical"), 1)
	if n := len(h.incidents()); n != 0 {
		t.Fatalf("muted signature opened %d incidents", n)
	}
	h.fire(alertOf("CheckoutDown", "checkout", "p3", "critical"), 2)
	inc := h.only()
	if len(inc.Members) != 3 || inc.Severity != incident.SeverityCritical {
		t.Errorf("incident %+v: want the two muted members beside the critical one", inc)
	}
	if r := reasonOf(t, inc, "NodeDown", "checkout"); !strings.Contains(r, "muted") {
		t.Errorf("first member reason %q should say it was muted", r)
	}
}

func TestMergeTeachesAndSplit(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	h.fire(alertOf("NodeDown", "checkout", "p1", "critical"), 0)
	h.fire(alertOf("CacheDown", "cart", "p1", "critical"), 1)
	incs := h.incidents()
	if len(incs) != 2 {
		t.Fatalf("%d incidents, want 2", len(incs))
	}
	cart, checkout := incs[0].ID, incs[1].ID
	merged, err := h.c.Merge(ctx, cart, checkout, incident.Action{At: at(2), By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(merged.Services, []string{"cart", "checkout"}) || len(merged.Members) != 2 {
		t.Fatalf("merged: %+v", merged)
	}
	src, _ := h.c.Incident(ctx, cart)
	if src.MergedInto != checkout || src.Status != incident.StatusResolved {
		t.Errorf("source after merge: merged_into %q status %s", src.MergedInto, src.Status)
	}
	if _, err := h.c.Merge(ctx, checkout, checkout, incident.Action{At: at(2)}); !errors.Is(err, incident.ErrInvalid) {
		t.Errorf("merge into itself: %v", err)
	}
	// Merge feedback pulls the signatures together: a pair up to MaxBonus
	// needs several merges; two give 0.5, enough to join on its own.
	h.c.mtx.Lock()
	h.c.learn.adjust([]string{"alert:CacheDown@cart"}, []string{"alert:NodeDown@checkout"}, 0.25, 1)
	h.c.mtx.Unlock()
	h.fire(alertOf("NodeDown", "checkout", "p2", "critical"), 200)
	h.fire(alertOf("CacheDown", "cart", "p2", "critical"), 201)
	latest := h.incidents()[0]
	if !slices.Equal(latest.Services, []string{"cart", "checkout"}) {
		t.Fatalf("after merge feedback the pair did not group: %v", latest.Services)
	}
	if r := reasonOf(t, latest, "CacheDown", "cart"); !strings.Contains(r, "learnt from feedback 0.50") {
		t.Errorf("reason %q should credit feedback", r)
	}
	// Split it back.
	var cartKey string
	for _, m := range latest.Members {
		if m.Service == "cart" {
			cartKey = m.Key
		}
	}
	split, err := h.c.Split(ctx, latest.ID, []string{cartKey}, incident.Action{At: at(202), By: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(split.Services, []string{"cart"}) || split.Status != incident.StatusOpen {
		t.Errorf("split off: %+v", split)
	}
	rest, _ := h.c.Incident(ctx, latest.ID)
	if !slices.Equal(rest.Services, []string{"checkout"}) {
		t.Errorf("left behind: %v", rest.Services)
	}
	for _, bad := range [][]string{nil, {"alert:nope"}, {rest.Members[0].Key}} {
		if _, err := h.c.Split(ctx, rest.ID, bad, incident.Action{At: at(203)}); !errors.Is(err, incident.ErrInvalid) {
			t.Errorf("split %v: %v, want ErrInvalid", bad, err)
		}
	}
}

// TestConcurrentUse observes, reads and acknowledges from several
// goroutines at once (run with -race).
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				a := alertOf("NodeDown", "svc"+strconv.Itoa(w), "p"+strconv.Itoa(i%7), "critical")
				a.StartsAt, a.EndsAt = at(float64(i)), at(float64(i)+6)
				if err := h.c.Observe(ctx, AlertSignal(&a, at(float64(i)))); err != nil {
					t.Error(err)
					return
				}
				incs, err := h.c.Incidents(ctx, incident.Query{Status: incident.StatusOpen})
				if err != nil {
					t.Error(err)
					return
				}
				if len(incs) > 0 {
					_, _ = h.c.Acknowledge(ctx, incs[0].ID, incident.Action{At: at(float64(i)), By: "w"})
				}
				_ = h.c.Stats()
			}
		}()
	}
	wg.Wait()
	if h.c.Stats().Correlation.Signals != 800 {
		t.Errorf("signals %d, want 800", h.c.Stats().Correlation.Signals)
	}
}
