package app

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/matcher/parse"
	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/api"
	"github.com/vigilops/vigil/bus"
	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// The metric detection stage is the metric side of detection: it
// subscribes to TopicSamples and keeps one detect.SeriesDetector per
// watched series (counters turned into per-second rates first), tells the
// detectors of a service about its deploys from TopicEvents, keeps the
// newest metric anomalies in a bounded ring served by GET
// /api/v1/metrics/anomalies, and the last points of every series with
// their learned band for GET /api/v1/metrics/band.
//
// Key invariant: evaluation time is the sample's own time, and points of a
// series reach its detector in strictly increasing time order (older or
// repeated points are dropped and counted). Memory is bounded by
// detect.metrics.max_series detectors and band_points points per series.
//
// Glue (for the lead, once config.Config has the sections):
//
//	config.Config:     Detect     Detect     `yaml:"detect"`
//	                   KEDAScaler KEDAScaler `yaml:"kedascaler"`
//	config.Default():  Detect: defaultDetect(), KEDAScaler: defaultKEDAScaler(),
//	config.Validate(): c.Detect.validate(add); c.KEDAScaler.validate(add)
//	App:               metricDetect *metricDetectStage
//	Start, in startAPI right after a.startAnomalies(srv) (the correlator
//	exists by then, so a.observeAnomalies can be passed; it must subscribe
//	before the receivers and the demo publish):
//
//		if cfg.Detect.Metrics.Enabled {
//			md, err := newMetricDetectStage(metricDetectDeps{
//				Config: cfg.Detect.Metrics, Bus: a.bus,
//				Logger: a.log.With("component", "detect", "detector", "metric"), Registerer: a.reg,
//				OnAnomalies: a.observeAnomalies,
//			})
//			if err != nil {
//				return err
//			}
//			if err := md.subscribe(); err != nil {
//				return err
//			}
//			md.Register(srv)
//			a.metricDetect = md
//		}
//
//	Stop: nothing; Bus.Close drains queued samples into the stage and
//	stops its subscriptions.

const (
	// metricAnomaliesRingSize bounds the metric anomalies kept in memory.
	metricAnomaliesRingSize = 5_000
	// metricStaleAfter is how long a series must have been quiet (in its
	// own time, against the new series' sample) before a new series may
	// take its detector when max_series is reached.
	metricStaleAfter = 30 * time.Minute
	// Bounds of GET /api/v1/metrics/band.
	metricBandDefaultLimit = 10
	metricBandMaxLimit     = 100
)

// metricDetectDeps is what the stage is built from.
type metricDetectDeps struct {
	Config     config.MetricDetect
	Bus        bus.Bus // may be nil in tests that call observe directly
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// OnAnomalies, when set, receives every batch of metric anomalies
	// (the correlator's feed); it is called without the stage's lock.
	OnAnomalies func(context.Context, []detect.Anomaly)
}

// metricDetectStage runs the metric detectors; see the comment above.
type metricDetectStage struct {
	cfg         config.MetricDetect // read-only
	skip        [][]*labels.Matcher // read-only: a series matching all of one entry is skipped
	signals     [][]*labels.Matcher // read-only: the deploy watch's series (nil: detect.DeploySignal)
	log         *slog.Logger
	bus         bus.Bus
	m           *metricDetectMetrics
	onAnomalies func(context.Context, []detect.Anomaly)

	// mtx protects everything below: the detectors are not safe for
	// concurrent use, and the subscription has one worker so that a
	// series' points arrive in order.
	mtx     sync.Mutex
	series  map[telemetry.Fingerprint]*metricSeries
	lru     *list.List                 // of *metricSeries, least recently updated first
	deploys map[string]telemetry.Event // newest deploy per service ("" : all), for new detectors
	watch   *detect.DeployWatch        // nil when detect.metrics.deploy_metrics is 0
	ring    []detect.Anomaly           // grows to metricAnomaliesRingSize, then the oldest is overwritten
	next    int                        // once ring is full, where the next anomaly goes
}

// metricSeries is one watched series.
type metricSeries struct {
	labels  telemetry.Labels
	fp      telemetry.Fingerprint
	service string
	metric  string
	name    string // the metric name
	counter bool   // observed as a per-second rate
	sure    bool   // the name says counter or gauge for certain
	signal  bool   // a request signal, compared by the deploy watch
	// signalName is the name the deploy watch counts it under, and
	// upOnly whether only its rise counts there (detect.DeploySeries).
	signalName string
	upOnly     bool
	display    string // the series as its detector's explanations name it
	unit       string
	det        *detect.SeriesDetector
	elem       *list.Element

	lastT int64   // newest sample time (ms); points at or before it are dropped
	lastV float64 // newest raw value, for counter rates
	seen  bool    // lastT and lastV are set

	band []bandPoint // ring of the last band_points scored points
	next int         // once band is full, where the next point goes
}

// bandPoint is one scored point; float32 halves the memory of the band
// and is plenty for plotting.
type bandPoint struct {
	T         int64   `json:"t"`
	V         float32 `json:"v"`
	Expected  float32 `json:"expected"`
	Lower     float32 `json:"lower"`
	Upper     float32 `json:"upper"`
	Score     float32 `json:"score"`
	Anomalous bool    `json:"anomalous,omitempty"`
}

type metricDetectMetrics struct {
	series    prometheus.Gauge
	samples   *prometheus.CounterVec
	evicted   prometheus.Counter
	anomalies prometheus.Counter
	// deployRegressions counts the deploy watch's reports (also counted
	// in anomalies).
	deployRegressions prometheus.Counter
}

func newMetricDetectMetrics(r prometheus.Registerer) (*metricDetectMetrics, error) {
	m := &metricDetectMetrics{
		series: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_detect_metric_series",
			Help: "Series watched by a metric detector.",
		}),
		samples: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_detect_metric_samples_total",
			Help: "Samples reaching the metric detectors, by outcome (observed; skipped by detect.metrics.skip or as a histogram bucket; out_of_order; refused when max_series detectors are busy; invalid for NaN and infinite values).",
		}, []string{"outcome"}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_detect_metric_series_evicted_total",
			Help: "Quiet series whose detector was given to a new series at max_series.",
		}),
		anomalies: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_detect_metric_anomalies_total",
			Help: "Anomalies reported by the metric detectors.",
		}),
		deployRegressions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_detect_metric_deploy_regressions_total",
			Help: "Deploy regressions reported by the deploy watch: request signals of a service out of their deploy-widened bands together after its deploy (also counted in vigil_detect_metric_anomalies_total).",
		}),
	}
	for _, c := range []prometheus.Collector{m.series, m.samples, m.evicted, m.anomalies, m.deployRegressions} {
		if err := r.Register(c); err != nil {
			return nil, fmt.Errorf("register metric detection metrics: %w", err)
		}
	}
	return m, nil
}

// newMetricDetectStage builds the stage; subscribe starts feeding it.
func newMetricDetectStage(d metricDetectDeps) (*metricDetectStage, error) {
	c := d.Config
	if c.MaxSeries < 1 || c.BandPoints < 1 || c.For < 0 {
		return nil, fmt.Errorf("metric detection: max_series %d, band_points %d and for %s must be positive", c.MaxSeries, c.BandPoints, c.For)
	}
	skip := make([][]*labels.Matcher, 0, len(c.Skip))
	for _, sel := range c.Skip {
		ms, err := parseSeriesSelector(sel)
		if err != nil {
			return nil, fmt.Errorf("metric detection: skip %q: %w", sel, err)
		}
		skip = append(skip, ms)
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Registerer == nil {
		d.Registerer = prometheus.NewRegistry()
	}
	m, err := newMetricDetectMetrics(d.Registerer)
	if err != nil {
		return nil, err
	}
	var signals [][]*labels.Matcher
	for _, sel := range c.DeploySignals {
		ms, err := parseSeriesSelector(sel)
		if err != nil {
			return nil, fmt.Errorf("metric detection: deploy_signals %q: %w", sel, err)
		}
		signals = append(signals, ms)
	}
	s := &metricDetectStage{
		cfg: c, skip: skip, signals: signals, log: d.Logger, bus: d.Bus, m: m, onAnomalies: d.OnAnomalies,
		series:  make(map[telemetry.Fingerprint]*metricSeries),
		lru:     list.New(),
		deploys: make(map[string]telemetry.Event),
	}
	if c.DeployMetrics > 0 {
		wo := detect.DefaultDeployWatchOptions()
		wo.Metrics = c.DeployMetrics
		s.watch = detect.NewDeployWatch(wo)
	}
	return s, nil
}

// subscribe starts delivering samples and events to the stage.
func (s *metricDetectStage) subscribe() error {
	if s.bus == nil {
		return errors.New("metric detection: no bus")
	}
	// One worker: samples of one series may arrive under different keys
	// (mixed batches have none), and its points must stay in order.
	if _, err := s.bus.Subscribe(bus.TopicSamples, bus.SubscribeOptions{Name: "metricdetect"}, bus.Handle(s.handleSamples)); err != nil {
		return fmt.Errorf("subscribe metric detection to %s: %w", bus.TopicSamples, err)
	}
	if _, err := s.bus.Subscribe(bus.TopicEvents, bus.SubscribeOptions{Name: "metricdetect"}, bus.Handle(s.handleEvents)); err != nil {
		return fmt.Errorf("subscribe metric detection to %s: %w", bus.TopicEvents, err)
	}
	return nil
}

// handleSamples is the TopicSamples handler. The batch is shared with the
// other subscribers and is only read.
func (s *metricDetectStage) handleSamples(ctx context.Context, _ string, batch []telemetry.Sample) error {
	var found []detect.Anomaly
	var observed, skipped, late, refused, invalid int
	s.mtx.Lock()
	for i := range batch {
		smp := &batch[i]
		if math.IsNaN(smp.V) || math.IsInf(smp.V, 0) {
			// Staleness markers and broken exporters: not a value, and
			// a counter's next rate is taken from the last real one.
			invalid++
			continue
		}
		ser, outcome := s.seriesFor(smp)
		switch outcome {
		case "skipped":
			skipped++
			continue
		case "refused":
			refused++
			continue
		}
		det := ser.det
		if smp.T <= ser.lastT && ser.seen {
			late++
			continue
		}
		v, ok := ser.value(smp, s.cfg, s.log)
		if ser.det != det {
			// Reclassified as a gauge: the service's deploys still count.
			s.applyDeploys(ser)
		}
		if !ok {
			observed++
			continue
		}
		sc := ser.det.Observe(smp.Time(), v)
		ser.addBand(s.cfg.BandPoints, bandPoint{
			T: smp.T, V: float32(v), Expected: float32(sc.Expected), Lower: float32(sc.Lower), Upper: float32(sc.Upper),
			Score: float32(sc.Score), Anomalous: sc.Anomalous,
		})
		observed++
		if sc.Anomaly != nil {
			a := *sc.Anomaly
			a.Labels = a.Labels.With("fingerprint", ser.fp.String())
			found = append(found, a)
			s.remember(a)
		}
		if s.watch != nil && ser.signal {
			if a := s.watch.Observe(detect.DeployPoint{Service: ser.service, Name: ser.signalName, Series: ser.display, Unit: ser.unit,
				Key: ser.fp, UpOnly: ser.upOnly, T: smp.Time(), V: v, Score: sc}); a != nil {
				found = append(found, *a)
				s.remember(*a)
				s.m.deployRegressions.Inc()
			}
		}
	}
	n := len(s.series)
	s.mtx.Unlock()

	s.m.series.Set(float64(n))
	for outcome, k := range map[string]int{"observed": observed, "skipped": skipped, "out_of_order": late, "refused": refused, "invalid": invalid} {
		if k > 0 {
			s.m.samples.WithLabelValues(outcome).Add(float64(k))
		}
	}
	if len(found) > 0 {
		s.m.anomalies.Add(float64(len(found)))
		for i := range found {
			s.log.Debug("metric anomaly", "service", found[i].Service, "series", found[i].Labels.Get("metric"),
				"score", found[i].Score, "explanation", found[i].Explanation)
		}
		if s.onAnomalies != nil {
			s.onAnomalies(ctx, found)
		}
	}
	return nil
}

// seriesFor returns the watched series of smp, creating it when there is
// room; the outcome is "" when the sample is to be observed. s.mtx is held.
func (s *metricDetectStage) seriesFor(smp *telemetry.Sample) (*metricSeries, string) {
	fp := smp.Labels.Fingerprint()
	if ser, ok := s.series[fp]; ok {
		if !ser.labels.Equal(smp.Labels) {
			// A fingerprint collision: the first series keeps the detector.
			return nil, "refused"
		}
		s.lru.MoveToBack(ser.elem)
		return ser, ""
	}
	name := smp.Labels.Get(telemetry.MetricNameLabel)
	if s.skipped(name, smp.Labels) {
		return nil, "skipped"
	}
	if len(s.series) >= s.cfg.MaxSeries {
		// Give the least recently updated detector away only when its
		// series has gone quiet: evicting live series would make every
		// detector start over and none would ever warm up.
		old := s.lru.Front().Value.(*metricSeries)
		if smp.T-old.lastT < metricStaleAfter.Milliseconds() {
			return nil, "refused"
		}
		s.lru.Remove(old.elem)
		delete(s.series, old.fp)
		s.m.evicted.Inc()
	}
	ser := newMetricSeries(smp.Labels, fp, name, s.cfg, s.log)
	ser.signal = ser.service != "" && s.isSignal(name, smp.Labels)
	ser.signalName, ser.upOnly = detect.DeploySeries(name, smp.Labels)
	s.applyDeploys(ser)
	ser.elem = s.lru.PushBack(ser)
	s.series[fp] = ser
	return ser, ""
}

// applyDeploys tells a new detector of the deploys already seen; s.mtx is
// held.
func (s *metricDetectStage) applyDeploys(ser *metricSeries) {
	for _, svc := range []string{"", ser.service} {
		if ev, ok := s.deploys[svc]; ok {
			ser.det.ObserveEvent(ev)
		}
	}
}

// isSignal reports whether the deploy watch compares a series: it matches
// an entry of detect.metrics.deploy_signals, or by default its name says
// requests, errors or latency (detect.DeploySignal).
func (s *metricDetectStage) isSignal(name string, ls telemetry.Labels) bool {
	if s.signals == nil {
		return detect.DeploySignal(name)
	}
	for _, ms := range s.signals {
		if matchAll(ms, ls) {
			return true
		}
	}
	return false
}

// skipped reports whether a series is not to be watched.
func (s *metricDetectStage) skipped(name string, ls telemetry.Labels) bool {
	if !s.cfg.Buckets && strings.HasSuffix(name, "_bucket") {
		return true
	}
	// OpenMetrics' _created series hold a start timestamp, not a signal.
	if strings.HasSuffix(name, "_created") {
		return true
	}
	for _, ms := range s.skip {
		if matchAll(ms, ls) {
			return true
		}
	}
	return false
}

func matchAll(ms []*labels.Matcher, ls telemetry.Labels) bool {
	for _, m := range ms {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

// counterKind says whether a metric name is a cumulative count by the
// Prometheus naming conventions: certainly (_total, and _bucket, which
// only histograms have) or probably (_count and _sum, which exporters
// also give gauges, e.g. pg_stat_activity_count).
func counterKind(name string) (counter, sure bool) {
	switch {
	case strings.HasSuffix(name, "_total"), strings.HasSuffix(name, "_bucket"):
		return true, true
	case strings.HasSuffix(name, "_count"), strings.HasSuffix(name, "_sum"):
		return true, false
	}
	return false, true
}

// seriesService names the service a series belongs to: its service label,
// else app, else job.
func seriesService(ls telemetry.Labels) string {
	for _, k := range []string{"service", "app", "job"} {
		if v := ls.Get(k); v != "" {
			return v
		}
	}
	return ""
}

func newMetricSeries(ls telemetry.Labels, fp telemetry.Fingerprint, name string, c config.MetricDetect, log *slog.Logger) *metricSeries {
	ser := &metricSeries{labels: ls, fp: fp, service: seriesService(ls), name: name}
	ser.counter, ser.sure = counterKind(name)
	// The metric as explanations name it: the name and the labels that
	// tell it from the service's other series.
	var b strings.Builder
	b.WriteString(name)
	first := true
	for _, l := range ls {
		if l.Name == telemetry.MetricNameLabel || l.Name == "service" || (l.Name == "job" && l.Value == ser.service) {
			continue
		}
		if first {
			b.WriteByte('{')
			first = false
		} else {
			b.WriteByte(',')
		}
		b.WriteString(l.Name + "=" + strconv.Quote(l.Value))
	}
	if !first {
		b.WriteByte('}')
	}
	ser.metric = b.String()
	ser.newDetector(c, log)
	return ser
}

// newDetector gives the series a fresh detector for what it is now
// thought to be (a counter's rate or a gauge) and forgets its band.
func (ser *metricSeries) newDetector(c config.MetricDetect, log *slog.Logger) {
	o := detect.DefaultSeriesOptions()
	o.Service, o.Metric, o.For, o.Logger = ser.service, ser.metric, time.Duration(c.For), log
	switch {
	case ser.counter:
		o.Metric, o.Unit = "rate("+ser.metric+")", "/s"
	case strings.HasSuffix(ser.name, "_seconds"):
		o.Unit = "s"
	case strings.HasSuffix(ser.name, "_bytes"):
		o.Unit = "B"
	}
	ser.display, ser.unit = o.Metric, o.Unit
	ser.det = detect.NewSeriesDetector(o)
	ser.band, ser.next = ser.band[:0], 0
}

// value returns the value to observe for smp and records it as the newest;
// ok is false for a counter's first sample, which has no rate yet. A
// series only probably a counter is taken for a gauge, with a fresh
// detector, the first time it falls by less than half: a counter only
// falls when its process restarts, and then to about nothing.
func (ser *metricSeries) value(smp *telemetry.Sample, c config.MetricDetect, log *slog.Logger) (float64, bool) {
	prevT, prevV, seen := ser.lastT, ser.lastV, ser.seen
	ser.lastT, ser.lastV, ser.seen = smp.T, smp.V, true
	if !ser.counter {
		return smp.V, true
	}
	if !seen {
		return 0, false
	}
	inc := smp.V - prevV
	if inc < 0 && !ser.sure && smp.V > prevV/2 {
		ser.counter, ser.sure = false, true
		ser.newDetector(c, log)
		return smp.V, true
	}
	if inc < 0 {
		// A reset: the counter restarted from zero since the last sample.
		inc = smp.V
	}
	return inc / (float64(smp.T-prevT) / 1000), true
}

func (ser *metricSeries) addBand(size int, p bandPoint) {
	if len(ser.band) < size {
		ser.band = append(ser.band, p)
		return
	}
	ser.band[ser.next] = p
	ser.next = (ser.next + 1) % size
}

// points returns the band in time order.
func (ser *metricSeries) points() []bandPoint {
	out := make([]bandPoint, 0, len(ser.band))
	out = append(out, ser.band[ser.next:]...)
	return append(out, ser.band[:ser.next]...)
}

// remember keeps a in the ring; s.mtx is held.
func (s *metricDetectStage) remember(a detect.Anomaly) {
	if len(s.ring) < metricAnomaliesRingSize {
		s.ring = append(s.ring, a)
		return
	}
	s.ring[s.next] = a
	s.next = (s.next + 1) % metricAnomaliesRingSize
}

// handleEvents is the TopicEvents handler: deploys widen the bands of
// their service's series (all series for a deploy without a service) and
// start the deploy watch of the service.
func (s *metricDetectStage) handleEvents(_ context.Context, _ string, evs []telemetry.Event) error {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	for _, ev := range evs {
		if ev.Kind != telemetry.EventDeploy {
			continue
		}
		if old, ok := s.deploys[ev.Service]; !ok || ev.Time.After(old.Time) {
			if !ok && len(s.deploys) >= s.cfg.MaxSeries {
				// Bounded like the series: forget the services' deploys
				// (live detectors keep their grace; only new series of
				// those services lose it).
				clear(s.deploys)
			}
			s.deploys[ev.Service] = ev
		}
		for _, ser := range s.series {
			if ev.Service == "" || ser.service == ev.Service {
				ser.det.ObserveEvent(ev)
			}
		}
		if s.watch != nil {
			s.watch.ObserveEvent(ev)
		}
	}
	return nil
}

// parseSeriesSelector parses `name{matchers}` (either part optional) into
// matchers, the name's among them.
func parseSeriesSelector(sel string) ([]*labels.Matcher, error) {
	name, rest, err := config.SplitSelector(sel)
	if err != nil {
		return nil, err
	}
	var ms []*labels.Matcher
	if rest != "" {
		if ms, err = parse.Matchers(rest); err != nil {
			return nil, err
		}
	}
	if name != "" {
		m, err := labels.NewMatcher(labels.MatchEqual, telemetry.MetricNameLabel, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("%q matches every series: name a metric or a label", sel)
	}
	return ms, nil
}

// Register serves the stage's findings on srv.
func (s *metricDetectStage) Register(srv *api.Server) {
	srv.Handle("GET /api/v1/metrics/anomalies", store.RoleViewer, s.serveAnomalies)
	srv.Handle("GET /api/v1/metrics/band", store.RoleViewer, s.serveBand)
}

// metricAnomaliesResponse is the body of GET /api/v1/metrics/anomalies.
type metricAnomaliesResponse struct {
	Anomalies []detect.Anomaly `json:"anomalies"`
	Total     int              `json:"total"`
	Truncated bool             `json:"truncated"`
}

// serveAnomalies answers GET /api/v1/metrics/anomalies: the most recent
// metric anomalies, newest first, filtered by ?service= and ?since= (RFC
// 3339; those whose window ends at or after it), at most ?limit=N.
func (s *metricDetectStage) serveAnomalies(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	service, limit := q.Get("service"), anomaliesDefaultLimit
	var since time.Time
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > metricAnomaliesRingSize {
			return api.Errorf(http.StatusBadRequest, "bad_request", "limit %q is not a number in [1, %d]", v, metricAnomaliesRingSize)
		}
		limit = n
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return api.Errorf(http.StatusBadRequest, "bad_request", "since %q is not an RFC 3339 time", v)
		}
		since = t
	}
	out := []detect.Anomaly{}
	total := 0
	s.mtx.Lock()
	n := len(s.ring)
	// While the ring grows next stays 0, and the newest is the last.
	for k := 1; k <= n; k++ {
		a := &s.ring[(s.next-k+n)%n]
		if (service != "" && a.Service != service) || (!since.IsZero() && a.End.Before(since)) {
			continue
		}
		total++
		if len(out) < limit {
			out = append(out, *a)
		}
	}
	s.mtx.Unlock()
	api.WriteJSON(w, http.StatusOK, metricAnomaliesResponse{Anomalies: out, Total: total, Truncated: total > len(out)})
	return nil
}

// bandSeries is one series in GET /api/v1/metrics/band.
type bandSeries struct {
	Labels      telemetry.Labels `json:"labels"`
	Fingerprint string           `json:"fingerprint"`
	Service     string           `json:"service"`
	Metric      string           `json:"metric"`
	// Rate says the points are per-second rates of a counter.
	Rate   bool        `json:"rate"`
	Points []bandPoint `json:"points"`
}

// metricBandResponse is the body of GET /api/v1/metrics/band.
type metricBandResponse struct {
	Series    []bandSeries `json:"series"`
	Total     int          `json:"total"`
	Truncated bool         `json:"truncated"`
}

// serveBand answers GET /api/v1/metrics/band?series=: the last points of
// the watched series named by a fingerprint (16 hex digits, as anomalies
// carry in their fingerprint label) or a selector, with the expected value
// and band of each, at most ?limit=N series (sorted by labels).
func (s *metricDetectStage) serveBand(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	sel := strings.TrimSpace(q.Get("series"))
	if sel == "" {
		return api.Errorf(http.StatusBadRequest, "bad_request", "series is required: a selector such as http_requests_total{service=\"checkout\"} or a 16-hex-digit fingerprint")
	}
	limit := metricBandDefaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > metricBandMaxLimit {
			return api.Errorf(http.StatusBadRequest, "bad_request", "limit %q is not a number in [1, %d]", v, metricBandMaxLimit)
		}
		limit = n
	}
	var match func(ser *metricSeries) bool
	if fp, err := telemetry.ParseFingerprint(sel); err == nil && len(sel) == 16 {
		match = func(ser *metricSeries) bool { return ser.fp == fp }
	}
	ms, err := parseSeriesSelector(sel)
	switch {
	case err != nil && match == nil:
		return api.Errorf(http.StatusBadRequest, "bad_request", "series %q: %v", sel, err)
	case err == nil && match != nil:
		// Sixteen hex digits are also a valid metric name.
		byFP := match
		match = func(ser *metricSeries) bool { return byFP(ser) || matchAll(ms, ser.labels) }
	case err == nil:
		match = func(ser *metricSeries) bool { return matchAll(ms, ser.labels) }
	}
	// Only the series served get their points copied: a broad selector
	// may match every watched series.
	type hit struct {
		key string
		ser *metricSeries
	}
	var hits []hit
	s.mtx.Lock()
	for _, ser := range s.series {
		if match(ser) {
			hits = append(hits, hit{ser.labels.String(), ser})
		}
	}
	slices.SortFunc(hits, func(a, b hit) int { return strings.Compare(a.key, b.key) })
	resp := metricBandResponse{Series: []bandSeries{}, Total: len(hits), Truncated: len(hits) > limit}
	for _, h := range hits[:min(len(hits), limit)] {
		ser := h.ser
		resp.Series = append(resp.Series, bandSeries{Labels: ser.labels, Fingerprint: ser.fp.String(), Service: ser.service,
			Metric: ser.metric, Rate: ser.counter, Points: ser.points()})
	}
	s.mtx.Unlock()
	api.WriteJSON(w, http.StatusOK, resp)
	return nil
}
