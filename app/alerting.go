package app

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/api"
	"github.com/vigilops/vigil/bus"
	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/correlate"
	"github.com/vigilops/vigil/correlate/dispatch"
	"github.com/vigilops/vigil/correlate/inhibit"
	"github.com/vigilops/vigil/correlate/route"
	"github.com/vigilops/vigil/correlate/silence"
	"github.com/vigilops/vigil/ingest/otlp"
	"github.com/vigilops/vigil/notify"
	"github.com/vigilops/vigil/slo"
	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// The alerting stage is Vigil acting as an Alertmanager and beyond: every
// alert on the bus (received, simulated, or raised by the SLO evaluator) is
// routed by the dispatcher through the alertmanager.yml routing tree, muted
// by silences, inhibitions and time intervals, and notified through the
// configured receivers; the same alerts, the detected anomalies and the
// change events are folded into incidents by the correlator, and incident
// changes are notified along the same routing tree.
//
// Stop order: the stage's cleanup is registered before the bus's, so it
// runs after the bus has drained the last alerts into it (the ingest
// receivers stop earlier still), and before the store closes: the
// dispatcher flushes what is due, the correlator ticks, the incident queue
// drains and the receivers flush one last time.

const (
	// alertingGCInterval is how often expired silences and resolved
	// inhibition sources are dropped.
	alertingGCInterval = time.Minute
	// correlateTickInterval paces the correlator's evaluation-time ticks.
	correlateTickInterval = 30 * time.Second
	// deliveryGrace is how long deliveries in flight may take to finish
	// once Vigil stops.
	deliveryGrace = 10 * time.Second
	// incidentQueue bounds incident changes waiting to be notified: the
	// correlator's sink must never block on a slow receiver.
	incidentQueue = 1024
	// defaultReceiver is the receiver of the tree used without
	// alerting.config_file.
	defaultReceiver = "default"
	defaultAMConfig = "route:\n  receiver: " + defaultReceiver + "\nreceivers:\n  - name: " + defaultReceiver + "\n"
)

// alerting holds what the stage built; see the comment above. Fields are
// set in startAlerting and read-only afterwards.
type alerting struct {
	externalURL string
	silences    *silence.Silences
	disp        *dispatch.Dispatcher
	inhibitor   *inhibit.Inhibitor // nil without inhibit_rules
	receivers   map[string]*notify.Receiver
	// tree and receiverNames are the routing tree and every configured
	// receiver, for the Alertmanager API's status.
	tree          *route.Route
	receiverNames []string
	corr          *correlate.Correlator // nil when incidents are disabled
	slo           *slo.Evaluator        // nil without slo.spec
	// changes queues incident changes to notify; chMtx guards sending on
	// it against its closing at stop (chClosed).
	changes  chan correlate.Change
	chMtx    sync.RWMutex
	chClosed bool
	incNotes *prometheus.CounterVec // see newIncidentNotifications

	// newest is the newest signal time (Unix nanoseconds) fed to the
	// correlator: its evaluation time, with the wall clock as a floor.
	newest atomic.Int64
	// topo is the call graph the correlator asks; the demo adds the
	// simulator's edges once it runs.
	topo atomic.Pointer[correlate.Graph]
	// traces is the OTLP receiver's call-edge aggregator once it runs.
	traces atomic.Pointer[otlp.Topology]
	// edgesMtx protects baseEdges: the configured and simulated edges.
	edgesMtx  sync.Mutex
	baseEdges [][2]string

	sloMtx    sync.Mutex // protects sloStatus
	sloStatus []slo.Status

	cancel context.CancelFunc // stops the loops
	// deliverCtx bounds deliveries; it outlives the loops by up to
	// deliveryGrace at stop, so that a delivery in flight completes.
	deliverCtx    context.Context
	deliverCancel context.CancelFunc
	wg            sync.WaitGroup // the stage's loops
	drained       chan struct{}  // closed when the incident notifier has stopped
}

// startAlerting builds the stage. It runs after the bus and the series
// store exist and before the API, whose Alertmanager receiver serves the
// silences and the dispatcher's groups.
func (a *App) startAlerting(ctx context.Context, cfg config.Config) error {
	am, err := loadAMConfig(cfg.Alerting.ConfigFile)
	if err != nil {
		return err
	}
	for _, w := range am.Warnings {
		a.log.Warn("alerting config: ignored", "what", w)
	}
	built, err := dispatch.FromConfig(am, a.reg)
	if err != nil {
		return fmt.Errorf("alerting config: %w", err)
	}
	al := &alerting{externalURL: cfg.Alerting.ExternalURL, changes: make(chan correlate.Change, incidentQueue), drained: make(chan struct{})}
	al.inhibitor = built.Inhibitor
	al.tree = built.Route
	for _, r := range am.Receivers {
		al.receiverNames = append(al.receiverNames, r.Name)
	}

	so := silence.DefaultOptions()
	so.State = a.store
	so.MaxDuration = time.Duration(cfg.Alerting.Silences.MaxDuration)
	so.Retention = time.Duration(cfg.Alerting.Silences.Retention)
	so.MaxSilences = cfg.Alerting.Silences.MaxSilences
	so.Logger, so.Registerer = a.log.With("component", "silence"), a.reg
	if al.silences, err = silence.New(so); err != nil {
		return fmt.Errorf("silences: %w", err)
	}
	if err := al.silences.Load(ctx, a.clock()); err != nil {
		return fmt.Errorf("load silences: %w", err)
	}

	if al.receivers, err = buildReceivers(am, built.Route, a.store, time.Duration(cfg.Notify.LogRetention), a.log.With("component", "notify"), a.reg); err != nil {
		return fmt.Errorf("alerting config: %w", err)
	}

	do := dispatch.DefaultOptions()
	built.Apply(&do)
	do.Silences = al.silences
	do.Notifier = dispatch.NotifierFunc(al.notifyGroup)
	do.NotifyResolvedSilenced = cfg.Alerting.NotifyResolvedSilenced
	do.MaxAlerts = cfg.Alerting.MaxAlerts
	do.LogRetention = time.Duration(cfg.Notify.LogRetention)
	do.Now = a.clock
	do.Logger, do.Registerer = a.log.With("component", "dispatch"), a.reg
	if al.disp, err = dispatch.New(do); err != nil {
		return fmt.Errorf("dispatcher: %w", err)
	}

	if cfg.Incidents.Enabled {
		if err := a.buildCorrelator(ctx, al, cfg); err != nil {
			return err
		}
	}
	if cfg.SLO.Spec != "" {
		if err := a.buildSLO(al, cfg); err != nil {
			return err
		}
	}

	// The loops start first and the stage is published before subscribing,
	// so that stopAlerting can always undo what ran.
	runCtx, cancel := context.WithCancel(context.Background())
	al.cancel = cancel
	al.deliverCtx, al.deliverCancel = context.WithCancel(context.Background())
	al.wg.Add(1)
	go func() {
		defer al.wg.Done()
		_ = al.disp.Run(runCtx)
	}()
	al.every(runCtx, alertingGCInterval, func() {
		now := a.clock()
		if _, err := al.silences.GC(runCtx, now); err != nil && runCtx.Err() == nil {
			a.log.Warn("silences gc", "err", err)
		}
		if al.inhibitor != nil {
			al.inhibitor.GC(now)
		}
	})
	al.every(runCtx, time.Duration(cfg.Notify.FlushInterval), func() { al.flush(al.deliverCtx, a.clock()) })
	go func() {
		defer close(al.drained)
		al.notifyIncidents(a)
	}()
	if al.corr != nil {
		al.every(runCtx, correlateTickInterval, func() { a.tickCorrelator(runCtx, al) })
	}
	if al.slo != nil {
		al.every(runCtx, time.Duration(cfg.SLO.Interval), func() { a.evaluateSLO(runCtx, al) })
	}
	a.alerting = al

	if _, err := a.bus.Subscribe(bus.TopicAlerts, bus.SubscribeOptions{Name: "dispatch"}, bus.Handle(func(_ context.Context, _ string, as []telemetry.Alert) error {
		if built.Inhibitor != nil {
			built.Inhibitor.Put(as...)
		}
		if err := al.disp.Put(as, a.clock()); err != nil {
			a.log.Warn("dispatch alerts", "err", err)
		}
		return nil
	})); err != nil {
		return fmt.Errorf("subscribe dispatcher to %s: %w", bus.TopicAlerts, err)
	}
	if al.corr != nil {
		if err := a.subscribeCorrelator(al); err != nil {
			return err
		}
	}
	a.log.Info("alerting started", "config_file", cfg.Alerting.ConfigFile, "receivers", len(am.Receivers),
		"notifying", len(al.receivers), "incidents", al.corr != nil, "slos", al.slo != nil)
	return nil
}

// stopAlerting is the stage's cleanup; see the stop order above. It is
// registered before the stage is built and does nothing if it was not.
func (a *App) stopAlerting(ctx context.Context) error {
	al := a.alerting
	if al == nil {
		return nil
	}
	// Deliveries in flight finish (and are written to the notification
	// log, so a restart does not repeat them) within deliveryGrace, or
	// until ctx ends, whichever is first.
	stopped := make(chan struct{})
	defer close(stopped)
	defer al.deliverCancel()
	go func() {
		t := time.NewTimer(deliveryGrace)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-stopped:
			return
		}
		al.deliverCancel()
	}()
	al.cancel()
	al.wg.Wait()
	now := a.clock()
	// What is due goes out now rather than being lost with the process.
	al.disp.Tick(al.deliverCtx, now)
	var errs []error
	if al.corr != nil {
		a.tickCorrelator(ctx, al)
	}
	// Ends the incident notifier once it has sent what is queued.
	al.closeChanges()
	select {
	case <-al.drained:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("incident notifications: %w", ctx.Err()))
	}
	al.flush(al.deliverCtx, now)
	return errors.Join(errs...)
}

// queueChange hands an incident change to the notifier without blocking:
// a full queue drops the notification (the incident itself is kept).
func (al *alerting) queueChange(c correlate.Change) bool {
	al.chMtx.RLock()
	defer al.chMtx.RUnlock()
	if al.chClosed {
		return false
	}
	select {
	case al.changes <- c:
		return true
	default:
		return false
	}
}

func (al *alerting) closeChanges() {
	al.chMtx.Lock()
	defer al.chMtx.Unlock()
	if !al.chClosed {
		al.chClosed = true
		close(al.changes)
	}
}

// every runs fn every interval until ctx is done.
func (al *alerting) every(ctx context.Context, interval time.Duration, fn func()) {
	runEvery(ctx, &al.wg, interval, fn)
}

func loadAMConfig(path string) (*config.AlertmanagerConfig, error) {
	if path == "" {
		am, err := config.ParseAlertmanagerConfig([]byte(defaultAMConfig))
		if err != nil {
			return nil, fmt.Errorf("default alerting config: %w", err)
		}
		return am, nil
	}
	am, err := config.LoadAlertmanagerConfig(path)
	if err != nil {
		return nil, fmt.Errorf("alerting.config_file: %w", err)
	}
	return am, nil
}

// notifyGroup is the dispatcher's Notifier: one alert group to its
// receiver. A message held back by the receiver's rate limit is queued for
// a later Flush, which is delivery as far as the dispatcher is concerned.
func (al *alerting) notifyGroup(_ context.Context, n dispatch.Notification) error {
	// Not the dispatcher's context: it ends when its loop stops, and a
	// delivery cut off there would not reach the notification log.
	ctx := al.deliverCtx
	r := al.receivers[n.Receiver]
	if r == nil {
		return nil
	}
	alerts := make([]telemetry.Alert, 0, len(n.Firing)+len(n.Resolved))
	alerts = append(append(alerts, n.Firing...), n.Resolved...)
	m := notify.NewMessage(n.Receiver, n.GroupKey, n.GroupLabels, alerts, al.externalURL, n.At)
	if err := r.Notify(ctx, m); err != nil && !errors.Is(err, notify.ErrDeferred) {
		return fmt.Errorf("notify %s: %w", n.Receiver, err)
	}
	return nil
}

// flush sends what rate limits held back.
func (al *alerting) flush(ctx context.Context, now time.Time) {
	for _, r := range al.receivers {
		// Failed deliveries are logged and counted by notify itself.
		_ = r.Flush(ctx, now)
	}
}

// silenceAuth guards silence mutations (POST /api/v2/silences, DELETE
// /api/v2/silence/{id}), which change Vigil's state beyond telemetry.
//
//   - A bearer token that is a Vigil API token must have the operator role
//     (amtool sends one with --http.config.file).
//   - Without an API token, the mutation is allowed only when the API listens
//     on loopback and the request comes from loopback: the same trust the
//     Alertmanager receiver gives by default (open, because only local
//     processes can reach it), so `amtool silence add` works out of the box
//     on the machine Vigil runs on. Exposed on another address, silences
//     need an operator token.
//
// The Alertmanager receiver's own Auth (ingest.auth) is checked first. When
// it is a bearer token, a client can send only one Authorization header, so
// make ingest.auth.bearer_token an operator API token's secret to use
// amtool for silences remotely.
func silenceAuth(tokens store.TokenStore, listen string, now func() time.Time) func(http.Handler) http.Handler {
	loopbackListen := isLoopbackHost(listen)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if secret, ok := bearerSecret(r); ok {
				hash := sha256.Sum256([]byte(secret))
				tok, err := tokens.TokenByHash(r.Context(), hash[:])
				switch {
				case err == nil && subtle.ConstantTimeCompare(tok.Hash, hash[:]) == 1 &&
					(tok.ExpiresAt.IsZero() || now().Before(tok.ExpiresAt)):
					if tok.Role.Rank() >= store.RoleOperator.Rank() {
						next.ServeHTTP(w, r)
						return
					}
					http.Error(w, fmt.Sprintf("silences need the operator role; the token %q has the %s role", tok.Name, tok.Role), http.StatusForbidden)
					return
				case err != nil && !errors.Is(err, store.ErrNotFound):
					http.Error(w, "token lookup failed", http.StatusInternalServerError)
					return
				}
				// Not an API token: the ingest bearer token, judged below.
			}
			if loopbackListen && isLoopbackHost(r.RemoteAddr) {
				next.ServeHTTP(w, r)
				return
			}
			http.Error(w, "silences need a Vigil API token with the operator role: send Authorization: Bearer <token>", http.StatusUnauthorized)
		})
	}
}

func bearerSecret(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const scheme = "bearer "
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", false
	}
	s := strings.TrimSpace(h[len(scheme):])
	return s, s != ""
}

// isLoopbackHost reports whether a host:port (or bare host) is loopback.
func isLoopbackHost(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// registerAlertingRoutes serves the stage's API: why an alert was or was
// not notified, the incidents and the SLOs.
func (a *App) registerAlertingRoutes(srv *api.Server) {
	al := a.alerting
	if al == nil {
		return
	}
	srv.Handle("GET /api/v1/alerts/{fingerprint}/explain", store.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		raw := r.PathValue("fingerprint")
		fp, err := telemetry.ParseFingerprint(raw)
		if err != nil {
			return api.Errorf(http.StatusBadRequest, "bad_request", "fingerprint %q is not 16 hex digits", truncate(raw, 64))
		}
		ex := al.disp.Explain(fp, a.clock())
		if !ex.Known {
			return api.Errorf(http.StatusNotFound, "not_found", "no alert with fingerprint %s was routed (or it was forgotten)", fp)
		}
		if r.URL.Query().Get("format") == "text" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte(ex.String()))
			return nil
		}
		api.WriteJSON(w, http.StatusOK, explanationView{Explanation: ex, Fingerprint: fp.String()})
		return nil
	})
	if al.corr != nil {
		srv.HandleIncidents(al.corr)
	}
	srv.Handle("GET /api/v1/slos", store.RoleViewer, func(w http.ResponseWriter, _ *http.Request) error {
		if al.slo == nil {
			return api.Errorf(http.StatusNotFound, "not_found", "no SLOs are evaluated (set slo.spec to a vigil rules spec with slos:)")
		}
		al.sloMtx.Lock()
		st := append([]slo.Status{}, al.sloStatus...)
		al.sloMtx.Unlock()
		api.WriteJSON(w, http.StatusOK, map[string]any{"slos": st})
		return nil
	})
}

// explanationView serves the fingerprint as Alertmanager and amtool show
// it (16 hex digits) rather than as a number.
type explanationView struct {
	dispatch.Explanation
	Fingerprint string `json:"fingerprint"`
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
