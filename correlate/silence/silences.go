package silence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// Defaults, exported for configuration docs.
const (
	// DefaultRetention is how long an expired silence is kept (and listed)
	// before it is garbage-collected: Alertmanager's 5 days.
	DefaultRetention   = 5 * 24 * time.Hour
	DefaultMaxSilences = 10_000
	DefaultMaxMatchers = 64
	// StateKey is the store.StateStore key silences persist under.
	StateKey = "silences"
)

// ErrInvalidOptions is returned by New when options cannot work.
var ErrInvalidOptions = errors.New("invalid silence options")

// StateStore persists the silences; store.StateStore satisfies it.
type StateStore interface {
	PutState(ctx context.Context, key string, value []byte) error
	GetState(ctx context.Context, key string) ([]byte, error)
}

// Options configure Silences. Zero fields take their DefaultOptions
// value, except those documented otherwise.
type Options struct {
	// Retention keeps expired silences this long after they end.
	Retention time.Duration
	// MaxDuration, when positive, rejects silences lasting longer (from
	// the later of startsAt and now to endsAt) with ErrTooLong. Zero: no
	// limit, as in Alertmanager.
	MaxDuration time.Duration
	// MaxSilences bounds the silences kept, expired ones included.
	MaxSilences int
	// MaxMatchers bounds the matchers of one silence.
	MaxMatchers int
	// State, when set, receives a snapshot after every change, and Load
	// reads it back. Nil: silences live in memory only.
	State StateStore
	// NewID returns a fresh silence ID; nil: random UUIDs.
	NewID      func() string
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{Retention: DefaultRetention, MaxSilences: DefaultMaxSilences, MaxMatchers: DefaultMaxMatchers}
}

func (o *Options) validate() error {
	d := DefaultOptions()
	if o.Retention == 0 {
		o.Retention = d.Retention
	}
	if o.MaxSilences == 0 {
		o.MaxSilences = d.MaxSilences
	}
	if o.MaxMatchers == 0 {
		o.MaxMatchers = d.MaxMatchers
	}
	if o.NewID == nil {
		o.NewID = newID
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.Retention < 0:
		return fmt.Errorf("%w: retention %s is negative", ErrInvalidOptions, o.Retention)
	case o.MaxDuration < 0:
		return fmt.Errorf("%w: max duration %s is negative", ErrInvalidOptions, o.MaxDuration)
	case o.MaxSilences < 0 || o.MaxMatchers < 0:
		return fmt.Errorf("%w: limits must not be negative", ErrInvalidOptions)
	}
	return nil
}

// Silences is the set of silences. It is safe for concurrent use.
type Silences struct {
	opts    Options
	metrics *metrics
	// mtx protects byID. Persisting happens under it too, so that
	// snapshots reach the store in the order the changes were made.
	mtx  sync.RWMutex
	byID map[string]*Silence
}

type metrics struct {
	silences   *prometheus.GaugeVec
	gcRemoved  prometheus.Counter
	persistErr prometheus.Counter
}

// New returns an empty set; call Load to restore persisted silences.
func New(opts Options) (*Silences, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	m := &metrics{
		silences: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_silence_silences", Help: "Silences kept, by state as of the last change or collection.",
		}, []string{"state"}),
		gcRemoved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_silence_gc_removed_total", Help: "Expired silences removed after their retention.",
		}),
		persistErr: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_silence_persist_errors_total", Help: "Snapshots that could not be written to the state store.",
		}),
	}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{m.silences, m.gcRemoved, m.persistErr} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("register silence metrics: %w", err)
			}
		}
	}
	return &Silences{opts: opts, metrics: m, byID: map[string]*Silence{}}, nil
}

// Set creates a silence (empty ID) or updates one, as Alertmanager does:
// in place when the matchers are unchanged and the change keeps the
// silence's history true (an active silence keeps its start and does not
// end in the past; a pending one does not start in the past); otherwise
// the old silence is expired and a new one with a new ID replaces it. A
// start in the past becomes now. It returns the silence's ID.
func (s *Silences) Set(ctx context.Context, sil Silence, now time.Time) (string, error) {
	if err := sil.validate(s.opts.MaxMatchers); err != nil {
		return "", err
	}
	if sil.EndsAt.Before(now) {
		return "", fmt.Errorf("%w: endsAt %s is in the past", ErrInvalid, sil.EndsAt.UTC().Format(time.RFC3339))
	}
	if max := s.opts.MaxDuration; max > 0 {
		from := sil.StartsAt
		if from.Before(now) {
			from = now
		}
		if d := sil.EndsAt.Sub(from); d > max {
			return "", fmt.Errorf("%w: it lasts %s, longer than the maximum of %s", ErrTooLong, d.Round(time.Second), max)
		}
	}
	s.mtx.Lock()
	defer s.mtx.Unlock()
	if sil.ID != "" {
		prev, ok := s.byID[sil.ID]
		if !ok {
			return "", fmt.Errorf("%w: %s", ErrNotFound, sil.ID)
		}
		if canUpdate(prev, &sil, now) {
			sil.UpdatedAt = now
			c := sil.clone()
			s.byID[sil.ID] = &c
			return sil.ID, s.persistLocked(ctx, now)
		}
		if prev.State(now) != StateExpired {
			expireAt(prev, now)
		}
	}
	if len(s.byID) >= s.opts.MaxSilences {
		s.gcLocked(now)
		if len(s.byID) >= s.opts.MaxSilences {
			return "", fmt.Errorf("%w: %d kept, the maximum", ErrFull, len(s.byID))
		}
	}
	sil.ID = s.opts.NewID()
	if sil.StartsAt.Before(now) {
		sil.StartsAt = now
	}
	sil.UpdatedAt = now
	c := sil.clone()
	s.byID[sil.ID] = &c
	return sil.ID, s.persistLocked(ctx, now)
}

func canUpdate(prev, next *Silence, now time.Time) bool {
	if !equalMatchers(prev.Matchers, next.Matchers) {
		return false
	}
	switch prev.State(now) {
	case StateActive:
		return next.StartsAt.Equal(prev.StartsAt) && !next.EndsAt.Before(now)
	case StatePending:
		return !next.StartsAt.Before(now)
	}
	return false
}

func equalMatchers(a, b labels.Matchers) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Type != b[i].Type || a[i].Value != b[i].Value {
			return false
		}
	}
	return true
}

func expireAt(s *Silence, now time.Time) {
	if s.State(now) == StatePending {
		s.StartsAt = now
	}
	s.EndsAt = now
	s.UpdatedAt = now
}

// Expire ends the silence now. Expiring an expired silence is an error, as
// in Alertmanager.
func (s *Silences) Expire(ctx context.Context, id string, now time.Time) error {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	sil, ok := s.byID[id]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if sil.State(now) == StateExpired {
		return fmt.Errorf("%w: silence %s already expired", ErrInvalid, id)
	}
	expireAt(sil, now)
	return s.persistLocked(ctx, now)
}

// Get returns the silence with this ID.
func (s *Silences) Get(id string) (Silence, error) {
	s.mtx.RLock()
	defer s.mtx.RUnlock()
	sil, ok := s.byID[id]
	if !ok {
		return Silence{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return sil.clone(), nil
}

// Query returns the silences keep selects (nil: all), in Alertmanager's
// API order: active by end, then pending by start, then expired, most
// recently ended first.
func (s *Silences) Query(now time.Time, keep func(*Silence) bool) []Silence {
	s.mtx.RLock()
	out := make([]Silence, 0, len(s.byID))
	for _, sil := range s.byID {
		if keep == nil || keep(sil) {
			out = append(out, sil.clone())
		}
	}
	s.mtx.RUnlock()
	rank := map[State]int{StateActive: 0, StatePending: 1, StateExpired: 2}
	sort.Slice(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		sa, sb := a.State(now), b.State(now)
		if sa != sb {
			return rank[sa] < rank[sb]
		}
		switch sa {
		case StateActive:
			if !a.EndsAt.Equal(b.EndsAt) {
				return a.EndsAt.Before(b.EndsAt)
			}
		case StatePending:
			if !a.StartsAt.Equal(b.StartsAt) {
				return a.StartsAt.Before(b.StartsAt)
			}
		default:
			if !a.EndsAt.Equal(b.EndsAt) {
				return a.EndsAt.After(b.EndsAt)
			}
		}
		return a.ID < b.ID
	})
	return out
}

// Active returns the silences active at now that match ls.
func (s *Silences) Active(ls telemetry.Labels, now time.Time) []Silence {
	s.mtx.RLock()
	defer s.mtx.RUnlock()
	var out []Silence
	for _, sil := range s.byID {
		if sil.State(now) == StateActive && sil.Matches(ls) {
			out = append(out, sil.clone())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// MutedBy returns the IDs of the silences muting ls at now, sorted.
func (s *Silences) MutedBy(ls telemetry.Labels, now time.Time) []string {
	act := s.Active(ls, now)
	ids := make([]string, len(act))
	for i := range act {
		ids[i] = act[i].ID
	}
	return ids
}

// Mutes returns, for each silence muting ls at now, why.
func (s *Silences) Mutes(ls telemetry.Labels, now time.Time) []string {
	act := s.Active(ls, now)
	out := make([]string, len(act))
	for i := range act {
		out[i] = act[i].Reason()
	}
	return out
}

// GC removes silences that expired more than the retention ago and
// persists the result. It returns how many it removed.
func (s *Silences) GC(ctx context.Context, now time.Time) (int, error) {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	n := s.gcLocked(now)
	if n == 0 {
		s.updateGauges(now)
		return 0, nil
	}
	return n, s.persistLocked(ctx, now)
}

func (s *Silences) gcLocked(now time.Time) int {
	n := 0
	for id, sil := range s.byID {
		if !sil.EndsAt.Add(s.opts.Retention).After(now) {
			delete(s.byID, id)
			n++
		}
	}
	s.metrics.gcRemoved.Add(float64(n))
	return n
}

func (s *Silences) updateGauges(now time.Time) {
	counts := map[State]int{}
	for _, sil := range s.byID {
		counts[sil.State(now)]++
	}
	for _, st := range []State{StateActive, StatePending, StateExpired} {
		s.metrics.silences.WithLabelValues(string(st)).Set(float64(counts[st]))
	}
}

// snapshotSilence is the persisted form of a Silence.
type snapshotSilence struct {
	ID        string            `json:"id"`
	Matchers  []snapshotMatcher `json:"matchers"`
	StartsAt  time.Time         `json:"startsAt"`
	EndsAt    time.Time         `json:"endsAt"`
	UpdatedAt time.Time         `json:"updatedAt"`
	CreatedBy string            `json:"createdBy"`
	Comment   string            `json:"comment"`
}

type snapshotMatcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual bool   `json:"isEqual"`
}

// Snapshot encodes every silence (expired ones within retention included).
func (s *Silences) Snapshot() ([]byte, error) {
	s.mtx.RLock()
	defer s.mtx.RUnlock()
	return s.snapshotLocked()
}

func (s *Silences) snapshotLocked() ([]byte, error) {
	list := make([]snapshotSilence, 0, len(s.byID))
	for _, sil := range s.byID {
		ss := snapshotSilence{ID: sil.ID, StartsAt: sil.StartsAt, EndsAt: sil.EndsAt, UpdatedAt: sil.UpdatedAt, CreatedBy: sil.CreatedBy, Comment: sil.Comment}
		for _, m := range sil.Matchers {
			ss.Matchers = append(ss.Matchers, snapshotMatcher{
				Name: m.Name, Value: m.Value,
				IsRegex: m.Type == labels.MatchRegexp || m.Type == labels.MatchNotRegexp,
				IsEqual: m.Type == labels.MatchEqual || m.Type == labels.MatchRegexp,
			})
		}
		list = append(list, ss)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	b, err := json.Marshal(list)
	if err != nil {
		return nil, fmt.Errorf("encode silences: %w", err)
	}
	return b, nil
}

func (s *Silences) persistLocked(ctx context.Context, now time.Time) error {
	s.updateGauges(now)
	if s.opts.State == nil {
		return nil
	}
	b, err := s.snapshotLocked()
	if err == nil {
		err = s.opts.State.PutState(ctx, StateKey, b)
	}
	if err != nil {
		s.metrics.persistErr.Inc()
		return fmt.Errorf("persist silences: %w", err)
	}
	return nil
}

// Load replaces the silences with those persisted in Options.State (a
// missing key is an empty set), dropping those past retention at now.
func (s *Silences) Load(ctx context.Context, now time.Time) error {
	if s.opts.State == nil {
		return nil
	}
	b, err := s.opts.State.GetState(ctx, StateKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load silences: %w", err)
	}
	return s.restore(b, now)
}

// Restore replaces the silences with a Snapshot's.
func (s *Silences) Restore(b []byte, now time.Time) error { return s.restore(b, now) }

func (s *Silences) restore(b []byte, now time.Time) error {
	var list []snapshotSilence
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("decode silences: %w", err)
	}
	if len(list) > s.opts.MaxSilences {
		return fmt.Errorf("decode silences: %d silences, more than the maximum %d", len(list), s.opts.MaxSilences)
	}
	byID := make(map[string]*Silence, len(list))
	for i, ss := range list {
		sil := &Silence{ID: ss.ID, StartsAt: ss.StartsAt, EndsAt: ss.EndsAt, UpdatedAt: ss.UpdatedAt, CreatedBy: ss.CreatedBy, Comment: ss.Comment}
		for _, sm := range ss.Matchers {
			m, err := MatcherFrom(sm.Name, sm.Value, sm.IsRegex, sm.IsEqual)
			if err != nil {
				return fmt.Errorf("decode silences: silence %d (%s): %w", i, ss.ID, err)
			}
			sil.Matchers = append(sil.Matchers, m)
		}
		if ss.ID == "" {
			return fmt.Errorf("decode silences: silence %d has no id", i)
		}
		if !sil.EndsAt.Add(s.opts.Retention).After(now) {
			continue
		}
		byID[ss.ID] = sil
	}
	s.mtx.Lock()
	s.byID = byID
	s.updateGauges(now)
	s.mtx.Unlock()
	return nil
}

// MatcherFrom builds a matcher from the API's (name, value, isRegex,
// isEqual) form.
func MatcherFrom(name, value string, isRegex, isEqual bool) (*labels.Matcher, error) {
	t := labels.MatchEqual
	switch {
	case isRegex && isEqual:
		t = labels.MatchRegexp
	case isRegex:
		t = labels.MatchNotRegexp
	case !isEqual:
		t = labels.MatchNotEqual
	}
	m, err := labels.NewMatcher(t, name, value)
	if err != nil {
		return nil, fmt.Errorf("%w: matcher %s: %v", ErrInvalid, name, err)
	}
	return m, nil
}

var _ StateStore = store.StateStore(nil)
