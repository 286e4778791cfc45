package detect

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// seasonal returns a per-minute value with a daily cycle and noise.
func mtSeasonal(rng *rand.Rand, t time.Time) float64 {
	h := float64(t.Unix()%86400) / 3600
	return 0.5 + 0.1*math.Sin(2*math.Pi*h/24) + 0.01*rng.NormFloat64()
}

var mtT0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday

// run feeds days of per-minute data to d, calling inject to alter values,
// and returns the anomalies and the last score.
func mtRun(d *SeriesDetector, days int, inject func(i int, t time.Time, v float64) float64) ([]Anomaly, SeriesScore) {
	rng := rand.New(rand.NewPCG(1, 2))
	var out []Anomaly
	var last SeriesScore
	for i := 0; i < days*1440; i++ {
		t := mtT0.Add(time.Duration(i) * time.Minute)
		v := mtSeasonal(rng, t)
		if inject != nil {
			v = inject(i, t, v)
		}
		last = d.Observe(t, v)
		if last.Anomaly != nil {
			out = append(out, *last.Anomaly)
		}
	}
	return out, last
}

func TestSeriesDetectorScenarios(t *testing.T) {
	spikeAt := 3*1440 + 600 // day 4, 10:00
	tests := []struct {
		name      string
		inject    func(i int, t time.Time, v float64) float64
		deploy    bool
		wantFound bool
		kind      string
	}{
		{name: "clean", wantFound: false},
		{name: "latency incident 20m", inject: func(i int, _ time.Time, v float64) float64 {
			if i >= spikeAt && i < spikeAt+20 {
				return v + 2
			}
			return v
		}, wantFound: true, kind: "level_shift"},
		{name: "one-minute blip does not persist", inject: func(i int, _ time.Time, v float64) float64 {
			if i == spikeAt {
				return v + 2
			}
			return v
		}, wantFound: false},
		{name: "level shift", inject: func(i int, _ time.Time, v float64) float64 {
			if i >= spikeAt {
				return v + 0.3
			}
			return v
		}, wantFound: true, kind: "level_shift"},
		{name: "deploy widens band", deploy: true, inject: func(i int, _ time.Time, v float64) float64 {
			if i >= spikeAt && i < spikeAt+8 {
				return v + 0.08
			}
			return v
		}, wantFound: false},
		{name: "same bump without deploy pages", inject: func(i int, _ time.Time, v float64) float64 {
			if i >= spikeAt && i < spikeAt+8 {
				return v + 0.08
			}
			return v
		}, wantFound: true, kind: "level_shift"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultSeriesOptions()
			o.Service, o.Metric, o.Unit = "checkout", "p99 latency", "s"
			d := NewSeriesDetector(o)
			if tc.deploy {
				d.ObserveEvent(telemetry.Event{Kind: telemetry.EventDeploy, Service: "checkout", Time: mtT0.Add(time.Duration(spikeAt-2) * time.Minute)})
			}
			got, _ := mtRun(d, 5, tc.inject)
			var near []Anomaly
			for _, a := range got {
				if a.Start.After(mtT0.Add(time.Duration(spikeAt-1)*time.Minute)) && a.Start.Before(mtT0.Add(time.Duration(spikeAt+30)*time.Minute)) {
					near = append(near, a)
				}
			}
			if (len(near) > 0) != tc.wantFound {
				t.Fatalf("anomalies near the injection = %d, want found=%v; all: %+v", len(near), tc.wantFound, got)
			}
			if tc.name == "clean" && len(got) > 1 {
				t.Errorf("clean 5 days gave %d anomalies, want at most 1: %+v", len(got), got)
			}
			if tc.wantFound {
				a := near[0]
				if a.Type != TypeMetric || a.Service != "checkout" || a.Score < o.Threshold {
					t.Errorf("anomaly = %+v", a)
				}
				// A strong one-sided deviation is reported after a quarter
				// of For (see strongLikelihood); nothing sooner.
				if a.End.Sub(a.Start) < o.For/4 {
					t.Errorf("reported after %v, want >= %v (persistence)", a.End.Sub(a.Start), o.For/4)
				}
				if k := a.Labels.Get("kind"); k != tc.kind {
					t.Errorf("kind label %q, want %q", k, tc.kind)
				}
				if !strings.Contains(a.Explanation, "p99 latency") || !strings.Contains(a.Explanation, "usual") {
					t.Errorf("explanation %q lacks the metric and the usual band", a.Explanation)
				}
				t.Logf("%s: %s (score %.2f, conf %.2f)", tc.name, a.Explanation, a.Score, a.Confidence)
			}
		})
	}
}

// TestSeriesDetectorYoungDeploy deploys into a series on its first day,
// before its seasonal band is trusted: an error rate of a few per minute
// that a release raises thirtyfold and keeps there still pages within the
// grace, judged against the level it had when the grace began rather than
// the fast forecast that has caught up within a few points; a release that
// doubles it for four minutes only widens the band. When the event comes
// three minutes late, after the release's first points, the points after
// it are still judged against the level before the deploy: out of the
// widened band, which is what DeployWatch reads. (The series' own page
// then waits: the core spent its surprise on the first, ungraced points.)
func TestSeriesDetectorYoungDeploy(t *testing.T) {
	const step = 30 * time.Second
	tests := []struct {
		name    string
		factor  float64
		lasts   time.Duration
		late    time.Duration // the event arrives this long after its time
		want    bool          // a page within the grace
		wantOut int           // at least this many points out of the widened band after the event
	}{
		{"broken release pages", 30, time.Hour, 0, true, 20},
		{"broken release, event late", 30, time.Hour, 3 * time.Minute, false, 20},
		{"short wobble widens", 2, 4 * time.Minute, 0, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultSeriesOptions()
			o.Service = "checkout"
			d := NewSeriesDetector(o)
			deployAt := mtT0.Add(14 * time.Hour)
			rng := rand.New(rand.NewPCG(5, 6))
			var in []Anomaly
			sent, out := false, 0
			for ts := mtT0; ts.Before(deployAt.Add(o.DeployGrace)); ts = ts.Add(step) {
				if !sent && !ts.Before(deployAt.Add(tt.late)) {
					d.ObserveEvent(telemetry.Event{Kind: telemetry.EventDeploy, Service: "checkout", Time: deployAt})
					sent = true
				}
				v := float64(rng.IntN(5)) / 60 // errors per second over a minute
				if on := ts.Sub(deployAt) - time.Minute; on >= 0 && on < tt.lasts {
					v = tt.factor * (v + 1.0/60)
				}
				sc := d.Observe(ts, v)
				if sc.Anomaly != nil && !ts.Before(deployAt) {
					in = append(in, *sc.Anomaly)
				}
				if sent && sc.Anomalous && (v < sc.Lower || v > sc.Upper) {
					out++
				}
			}
			if tt.want && len(in) == 0 || !tt.want && tt.late == 0 && len(in) > 0 {
				t.Fatalf("anomalies within the grace %+v, want found=%v", in, tt.want)
			}
			if out < tt.wantOut || tt.wantOut == 0 && out > 2 {
				t.Errorf("%d points out of the widened band after the event, want at least %d (at most 2 for a wobble)", out, tt.wantOut)
			}
		})
	}
}

// TestSeriesDetectorGraceInterval: the grace runs from the deploy's own
// time, whenever its event arrives; a deploy within it extends it, and an
// older one that arrives late does not move it.
func TestSeriesDetectorGraceInterval(t *testing.T) {
	d := NewSeriesDetector(SeriesOptions{Service: "a", Threshold: 0.6, For: time.Minute, DeployGrace: 15 * time.Minute, DeployWiden: 3})
	at := mtT0.Add(8 * time.Hour)
	d.ObserveEvent(telemetry.Event{Kind: telemetry.EventDeploy, Service: "a", Time: at})
	for _, tt := range []struct {
		t    time.Time
		want bool
	}{{at.Add(-time.Minute), false}, {at, true}, {at.Add(14 * time.Minute), true}, {at.Add(15 * time.Minute), false}} {
		if got := d.inGrace(tt.t); got != tt.want {
			t.Errorf("inGrace(deploy%+v) = %v, want %v", tt.t.Sub(at), got, tt.want)
		}
	}
	d.ObserveEvent(telemetry.Event{Kind: telemetry.EventDeploy, Service: "a", Time: at.Add(10 * time.Minute)})
	if !d.graceFrom.Equal(at) || !d.grace.Equal(at.Add(25*time.Minute)) {
		t.Errorf("after a second deploy the grace is %v–%v, want it from the first deploy to the second's end", d.graceFrom, d.grace)
	}
	d.ObserveEvent(telemetry.Event{Kind: telemetry.EventDeploy, Service: "a", Time: at.Add(-2 * time.Hour)})
	if !d.graceFrom.Equal(at) {
		t.Errorf("an older deploy arriving late moved the grace to %v", d.graceFrom)
	}
	// But once points have come up to a deploy whose grace a copy
	// stamped ahead had pre-empted, the deploy at hand takes over.
	d.Observe(at.Add(-time.Hour), 1)
	d.ObserveEvent(telemetry.Event{Kind: telemetry.EventDeploy, Service: "a", Time: at.Add(-70 * time.Minute)})
	if !d.graceFrom.Equal(at.Add(-70 * time.Minute)) {
		t.Errorf("a deploy before the newest point left the grace at %v (a copy stamped ahead kept it)", d.graceFrom)
	}
	// A copy stamped two hours ahead arriving first does not keep the
	// real deploy, whose event comes on time, from widening the band.
	d = NewSeriesDetector(SeriesOptions{Service: "a", Threshold: 0.6, For: time.Minute, DeployGrace: 15 * time.Minute, DeployWiden: 3})
	d.Observe(at.Add(-2*time.Minute), 1)
	d.ObserveEvent(telemetry.Event{Kind: telemetry.EventDeploy, Service: "a", Time: at.Add(2 * time.Hour)})
	d.Observe(at.Add(-time.Minute), 1)
	d.ObserveEvent(telemetry.Event{Kind: telemetry.EventDeploy, Service: "a", Time: at})
	if !d.inGrace(at.Add(time.Minute)) {
		t.Errorf("the real deploy's grace was pre-empted by a copy stamped ahead (grace %v–%v)", d.graceFrom, d.grace)
	}
	// Points before the deploy, delivered after its event, are judged
	// against the usual band.
	o := DefaultSeriesOptions()
	o.Service = "a"
	early := NewSeriesDetector(o)
	early.ObserveEvent(telemetry.Event{Kind: telemetry.EventDeploy, Service: "a", Time: mtT0.Add(3*24*time.Hour + 600*time.Minute)})
	plain := NewSeriesDetector(o)
	mtRun(plain, 3, nil)
	mtRun(early, 3, nil)
	last := early.Observe(mtT0.Add(3*24*time.Hour), 0.5)
	ref := plain.Observe(mtT0.Add(3*24*time.Hour), 0.5)
	if last.Upper-last.Lower != ref.Upper-ref.Lower {
		t.Errorf("a deploy ten hours ahead widened the band before it: %v against %v", last.Upper-last.Lower, ref.Upper-ref.Lower)
	}
}

func TestSeriesDetectorDeployOfOtherServiceIgnored(t *testing.T) {
	d := NewSeriesDetector(SeriesOptions{Service: "a", Threshold: 0.6, For: time.Minute, DeployGrace: 15 * time.Minute, DeployWiden: 3})
	d.ObserveEvent(telemetry.Event{Kind: telemetry.EventDeploy, Service: "b", Time: mtT0})
	if !d.grace.IsZero() {
		t.Fatal("deploy of another service opened a grace period")
	}
	d.ObserveEvent(telemetry.Event{Kind: telemetry.EventScaling, Service: "a", Time: mtT0})
	if !d.grace.IsZero() {
		t.Fatal("a scaling event opened a grace period")
	}
	d.ObserveEvent(telemetry.Event{Kind: telemetry.EventDeploy, Service: "a", Time: mtT0})
	if !d.grace.Equal(mtT0.Add(15 * time.Minute)) {
		t.Fatalf("grace ends %v, want %v", d.grace, mtT0.Add(15*time.Minute))
	}
}

func TestSeriesDetectorBandAndWarnings(t *testing.T) {
	d := NewSeriesDetector(DefaultSeriesOptions())
	_, s := mtRun(d, 3, nil)
	if !s.ShortHistory || !strings.Contains(s.Warning, "two weeks") {
		t.Errorf("after 3 days: ShortHistory %v, warning %q; want a short-history warning", s.ShortHistory, s.Warning)
	}
	if !(s.Lower < s.Expected && s.Expected < s.Upper) {
		t.Errorf("band %v < %v < %v is not ordered", s.Lower, s.Expected, s.Upper)
	}
	// the band follows the daily cycle: it must contain most clean values
	rng := rand.New(rand.NewPCG(9, 9))
	in, n := 0, 0
	for i := 0; i < 1440; i++ {
		tm := mtT0.Add(time.Duration(3*1440+i) * time.Minute)
		v := mtSeasonal(rng, tm)
		sc := d.Observe(tm, v)
		n++
		if v >= sc.Lower && v <= sc.Upper {
			in++
		}
	}
	if frac := float64(in) / float64(n); frac < 0.95 {
		t.Errorf("band holds %.3f of clean values on day 4, want >= 0.95", frac)
	}
	d2 := NewSeriesDetector(DefaultSeriesOptions())
	_, s2 := mtRun(d2, 15, nil)
	if s2.ShortHistory {
		t.Errorf("after 15 days still ShortHistory: %q", s2.Warning)
	}
}

func TestSeriesDetectorDrift(t *testing.T) {
	d := NewSeriesDetector(DefaultSeriesOptions())
	rng := rand.New(rand.NewPCG(3, 4))
	drifted := false
	var kinds []string
	for i := 0; i < 4000; i++ {
		tm := mtT0.Add(time.Duration(i) * time.Minute)
		noise := 0.01
		if i > 3000 {
			noise = 0.2 // the process changed: far noisier than learned
		}
		s := d.Observe(tm, 1+noise*rng.NormFloat64())
		if i > 3000 && s.Drift {
			drifted = true
		}
		if s.Anomaly != nil {
			kinds = append(kinds, s.Anomaly.Labels.Get("kind"))
			if i < 3000 {
				t.Errorf("anomaly at %d before the change: %+v", i, *s.Anomaly)
			}
		}
		if i < 3000 && s.Drift {
			t.Fatalf("drift reported at %d before any change", i)
		}
	}
	if !drifted {
		t.Fatal("a 20× noise increase was never reported as drift")
	}
	if len(kinds) == 0 || kinds[0] != "variance_change" {
		t.Errorf("anomaly kinds after the noise rose: %v, want variance_change first", kinds)
	}
}

func TestSeriesDetectorBadInput(t *testing.T) {
	d := NewSeriesDetector(SeriesOptions{Threshold: 7}) // invalid: defaults used
	if d.opts.Threshold != DefaultSeriesOptions().Threshold {
		t.Fatalf("invalid threshold kept: %v", d.opts.Threshold)
	}
	for i, v := range []float64{math.NaN(), math.Inf(1), 1, math.Inf(-1), 2, 1e308, -1e308, 0} {
		s := d.Observe(mtT0.Add(time.Duration(i)*time.Minute), v)
		if math.IsNaN(s.Score) || s.Score < 0 || s.Score > 1 {
			t.Fatalf("value %v: score %v outside [0,1]", v, s.Score)
		}
	}
}

// TestSeriesStateSize: per-minute data with weekly seasonality must stay
// within 64 KiB per series.
func TestSeriesStateSize(t *testing.T) {
	d := NewSeriesDetector(DefaultSeriesOptions())
	mtRun(d, 15, nil)
	b := d.StateBytes()
	t.Logf("state per series at 1-minute resolution, weekly seasonality: %d bytes", b)
	if b > 64<<10 {
		t.Fatalf("state %d bytes > 64 KiB", b)
	}
}

// TestSeriesStateBounded: whatever the step, rings stay capped.
func TestSeriesStateBounded(t *testing.T) {
	for _, step := range []time.Duration{time.Second, 10 * time.Second, 15 * time.Second, time.Minute, 5 * time.Minute, time.Hour, 24 * time.Hour} {
		d := NewSeriesDetector(DefaultSeriesOptions())
		for i := 0; i < 3; i++ {
			d.Observe(mtT0.Add(time.Duration(i)*step), 1)
		}
		if b := d.StateBytes(); b > 64<<10 {
			t.Errorf("step %v: state %d bytes > 64 KiB", step, b)
		}
	}
}

// BenchmarkSeriesObserve is the univariate ensemble's cost per point.
func BenchmarkSeriesObserve(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 1 << 16
	vals := make([]float64, n)
	times := make([]time.Time, n)
	for i := range vals {
		times[i] = mtT0.Add(time.Duration(i) * time.Minute)
		vals[i] = mtSeasonal(rng, times[i])
	}
	d := NewSeriesDetector(DefaultSeriesOptions())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i & (n - 1)
		// keep time increasing across laps
		d.Observe(times[j].Add(time.Duration(i/n)*n*time.Minute), vals[j])
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(float64(d.StateBytes()), "state-bytes")
}

func TestSurpriseTable(t *testing.T) {
	for z := 0.0; z < 8; z += 0.0137 {
		got, want := mcSurprise(z), mcSurpriseExact(z)
		if math.Abs(got-want) > 1e-4*(1+want) {
			t.Fatalf("mcSurprise(%v) = %v, exact %v", z, got, want)
		}
	}
	for _, x := range []float64{0, 1e-6, 0.01, 0.0199, 0.02, 0.5, 3} {
		if got, want := mcOneMinusExp(x), 1-math.Exp(-x); math.Abs(got-want) > 1e-10 {
			t.Fatalf("mcOneMinusExp(%v) = %v, want %v", x, got, want)
		}
	}
}
