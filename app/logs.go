package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/api"
	"github.com/vigilops/vigil/bus"
	"github.com/vigilops/vigil/logparse"
	"github.com/vigilops/vigil/logtemplate"
	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// The logs stage sits between the receivers and everything that reads log
// lines: it subscribes to TopicLogs, gives every record its format, time,
// level, message and fields (logparse), glues stack traces and other
// continuation lines onto the line that started them (logparse.Joiner, one
// per stream), names the record's template (logtemplate, one Miner per
// service) and publishes the result on TopicParsedLogs.
//
// Key invariant: a template ID published on TopicParsedLogs has been, or
// will be, saved before the process exits, so IDs stay stable across
// restarts. Stop therefore freezes the miners before their final save:
// records that the bus still drains after it get the ID of a template they
// match, and none when they would start a new one.

const (
	// logsMaxServices bounds the services with a Miner of their own; the
	// rest share logsOtherService, so that a flood of service names cannot
	// exhaust memory.
	logsMaxServices = 1000
	// Miner names that are not services. A service that carries one of
	// these names shares that miner.
	logsOtherService   = "_other"
	logsUnknownService = "_unknown" // records without a service
	logsIndexName      = "_index"

	// logsStatePrefix is the StateStore key prefix: a Miner is saved under
	// logsStatePrefix+name and the list of names under logsIndexKey.
	logsStatePrefix = "logtemplate/"
	logsIndexKey    = logsStatePrefix + logsIndexName

	// logsSaveInterval is how often learned templates are saved; Stop saves
	// them too, so this bounds what a crash loses.
	logsSaveInterval = 5 * time.Minute
	// logsFlushInterval is how often streams that went quiet deliver the
	// entry their Joiner holds, once it is logparse.DefaultJoinTimeout old.
	logsFlushInterval = time.Second
	// logsMaxStreams bounds the Joiners held over all services. Records of
	// streams beyond it are parsed but not joined.
	logsMaxStreams = 10_000

	// Bounds of GET /api/v1/templates.
	templatesDefaultLimit = 1000
	templatesMaxLimit     = 10_000
)

// logStage parses, joins and templates log records; see the comment above.
type logStage struct {
	log    *slog.Logger
	bus    bus.Bus
	state  store.StateStore
	parser *logparse.Parser // safe for concurrent use, shared by all streams
	minerO logtemplate.Options
	now    func() time.Time
	m      *logMetrics

	// streams counts the Joiners held by all services.
	streams atomic.Int64

	mtx      sync.Mutex // protects services, named and frozen
	services map[string]*serviceLogs
	named    int  // services other than logsOtherService
	frozen   bool // set by stop: no more learning

	saveMtx   sync.Mutex // serialises saves; protects lastIndex
	lastIndex []byte     // the index as last saved
}

// serviceLogs is the state of one service (or of the services sharing
// logsOtherService).
type serviceLogs struct {
	name      string
	miner     *logtemplate.Miner // safe for concurrent use
	templates prometheus.Gauge
	// dirty is set, after the miner learned, until the miner is saved.
	dirty atomic.Bool

	// mtx protects joiners and frozen. It is held while a batch of this
	// service is joined, mined and published, so that the records of one
	// stream leave in the order they came, whether a worker or the flush
	// delivers them.
	mtx     sync.Mutex
	joiners map[streamKey]*logparse.Joiner
	frozen  bool
}

// streamKey names a stream: the lines a Joiner may glue together.
type streamKey struct {
	service string
	labels  telemetry.Fingerprint
}

type logMetrics struct {
	parsed       *prometheus.CounterVec
	templates    *prometheus.GaugeVec
	newTemplates prometheus.Counter
}

func newLogMetrics(r prometheus.Registerer) *logMetrics {
	m := &logMetrics{
		parsed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_logs_parsed_total",
			Help: "Log entries parsed and templated, by detected format (a joined stack trace is one entry).",
		}, []string{"format"}),
		templates: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_logs_templates",
			Help: "Live log templates, by service (services beyond the bound share \"_other\").",
		}, []string{"service"}),
		newTemplates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_logs_new_templates_total",
			Help: "Log templates started by a line unlike any before.",
		}),
	}
	r.MustRegister(m.parsed, m.templates, m.newTemplates)
	return m
}

// startLogs starts the logs stage and serves its templates on srv. It must
// run before the receivers start, so that it sees every line, and its
// cleanup must run after theirs and before the bus closes: it delivers the
// entries its Joiners hold and saves the templates while the bus and the
// store are open.
func (a *App) startLogs(ctx context.Context, srv *api.Server) error {
	po := logparse.DefaultOptions()
	po.Logger = a.log.With("component", "logparse")
	if a.copilot.Online() {
		// Sources whose header layout the heuristics cannot learn are put
		// to the model, once each; the parser checks its answer.
		po.Proposer = a.copilot
	}
	p, err := logparse.New(po)
	if err != nil {
		return fmt.Errorf("logs stage: %w", err)
	}
	mo := logtemplate.DefaultOptions()
	mo.Logger = a.log.With("component", "logtemplate")
	s := &logStage{
		log:      a.log.With("component", "logs"),
		bus:      a.bus,
		state:    a.store,
		parser:   p,
		minerO:   mo,
		now:      a.now,
		m:        newLogMetrics(a.reg),
		services: map[string]*serviceLogs{},
	}
	if err := s.restore(ctx); err != nil {
		return fmt.Errorf("logs stage: %w", err)
	}
	// Two workers; a key (the service) always goes to the same one.
	if _, err := a.bus.Subscribe(bus.TopicLogs, bus.SubscribeOptions{Name: "logs", Workers: 2}, bus.Handle(s.handle)); err != nil {
		return fmt.Errorf("subscribe logs to %s: %w", bus.TopicLogs, err)
	}
	// Not a.loop: those loops stop before the API and the receivers, and
	// the flushes and saves must go on until the receivers have stopped.
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.run(runCtx)
	}()
	a.onStop("logs", func(ctx context.Context) error {
		cancel()
		<-done
		return s.stop(ctx)
	})
	srv.Handle("GET /api/v1/templates", store.RoleViewer, s.serveTemplates)
	return nil
}

// run flushes quiet streams and saves the templates until ctx is done.
func (s *logStage) run(ctx context.Context) {
	flush := time.NewTicker(logsFlushInterval)
	defer flush.Stop()
	save := time.NewTicker(logsSaveInterval)
	defer save.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-flush.C:
			s.flush(ctx)
		case <-save.C:
			if err := s.save(ctx); err != nil {
				s.log.Warn("save log templates", "err", err)
			}
			if err := s.parser.LearnPending(ctx); err != nil && ctx.Err() == nil {
				s.log.Info("log layouts not learned", "err", err)
			}
		}
	}
}

// handle is the TopicLogs handler. The batch is shared with the other
// subscribers and is only read.
func (s *logStage) handle(ctx context.Context, _ string, batch []telemetry.LogRecord) error {
	if len(batch) == 0 {
		return nil
	}
	now := s.now()
	svc := batch[0].Service
	mixed := false
	for i := 1; i < len(batch) && !mixed; i++ {
		mixed = batch[i].Service != svc
	}
	if !mixed {
		return s.process(ctx, svc, batch, now)
	}
	// Receivers key a batch of several services with "": split it, so that
	// each part is published under its service.
	groups := map[string][]telemetry.LogRecord{}
	var order []string
	for i := range batch {
		k := batch[i].Service
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], batch[i])
	}
	var errs []error
	for _, k := range order {
		if err := s.process(ctx, k, groups[k], now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// process parses, joins, mines and publishes the records of one service.
func (s *logStage) process(ctx context.Context, svc string, recs []telemetry.LogRecord, now time.Time) error {
	sl := s.service(svc)
	sl.mtx.Lock()
	defer sl.mtx.Unlock()
	out := make([]telemetry.LogRecord, 0, len(recs))
	for i := range recs {
		rec := recs[i] // a copy: recs may be the shared batch
		// Parse decides the format; an empty one makes Push parse, keeping
		// what the receiver set for lines glued from container pieces.
		rec.Format, rec.TemplateID = "", ""
		j := sl.joiner(s, streamKey{svc, rec.Labels.Fingerprint()})
		if j == nil {
			s.parser.Parse(&rec, now)
			out = append(out, rec)
			continue
		}
		out = append(out, j.Push(rec, now)...)
	}
	return s.emit(ctx, sl, svc, out)
}

// joiner returns the Joiner of a stream, or nil when the service is
// frozen or the stage holds logsMaxStreams already. The caller holds
// sl.mtx.
func (sl *serviceLogs) joiner(s *logStage, k streamKey) *logparse.Joiner {
	if sl.frozen {
		return nil
	}
	if j := sl.joiners[k]; j != nil {
		return j
	}
	if s.streams.Load() >= logsMaxStreams {
		return nil
	}
	jo := logparse.DefaultJoinOptions()
	jo.Parser = s.parser
	j, err := logparse.NewJoiner(jo)
	if err != nil {
		// Only invalid options fail, and the defaults are valid.
		s.log.Error("new joiner", "err", err)
		return nil
	}
	sl.joiners[k] = j
	s.streams.Add(1)
	return j
}

// emit templates parsed records and publishes them. The caller holds
// sl.mtx.
func (s *logStage) emit(ctx context.Context, sl *serviceLogs, svc string, out []telemetry.LogRecord) error {
	if len(out) == 0 {
		return nil
	}
	var created int
	for i := range out {
		rec := &out[i]
		msg := rec.Message
		if msg == "" {
			msg = rec.Raw
		}
		if sl.frozen {
			// After the final save: name only templates that were saved.
			if m, ok := sl.miner.Match(msg); ok {
				rec.TemplateID = m.TemplateID
			}
		} else {
			m := sl.miner.Add(msg)
			rec.TemplateID = m.TemplateID
			if m.New {
				created++
			}
		}
	}
	if !sl.frozen {
		// After Add, so that a save that clears the flag has seen the change.
		sl.dirty.Store(true)
	}
	s.countFormats(out)
	s.m.newTemplates.Add(float64(created))
	sl.templates.Set(float64(sl.miner.Len()))

	err := s.bus.Publish(ctx, bus.Message{Topic: bus.TopicParsedLogs, Key: svc, Value: out})
	if errors.Is(err, bus.ErrClosed) {
		// Shutting down: nothing downstream runs any more.
		s.log.Debug("parsed logs dropped: bus closed", "service", svc, "records", len(out))
		return nil
	}
	if err != nil {
		return fmt.Errorf("publish parsed logs of %q: %w", svc, err)
	}
	return nil
}

// countFormats adds a batch to vigil_logs_parsed_total, with one label
// lookup per format rather than per record.
func (s *logStage) countFormats(out []telemetry.LogRecord) {
	format, n := out[0].Format, 0
	for i := range out {
		if out[i].Format != format {
			s.m.parsed.WithLabelValues(format).Add(float64(n))
			format, n = out[i].Format, 0
		}
		n++
	}
	s.m.parsed.WithLabelValues(format).Add(float64(n))
}

// flush delivers the entries of streams that have been quiet for the join
// timeout, and forgets the Joiners that hold nothing.
func (s *logStage) flush(ctx context.Context) {
	now := s.now()
	for _, sl := range s.list() {
		sl.mtx.Lock()
		for k, j := range sl.joiners {
			out := j.Flush(now)
			if !j.Pending() {
				delete(sl.joiners, k)
				s.streams.Add(-1)
			}
			if err := s.emit(ctx, sl, k.service, out); err != nil && ctx.Err() == nil {
				s.log.Warn("flush logs", "service", k.service, "err", err)
			}
		}
		sl.mtx.Unlock()
	}
}

// stop delivers every entry the Joiners hold, freezes the miners and saves
// them. Records handled afterwards (the bus drains its queues after this)
// are parsed and matched but teach the miners nothing.
func (s *logStage) stop(ctx context.Context) error {
	s.mtx.Lock()
	s.frozen = true
	s.mtx.Unlock()
	var errs []error
	now := s.now()
	for _, sl := range s.list() {
		sl.mtx.Lock()
		for k, j := range sl.joiners {
			if err := s.emit(ctx, sl, k.service, j.Drain(now)); err != nil {
				errs = append(errs, err)
			}
			delete(sl.joiners, k)
			s.streams.Add(-1)
		}
		sl.frozen = true
		sl.mtx.Unlock()
	}
	if err := s.save(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// minerName maps a service to the name of its miner.
func minerName(svc string) string {
	switch svc {
	case "":
		return logsUnknownService
	case logsIndexName:
		return logsOtherService
	}
	return svc
}

// service returns the state of a service, creating it if needed.
func (s *logStage) service(svc string) *serviceLogs {
	name := minerName(svc)
	s.mtx.Lock()
	defer s.mtx.Unlock()
	if sl := s.services[name]; sl != nil {
		return sl
	}
	if name != logsOtherService && s.named >= logsMaxServices {
		name = logsOtherService
		if sl := s.services[name]; sl != nil {
			return sl
		}
	}
	return s.addService(name)
}

// addService creates the state of a miner name. The caller holds s.mtx.
func (s *logStage) addService(name string) *serviceLogs {
	m, err := logtemplate.New(s.minerO)
	if err != nil {
		// The options are the validated defaults: a programming error.
		panic(fmt.Sprintf("logs stage: new miner: %v", err))
	}
	sl := &serviceLogs{
		name:      name,
		miner:     m,
		templates: s.m.templates.WithLabelValues(name),
		joiners:   map[streamKey]*logparse.Joiner{},
		frozen:    s.frozen,
	}
	s.services[name] = sl
	if name != logsOtherService {
		s.named++
	}
	return sl
}

// list returns the services, by name.
func (s *logStage) list() []*serviceLogs {
	s.mtx.Lock()
	out := make([]*serviceLogs, 0, len(s.services))
	for _, sl := range s.services {
		out = append(out, sl)
	}
	s.mtx.Unlock()
	slices.SortFunc(out, func(a, b *serviceLogs) int { return strings.Compare(a.name, b.name) })
	return out
}
