package detect

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

var dwT0 = time.Date(2026, 3, 5, 14, 0, 0, 0, time.UTC)

func dwDeploy(svc string, at time.Time) telemetry.Event {
	return telemetry.Event{ID: "ev-1", Kind: telemetry.EventDeploy, Service: svc, Time: at,
		Attributes: map[string]string{"version": "v1.4.2"}}
}

// dwOut is a point anomalous and above its band; dwIn one that is not.
var (
	dwOut = SeriesScore{Anomalous: true, Likelihood: 0.99, Expected: 1, Lower: 0.5, Upper: 1.5}
	dwIn  = SeriesScore{Expected: 1, Lower: 0.5, Upper: 1.5}
)

// dwPoint is one observation fed to the watch.
type dwPoint struct {
	at          time.Duration // after the deploy
	svc, metric string
	key         string
	v           float64
	sc          SeriesScore
}

func TestDeployWatch(t *testing.T) {
	out := func(at time.Duration, metric, key string) dwPoint {
		return dwPoint{at, "checkout", metric, key, 3, dwOut}
	}
	in := func(at time.Duration, metric, key string) dwPoint {
		return dwPoint{at, "checkout", metric, key, 1, dwIn}
	}
	const errs, lat = "http_requests_total", "http_request_duration_seconds"
	tests := []struct {
		name   string
		deploy bool
		points []dwPoint
		want   time.Duration // when the report comes; -1 for none
	}{
		{"errors and latency out twice each", true, []dwPoint{
			out(60*time.Second, errs, "e"), out(60*time.Second, lat, "l"),
			out(90*time.Second, errs, "e"), out(90*time.Second, lat, "l"),
		}, 90 * time.Second},
		{"no deploy", false, []dwPoint{
			out(60*time.Second, errs, "e"), out(60*time.Second, lat, "l"),
			out(90*time.Second, errs, "e"), out(90*time.Second, lat, "l"),
		}, -1},
		{"one point each is a wobble", true, []dwPoint{
			out(60*time.Second, errs, "e"), out(60*time.Second, lat, "l"),
			in(90*time.Second, errs, "e"), in(90*time.Second, lat, "l"),
			out(120*time.Second, errs, "e"), in(120*time.Second, lat, "l"),
		}, -1},
		{"three quantiles of one metric are one metric", true, []dwPoint{
			out(60*time.Second, lat, "p50"), out(60*time.Second, lat, "p95"), out(60*time.Second, lat, "p99"),
			out(90*time.Second, lat, "p50"), out(90*time.Second, lat, "p95"), out(90*time.Second, lat, "p99"),
		}, -1},
		{"a run broken by a normal point starts again", true, []dwPoint{
			out(60*time.Second, errs, "e"), out(60*time.Second, lat, "l"),
			in(90*time.Second, errs, "e"), out(90*time.Second, lat, "l"),
			out(120*time.Second, errs, "e"), out(120*time.Second, lat, "l"),
			out(150*time.Second, errs, "e"),
		}, 150 * time.Second},
		{"anomalous but inside the widened band", true, []dwPoint{
			{60 * time.Second, "checkout", errs, "e", 1.2, dwOut}, out(60*time.Second, lat, "l"),
			{90 * time.Second, "checkout", errs, "e", 1.2, dwOut}, out(90*time.Second, lat, "l"),
		}, -1},
		{"another service's metrics", true, []dwPoint{
			{60 * time.Second, "cart", errs, "e", 3, dwOut}, {60 * time.Second, "cart", lat, "l", 3, dwOut},
			{90 * time.Second, "cart", errs, "e", 3, dwOut}, {90 * time.Second, "cart", lat, "l", 3, dwOut},
		}, -1},
		{"a series that stopped reporting is not still out", true, []dwPoint{
			out(60*time.Second, errs, "e"), out(90*time.Second, errs, "e"),
			out(5*time.Minute, lat, "l"), out(5*time.Minute+30*time.Second, lat, "l"),
		}, -1},
		{"after the grace", true, []dwPoint{
			out(15*time.Minute, errs, "e"), out(15*time.Minute, lat, "l"),
			out(15*time.Minute+30*time.Second, errs, "e"), out(15*time.Minute+30*time.Second, lat, "l"),
		}, -1},
		{"before the deploy", true, []dwPoint{
			out(-90*time.Second, errs, "e"), out(-90*time.Second, lat, "l"),
			out(-60*time.Second, errs, "e"), out(-60*time.Second, lat, "l"),
		}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewDeployWatch(DefaultDeployWatchOptions())
			if tt.deploy {
				w.ObserveEvent(dwDeploy("checkout", dwT0))
			}
			var got []time.Duration
			var first *Anomaly
			for _, p := range tt.points {
				if a := w.Observe(p.svc, p.metric, p.key, dwT0.Add(p.at), p.v, p.sc); a != nil {
					got = append(got, p.at)
					if first == nil {
						first = a
					}
				}
			}
			switch {
			case tt.want < 0 && len(got) > 0:
				t.Fatalf("reported at %v, want nothing", got)
			case tt.want >= 0 && (len(got) != 1 || got[0] != tt.want):
				t.Fatalf("reported at %v, want once at %v", got, tt.want)
			case first == nil:
				return
			}
			if first.Type != TypeMetric || first.Service != "checkout" || first.Labels.Get("kind") != "deploy_regression" ||
				first.Labels.Get("metrics") != lat+","+errs || first.Labels.Get("deploy") != "ev-1" {
				t.Errorf("anomaly %+v", first)
			}
			for _, want := range []string{"2 metrics of checkout", "after the deploy of v1.4.2", errs + " 3.00 against 0.5–1.50"} {
				if !strings.Contains(first.Explanation, want) {
					t.Errorf("explanation %q lacks %q", first.Explanation, want)
				}
			}
			if first.Start.Before(dwT0) || !first.Start.Before(first.End) {
				t.Errorf("window %v–%v", first.Start, first.End)
			}
		})
	}
}

func TestDeployWatchOncePerDeploy(t *testing.T) {
	w := NewDeployWatch(DeployWatchOptions{})
	w.ObserveEvent(dwDeploy("checkout", dwT0))
	w.ObserveEvent(telemetry.Event{Kind: telemetry.EventDeploy, Time: dwT0}) // no service: not watched
	n := 0
	feed := func(from time.Time, k int) {
		for i := range k {
			at := from.Add(time.Duration(i) * 30 * time.Second)
			for _, m := range []string{"a", "b", "c"} {
				if w.Observe("checkout", m, m, at, 3, dwOut) != nil {
					n++
				}
			}
		}
	}
	feed(dwT0.Add(time.Minute), 10)
	if n != 1 {
		t.Fatalf("%d reports for one deploy, want 1", n)
	}
	// The next deploy re-arms the watch, and the old grace is forgotten.
	next := dwT0.Add(20 * time.Minute)
	w.ObserveEvent(dwDeploy("checkout", next))
	feed(next.Add(time.Minute), 10)
	if n != 2 {
		t.Fatalf("%d reports for two deploys, want 2", n)
	}
	if !w.Watching("checkout", next.Add(time.Minute)) || w.Watching("checkout", next.Add(16*time.Minute)) || w.Watching("", next) {
		t.Error("Watching is wrong about the grace")
	}
	// A deploy within the grace extends it and arms the watch again.
	again := next.Add(10 * time.Minute)
	w.ObserveEvent(dwDeploy("checkout", again))
	if !w.Watching("checkout", next.Add(24*time.Minute)) {
		t.Error("a second deploy within the grace did not extend it")
	}
	feed(again.Add(time.Minute), 4)
	if n != 3 {
		t.Fatalf("%d reports after a second deploy within the grace, want 3", n)
	}
	// A grace that ended well before the next deploy of any service is
	// dropped then: the state stays bounded. One that ended just before
	// is kept, since samples may come behind the events.
	w.ObserveEvent(dwDeploy("cart", again.Add(30*time.Minute)))
	if len(w.svcs) != 2 {
		t.Errorf("services kept: %v, want checkout and cart", w.svcs)
	}
	w.ObserveEvent(dwDeploy("cart", again.Add(2*time.Hour)))
	if _, ok := w.svcs["checkout"]; ok || len(w.svcs) != 1 {
		t.Errorf("services kept: %v", w.svcs)
	}
}

// TestDeployWatchWithSeriesDetectors runs the watch the way the metric
// stage does, over real series detectors of a service's error rate and
// latency: a release that raises both pages within two minutes of the
// errors' rise, though each series' own report waits for persistence; a
// release that only moves latency a little pages nowhere.
func TestDeployWatchWithSeriesDetectors(t *testing.T) {
	const step = 30 * time.Second
	run := func(errJump, latJump float64) (watchAt, seriesAt time.Duration) {
		rng := rand.New(rand.NewPCG(7, 8))
		mk := func(m string) *SeriesDetector {
			o := DefaultSeriesOptions()
			o.Service, o.Metric = "checkout", m
			return NewSeriesDetector(o)
		}
		errs, lat := mk("errors"), mk("latency")
		w := NewDeployWatch(DefaultDeployWatchOptions())
		start := dwT0.Add(-3 * 24 * time.Hour)
		deployAt := dwT0
		watchAt, seriesAt = -1, -1
		deployed := false
		for ts := start; ts.Before(dwT0.Add(20 * time.Minute)); ts = ts.Add(step) {
			if !deployed && !ts.Before(deployAt) {
				ev := dwDeploy("checkout", deployAt)
				errs.ObserveEvent(ev)
				lat.ObserveEvent(ev)
				w.ObserveEvent(ev)
				deployed = true
			}
			h := float64(ts.Unix()%86400) / 3600
			ev := 0.02 + 0.01*math.Abs(rng.NormFloat64())
			lv := 0.25 + 0.05*math.Sin(2*math.Pi*h/24) + 0.01*rng.NormFloat64()
			if ts.After(deployAt.Add(time.Minute)) {
				ev += errJump
				lv *= 1 + latJump
			}
			for _, s := range []struct {
				d *SeriesDetector
				m string
				v float64
			}{{errs, "errors", ev}, {lat, "latency", lv}} {
				sc := s.d.Observe(ts, s.v)
				if sc.Anomaly != nil && seriesAt < 0 && !ts.Before(deployAt) {
					seriesAt = ts.Sub(deployAt)
				}
				if a := w.Observe("checkout", s.m, s.m, ts, s.v, sc); a != nil && watchAt < 0 {
					watchAt = ts.Sub(deployAt)
				}
			}
		}
		return watchAt, seriesAt
	}
	watchAt, seriesAt := run(0.8, 1)
	t.Logf("broken release: the watch reports at +%v, a series alone at +%v", watchAt, seriesAt)
	if watchAt < 0 || watchAt > 2*time.Minute {
		t.Errorf("broken release reported by the watch at %v, want within 2m of the deploy", watchAt)
	}
	if seriesAt >= 0 && seriesAt <= watchAt {
		t.Errorf("a series alone reported at %v, before the watch at %v: the test no longer shows the watch's use", seriesAt, watchAt)
	}
	if watchAt, _ := run(0, 0.05); watchAt >= 0 {
		t.Errorf("a release that moves latency 5%% was reported at %v", watchAt)
	}
}

// TestDeployWatchEventsAhead hands over a release and its rollback 40
// minutes later before any of the points between them, as a replay that
// delivers an hour's events at once does: the release is still watched.
func TestDeployWatchEventsAhead(t *testing.T) {
	w := NewDeployWatch(DefaultDeployWatchOptions())
	w.ObserveEvent(dwDeploy("checkout", dwT0))
	w.ObserveEvent(dwDeploy("checkout", dwT0.Add(40*time.Minute)))
	var got []time.Time
	for i := range 6 {
		at := dwT0.Add(time.Minute + time.Duration(i)*30*time.Second)
		for _, m := range []string{"errors", "latency"} {
			if a := w.Observe("checkout", m, m, at, 3, dwOut); a != nil {
				got = append(got, at)
			}
		}
	}
	if len(got) != 1 || !got[0].Equal(dwT0.Add(90*time.Second)) {
		t.Fatalf("reports at %v, want one at +1m30s", got)
	}
	if !w.Watching("checkout", dwT0.Add(41*time.Minute)) || w.Watching("checkout", dwT0.Add(20*time.Minute)) {
		t.Error("the rollback's grace is not kept beside the release's")
	}
}
