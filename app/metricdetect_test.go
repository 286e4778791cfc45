package app

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/api"
	"github.com/vigilops/vigil/bus"
	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/telemetry"
)

var mdT0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// mdSeasonal is a per-minute gauge with a daily cycle and a little noise.
func mdSeasonal(rng *rand.Rand, t time.Time) float64 {
	h := float64(t.Unix()%86400) / 3600
	return 0.5 + 0.1*math.Sin(2*math.Pi*h/24) + 0.01*rng.NormFloat64()
}

// mdConfig is detect.metrics as config's defaults set it (config.Config
// has no detect section until the stage is glued in).
func mdConfig() config.MetricDetect {
	return config.MetricDetect{Enabled: true, MaxSeries: 10_000, For: config.Duration(5 * time.Minute),
		Skip: config.DefaultMetricSkip, BandPoints: 120, DeployMetrics: 2}
}

// mdStage builds a stage with the default configuration changed by edit.
func mdStage(t *testing.T, edit func(c *config.MetricDetect)) (*metricDetectStage, *prometheus.Registry, *[]detect.Anomaly) {
	t.Helper()
	c := mdConfig()
	if edit != nil {
		edit(&c)
	}
	reg := prometheus.NewRegistry()
	var got []detect.Anomaly
	s, err := newMetricDetectStage(metricDetectDeps{Config: c, Registerer: reg,
		OnAnomalies: func(_ context.Context, as []detect.Anomaly) { got = append(got, as...) }})
	if err != nil {
		t.Fatal(err)
	}
	return s, reg, &got
}

var mdLatency = telemetry.LabelsFromStrings("__name__", "http_request_duration_seconds", "service", "checkout",
	"job", "checkout", "instance", "checkout-0", "quantile", "0.99")

// feed sends days of per-minute samples of ls, a batch per hour, with
// inject altering values and deployAt (if not zero) announced as a deploy
// of checkout just before it happens.
func feed(t *testing.T, s *metricDetectStage, ls telemetry.Labels, days int, deployAt time.Time, inject func(i int, v float64) float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var batch []telemetry.Sample
	deployed := deployAt.IsZero()
	for i := 0; i < days*1440; i++ {
		ts := mdT0.Add(time.Duration(i) * time.Minute)
		if !deployed && !ts.Before(deployAt) {
			if err := s.handleSamples(context.Background(), "", batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
			ev := telemetry.Event{Kind: telemetry.EventDeploy, Service: "checkout", Time: deployAt}
			if err := s.handleEvents(context.Background(), "checkout", []telemetry.Event{ev}); err != nil {
				t.Fatal(err)
			}
			deployed = true
		}
		v := mdSeasonal(rng, ts)
		if inject != nil {
			v = inject(i, v)
		}
		batch = append(batch, telemetry.Sample{Labels: ls, T: ts.UnixMilli(), V: v})
		if len(batch) == 60 {
			if err := s.handleSamples(context.Background(), "", batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := s.handleSamples(context.Background(), "", batch); err != nil {
		t.Fatal(err)
	}
}

// TestMetricDetectStepAndDeploy injects the same 8-minute bump into a
// latency series on day four, with and without a deploy of the service
// just before it: without, an anomaly of checkout naming the series is
// reported; with, the band widens and nothing pages.
func TestMetricDetectStepAndDeploy(t *testing.T) {
	bumpAt := 3*1440 + 600 // day four, 10:00, as detect's own scenarios
	bump := func(i int, v float64) float64 {
		if i >= bumpAt && i < bumpAt+8 {
			return v + 0.08
		}
		return v
	}
	bumpTime := mdT0.Add(time.Duration(bumpAt) * time.Minute)
	near := func(as []detect.Anomaly) []detect.Anomaly {
		var out []detect.Anomaly
		for _, a := range as {
			if !a.Start.Before(bumpTime) && a.Start.Before(bumpTime.Add(30*time.Minute)) {
				out = append(out, a)
			}
		}
		return out
	}
	// widthAt is the band's width at the bump's first minute.
	widthAt := func(s *metricDetectStage) float64 {
		s.mtx.Lock()
		defer s.mtx.Unlock()
		for _, p := range s.series[mdLatency.Fingerprint()].points() {
			if p.T == bumpTime.UnixMilli() {
				return float64(p.Upper - p.Lower)
			}
		}
		t.Fatal("the bump's point is not in the band ring")
		return 0
	}
	tests := []struct {
		name   string
		deploy bool
		want   bool
	}{
		{"bump pages", false, true},
		{"deploy widens instead", true, false},
	}
	widths := map[bool]float64{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, reg, got := mdStage(t, func(c *config.MetricDetect) { c.BandPoints = 60 })
			var deployAt time.Time
			if tt.deploy {
				deployAt = bumpTime.Add(-2 * time.Minute)
			}
			// Stop 20 minutes after the bump, so its points are in the ring.
			feedUntil(t, s, bumpAt+20, deployAt, bump)
			widths[tt.deploy] = widthAt(s)
			n := near(*got)
			if (len(n) > 0) != tt.want {
				t.Fatalf("anomalies near the bump: %+v, want found=%v (all %d)", n, tt.want, len(*got))
			}
			if !tt.want {
				return
			}
			a := n[0]
			if a.Type != detect.TypeMetric || a.Service != "checkout" || a.Labels.Get("fingerprint") != mdLatency.Fingerprint().String() {
				t.Errorf("anomaly %+v: want a metric anomaly of checkout with the series' fingerprint", a)
			}
			if !strings.Contains(a.Explanation, "http_request_duration_seconds") || !strings.Contains(a.Explanation, `quantile="0.99"`) {
				t.Errorf("explanation %q does not name the series", a.Explanation)
			}
			if v := metricValue(t, reg, "vigil_detect_metric_anomalies_total"); v != float64(len(*got)) {
				t.Errorf("anomalies counter %v, want %d", v, len(*got))
			}
			// The API serves it, filtered by service.
			var resp metricAnomaliesResponse
			serve(t, s.serveAnomalies, "/api/v1/metrics/anomalies?service=checkout&since="+url.QueryEscape(bumpTime.Format(time.RFC3339)), http.StatusOK, &resp)
			if resp.Total < 1 || resp.Anomalies[0].Service != "checkout" {
				t.Errorf("GET anomalies = %+v", resp)
			}
			serve(t, s.serveAnomalies, "/api/v1/metrics/anomalies?service=payments", http.StatusOK, &resp)
			if resp.Total != 0 {
				t.Errorf("service filter: got %+v", resp)
			}
		})
	}
	t.Logf("band width at the bump: %.4f after a deploy, %.4f without", widths[true], widths[false])
	if !(widths[true] > 2*widths[false]) {
		t.Errorf("band width at the bump %v after a deploy, %v without: want it widened", widths[true], widths[false])
	}
}

// feedUntil is feed for the first n minutes of day-aligned data.
func feedUntil(t *testing.T, s *metricDetectStage, n int, deployAt time.Time, inject func(i int, v float64) float64) {
	t.Helper()
	days := (n + 1439) / 1440
	cut := func(i int, v float64) float64 {
		if inject != nil {
			v = inject(i, v)
		}
		if i >= n {
			return math.NaN() // dropped as invalid
		}
		return v
	}
	feed(t, s, mdLatency, days, deployAt, cut)
}

// serve calls h with GET target and decodes the JSON body into out.
func serve(t *testing.T, h func(http.ResponseWriter, *http.Request) error, target string, wantCode int, out any) string {
	t.Helper()
	rec := httptest.NewRecorder()
	err := h(rec, httptest.NewRequest(http.MethodGet, target, nil))
	code := rec.Code
	body := rec.Body.String()
	if err != nil {
		// The API server renders these; the status is what matters here.
		var ae *api.Error
		if !errors.As(err, &ae) {
			t.Fatalf("GET %s: %v is not an api.Error", target, err)
		}
		code, body = ae.Status, ae.Message
	}
	if code != wantCode {
		t.Fatalf("GET %s = %d %s, want %d", target, code, body, wantCode)
	}
	if out != nil && code == http.StatusOK {
		if err := json.Unmarshal([]byte(body), out); err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
	}
	return body
}

func TestMetricDetectBoundedSeries(t *testing.T) {
	s, reg, _ := mdStage(t, func(c *config.MetricDetect) { c.MaxSeries = 3 })
	at := func(min int) int64 { return mdT0.Add(time.Duration(min) * time.Minute).UnixMilli() }
	pod := func(i int) telemetry.Labels {
		return telemetry.LabelsFromStrings("__name__", "up", "service", "cart", "instance", string(rune('a'+i)))
	}
	var batch []telemetry.Sample
	for i := 0; i < 5; i++ {
		batch = append(batch, telemetry.Sample{Labels: pod(i), T: at(0), V: 1})
	}
	_ = s.handleSamples(context.Background(), "", batch)
	if n := len(s.series); n != 3 {
		t.Fatalf("watching %d series, want 3", n)
	}
	if v := metricValue(t, reg, `vigil_detect_metric_samples_total{outcome="refused"}`); v != 2 {
		t.Errorf("refused %v samples, want 2", v)
	}
	// Pods b and c keep reporting; a goes quiet. Forty minutes on, a new
	// pod takes a's detector, and the next new one is refused again.
	for m := 1; m <= 40; m++ {
		_ = s.handleSamples(context.Background(), "", []telemetry.Sample{{Labels: pod(1), T: at(m), V: 1}, {Labels: pod(2), T: at(m), V: 1}})
	}
	_ = s.handleSamples(context.Background(), "", []telemetry.Sample{{Labels: pod(5), T: at(41), V: 1}, {Labels: pod(6), T: at(41), V: 1}})
	if _, ok := s.series[pod(5).Fingerprint()]; !ok {
		t.Error("a new series did not replace the quiet one")
	}
	if _, ok := s.series[pod(0).Fingerprint()]; ok {
		t.Error("the quiet series is still watched")
	}
	if _, ok := s.series[pod(6).Fingerprint()]; ok || len(s.series) != 3 {
		t.Errorf("watching %d series (pod g watched: %v), want 3 without g", len(s.series), ok)
	}
	if v := metricValue(t, reg, "vigil_detect_metric_series_evicted_total"); v != 1 {
		t.Errorf("evicted %v, want 1", v)
	}
	if v := metricValue(t, reg, "vigil_detect_metric_series"); v != 3 {
		t.Errorf("series gauge %v, want 3", v)
	}
	var band metricBandResponse
	serve(t, s.serveBand, "/api/v1/metrics/band?series=up&limit=2", http.StatusOK, &band)
	if band.Total != 3 || !band.Truncated || len(band.Series) != 2 ||
		band.Series[0].Labels.Get("instance") != "b" || band.Series[1].Labels.Get("instance") != "c" {
		t.Errorf("band limited to 2 = %+v, want b and c of 3", band)
	}
}

func TestMetricDetectSeriesHandling(t *testing.T) {
	s, reg, _ := mdStage(t, nil)
	ls := func(nv ...string) telemetry.Labels { return telemetry.LabelsFromStrings(nv...) }
	counter := ls("__name__", "http_requests_total", "service", "frontend", "code", "200")
	samples := []telemetry.Sample{
		{Labels: ls("__name__", "vigil_bus_messages_total", "service", "vigil"), T: 1000, V: 1},
		{Labels: ls("__name__", "log_lines_per_second", "service", "frontend"), T: 1000, V: 1},
		{Labels: ls("__name__", "http_request_duration_seconds_bucket", "service", "frontend", "le", "0.1"), T: 1000, V: 1},
		{Labels: ls("__name__", "process_start_time_seconds_created", "service", "frontend"), T: 1000, V: 1},
		// A counter: 10/s, then a reset to 30 after 10 s (30 since the
		// restart: 3/s), then a repeated and an older point.
		{Labels: counter, T: 0, V: 100},
		{Labels: counter, T: 10_000, V: 200},
		{Labels: counter, T: 20_000, V: 30},
		{Labels: counter, T: 20_000, V: 40},
		{Labels: counter, T: 15_000, V: 40},
		{Labels: counter, T: 25_000, V: math.NaN()},
		{Labels: counter, T: 30_000, V: 80},
	}
	if err := s.handleSamples(context.Background(), "", samples); err != nil {
		t.Fatal(err)
	}
	if len(s.series) != 1 {
		t.Fatalf("watching %d series, want only the counter", len(s.series))
	}
	for outcome, want := range map[string]float64{"skipped": 4, "out_of_order": 2, "invalid": 1, "observed": 4} {
		if v := metricValue(t, reg, `vigil_detect_metric_samples_total{outcome="`+outcome+`"}`); v != want {
			t.Errorf("%s samples %v, want %v", outcome, v, want)
		}
	}
	var band metricBandResponse
	serve(t, s.serveBand, "/api/v1/metrics/band?series="+url.QueryEscape(`http_requests_total{service="frontend"}`), http.StatusOK, &band)
	if band.Total != 1 || !band.Series[0].Rate || band.Series[0].Service != "frontend" {
		t.Fatalf("band = %+v", band)
	}
	var rates []float32
	for _, p := range band.Series[0].Points {
		rates = append(rates, p.V)
	}
	if want := []float32{10, 3, 5}; !slicesEqual(rates, want) {
		t.Errorf("rates %v, want %v", rates, want)
	}
	// By fingerprint, and the bad requests.
	serve(t, s.serveBand, "/api/v1/metrics/band?series="+counter.Fingerprint().String(), http.StatusOK, &band)
	if band.Total != 1 {
		t.Errorf("by fingerprint: %+v", band)
	}
	serve(t, s.serveBand, "/api/v1/metrics/band?series=nothing_here", http.StatusOK, &band)
	if band.Total != 0 || band.Series == nil {
		t.Errorf("no match: %+v", band)
	}
	for _, q := range []string{"", "?series=" + url.QueryEscape(`up{`), "?series=up&limit=0", "?series=" + url.QueryEscape("{}")} {
		serve(t, s.serveBand, "/api/v1/metrics/band"+q, http.StatusBadRequest, nil)
	}
	for _, q := range []string{"?limit=x", "?since=yesterday"} {
		serve(t, s.serveAnomalies, "/api/v1/metrics/anomalies"+q, http.StatusBadRequest, nil)
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-6 {
			return false
		}
	}
	return true
}

// TestMetricDetectThroughBus checks the wiring: samples and deploys
// published on the bus reach the detectors.
func TestMetricDetectThroughBus(t *testing.T) {
	bo := bus.DefaultLocalOptions()
	bo.Registerer = prometheus.NewRegistry()
	b := bus.NewLocal(bo)
	c := mdConfig()
	s, err := newMetricDetectStage(metricDetectDeps{Config: c, Bus: b})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.subscribe(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ev := telemetry.Event{Kind: telemetry.EventDeploy, Service: "checkout", Time: mdT0}
	if err := b.Publish(ctx, bus.Message{Topic: bus.TopicEvents, Value: []telemetry.Event{ev}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, bus.Message{Topic: bus.TopicSamples, Value: []telemetry.Sample{{Labels: mdLatency, T: mdT0.UnixMilli(), V: 1}}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s.mtx.Lock()
	defer s.mtx.Unlock()
	if _, ok := s.deploys["checkout"]; !ok || len(s.series) != 1 {
		t.Fatalf("deploys %v, %d series: want the deploy and one series", s.deploys, len(s.series))
	}
}

func TestNewMetricDetectStageRefusesBadSkip(t *testing.T) {
	c := mdConfig()
	c.Skip = []string{`{job=~"("}`}
	if _, err := newMetricDetectStage(metricDetectDeps{Config: c}); err == nil || !strings.Contains(err.Error(), "skip") {
		t.Fatalf("err = %v, want one naming skip", err)
	}
	c = mdConfig()
	c.DeploySignals = []string{`errors_total`, `{code=~"("}`}
	if _, err := newMetricDetectStage(metricDetectDeps{Config: c}); err == nil || !strings.Contains(err.Error(), "deploy_signals") {
		t.Fatalf("err = %v, want one naming deploy_signals", err)
	}
}

func FuzzParseSeriesSelector(f *testing.F) {
	for _, s := range []string{`up`, `up{job="a"}`, `{__name__=~"x.+"}`, `{`, `a{b!~"("}`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sel string) {
		ms, err := parseSeriesSelector(sel)
		if err == nil && len(ms) == 0 {
			t.Fatalf("%q parsed to no matchers", sel)
		}
	})
}

// BenchmarkMetricDetectSamples feeds batches of 1,000 latency series of
// one service: with the deploy watch (every series a request signal) and
// without it (deploy_metrics 0).
func BenchmarkMetricDetectSamples(b *testing.B) {
	for _, deployMetrics := range []int{2, 0} {
		b.Run("deploy_metrics="+strconv.Itoa(deployMetrics), func(b *testing.B) {
			c := mdConfig()
			c.DeployMetrics = deployMetrics
			s, err := newMetricDetectStage(metricDetectDeps{Config: c})
			if err != nil {
				b.Fatal(err)
			}
			const nSeries = 1000
			lss := make([]telemetry.Labels, nSeries)
			for i := range lss {
				lss[i] = mdLatency.With("instance", "pod-"+strconv.Itoa(i))
			}
			batch := make([]telemetry.Sample, nSeries)
			rng := rand.New(rand.NewPCG(1, 2))
			b.ReportAllocs()
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				ts := mdT0.Add(time.Duration(n) * time.Minute)
				for i := range batch {
					batch[i] = telemetry.Sample{Labels: lss[i], T: ts.UnixMilli(), V: mdSeasonal(rng, ts)}
				}
				_ = s.handleSamples(context.Background(), "", batch)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*nSeries), "ns/sample")
		})
	}
}

// TestMetricDetectDeployRegression releases a build that triples
// checkout's latency and error ratio: the stage reports a deploy
// regression naming both metrics within three minutes and counts it,
// while with deploy_metrics 0, or with deploy_signals that leave the
// error ratio out, the widened bands keep every series quiet that long.
func TestMetricDetectDeployRegression(t *testing.T) {
	errRatio := telemetry.LabelsFromStrings("__name__", "checkout_error_ratio", "service", "checkout", "job", "checkout", "instance", "checkout-0")
	deployMin := 3*1440 + 600
	deployAt := mdT0.Add(time.Duration(deployMin) * time.Minute)
	run := func(t *testing.T, edit func(c *config.MetricDetect)) ([]detect.Anomaly, float64) {
		s, reg, got := mdStage(t, edit)
		rng := rand.New(rand.NewPCG(3, 4))
		var batch []telemetry.Sample
		flush := func() {
			if err := s.handleSamples(context.Background(), "", batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
		for i := 0; i < deployMin+3; i++ {
			ts := mdT0.Add(time.Duration(i) * time.Minute)
			if i == deployMin {
				flush()
				ev := telemetry.Event{Kind: telemetry.EventDeploy, Service: "checkout", Time: deployAt}
				if err := s.handleEvents(context.Background(), "", []telemetry.Event{ev}); err != nil {
					t.Fatal(err)
				}
			}
			lat, er := mdSeasonal(rng, ts), 0.01+0.002*rng.NormFloat64()
			if i > deployMin {
				lat, er = 3*lat, 3*er+0.05
			}
			batch = append(batch, telemetry.Sample{Labels: mdLatency, T: ts.UnixMilli(), V: lat},
				telemetry.Sample{Labels: errRatio, T: ts.UnixMilli(), V: er})
			if len(batch) >= 120 {
				flush()
			}
		}
		flush()
		var after []detect.Anomaly
		for _, a := range *got {
			if !a.End.Before(deployAt) {
				after = append(after, a)
			}
		}
		return after, metricValue(t, reg, "vigil_detect_metric_deploy_regressions_total")
	}
	got, n := run(t, nil)
	if len(got) != 1 || got[0].Labels.Get("kind") != "deploy_regression" || got[0].Service != "checkout" ||
		got[0].Labels.Get("metrics") != "checkout_error_ratio,http_request_duration_seconds" || n != 1 {
		t.Fatalf("anomalies after the deploy %+v (counted %v), want one deploy regression of checkout naming both metrics", got, n)
	}
	if !strings.Contains(got[0].Explanation, `quantile="0.99"} 1.67s against`) {
		t.Errorf("explanation %q does not name the latency series with its unit", got[0].Explanation)
	}
	t.Logf("%s", got[0].Explanation)
	for name, edit := range map[string]func(c *config.MetricDetect){
		"deploy_metrics 0":          func(c *config.MetricDetect) { c.DeployMetrics = 0 },
		"latency the only signal":   func(c *config.MetricDetect) { c.DeploySignals = []string{`http_request_duration_seconds`} },
		"signals of another metric": func(c *config.MetricDetect) { c.DeploySignals = []string{`{__name__="up"}`} },
	} {
		if got, n := run(t, edit); len(got) != 0 || n != 0 {
			t.Errorf("%s: anomalies %+v (counted %v) within three minutes of the deploy, want none", name, got, n)
		}
	}
}
