package notify

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// flakyServer fails its first `fails` requests with 503 and then accepts,
// counting the accepted deliveries.
type flakyServer struct {
	*httptest.Server
	fails     int32
	requests  atomic.Int32
	delivered atomic.Int32
}

func newFlakyServer(t *testing.T, fails int32) *flakyServer {
	s := &flakyServer{fails: fails}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.requests.Add(1) <= s.fails {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		s.delivered.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(s.Close)
	return s
}

// httpNotifier is a minimal integration posting to url.
func httpNotifier(url string) Notifier {
	c := NewHTTPClient(5 * time.Second)
	return NotifierFunc(func(ctx context.Context, m *Message) error {
		return PostJSON(ctx, c, url, []byte(`{"group":"`+ContentHash(m)+`"}`), nil)
	})
}

func fastOptions(t *testing.T, st StateStore, reg prometheus.Registerer) ReceiverOptions {
	t.Helper()
	lo := DefaultLogOptions()
	lo.Store = st
	l, err := NewLog(lo)
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultReceiverOptions()
	o.Log = l
	o.Registerer = reg
	o.Retry = RetryOptions{InitialBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, MaxAttempts: 6, Jitter: 0.2}
	return o
}

func TestReceiverFailsThreeTimesThenDeliversOnce(t *testing.T) {
	srv := newFlakyServer(t, 3)
	st := &MemStateStore{}
	reg := prometheus.NewRegistry()
	r, err := NewReceiver("team", []Notifier{httpNotifier(srv.URL)}, fastOptions(t, st, reg))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m := testMessage("g1", 3, t0)
	if err := r.Notify(ctx, m); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	if got := srv.delivered.Load(); got != 1 {
		t.Fatalf("delivered %d, want 1", got)
	}
	if got := srv.requests.Load(); got != 4 {
		t.Errorf("requests %d, want 4", got)
	}
	lbl := map[string]string{"receiver": "team", "integration": "integration0"}
	if got := counter(t, reg, "vigil_notify_retried_total", lbl); got != 3 {
		t.Errorf("retried_total = %v, want 3", got)
	}
	if got := counter(t, reg, "vigil_notify_sent_total", lbl); got != 1 {
		t.Errorf("sent_total = %v, want 1", got)
	}
	if got := counter(t, reg, "vigil_notify_latency_seconds", lbl); got != 4 {
		t.Errorf("latency samples = %v, want 4", got)
	}

	// The same content again, later: not delivered.
	m2 := testMessage("g1", 3, t0.Add(time.Minute))
	if err := r.Notify(ctx, m2); err != nil {
		t.Fatalf("Notify again: %v", err)
	}
	if got := srv.delivered.Load(); got != 1 {
		t.Fatalf("after identical re-send delivered %d, want 1", got)
	}
	if got := counter(t, reg, "vigil_notify_deduplicated_total", lbl); got != 1 {
		t.Errorf("deduplicated_total = %v, want 1", got)
	}

	// A restart: a new log and receiver over the same store.
	reg2 := prometheus.NewRegistry()
	r2, err := NewReceiver("team", []Notifier{httpNotifier(srv.URL)}, fastOptions(t, st, reg2))
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Notify(ctx, testMessage("g1", 3, t0.Add(2*time.Minute))); err != nil {
		t.Fatalf("Notify after restart: %v", err)
	}
	if got := srv.delivered.Load(); got != 1 {
		t.Fatalf("after restart delivered %d, want 1", got)
	}
	// New content (one more alert) is delivered.
	if err := r2.Notify(ctx, testMessage("g1", 4, t0.Add(3*time.Minute))); err != nil {
		t.Fatalf("Notify changed: %v", err)
	}
	if got := srv.delivered.Load(); got != 2 {
		t.Fatalf("changed content delivered %d times in total, want 2", got)
	}
}

func TestReceiverPermanentFailure(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "invalid_payload", http.StatusBadRequest)
	}))
	defer srv.Close()
	reg := prometheus.NewRegistry()
	r, err := NewReceiver("team", []Notifier{httpNotifier(srv.URL)}, fastOptions(t, nil, reg))
	if err != nil {
		t.Fatal(err)
	}
	err = r.Notify(context.Background(), testMessage("g", 1, t0))
	var de *DeliveryError
	if !errors.As(err, &de) || de.StatusCode != 400 {
		t.Fatalf("err = %v, want a 400 DeliveryError", err)
	}
	if calls.Load() != 1 {
		t.Errorf("calls = %d, want 1 (4xx is not retried)", calls.Load())
	}
	if got := counter(t, reg, "vigil_notify_failed_total", map[string]string{"receiver": "team"}); got != 1 {
		t.Errorf("failed_total = %v, want 1", got)
	}
	// Not logged: the next attempt sends again.
	_ = r.Notify(context.Background(), testMessage("g", 1, t0.Add(time.Minute)))
	if calls.Load() != 2 {
		t.Errorf("calls after second notify = %d, want 2", calls.Load())
	}
}

// recorder is a fake integration that records what it is sent.
type recorder struct {
	name string
	mtx  sync.Mutex
	got  []*Message
	err  error
}

func (r *recorder) Notify(_ context.Context, m *Message) error {
	r.mtx.Lock()
	defer r.mtx.Unlock()
	if r.err != nil {
		return r.err
	}
	r.got = append(r.got, m)
	return nil
}

func (r *recorder) Integration() string { return r.name }

func (r *recorder) count() int {
	r.mtx.Lock()
	defer r.mtx.Unlock()
	return len(r.got)
}

func TestReceiverDedupRules(t *testing.T) {
	resolvedOf := func(m *Message, now time.Time) *Message {
		mm := *m
		mm.Alerts = append(mm.Alerts[:0:0], m.Alerts...)
		for i := range mm.Alerts {
			mm.Alerts[i].EndsAt = now
		}
		mm.Status = StatusResolved
		mm.Now = now
		return &mm
	}
	type step struct {
		m    *Message
		want int // deliveries so far
	}
	base := testMessage("g", 2, t0)
	tests := []struct {
		name   string
		mutate func(*ReceiverOptions)
		steps  []step
	}{
		{"resolve after fire is sent", nil, []step{{base, 1}, {resolvedOf(base, t0.Add(time.Minute)), 2}, {resolvedOf(base, t0.Add(2*time.Minute)), 2}}},
		{"resolved never fired is skipped", nil, []step{{resolvedOf(base, t0), 0}}},
		{"send resolved off", func(o *ReceiverOptions) { o.SendResolved = false }, []step{{base, 1}, {resolvedOf(base, t0.Add(time.Minute)), 1}}},
		{"repeat interval", func(o *ReceiverOptions) { o.RepeatInterval = time.Hour }, []step{
			{base, 1}, {testMessage("g", 2, t0.Add(59*time.Minute)), 1}, {testMessage("g", 2, t0.Add(61*time.Minute)), 2}}},
		{"no repeat", func(o *ReceiverOptions) { o.RepeatInterval = 0 }, []step{
			{base, 1}, {testMessage("g", 2, t0.Add(100*time.Hour)), 1}}},
		{"retention forgets", func(o *ReceiverOptions) { o.RepeatInterval = 0 }, []step{
			{base, 1}, {testMessage("g", 2, t0.Add(121*time.Hour)), 2}}},
		{"other group is separate", nil, []step{{base, 1}, {testMessage("h", 2, t0), 2}}},
		{"incident status change is new content", nil, []step{
			{withIncident(base, IncidentOpen), 1}, {withIncident(base, IncidentOpen), 1}, {withIncident(base, IncidentAcknowledged), 2}, {withIncident(base, IncidentResolved), 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{name: "fake"}
			o := fastOptions(t, nil, nil)
			if tt.mutate != nil {
				tt.mutate(&o)
			}
			r, err := NewReceiver("team", []Notifier{rec}, o)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tt.steps {
				if err := r.Notify(context.Background(), s.m); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if got := rec.count(); got != s.want {
					t.Fatalf("step %d: %d deliveries, want %d", i, got, s.want)
				}
			}
		})
	}
}

func withIncident(m *Message, status string) *Message {
	mm := *m
	mm.Incident = &IncidentInfo{ID: "inc-7", Title: "Checkout down", Status: status, StartedAt: m.Now}
	return &mm
}

func TestReceiverIntegrationsIndependent(t *testing.T) {
	ok := &recorder{name: "fake"}
	bad := &recorder{name: "fake", err: Permanent(errors.New("rejected"))}
	r, err := NewReceiver("team", []Notifier{ok, bad}, fastOptions(t, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Notify(context.Background(), testMessage("g", 1, t0)); err == nil {
		t.Fatal("want the failing integration's error")
	}
	bad.mtx.Lock()
	bad.err = nil
	bad.mtx.Unlock()
	if err := r.Notify(context.Background(), testMessage("g", 1, t0.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	if ok.count() != 1 || bad.count() != 1 {
		t.Errorf("deliveries ok=%d bad=%d, want 1 and 1 (only the failed one is re-sent)", ok.count(), bad.count())
	}
}

func TestReceiverRateLimitDefersAndCoalesces(t *testing.T) {
	rec := &recorder{name: "fake"}
	reg := prometheus.NewRegistry()
	o := fastOptions(t, nil, reg)
	o.RateLimitPerMinute = 1
	r, err := NewReceiver("team", []Notifier{rec}, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.Notify(ctx, testMessage("a", 1, t0)); err != nil {
		t.Fatal(err)
	}
	// Over the limit: deferred, the later message for b replaces the earlier.
	for i, m := range []*Message{testMessage("b", 1, t0.Add(time.Second)), testMessage("b", 2, t0.Add(2*time.Second)), testMessage("c", 1, t0.Add(3*time.Second))} {
		if err := r.Notify(ctx, m); !errors.Is(err, ErrDeferred) {
			t.Fatalf("message %d: err = %v, want ErrDeferred", i, err)
		}
	}
	if r.Pending() != 2 {
		t.Fatalf("pending = %d, want 2 (b coalesced, c)", r.Pending())
	}
	if got := counter(t, reg, "vigil_notify_rate_limited_total", map[string]string{"receiver": "team"}); got != 3 {
		t.Errorf("rate_limited_total = %v, want 3", got)
	}
	if err := r.Flush(ctx, t0.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if rec.count() != 1 {
		t.Fatalf("after flush at +30s: %d deliveries, want 1", rec.count())
	}
	if err := r.Flush(ctx, t0.Add(61*time.Second)); err != nil {
		t.Fatal(err)
	}
	if rec.count() != 2 || rec.got[1].GroupKey != "b" || len(rec.got[1].Alerts) != 2 {
		t.Fatalf("after flush at +61s: want b with its latest 2 alerts, got %d deliveries", rec.count())
	}
	if err := r.Flush(ctx, t0.Add(122*time.Second)); err != nil {
		t.Fatal(err)
	}
	if rec.count() != 3 || rec.got[2].GroupKey != "c" || r.Pending() != 0 {
		t.Fatalf("after flush at +122s: %d deliveries, pending %d; want 3 and 0", rec.count(), r.Pending())
	}
}

func TestReceiverPendingBounded(t *testing.T) {
	rec := &recorder{name: "fake"}
	reg := prometheus.NewRegistry()
	o := fastOptions(t, nil, reg)
	o.RateLimitPerMinute = 1
	o.MaxPending = 3
	r, err := NewReceiver("team", []Notifier{rec}, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		_ = r.Notify(context.Background(), testMessage(string(rune('a'+i)), 1, t0))
	}
	if r.Pending() != 3 {
		t.Errorf("pending = %d, want 3", r.Pending())
	}
	if got := counter(t, reg, "vigil_notify_dropped_total", map[string]string{"receiver": "team"}); got != 6 {
		t.Errorf("dropped_total = %v, want 6", got)
	}
}

func TestReceiverConcurrentSameGroupDeliversOnce(t *testing.T) {
	rec := &recorder{name: "fake"}
	r, err := NewReceiver("team", []Notifier{rec}, fastOptions(t, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() { _ = r.Notify(context.Background(), testMessage("g", 3, t0)) })
	}
	wg.Wait()
	if rec.count() != 1 {
		t.Errorf("%d deliveries, want 1", rec.count())
	}
}

func TestNewReceiverValidation(t *testing.T) {
	rec := &recorder{name: "fake"}
	tests := []struct {
		name   string
		rname  string
		ints   []Notifier
		mutate func(*ReceiverOptions)
	}{
		{"empty name", "", []Notifier{rec}, nil},
		{"no integrations", "r", nil, nil},
		{"nil integration", "r", []Notifier{nil}, nil},
		{"negative rate", "r", []Notifier{rec}, func(o *ReceiverOptions) { o.RateLimitPerMinute = -1 }},
		{"zero attempts", "r", []Notifier{rec}, func(o *ReceiverOptions) { o.Retry.MaxAttempts = 0 }},
		{"bad jitter", "r", []Notifier{rec}, func(o *ReceiverOptions) { o.Retry.Jitter = 2 }},
		{"zero pending", "r", []Notifier{rec}, func(o *ReceiverOptions) { o.MaxPending = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultReceiverOptions()
			if tt.mutate != nil {
				tt.mutate(&o)
			}
			if _, err := NewReceiver(tt.rname, tt.ints, o); !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("err = %v, want ErrInvalidOptions", err)
			}
		})
	}
}

func TestMessageValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Message)
	}{
		{"no group", func(m *Message) { m.GroupKey = "" }},
		{"bad status", func(m *Message) { m.Status = "pending" }},
		{"zero now", func(m *Message) { m.Now = time.Time{} }},
		{"bad incident status", func(m *Message) { m.Incident = &IncidentInfo{ID: "x", Status: "closed"} }},
		{"incident without id", func(m *Message) { m.Incident = &IncidentInfo{Status: IncidentOpen} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testMessage("g", 1, t0)
			tt.mutate(m)
			rec := &recorder{name: "fake"}
			r, _ := NewReceiver("team", []Notifier{rec}, DefaultReceiverOptions())
			if err := r.Notify(context.Background(), m); !errors.Is(err, ErrInvalidMessage) {
				t.Errorf("err = %v, want ErrInvalidMessage", err)
			}
			if rec.count() != 0 {
				t.Error("invalid message was delivered")
			}
		})
	}
}

// brokenStore fails every call.
type brokenStore struct{}

func (brokenStore) PutState(context.Context, string, []byte) error { return errors.New("disk gone") }
func (brokenStore) GetState(context.Context, string) ([]byte, error) {
	return nil, errors.New("disk gone")
}

func TestReceiverSendsWhenLogStoreFails(t *testing.T) {
	rec := &recorder{name: "fake"}
	r, err := NewReceiver("team", []Notifier{rec}, fastOptions(t, brokenStore{}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Notify(context.Background(), testMessage("g", 1, t0)); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	if rec.count() != 1 {
		t.Errorf("%d deliveries, want 1", rec.count())
	}
}
