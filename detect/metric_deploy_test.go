package detect

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

var dwT0 = time.Date(2026, 3, 5, 14, 0, 0, 0, time.UTC)

func dwDeploy(svc, version string, at time.Time) telemetry.Event {
	return telemetry.Event{ID: "ev-" + version, Kind: telemetry.EventDeploy, Service: svc, Time: at,
		Attributes: map[string]string{"version": version}}
}

// dwOut is a point anomalous and above its band; dwIn one that is not.
var (
	dwOut = SeriesScore{Anomalous: true, Likelihood: 0.99, Expected: 1, Lower: 0.5, Upper: 1.5}
	dwIn  = SeriesScore{Expected: 1, Lower: 0.5, Upper: 1.5}
)

const (
	dwErrs = "http_requests_total"
	dwLat  = "http_request_duration_seconds"
)

// dwPoint is one observation fed to the watch, at after the deploy.
type dwPoint struct {
	at           time.Duration
	svc, metric  string
	key          telemetry.Fingerprint
	v            float64
	sc           SeriesScore
	unit, series string
	upOnly       bool
}

func dwOutAt(at time.Duration, metric string, key telemetry.Fingerprint) dwPoint {
	return dwPoint{at: at, svc: "checkout", metric: metric, key: key, v: 3, sc: dwOut}
}

func dwInAt(at time.Duration, metric string, key telemetry.Fingerprint) dwPoint {
	return dwPoint{at: at, svc: "checkout", metric: metric, key: key, v: 1, sc: dwIn}
}

// dwFeed runs points through w and returns when it reported, and the first
// report.
func dwFeed(w *DeployWatch, ps []dwPoint) ([]time.Duration, *Anomaly) {
	var got []time.Duration
	var first *Anomaly
	for _, p := range ps {
		a := w.Observe(DeployPoint{Service: p.svc, Name: p.metric, Series: p.series, Unit: p.unit,
			Key: p.key, UpOnly: p.upOnly, T: dwT0.Add(p.at), V: p.v, Score: p.sc})
		if a != nil {
			got = append(got, p.at)
			if first == nil {
				first = a
			}
		}
	}
	return got, first
}

// dwSeq is errors and latency every 30s from from to to (exclusive), out
// where out says so and in their band elsewhere.
func dwSeq(from, to time.Duration, out func(at time.Duration) bool) []dwPoint {
	return dwSeqStep(from, to, 30*time.Second, out)
}

// dwSeqStep is dwSeq at another step.
func dwSeqStep(from, to, step time.Duration, out func(at time.Duration) bool) []dwPoint {
	var ps []dwPoint
	for at := from; at < to; at += step {
		if out(at) {
			ps = append(ps, dwOutAt(at, dwErrs, 1), dwOutAt(at, dwLat, 2))
		} else {
			ps = append(ps, dwInAt(at, dwErrs, 1), dwInAt(at, dwLat, 2))
		}
	}
	return ps
}

// dwBoth is errors and latency out at each of the given times.
func dwBoth(ats ...time.Duration) []dwPoint {
	var ps []dwPoint
	for _, at := range ats {
		ps = append(ps, dwOutAt(at, dwErrs, 1), dwOutAt(at, dwLat, 2))
	}
	return ps
}

func TestDeployWatch(t *testing.T) {
	s := time.Second
	tests := []struct {
		name   string
		deploy bool
		points []dwPoint
		want   time.Duration // when the report comes; -1 for none
	}{
		{"errors and latency out for a minute each", true, dwBoth(60*s, 90*s, 120*s), 120 * s},
		{"no deploy", false, dwBoth(60*s, 90*s, 120*s), -1},
		{"out for 30s is a new pod's wobble", true, []dwPoint{
			dwOutAt(60*s, dwErrs, 1), dwOutAt(60*s, dwLat, 2),
			dwOutAt(90*s, dwErrs, 1), dwOutAt(90*s, dwLat, 2),
			dwInAt(120*s, dwErrs, 1), dwInAt(120*s, dwLat, 2),
		}, -1},
		{"three quantiles of one metric are one metric", true, []dwPoint{
			dwOutAt(60*s, dwLat, 1), dwOutAt(60*s, dwLat, 2), dwOutAt(60*s, dwLat, 3),
			dwOutAt(90*s, dwLat, 1), dwOutAt(90*s, dwLat, 2), dwOutAt(90*s, dwLat, 3),
			dwOutAt(120*s, dwLat, 1), dwOutAt(120*s, dwLat, 2), dwOutAt(120*s, dwLat, 3),
		}, -1},
		{"a run broken by a normal point starts again", true, []dwPoint{
			dwOutAt(60*s, dwErrs, 1), dwOutAt(60*s, dwLat, 2),
			dwInAt(90*s, dwErrs, 1), dwOutAt(90*s, dwLat, 2),
			dwOutAt(120*s, dwErrs, 1), dwOutAt(120*s, dwLat, 2),
			dwOutAt(150*s, dwErrs, 1), dwOutAt(150*s, dwLat, 2),
			dwOutAt(180*s, dwErrs, 1),
		}, 180 * s},
		{"anomalous but inside the widened band", true, []dwPoint{
			{at: 60 * s, svc: "checkout", metric: dwErrs, key: 1, v: 1.2, sc: dwOut}, dwOutAt(60*s, dwLat, 2),
			{at: 90 * s, svc: "checkout", metric: dwErrs, key: 1, v: 1.2, sc: dwOut}, dwOutAt(90*s, dwLat, 2),
			{at: 120 * s, svc: "checkout", metric: dwErrs, key: 1, v: 1.2, sc: dwOut}, dwOutAt(120*s, dwLat, 2),
		}, -1},
		{"another service's metrics", true, []dwPoint{
			{at: 60 * s, svc: "cart", metric: dwErrs, key: 1, v: 3, sc: dwOut}, {at: 60 * s, svc: "cart", metric: dwLat, key: 2, v: 3, sc: dwOut},
			{at: 90 * s, svc: "cart", metric: dwErrs, key: 1, v: 3, sc: dwOut}, {at: 90 * s, svc: "cart", metric: dwLat, key: 2, v: 3, sc: dwOut},
			{at: 120 * s, svc: "cart", metric: dwErrs, key: 1, v: 3, sc: dwOut}, {at: 120 * s, svc: "cart", metric: dwLat, key: 2, v: 3, sc: dwOut},
		}, -1},
		{"a series that stopped reporting is not still out", true, []dwPoint{
			dwOutAt(60*s, dwErrs, 1), dwOutAt(90*s, dwErrs, 1), dwOutAt(120*s, dwErrs, 1),
			dwOutAt(5*time.Minute, dwLat, 2), dwOutAt(5*time.Minute+30*s, dwLat, 2), dwOutAt(6*time.Minute, dwLat, 2),
		}, -1},
		{"after the grace", true, dwBoth(15*time.Minute, 15*time.Minute+30*s, 16*time.Minute), -1},
		{"before the deploy", true, dwBoth(-2*time.Minute, -90*s, -60*s), -1},
		{"an outage already running at the deploy", true, dwSeq(-30*time.Minute, 3*time.Minute, func(at time.Duration) bool { return at >= -10*time.Minute }), -1},
		{"an outage that flaps across the deploy", true, dwSeq(-30*time.Minute, 3*time.Minute, func(at time.Duration) bool {
			return at >= -10*time.Minute && (at/(30*s))%4 != 0 // three points out, one in
		}), -1},
		{"one noisy point just before the deploy", true, dwSeq(-30*time.Minute, 3*time.Minute, func(at time.Duration) bool {
			return at == -30*s || at >= 60*s
		}), 120 * s},
		{"out long before the deploy is forgotten", true, dwSeq(-40*time.Minute, 3*time.Minute, func(at time.Duration) bool {
			return at < -25*time.Minute || at >= 60*s
		}), 120 * s},
		{"errors and latency falling are a recovery", true, []dwPoint{
			{at: 60 * s, svc: "checkout", metric: dwErrs, key: 1, v: 0.1, sc: dwOut, upOnly: true}, {at: 60 * s, svc: "checkout", metric: dwLat, key: 2, v: 0.1, sc: dwOut, upOnly: true},
			{at: 90 * s, svc: "checkout", metric: dwErrs, key: 1, v: 0.1, sc: dwOut, upOnly: true}, {at: 90 * s, svc: "checkout", metric: dwLat, key: 2, v: 0.1, sc: dwOut, upOnly: true},
			{at: 120 * s, svc: "checkout", metric: dwErrs, key: 1, v: 0.1, sc: dwOut, upOnly: true}, {at: 120 * s, svc: "checkout", metric: dwLat, key: 2, v: 0.1, sc: dwOut, upOnly: true},
		}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewDeployWatch(DefaultDeployWatchOptions())
			if tt.deploy {
				w.ObserveEvent(dwDeploy("checkout", "v1.4.2", dwT0))
			}
			got, first := dwFeed(w, tt.points)
			switch {
			case tt.want < 0 && len(got) > 0:
				t.Fatalf("reported at %v, want nothing", got)
			case tt.want >= 0 && (len(got) != 1 || got[0] != tt.want):
				t.Fatalf("reported at %v, want once at %v", got, tt.want)
			case first == nil:
				return
			}
			if first.Type != TypeMetric || first.Service != "checkout" || first.Labels.Get("kind") != "deploy_regression" ||
				first.Labels.Get("metrics") != dwLat+","+dwErrs || first.Labels.Get("deploy") != "ev-v1.4.2" || first.Labels.Get("fingerprint") == "" {
				t.Errorf("anomaly %+v", first)
			}
			for _, want := range []string{"2 metrics of checkout", "of the deploy of v1.4.2", dwErrs + " 3.00 against 0.5–1.50"} {
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

// TestDeployWatchDeploys covers several deploys of one service: each is
// reported at most once, a rollback of a release already reported is not
// reported again, a later broken release is named rather than the one
// before it, and events that come ahead of their points or out of order
// lose nothing.
func TestDeployWatchDeploys(t *testing.T) {
	m := time.Minute
	t.Run("rollback after a report", func(t *testing.T) {
		w := NewDeployWatch(DefaultDeployWatchOptions())
		w.ObserveEvent(dwDeploy("checkout", "v2", dwT0))
		w.ObserveEvent(dwDeploy("checkout", "v1", dwT0.Add(4*m)))
		got, first := dwFeed(w, dwSeq(-10*m, 8*m, func(at time.Duration) bool { return at >= m && at < 5*m }))
		if len(got) != 1 || first.Labels.Get("deploy") != "ev-v2" {
			t.Fatalf("reports at %v, first %+v: want one, of v2", got, first)
		}
	})
	t.Run("the broken one of two releases is named", func(t *testing.T) {
		w := NewDeployWatch(DefaultDeployWatchOptions())
		w.ObserveEvent(dwDeploy("checkout", "v2", dwT0))
		w.ObserveEvent(dwDeploy("checkout", "v3", dwT0.Add(10*m)))
		got, first := dwFeed(w, dwSeq(-10*m, 14*m, func(at time.Duration) bool { return at >= 11*m }))
		if len(got) != 1 || first.Labels.Get("deploy") != "ev-v3" || !strings.Contains(first.Explanation, "within 2m0s of the deploy of v3") {
			t.Fatalf("reports at %v, first %+v: want one, of v3", got, first)
		}
	})
	t.Run("events out of order, ahead of the points, on skewed clocks", func(t *testing.T) {
		w := NewDeployWatch(DefaultDeployWatchOptions())
		w.ObserveEvent(dwDeploy("checkout", "v3", dwT0.Add(40*m)))
		w.ObserveEvent(dwDeploy("checkout", "v2", dwT0))
		// A deploy of another service stamped two hours ahead, and a
		// point of another service stamped a year ahead, must not end
		// checkout's watch: each service's graces age by its own points.
		w.ObserveEvent(dwDeploy("cart", "v9", dwT0.Add(2*time.Hour)))
		w.Observe(DeployPoint{Service: "billing", Name: dwErrs, Key: 99, T: dwT0.Add(365 * 24 * time.Hour), V: 3, Score: dwOut})
		w.ObserveEvent(dwDeploy("cart", "v10", dwT0.Add(3*time.Hour)))
		if !w.watching("checkout", dwT0.Add(m)) || !w.watching("checkout", dwT0.Add(41*m)) || w.watching("checkout", dwT0.Add(20*m)) {
			t.Fatal("graces lost or merged")
		}
		got, first := dwFeed(w, dwSeq(-5*m, 3*m, func(at time.Duration) bool { return at >= m }))
		if len(got) != 1 || first.Labels.Get("deploy") != "ev-v2" {
			t.Fatalf("reports at %v: want one, of v2", got)
		}
	})
	t.Run("state stays bounded", func(t *testing.T) {
		w := NewDeployWatch(DefaultDeployWatchOptions())
		// A day with a deploy every 10 minutes, new pods each time, each
		// pod's error series out once for a minute and gone.
		var key telemetry.Fingerprint
		for i := range 144 {
			at := dwT0.Add(time.Duration(i) * 10 * m)
			w.ObserveEvent(dwDeploy("checkout", fmt.Sprintf("v%d", i), at))
			key++
			for j := range 4 {
				sc, v := dwOut, 3.0
				if j == 3 {
					sc, v = dwIn, 1
				}
				w.Observe(DeployPoint{Service: "checkout", Name: dwErrs, Key: key, T: at.Add(time.Duration(j+1) * 30 * time.Second), V: v, Score: sc})
			}
		}
		s := w.svcs["checkout"]
		if n := len(s.wins); n > maxDeployWindows {
			t.Errorf("%d graces kept, want at most %d", n, maxDeployWindows)
		}
		// Series seen within about two Lookbacks of the newest point.
		if n := len(s.sigs); n > 4 {
			t.Errorf("%d series kept after a day of pods, want only the recent ones", n)
		}
		// With no deploy at all, a day of short-lived pods.
		w = NewDeployWatch(DefaultDeployWatchOptions())
		for i := range 1440 {
			w.Observe(DeployPoint{Service: "cart", Name: dwErrs, Key: telemetry.Fingerprint(i), T: dwT0.Add(time.Duration(i) * m), V: 3, Score: dwOut})
		}
		if n := len(w.svcs["cart"].sigs); n > 31 {
			t.Errorf("%d series kept without deploys, want those of the last half hour at most", n)
		}
		// Deploys of services that never send a point: the oldest go.
		for i := range 3 * maxQuietDeployServices {
			w.ObserveEvent(dwDeploy(fmt.Sprintf("svc-%d", i), "v1", dwT0.Add(time.Duration(i)*m)))
		}
		if n := len(w.svcs); n > maxQuietDeployServices+1 || !w.watching(fmt.Sprintf("svc-%d", 3*maxQuietDeployServices-1), dwT0.Add(time.Duration(3*maxQuietDeployServices-1)*m)) {
			t.Errorf("%d services kept, want the %d deployed last and cart", n, maxQuietDeployServices)
		}
	})
	t.Run("a deploy without a service", func(t *testing.T) {
		w := NewDeployWatch(DefaultDeployWatchOptions())
		w.ObserveEvent(telemetry.Event{Kind: telemetry.EventDeploy, Time: dwT0})
		if got, _ := dwFeed(w, dwBoth(m, 2*m, 3*m)); len(got) != 0 || w.watching("", dwT0.Add(m)) {
			t.Fatalf("reports %v: want none", got)
		}
	})
}

func TestDeploySignal(t *testing.T) {
	for _, tt := range []struct {
		name string
		want bool
	}{
		{"http_requests_total", true},
		{"http_request_duration_seconds", true},
		{"grpc_server_handled_total", true},
		{"checkout_errors_total", true},
		{"payment_failures_total", true},
		{"api_latency_p99", true},
		{"http_request_duration_seconds_count", false},
		{"http_request_duration_seconds_sum", false},
		{"http_request_duration_seconds_bucket", false},
		{"up", false},
		{"http_requests_in_flight", false},
		{"http_request_size_bytes", false},
		{"process_start_time_seconds", false},
		{"process_resident_memory_bytes", false},
		{"go_gc_duration_seconds", false},
		{"jvm_gc_pause_seconds", false},
		{"node_load1", false},
		{"hikaricp_connections_active", false},
		{"uptime_errors_total", true}, // "up" only as the whole name
	} {
		if got := DeploySignal(tt.name); got != tt.want {
			t.Errorf("DeploySignal(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// dwService drives real series detectors of one service's request signals
// and a watch through days of history and a deploy at deployAt; values
// gives each signal's value at a time, after the deploy too.
func dwService(step time.Duration, from, deployAt, until time.Time, names []string, values func(t time.Time, rng *rand.Rand) []float64) (watchAt, seriesAt time.Duration, outPoints int) {
	rng := rand.New(rand.NewPCG(7, 8))
	dets := make([]*SeriesDetector, len(names))
	for i, n := range names {
		o := DefaultSeriesOptions()
		o.Service, o.Metric = "checkout", n
		dets[i] = NewSeriesDetector(o)
	}
	w := NewDeployWatch(DefaultDeployWatchOptions())
	watchAt, seriesAt = -1, -1
	deployed := false
	for ts := from; ts.Before(until); ts = ts.Add(step) {
		if !deployed && !ts.Before(deployAt) {
			ev := dwDeploy("checkout", "v2", deployAt)
			for _, d := range dets {
				d.ObserveEvent(ev)
			}
			w.ObserveEvent(ev)
			deployed = true
		}
		for i, v := range values(ts, rng) {
			sc := dets[i].Observe(ts, v)
			if ts.Before(deployAt) {
				continue
			}
			if sc.Anomaly != nil && seriesAt < 0 {
				seriesAt = ts.Sub(deployAt)
			}
			if sc.Anomalous && (v < sc.Lower || v > sc.Upper) {
				outPoints++
			}
			if a := w.Observe(DeployPoint{Service: "checkout", Name: names[i], Key: telemetry.Fingerprint(i + 1), T: ts, V: v, Score: sc}); a != nil && watchAt < 0 {
				watchAt = ts.Sub(deployAt)
			}
		}
	}
	return watchAt, seriesAt, outPoints
}

// TestDeployWatchWithSeriesDetectors runs the watch the way the metric
// stage does, over real series detectors of a service's error rate and
// latency with three days of history: a release that raises both a minute
// after the deploy pages a minute after that, before either series' own
// report; a release that moves latency 5% pages nowhere.
func TestDeployWatchWithSeriesDetectors(t *testing.T) {
	run := func(errJump, latJump float64) (time.Duration, time.Duration) {
		w, s, _ := dwService(30*time.Second, dwT0.Add(-3*24*time.Hour), dwT0, dwT0.Add(20*time.Minute), []string{dwErrs, dwLat},
			func(ts time.Time, rng *rand.Rand) []float64 {
				h := float64(ts.Unix()%86400) / 3600
				ev := 0.02 + 0.01*math.Abs(rng.NormFloat64())
				lv := 0.25 + 0.05*math.Sin(2*math.Pi*h/24) + 0.01*rng.NormFloat64()
				if ts.After(dwT0.Add(time.Minute)) {
					ev += errJump
					lv *= 1 + latJump
				}
				return []float64{ev, lv}
			})
		return w, s
	}
	watchAt, seriesAt := run(0.8, 1)
	t.Logf("broken release: the watch reports at +%v, a series alone at +%v", watchAt, seriesAt)
	if watchAt < 0 || watchAt > 2*time.Minute+30*time.Second {
		t.Errorf("broken release reported by the watch at %v, want within 2m30s of the deploy", watchAt)
	}
	if seriesAt >= 0 && seriesAt <= watchAt {
		t.Errorf("a series alone reported at %v, before the watch at %v: the test no longer shows the watch's use", seriesAt, watchAt)
	}
	if watchAt, _ := run(0, 0.05); watchAt >= 0 {
		t.Errorf("a release that moves latency 5%% was reported at %v", watchAt)
	}
}

// TestDeployWatchYoungService deploys, without changing anything, into a
// service whose series are a few hours to a day and a half old (their
// seasonal bands not trusted yet) while business-hours traffic rises:
// requests and latency follow the traffic, and neither the watch nor the
// series' points within the grace may call that a broken release.
func TestDeployWatchYoungService(t *testing.T) {
	// traffic is the share of the day's peak: night 0.1, a ramp from
	// 07:00 to 10:00, the peak to 18:00, down by 21:00.
	traffic := func(ts time.Time) float64 {
		h := float64(ts.Unix()%86400) / 3600
		switch {
		case h < 7 || h >= 21:
			return 0.1
		case h < 10:
			return 0.1 + 0.9*(h-7)/3
		case h < 18:
			return 1
		default:
			return 1 - 0.9*(h-18)/3
		}
	}
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for _, deployAt := range []time.Time{start.Add(8 * time.Hour), start.Add(8*time.Hour + 40*time.Minute), start.Add(9*time.Hour + 30*time.Minute), start.Add(33 * time.Hour)} {
		for _, step := range []time.Duration{15 * time.Second, time.Minute} {
			watchAt, _, out := dwService(step, start, deployAt, deployAt.Add(16*time.Minute), []string{dwErrs, dwLat},
				func(ts time.Time, rng *rand.Rand) []float64 {
					rps := 150 * traffic(ts) * (1 + 0.05*rng.NormFloat64())
					lat := 0.2 * (1 + 0.5*traffic(ts)) * (1 + 0.05*rng.NormFloat64())
					return []float64{rps, lat}
				})
			if watchAt >= 0 {
				t.Errorf("deploy at %s, step %v: reported at +%v", deployAt.Format("Mon 15:04"), step, watchAt)
			}
			if n := int(16 * time.Minute / step); out > n/10 {
				t.Errorf("deploy at %s, step %v: %d of %d points in the grace out of the band", deployAt.Format("Mon 15:04"), step, out, 2*n)
			}
		}
	}
}

// TestDeployWatchLateEvent sends the deploy event minutes after its own
// time (stamped at the rollout's start, sent when the pipeline finished):
// the release's own first out points must not count as "out before the
// deploy".
func TestDeployWatchLateEvent(t *testing.T) {
	for _, step := range []time.Duration{10 * time.Second, 15 * time.Second, 30 * time.Second} {
		for _, late := range []time.Duration{0, time.Minute, 3 * time.Minute, 5 * time.Minute, 10 * time.Minute} {
			w := NewDeployWatch(DefaultDeployWatchOptions())
			var got []time.Duration
			sent := false
			for _, p := range dwSeqStep(-20*time.Minute, 14*time.Minute, step, func(at time.Duration) bool { return at >= 30*time.Second }) {
				if !sent && p.at >= late {
					w.ObserveEvent(dwDeploy("checkout", "v2", dwT0))
					sent = true
				}
				if a := w.Observe(DeployPoint{Service: p.svc, Name: p.metric, Key: p.key, T: dwT0.Add(p.at), V: p.v, Score: p.sc}); a != nil {
					got = append(got, p.at)
				}
			}
			if len(got) != 1 {
				t.Errorf("step %v, event %v late: reports at %v, want one", step, late, got)
			}
		}
	}
}

func TestDeploySeriesUpOnly(t *testing.T) {
	for _, tt := range []struct {
		name string
		ls   []string
		want bool
	}{
		{"http_requests_total", []string{"code", "500"}, true},
		{"http_requests_total", []string{"code", "404"}, true},
		{"http_requests_total", []string{"code", "200"}, false},
		{"http_requests_total", []string{"status", "503"}, true},
		{"grpc_server_handled_total", []string{"grpc_code", "Internal"}, true},
		{"grpc_server_handled_total", []string{"grpc_code", "OK"}, false},
		{"http_request_duration_seconds", []string{"quantile", "0.99"}, true},
		{"checkout_errors_total", nil, true},
		{"orders_total", []string{"code", "5xx-ish"}, false},
	} {
		if _, got := DeploySeries(tt.name, telemetry.LabelsFromStrings(tt.ls...)); got != tt.want {
			t.Errorf("DeploySeries(%s%v) up only = %v, want %v", tt.name, tt.ls, got, tt.want)
		}
	}
}

// TestDeploySeriesName: a service counted by one request counter with a
// status label has two signals, its errors and the rest.
func TestDeploySeriesName(t *testing.T) {
	errs, _ := DeploySeries("http_requests_total", telemetry.LabelsFromStrings("code", "500"))
	ok, _ := DeploySeries("http_requests_total", telemetry.LabelsFromStrings("code", "200"))
	if errs == ok || ok != "http_requests_total" {
		t.Fatalf("5xx and 2xx named %q and %q: want two signals, the 2xx under the metric's name", errs, ok)
	}
	if n, _ := DeploySeries("checkout_errors_total", telemetry.LabelsFromStrings("code", "500")); n != "checkout_errors_total" {
		t.Errorf("an error metric by name is one signal, named %q", n)
	}
	w := NewDeployWatch(DefaultDeployWatchOptions())
	w.ObserveEvent(dwDeploy("checkout", "v2", dwT0))
	var got []time.Duration
	for i := range 6 {
		at := time.Duration(i) * 30 * time.Second
		up := DeployPoint{Service: "checkout", Name: errs, Key: 1, UpOnly: true, T: dwT0.Add(at), V: 3, Score: dwOut}
		down := DeployPoint{Service: "checkout", Name: ok, Key: 2, T: dwT0.Add(at), V: 0.1, Score: dwOut}
		for _, p := range []DeployPoint{up, down} {
			if w.Observe(p) != nil {
				got = append(got, at)
			}
		}
	}
	if len(got) != 1 {
		t.Fatalf("errors up and successes down of one counter: reports at %v, want one", got)
	}
}

// TestDeployWatchOddInput: a point at the zero time, NaN values and a
// deploy event afterwards neither panic nor report.
func TestDeployWatchOddInput(t *testing.T) {
	w := NewDeployWatch(DefaultDeployWatchOptions())
	w.Observe(DeployPoint{Service: "a", Name: dwErrs, Key: 1, V: 3, Score: dwOut})
	w.Observe(DeployPoint{Service: "a", Name: dwErrs, Key: 1, T: dwT0, V: math.NaN(), Score: dwOut})
	w.ObserveEvent(dwDeploy("b", "v1", dwT0))
	w.ObserveEvent(dwDeploy("a", "v1", dwT0))
	for i := range 5 {
		if a := w.Observe(DeployPoint{Service: "a", Name: dwErrs, Key: 1, T: dwT0.Add(time.Duration(i) * time.Minute), V: math.NaN(), Score: dwOut}); a != nil {
			t.Fatalf("NaN values reported: %+v", a)
		}
	}
}
