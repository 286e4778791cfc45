package metricstore

import (
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/telemetry"
)

var t0 = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

func ms(d time.Duration) int64 { return t0.Add(d).UnixMilli() }

func newStore(t testing.TB, mod func(*Options)) *Store {
	t.Helper()
	opts := DefaultOptions()
	opts.Registerer = prometheus.NewRegistry()
	opts.Logger = slog.New(slog.DiscardHandler)
	if mod != nil {
		mod(&opts)
	}
	st, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func series(name string, extra ...string) telemetry.Labels {
	return telemetry.LabelsFromStrings(append([]string{"__name__", name}, extra...)...)
}

// appendEvery appends one point per interval in [from, to) with value f(i).
func appendEvery(st *Store, ls telemetry.Labels, from, to, every time.Duration, f func(i int) float64) {
	i := 0
	for d := from; d < to; d += every {
		st.Append([]telemetry.Sample{{Labels: ls, T: ms(d), V: f(i)}})
		i++
	}
}

func all(st *Store, ls telemetry.Labels) []telemetry.Point {
	return st.Range(RefOf(ls), time.Unix(0, 0), t0.Add(1000*24*time.Hour), 0)
}

func TestRawRoundTrip(t *testing.T) {
	st := newStore(t, nil)
	ls := series("up", "job", "api")
	appendEvery(st, ls, 0, 10*time.Minute, time.Minute, func(i int) float64 { return float64(i) })
	got := all(st, ls)
	if len(got) != 10 {
		t.Fatalf("got %d points", len(got))
	}
	for i, p := range got {
		if p.T != ms(time.Duration(i)*time.Minute) || p.V != float64(i) {
			t.Fatalf("point %d: %+v", i, p)
		}
	}
	sub := st.Range(RefOf(ls), t0.Add(2*time.Minute), t0.Add(4*time.Minute), 0)
	if len(sub) != 3 || sub[0].V != 2 || sub[2].V != 4 {
		t.Fatalf("sub-range %v", sub)
	}
	if p, ok := st.Latest(RefOf(ls)); !ok || p.V != 9 {
		t.Fatalf("latest %v %v", p, ok)
	}
	if st.Range(RefOf(series("nope")), t0, t0.Add(time.Hour), 0) != nil {
		t.Fatal("unknown series returned points")
	}
	if _, ok := st.Latest(RefOf(series("nope"))); ok {
		t.Fatal("unknown series has a latest point")
	}
	if got := st.Range(Ref{Labels: ls}, t0, t0.Add(time.Hour), 0); len(got) != 10 {
		t.Fatalf("Ref without fingerprint: %d points", len(got))
	}
}

func TestDownsampling(t *testing.T) {
	st := newStore(t, func(o *Options) {
		o.RawWindow = time.Hour
		o.DownsampleStep = 5 * time.Minute
	})
	ls := series("temp")
	// 3 hours at 1m: the first 2 hours fold into 24 buckets of 5 points.
	appendEvery(st, ls, 0, 3*time.Hour, time.Minute, func(i int) float64 { return float64(i) })
	got := all(st, ls)
	// Raw keeps [newest-1h, newest] = minutes 119..179 (61 points).
	if len(got) != 24+61 {
		t.Fatalf("got %d points, want 24 bucket means + 61 raw", len(got))
	}
	for i := 0; i < 23; i++ { // bucket i holds minutes 5i..5i+4, mean 5i+2
		if got[i].T != ms(time.Duration(5*i)*time.Minute) || got[i].V != float64(5*i+2) {
			t.Fatalf("bucket %d: %+v", i, got[i])
		}
	}
	// The last bucket (minutes 115..119) is partly raw: 115..118 folded.
	if got[23].V != (115+116+117+118)/4.0 {
		t.Fatalf("boundary bucket: %+v", got[23])
	}
	if got[24].T != ms(119*time.Minute) || got[len(got)-1].V != 179 {
		t.Fatalf("raw part: %+v .. %+v", got[24], got[len(got)-1])
	}
	if !slices.IsSortedFunc(got, func(a, b telemetry.Point) int { return int(a.T - b.T) }) {
		t.Fatal("points not in time order")
	}
	bs := st.Buckets(RefOf(ls), t0, t0.Add(10*time.Minute))
	if len(bs) != 3 || bs[1].Count != 5 || bs[1].Min != 5 || bs[1].Max != 9 || bs[1].Sum != 35 || bs[1].Mean() != 7 {
		t.Fatalf("buckets %+v", bs)
	}
	// A 15-minute step over buckets and raw points weighs by count.
	res := st.Range(RefOf(ls), t0, t0.Add(3*time.Hour), 15*time.Minute)
	if len(res) != 12 || res[0].V != 7 || res[0].T != ms(0) || res[11].V != float64(165+179)/2 {
		t.Fatalf("resampled %v", res)
	}
}

func TestMaxRawPoints(t *testing.T) {
	st := newStore(t, func(o *Options) { o.MaxRawPoints = 10; o.DownsampleStep = time.Minute })
	ls := series("fast")
	appendEvery(st, ls, 0, 100*time.Second, time.Second, func(i int) float64 { return 1 })
	var raw int
	st.lookup(RefOf(ls), func(s *memSeries) { raw = s.rawLen })
	if raw != 10 {
		t.Fatalf("raw ring holds %d, cap 10", raw)
	}
	total := 0
	for _, b := range st.Buckets(RefOf(ls), t0, t0.Add(time.Hour)) {
		total += b.Count
	}
	if total != 90 {
		t.Fatalf("buckets hold %d points, want 90", total)
	}
}

func TestRetention(t *testing.T) {
	st := newStore(t, func(o *Options) {
		o.RawWindow = time.Minute
		o.DownsampleStep = time.Minute
		o.Retention = time.Hour
	})
	ls := series("m")
	appendEvery(st, ls, 0, 3*time.Hour, time.Minute, func(i int) float64 { return float64(i) })
	bs := st.Buckets(RefOf(ls), time.Unix(0, 0), t0.Add(10*time.Hour))
	if len(bs) != 60 || bs[0].T != ms(118*time.Minute) {
		t.Fatalf("%d buckets from %v", len(bs), bs[0].Time())
	}
	// A gap longer than the retention starts the buckets over.
	appendEvery(st, ls, 10*time.Hour, 10*time.Hour+5*time.Minute, time.Minute, func(int) float64 { return 7 })
	bs = st.Buckets(RefOf(ls), time.Unix(0, 0), t0.Add(20*time.Hour))
	for _, b := range bs {
		if b.T < ms(9*time.Hour) {
			t.Fatalf("bucket from before the gap kept: %v", b.Time())
		}
	}
}

func TestOutOfOrder(t *testing.T) {
	tests := []struct {
		name    string
		late    time.Duration // timestamp of the late sample
		want    func(Stats) bool
		inRaw   bool
		bucketN int // points in buckets afterwards
	}{
		{"merged into raw", 30 * time.Second, func(s Stats) bool { return s.Merged == 1 }, true, 0},
		{"duplicate replaced", time.Minute, func(s Stats) bool { return s.Duplicates == 1 }, true, 0},
		{"too old", -time.Hour, func(s Stats) bool { return s.DroppedTooOld == 1 }, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t, func(o *Options) { o.OutOfOrderWindow = 30 * time.Minute })
			ls := series("m")
			appendEvery(st, ls, 0, 10*time.Minute, time.Minute, func(i int) float64 { return float64(i) })
			st.Append([]telemetry.Sample{{Labels: ls, T: ms(tc.late), V: 100}})
			if s := st.Stats(); !tc.want(s) {
				t.Fatalf("stats %+v", s)
			}
			got := all(st, ls)
			idx := slices.IndexFunc(got, func(p telemetry.Point) bool { return p.V == 100 })
			if (idx >= 0) != tc.inRaw {
				t.Fatalf("late sample in result: %v (%v)", idx >= 0, got)
			}
			if !slices.IsSortedFunc(got, func(a, b telemetry.Point) int { return int(a.T - b.T) }) {
				t.Fatalf("not sorted: %v", got)
			}
			if tc.inRaw && got[idx].T != ms(tc.late) {
				t.Fatalf("late sample at %d", got[idx].T)
			}
		})
	}
}

// TestBackfillAfterLive is the order the app produces: remote write
// delivers live samples, then promsource backfills two days of history.
func TestBackfillAfterLive(t *testing.T) {
	st := newStore(t, func(o *Options) { o.RawWindow = 6 * time.Hour })
	ls := series("http_requests_total", "job", "api")
	live := 48 * time.Hour
	appendEvery(st, ls, live, live+5*time.Minute, 15*time.Second, func(int) float64 { return 1 })
	appendEvery(st, ls, 0, live, time.Minute, func(int) float64 { return 2 })
	s := st.Stats()
	if s.DroppedTooOld != 0 || s.Merged != 48*60 {
		t.Fatalf("stats %+v", s)
	}
	got := all(st, ls)
	if !slices.IsSortedFunc(got, func(a, b telemetry.Point) int { return int(a.T - b.T) }) {
		t.Fatal("points not in time order")
	}
	// History older than the raw window (6h before the newest live
	// sample, at live+4m45s) is in buckets, the rest raw.
	raw6h := st.Range(RefOf(ls), t0.Add(live-6*time.Hour+5*time.Minute), t0.Add(live), 0)
	if len(raw6h) != 6*60-5+1 {
		t.Fatalf("raw points in the last 6h before live: %d", len(raw6h))
	}
	if b := st.Buckets(RefOf(ls), t0, t0.Add(4*time.Minute)); len(b) != 1 || b[0].Count != 5 || b[0].Mean() != 2 {
		t.Fatalf("oldest bucket %+v", b)
	}
}

func TestNaNAndStaleness(t *testing.T) {
	st := newStore(t, func(o *Options) { o.RawWindow = time.Minute; o.DownsampleStep = 10 * time.Minute })
	ls := series("g")
	stale := math.Float64frombits(0x7ff0000000000002)
	for i, v := range []float64{1, stale, 3, 5} {
		st.Append([]telemetry.Sample{{Labels: ls, T: ms(time.Duration(i) * time.Minute), V: v}})
	}
	st.Append([]telemetry.Sample{{Labels: ls, T: ms(time.Hour), V: 9}})
	bs := st.Buckets(RefOf(ls), t0, t0.Add(time.Hour))
	if len(bs) != 1 || bs[0].Count != 3 || bs[0].Mean() != 3 {
		t.Fatalf("NaN folded into bucket: %+v", bs)
	}
}

func TestInvalidLabels(t *testing.T) {
	st := newStore(t, nil)
	st.Append([]telemetry.Sample{
		{Labels: telemetry.Labels{{Name: "b", Value: "1"}, {Name: "a", Value: "2"}}, T: 1, V: 1},
		{Labels: nil, T: 1, V: 1},
		{Labels: series("ok"), T: 1, V: 1},
	})
	if s := st.Stats(); s.DroppedInvalid != 2 || s.Series != 1 || s.Appended != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func mustMatcher(t labels.MatchType, n, v string) *labels.Matcher {
	m, err := labels.NewMatcher(t, n, v)
	if err != nil {
		panic(err)
	}
	return m
}

func TestSeriesMatchers(t *testing.T) {
	st := newStore(t, nil)
	for _, ls := range []telemetry.Labels{
		series("up", "job", "api", "instance", "a"),
		series("up", "job", "db", "instance", "b"),
		series("http_requests_total", "job", "api", "code", "500"),
	} {
		st.Append([]telemetry.Sample{{Labels: ls, T: 1, V: 1}})
	}
	m := mustMatcher
	tests := []struct {
		name     string
		matchers []*labels.Matcher
		want     int
	}{
		{"all", nil, 3},
		{"by name", []*labels.Matcher{m(labels.MatchEqual, "__name__", "up")}, 2},
		{"and", []*labels.Matcher{m(labels.MatchEqual, "__name__", "up"), m(labels.MatchNotEqual, "job", "db")}, 1},
		{"regexp", []*labels.Matcher{m(labels.MatchRegexp, "code", "5..")}, 1},
		{"absent is empty", []*labels.Matcher{m(labels.MatchEqual, "code", "")}, 2},
		{"none", []*labels.Matcher{m(labels.MatchEqual, "job", "nope")}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := st.Series(tc.matchers...)
			if len(got) != tc.want {
				t.Fatalf("got %d: %v", len(got), got)
			}
			if !slices.IsSortedFunc(got, func(a, b Ref) int { return compareLabels(a.Labels, b.Labels) }) {
				t.Fatal("not sorted")
			}
			for _, r := range got {
				if r.Fingerprint != r.Labels.Fingerprint() {
					t.Fatal("wrong fingerprint")
				}
			}
		})
	}
}

func TestFingerprintCollision(t *testing.T) {
	st := newStore(t, nil)
	a, b := series("a"), series("b")
	sh := &st.shards[0]
	sa := &memSeries{labels: a, hash: 42}
	sb := &memSeries{labels: b, hash: 42, next: sa}
	sh.series[42] = sb
	if sh.find(42, a) != sa || sh.find(42, b) != sb || sh.find(42, series("c")) != nil {
		t.Fatal("find does not walk the collision chain")
	}
	if !sh.remove(sa) || sh.find(42, a) != nil || sh.find(42, b) != sb {
		t.Fatal("remove of a chained series")
	}
	if !sh.remove(sb) || len(sh.series) != 0 || sh.remove(sb) {
		t.Fatal("remove of the head")
	}
}

// TestAgainstModel appends random samples, in and out of order with
// duplicates, to a store whose raw ring holds everything, and compares
// with a map.
func TestAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	st := newStore(t, func(o *Options) { o.MaxRawPoints = 100_000; o.RawWindow = 1000 * time.Hour })
	names := []telemetry.Labels{series("a"), series("b"), series("c", "x", "y")}
	model := make([]map[int64]float64, len(names))
	for i := range model {
		model[i] = map[int64]float64{}
	}
	for range 20_000 {
		i := rng.IntN(len(names))
		ts := rng.Int64N(5000)
		v := rng.Float64()
		st.Append([]telemetry.Sample{{Labels: names[i], T: ts, V: v}})
		model[i][ts] = v
	}
	for i, ls := range names {
		got := st.Range(RefOf(ls), time.UnixMilli(0), time.UnixMilli(5000), 0)
		if len(got) != len(model[i]) {
			t.Fatalf("%s: %d points, model %d", ls, len(got), len(model[i]))
		}
		for j, p := range got {
			if j > 0 && got[j-1].T >= p.T {
				t.Fatalf("not strictly increasing at %d", j)
			}
			if model[i][p.T] != p.V {
				t.Fatalf("%s at %d: %v, model %v", ls, p.T, p.V, model[i][p.T])
			}
		}
	}
	checkAccounting(t, st)
}

// TestRingWraparound exercises the rings with points in and out of order
// while they wrap, against the invariant that output is sorted and no
// point is lost.
func TestRingWraparound(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	st := newStore(t, func(o *Options) {
		o.MaxRawPoints = 37
		o.RawWindow = time.Hour
		o.DownsampleStep = time.Minute
		o.Retention = 1000 * time.Hour
	})
	ls := series("w")
	seen := map[int64]bool{}
	var maxT int64
	for i := range 5000 {
		ts := int64(i) * 10_000
		if i > 10 && rng.IntN(4) == 0 {
			ts -= rng.Int64N(200_000) // up to 20 points late
		}
		if seen[ts] {
			continue
		}
		seen[ts] = true
		maxT = max(maxT, ts)
		st.Append([]telemetry.Sample{{Labels: ls, T: ts, V: 1}})
	}
	got := all(st, ls)
	if !slices.IsSortedFunc(got, func(a, b telemetry.Point) int { return int(a.T - b.T) }) {
		t.Fatal("not sorted")
	}
	total := 0
	for _, b := range st.Buckets(RefOf(ls), time.UnixMilli(-1e9), time.UnixMilli(maxT)) {
		total += b.Count
	}
	var raw int
	st.lookup(RefOf(ls), func(s *memSeries) { raw = s.rawLen })
	if s := st.Stats(); total+raw != len(seen) || s.DroppedTooOld+s.DroppedBucketFull != 0 {
		t.Fatalf("buckets %d + raw %d != %d points appended (%+v)", total, raw, len(seen), s)
	}
	checkAccounting(t, st)
}

func TestAppendAllocationFree(t *testing.T) {
	st := newStore(t, func(o *Options) { o.MaxRawPoints = 64; o.Retention = time.Hour; o.DownsampleStep = time.Minute })
	batch := make([]telemetry.Sample, 100)
	for i := range batch {
		batch[i].Labels = series("m", "i", fmt.Sprint(i))
	}
	ts := int64(0)
	step := func() {
		for i := range batch {
			batch[i].T = ts
		}
		ts += 15_000
		st.Append(batch)
	}
	for range 1000 { // fill the rings to their caps
		step()
	}
	if n := testing.AllocsPerRun(100, step); n != 0 {
		t.Fatalf("Append to existing series allocates %v times", n)
	}
}

func TestOptionsValidate(t *testing.T) {
	if _, err := New(Options{Retention: time.Minute, DownsampleStep: time.Hour}); err == nil {
		t.Fatal("retention shorter than step accepted")
	}
	if _, err := New(Options{MemoryLimit: -1}); err == nil {
		t.Fatal("negative limit accepted")
	}
	st, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st.opts.OutOfOrderWindow != 14*24*time.Hour || len(st.shards) != 128 || st.lim.maxBucket != 4032 {
		t.Fatalf("defaults: %+v %d %+v", st.opts, len(st.shards), st.lim)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestLongLabelSets covers label sets past hashOf's buffer, which must
// hash as the streaming path does.
func TestLongLabelSets(t *testing.T) {
	st := newStore(t, nil)
	long := telemetry.LabelsFromStrings("__name__", "m", "a", strings.Repeat("x", 600))
	if st.hashOf(long) != st.hashLong(long) || st.hashOf(series("m")) != st.hashLong(series("m")) {
		t.Fatal("buffered and streaming hashes differ")
	}
	st.Append([]telemetry.Sample{{Labels: long, T: 1, V: 2}})
	if p, ok := st.Latest(Ref{Labels: long}); !ok || p.V != 2 {
		t.Fatal("long label set not found")
	}
}
