package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/api"
	"github.com/vigilops/vigil/bus"
	"github.com/vigilops/vigil/copilot"
	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// The anomalies stage is the log side of detection: it subscribes to
// TopicParsedLogs, feeds every record to one detect.LogDetectors (with the
// streaming sequence detector among its Extra), keeps the newest anomalies
// in a bounded ring served by GET /api/v1/anomalies, and publishes the
// log-derived samples (rates by service and level) on TopicSamples so that
// the series store holds them beside the metrics.
//
// Key invariant: evaluation time is the newest record time seen, never the
// wall clock. The demo runs simulated time ahead of the wall clock and a
// replay runs it behind; either way the detectors see one consistent clock.
// The wall clock only paces how often that time is ticked.

const (
	// anomaliesRingSize bounds the anomalies kept in memory.
	anomaliesRingSize = 10_000
	// anomaliesTickInterval is how often (wall clock) the detectors are
	// ticked with the newest record time.
	anomaliesTickInterval = time.Second

	// Bounds of GET /api/v1/anomalies.
	anomaliesDefaultLimit = 100
	anomaliesMaxLimit     = anomaliesRingSize
)

// anomalyStage runs the log detectors; see the comment above.
type anomalyStage struct {
	log *slog.Logger
	bus bus.Bus
	det *detect.LogDetectors // safe for concurrent use
	m   *anomalyMetrics

	// judge gives borderline anomalies a second opinion (the copilot's);
	// nil leaves them as the detectors scored them. toJudge queues them for
	// the judging worker so that a slow model never holds up detection.
	judge   func(context.Context, detect.Anomaly) copilot.Judgement
	toJudge chan judgeJob
	// onAnomalies, when set, receives every batch of anomalies recorded
	// (the correlator's feed); it is called without mtx held.
	onAnomalies func(context.Context, []detect.Anomaly)

	// mtx protects ring, next, seq, newest and ticked.
	mtx    sync.Mutex
	ring   []anomalyView // grows to size, then the oldest is overwritten
	size   int           // bound of ring; read-only
	next   int           // once ring is full, where the next anomaly goes
	seq    uint64        // anomalies recorded so far
	newest time.Time     // newest record time observed
	ticked time.Time     // evaluation time of the last Tick
}

// anomalyView is an anomaly as served: the detectors' finding and, for a
// borderline one, the copilot's judgement once it is in.
type anomalyView struct {
	detect.Anomaly
	Judgement *copilot.Judgement `json:"judgement,omitempty"`
	seq       uint64             // which recording this is, to find it again in the ring
}

// judgeJob is one borderline anomaly waiting for its judgement.
type judgeJob struct {
	seq uint64
	a   detect.Anomaly
}

// judgeQueue bounds the anomalies waiting for a judgement; past it they are
// served unjudged (and counted) rather than queued without bound.
const judgeQueue = 256

type anomalyMetrics struct {
	anomalies *prometheus.CounterVec
	observed  prometheus.Counter
	judged    *prometheus.CounterVec
}

func newAnomalyMetrics(r prometheus.Registerer) *anomalyMetrics {
	m := &anomalyMetrics{
		anomalies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_detect_anomalies_total",
			Help: "Anomalies reported by the log detectors (after the cooldown), by type.",
		}, []string{"type"}),
		observed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_detect_observed_lines_total",
			Help: "Parsed log records fed to the log detectors.",
		}),
		judged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_detect_judged_anomalies_total",
			Help: "Borderline log anomalies given to the copilot for a judgement, by verdict (anomaly, normal, skipped when the queue was full).",
		}, []string{"verdict"}),
	}
	r.MustRegister(m.anomalies, m.observed, m.judged)
	return m
}

// startAnomalies starts the anomalies stage and serves its findings on srv.
// It must run before the logs stage starts, so that it sees every parsed
// record, and its cleanup then runs after the logs stage's final flush and
// before the bus closes, so the last tick's samples can still be published.
func (a *App) startAnomalies(srv *api.Server) error {
	so := detect.DefaultSequenceDetectorOptions()
	so.Logger = a.log.With("component", "detect", "detector", "sequence")
	seq, err := detect.NewSequenceDetector(so)
	if err != nil {
		return fmt.Errorf("anomalies stage: %w", err)
	}
	do := detect.DefaultLogDetectorsOptions()
	do.Extra = []detect.LogDetector{seq}
	s := &anomalyStage{
		log:     a.log.With("component", "detect"),
		bus:     a.bus,
		det:     detect.NewLogDetectors(do),
		m:       newAnomalyMetrics(a.reg),
		size:    anomaliesRingSize,
		judge:   a.copilot.Judge,
		toJudge: make(chan judgeJob, judgeQueue),

		onAnomalies: a.observeAnomalies,
	}
	// Two workers; a key (the service) always goes to the same one, so the
	// records of one service are observed in order.
	if _, err := a.bus.Subscribe(bus.TopicParsedLogs, bus.SubscribeOptions{Name: "anomalies", Workers: 2}, bus.Handle(s.handle)); err != nil {
		return fmt.Errorf("subscribe anomalies to %s: %w", bus.TopicParsedLogs, err)
	}
	// Not a.loop: runCtx does not exist yet when the API stages start, and
	// the last tick must publish before the bus closes.
	runCtx, cancel := context.WithCancel(context.Background())
	done, judged := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		s.run(runCtx)
	}()
	go func() {
		defer close(judged)
		s.judging(runCtx)
	}()
	a.onStop("anomalies", func(ctx context.Context) error {
		cancel()
		<-done
		<-judged
		return s.tick(ctx)
	})
	srv.Handle("GET /api/v1/anomalies", store.RoleViewer, s.serveAnomalies)
	a.anomalies = s
	return nil
}

// run ticks the detectors every anomaliesTickInterval until ctx is done.
func (s *anomalyStage) run(ctx context.Context) {
	t := time.NewTicker(anomaliesTickInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.tick(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("publish log samples", "err", err)
			}
		}
	}
}

// handle is the TopicParsedLogs handler. The batch is shared with the
// other subscribers and is only read.
func (s *anomalyStage) handle(ctx context.Context, _ string, batch []telemetry.LogRecord) error {
	if len(batch) == 0 {
		return nil
	}
	var newest time.Time
	for i := range batch {
		rec := &batch[i]
		// The logs stage publishes no parameters, so content detection
		// falls back to the detector's own tokenisation.
		s.record(ctx, s.det.Observe(rec))
		if rec.Time.After(newest) {
			newest = rec.Time
		}
	}
	s.m.observed.Add(float64(len(batch)))
	s.mtx.Lock()
	if newest.After(s.newest) {
		s.newest = newest
	}
	s.mtx.Unlock()
	return nil
}

// tick lets the detectors decide what the passing of evaluation time
// reveals, then publishes the log-derived samples of the closed intervals.
// It does nothing until evaluation time has moved on since the last tick.
func (s *anomalyStage) tick(ctx context.Context) error {
	s.mtx.Lock()
	now := s.newest
	if now.IsZero() || !now.After(s.ticked) {
		s.mtx.Unlock()
		return nil
	}
	s.ticked = now
	s.mtx.Unlock()

	s.record(ctx, s.det.Tick(now))
	samples := s.det.Samples()
	if len(samples) == 0 {
		return nil
	}
	err := s.bus.Publish(ctx, bus.Message{Topic: bus.TopicSamples, Value: samples})
	if errors.Is(err, bus.ErrClosed) {
		s.log.Debug("log samples dropped: bus closed", "samples", len(samples))
		return nil
	}
	if err != nil {
		return fmt.Errorf("publish %d log samples: %w", len(samples), err)
	}
	return nil
}

// record counts anomalies, keeps them in the ring and hands them on.
func (s *anomalyStage) record(ctx context.Context, as []detect.Anomaly) {
	if len(as) == 0 {
		return
	}
	if s.onAnomalies != nil {
		s.onAnomalies(ctx, as)
	}
	for i := range as {
		a := &as[i]
		s.m.anomalies.WithLabelValues(string(a.Type)).Inc()
		// Debug only: a noisy source can raise many anomalies, and they are
		// served by the API and counted anyway.
		s.log.Debug("anomaly", "type", a.Type, "service", a.Service, "template", a.TemplateID,
			"score", a.Score, "start", a.Start, "explanation", a.Explanation)
	}
	s.mtx.Lock()
	for _, a := range as {
		s.seq++
		v := anomalyView{Anomaly: a, seq: s.seq}
		if s.judge != nil && copilot.Borderline(a) {
			select {
			case s.toJudge <- judgeJob{seq: s.seq, a: a}:
			default:
				s.m.judged.WithLabelValues("skipped").Inc()
			}
		}
		if len(s.ring) < s.size {
			s.ring = append(s.ring, v)
			continue
		}
		s.ring[s.next] = v
		s.next = (s.next + 1) % s.size
	}
	s.mtx.Unlock()
}

// judging gives queued borderline anomalies their judgement until ctx is
// done, and attaches it if the anomaly is still in the ring.
func (s *anomalyStage) judging(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-s.toJudge:
			j := s.judge(ctx, job.a)
			verdict := "normal"
			if j.IsAnomaly {
				verdict = "anomaly"
			}
			s.m.judged.WithLabelValues(verdict).Inc()
			s.mtx.Lock()
			// Recording k went to index (k-1) mod size; a newer one may
			// have taken its place since.
			if i := int((job.seq - 1) % uint64(s.size)); i < len(s.ring) && s.ring[i].seq == job.seq {
				s.ring[i].Judgement = &j
			}
			s.mtx.Unlock()
		}
	}
}

// anomalyFilter selects anomalies for GET /api/v1/anomalies.
type anomalyFilter struct {
	service string
	typ     detect.Type
	since   time.Time // zero: any
	limit   int
}

func (f anomalyFilter) match(a *anomalyView) bool {
	return (f.service == "" || a.Service == f.service) &&
		(f.typ == "" || a.Type == f.typ) &&
		(f.since.IsZero() || !a.End.Before(f.since))
}

// query returns the anomalies matching f, newest first, at most f.limit,
// and how many matched in all.
func (s *anomalyStage) query(f anomalyFilter) ([]anomalyView, int) {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	n := len(s.ring)
	out := []anomalyView{}
	total := 0
	// While the ring grows next stays 0, and the newest is the last.
	for k := 1; k <= n; k++ {
		i := (s.next - k + n) % n
		if !f.match(&s.ring[i]) {
			continue
		}
		total++
		if len(out) < f.limit {
			out = append(out, s.ring[i])
		}
	}
	return out, total
}

// anomaliesResponse is the body of GET /api/v1/anomalies.
type anomaliesResponse struct {
	Anomalies []anomalyView `json:"anomalies"`
	Total     int           `json:"total"`
	Truncated bool          `json:"truncated"`
}

// serveAnomalies answers GET /api/v1/anomalies: the most recent anomalies,
// newest first, filtered by ?service=, ?type= and ?since= (RFC 3339; those
// whose window ends at or after it), at most ?limit=N.
func (s *anomalyStage) serveAnomalies(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := anomalyFilter{service: q.Get("service"), typ: detect.Type(q.Get("type")), limit: anomaliesDefaultLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > anomaliesMaxLimit {
			return api.Errorf(http.StatusBadRequest, "bad_request", "limit %q is not a number in [1, %d]", v, anomaliesMaxLimit)
		}
		f.limit = n
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return api.Errorf(http.StatusBadRequest, "bad_request", "since %q is not an RFC 3339 time", v)
		}
		f.since = t
	}
	as, total := s.query(f)
	api.WriteJSON(w, http.StatusOK, anomaliesResponse{Anomalies: as, Total: total, Truncated: total > len(as)})
	return nil
}
