package silence

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

var t0 = time.Date(2024, 5, 6, 10, 0, 0, 0, time.UTC)

// memState is a hand-written store.StateStore.
type memState struct {
	mu  sync.Mutex
	m   map[string][]byte
	Err error
}

func (s *memState) PutState(_ context.Context, k string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[k] = append([]byte(nil), v...)
	return nil
}

func (s *memState) GetState(_ context.Context, k string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	if !ok {
		return nil, store.ErrNotFound
	}
	return v, nil
}

func newSilences(t *testing.T, edit func(*Options)) *Silences {
	t.Helper()
	o := DefaultOptions()
	if edit != nil {
		edit(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func eq(name, value string) *labels.Matcher {
	m, _ := labels.NewMatcher(labels.MatchEqual, name, value)
	return m
}

func sil(start, end time.Duration, ms ...*labels.Matcher) Silence {
	return Silence{Matchers: ms, StartsAt: t0.Add(start), EndsAt: t0.Add(end), CreatedBy: "alice", Comment: "c"}
}

func TestStatesAndMatching(t *testing.T) {
	s := newSilences(t, nil)
	ctx := context.Background()
	id, err := s.Set(ctx, sil(time.Hour, 2*time.Hour, eq("alertname", "A")), t0)
	if err != nil {
		t.Fatal(err)
	}
	a := telemetry.LabelsFromStrings("alertname", "A", "x", "y")
	for _, tc := range []struct {
		at    time.Duration
		state State
		muted bool
	}{{0, StatePending, false}, {time.Hour, StateActive, true}, {2*time.Hour - 1, StateActive, true}, {2 * time.Hour, StateExpired, false}} {
		got, _ := s.Get(id)
		if st := got.State(t0.Add(tc.at)); st != tc.state {
			t.Errorf("at %s: state %s, want %s", tc.at, st, tc.state)
		}
		if muted := len(s.MutedBy(a, t0.Add(tc.at))) > 0; muted != tc.muted {
			t.Errorf("at %s: muted %t", tc.at, muted)
		}
	}
	if ids := s.MutedBy(telemetry.LabelsFromStrings("alertname", "B"), t0.Add(time.Hour)); len(ids) != 0 {
		t.Errorf("B muted by %v", ids)
	}
}

// TestUpdate follows Alertmanager's rules for updating in place versus
// expiring and replacing.
func TestUpdate(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		orig     Silence
		now      time.Duration
		change   func(*Silence)
		inPlace  bool
		oldState State
	}{
		{"active: extend end", sil(0, time.Hour, eq("a", "1")), 10 * time.Minute, func(s *Silence) { s.EndsAt = t0.Add(3 * time.Hour) }, true, StateActive},
		{"active: comment", sil(0, time.Hour, eq("a", "1")), 10 * time.Minute, func(s *Silence) { s.Comment = "new" }, true, StateActive},
		{"active: move start", sil(0, time.Hour, eq("a", "1")), 10 * time.Minute, func(s *Silence) { s.StartsAt = t0.Add(20 * time.Minute) }, false, StateExpired},
		{"active: new matchers", sil(0, time.Hour, eq("a", "1")), 10 * time.Minute, func(s *Silence) { s.Matchers = labels.Matchers{eq("a", "2")} }, false, StateExpired},
		{"pending: move start later", sil(time.Hour, 2*time.Hour, eq("a", "1")), 0, func(s *Silence) { s.StartsAt = t0.Add(90 * time.Minute) }, true, StatePending},
		{"pending: new matchers", sil(time.Hour, 2*time.Hour, eq("a", "1")), 0, func(s *Silence) { s.Matchers = labels.Matchers{eq("b", "1")} }, false, StateExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSilences(t, nil)
			id, err := s.Set(ctx, tc.orig, t0)
			if err != nil {
				t.Fatal(err)
			}
			now := t0.Add(tc.now)
			upd, _ := s.Get(id)
			tc.change(&upd)
			nid, err := s.Set(ctx, upd, now)
			if err != nil {
				t.Fatal(err)
			}
			if (nid == id) != tc.inPlace {
				t.Errorf("in place %t, want %t", nid == id, tc.inPlace)
			}
			old, _ := s.Get(id)
			if st := old.State(now); st != tc.oldState {
				t.Errorf("old silence %s, want %s", st, tc.oldState)
			}
		})
	}
}

func TestSetErrors(t *testing.T) {
	s := newSilences(t, func(o *Options) { o.MaxDuration = 24 * time.Hour; o.MaxSilences = 2 })
	ctx := context.Background()
	re, _ := labels.NewMatcher(labels.MatchRegexp, "a", ".*")
	tests := []struct {
		name string
		sil  Silence
		want error
		msg  string
	}{
		{"no matchers", sil(0, time.Hour), ErrInvalid, "at least one matcher"},
		{"matches all", sil(0, time.Hour, re), ErrInvalid, "must not match the empty string"},
		{"inverted", sil(time.Hour, 0, eq("a", "1")), ErrInvalid, "must be after startsAt"},
		{"past", sil(-2*time.Hour, -time.Hour, eq("a", "1")), ErrInvalid, "in the past"},
		{"too long", sil(0, 25*time.Hour, eq("a", "1")), ErrTooLong, "longer than the maximum of 24h0m0s"},
		{"unknown id", func() Silence { x := sil(0, time.Hour, eq("a", "1")); x.ID = "nope"; return x }(), ErrNotFound, "nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Set(ctx, tc.sil, t0)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("got %v, want %v with %q", err, tc.want, tc.msg)
			}
		})
	}
	// A start in the past counts from now for the maximum.
	if _, err := s.Set(ctx, sil(-48*time.Hour, 23*time.Hour, eq("a", "1")), t0); err != nil {
		t.Errorf("past start within max from now: %v", err)
	}
	if _, err := s.Set(ctx, sil(0, time.Hour, eq("a", "2")), t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Set(ctx, sil(0, time.Hour, eq("a", "3")), t0); !errors.Is(err, ErrFull) {
		t.Errorf("third silence: %v", err)
	}
}

func TestExpire(t *testing.T) {
	s := newSilences(t, nil)
	ctx := context.Background()
	active, _ := s.Set(ctx, sil(0, time.Hour, eq("a", "1")), t0)
	pending, _ := s.Set(ctx, sil(time.Hour, 2*time.Hour, eq("a", "1")), t0)
	now := t0.Add(time.Minute)
	for _, id := range []string{active, pending} {
		if err := s.Expire(ctx, id, now); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Get(id)
		if got.State(now) != StateExpired || !got.EndsAt.Equal(now) || got.StartsAt.After(got.EndsAt) {
			t.Errorf("%s after expire: %+v", id, got)
		}
	}
	if err := s.Expire(ctx, active, now); !errors.Is(err, ErrInvalid) {
		t.Errorf("expire twice: %v", err)
	}
	if err := s.Expire(ctx, "nope", now); !errors.Is(err, ErrNotFound) {
		t.Errorf("expire unknown: %v", err)
	}
}

func TestQueryOrder(t *testing.T) {
	s := newSilences(t, nil)
	ctx := context.Background()
	late, _ := s.Set(ctx, sil(0, 3*time.Hour, eq("a", "1")), t0)
	soon, _ := s.Set(ctx, sil(0, time.Hour, eq("a", "2")), t0)
	pend, _ := s.Set(ctx, sil(2*time.Hour, 4*time.Hour, eq("a", "3")), t0)
	exp, _ := s.Set(ctx, sil(0, time.Hour, eq("a", "4")), t0)
	_ = s.Expire(ctx, exp, t0.Add(time.Minute))
	var ids []string
	for _, x := range s.Query(t0.Add(2*time.Minute), nil) {
		ids = append(ids, x.ID)
	}
	want := []string{soon, late, pend, exp}
	if strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("order %v, want %v", ids, want)
	}
}

func TestPersistAndGC(t *testing.T) {
	st := &memState{}
	ctx := context.Background()
	s := newSilences(t, func(o *Options) { o.State = st })
	keep, _ := s.Set(ctx, sil(0, 10*24*time.Hour, eq("a", "1")), t0)
	gone, _ := s.Set(ctx, sil(0, time.Hour, eq("a", "2")), t0)

	// A restart: a new set loads what the first persisted.
	s2 := newSilences(t, func(o *Options) { o.State = st })
	if err := s2.Load(ctx, t0); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{keep, gone} {
		a, err1 := s.Get(id)
		b, err2 := s2.Get(id)
		if err1 != nil || err2 != nil || a.Matchers.String() != b.Matchers.String() || !a.EndsAt.Equal(b.EndsAt) || a.CreatedBy != b.CreatedBy {
			t.Errorf("%s not restored: %+v vs %+v", id, a, b)
		}
	}
	// Expired silences stay for the retention (5 days), then go.
	if n, err := s2.GC(ctx, t0.Add(time.Hour+5*24*time.Hour-time.Second)); n != 0 || err != nil {
		t.Errorf("GC before retention removed %d (%v)", n, err)
	}
	if n, err := s2.GC(ctx, t0.Add(time.Hour+5*24*time.Hour)); n != 1 || err != nil {
		t.Errorf("GC after retention removed %d (%v)", n, err)
	}
	s3 := newSilences(t, func(o *Options) { o.State = st })
	if err := s3.Load(ctx, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s3.Get(gone); !errors.Is(err, ErrNotFound) {
		t.Errorf("collected silence came back: %v", err)
	}

	// A store failure surfaces from Set, wrapped.
	st.Err = errors.New("disk full")
	if _, err := s.Set(ctx, sil(0, time.Hour, eq("a", "9")), t0); err == nil || !strings.Contains(err.Error(), "persist silences: disk full") {
		t.Errorf("persist error: %v", err)
	}
	// Corrupt state is a clear error.
	st.Err = nil
	_ = st.PutState(ctx, StateKey, []byte("{"))
	if err := s3.Load(ctx, t0); err == nil || !strings.Contains(err.Error(), "decode silences") {
		t.Errorf("corrupt state: %v", err)
	}
	// No state: nothing to load, no error.
	if err := newSilences(t, func(o *Options) { o.State = &memState{} }).Load(ctx, t0); err != nil {
		t.Errorf("empty state: %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	s := newSilences(t, nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				id, err := s.Set(ctx, sil(0, time.Hour, eq("g", string(rune('a'+g)))), t0)
				if err != nil {
					t.Error(err)
					return
				}
				s.MutedBy(telemetry.LabelsFromStrings("g", "a"), t0)
				_ = s.Expire(ctx, id, t0.Add(time.Second))
				s.Query(t0, nil)
			}
		}(g)
	}
	wg.Wait()
	if n := len(s.Query(t0, nil)); n != 200 {
		t.Errorf("%d silences", n)
	}
}
