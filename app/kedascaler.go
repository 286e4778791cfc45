package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"k8s.io/client-go/dynamic"

	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/forecast"
	"github.com/vigilops/vigil/ingest/promsource"
	"github.com/vigilops/vigil/kedascaler"
	"github.com/vigilops/vigil/metricstore"
	"github.com/vigilops/vigil/telemetry"
)

// The KEDA scaler stage serves KEDA's external-scaler gRPC protocol
// (package kedascaler) on its own listener, beside the HTTP API: KEDA's
// operator and metrics adapter dial it as the scalerAddress of a
// ScaledObject's external trigger (deploy/kubernetes). History comes from
// the series store (selectors) or from Prometheus (queries and
// selectors); forecasts from package forecast, one model per object.
// The gRPC health service answers "" and the scaler's service name, for
// Kubernetes' grpc probes.
//
// Glue (for the lead, once config.Config has a KEDAScaler field; see
// metricdetect.go for the config lines):
//
//	App:   kedaScaler *kedaScalerStage
//	Start: after startMetricStore (it reads a.metrics) and after the demo
//	       clock exists if the demo clock is to be used; before the
//	       "background loops" cleanup is registered is fine, e.g. right
//	       after startAPI:
//
//		if cfg.KEDAScaler.Enabled() {
//			ks, err := newKEDAScalerStage(kedaScalerDeps{
//				Config: cfg.KEDAScaler, Metrics: a.metrics,
//				Now: a.clock, // the app clock, so the demo's simulated series are "now"
//				Logger: a.log.With("component", "kedascaler"), Registerer: a.reg,
//			})
//			if err != nil {
//				return err
//			}
//			if err := ks.start(); err != nil {
//				return err
//			}
//			a.kedaScaler = ks
//			a.onStop("kedascaler", ks.Stop)
//		}
//
//	Stop: the cleanup above; registered after the metric store exists,
//	so it runs before anything the scaler reads is torn down.

// kedaScalerStopGrace bounds the graceful stop: StreamIsActive streams last
// as long as KEDA keeps them open, so waiting for them without a bound
// would hold shutdown forever.
const kedaScalerStopGrace = 5 * time.Second

// kedaScalerDeps is what the stage is built from.
type kedaScalerDeps struct {
	Config config.KEDAScaler
	// Metrics is the series store, for history "store".
	Metrics *metricstore.Store
	// Now is the evaluation clock.
	Now func() time.Time
	// KubeClient, when set, is the cluster the replica counts are read
	// from (tests); otherwise kedascaler.kubeconfig or the in-cluster
	// service account, per kedascaler.replicas.
	KubeClient dynamic.Interface
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// kedaScalerStage is the gRPC server of the scaler. start and Stop are
// called once each, from the app's lifecycle; Addr is safe after start.
type kedaScalerStage struct {
	cfg    config.KEDAScaler
	log    *slog.Logger
	scaler *kedascaler.Scaler
	gs     *grpc.Server
	health *health.Server

	lis    net.Listener  // set by start
	served chan struct{} // closed when Serve returns
}

// newKEDAScalerStage builds the scaler and its gRPC server; start listens.
func newKEDAScalerStage(d kedaScalerDeps) (*kedaScalerStage, error) {
	c := d.Config
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Registerer == nil {
		d.Registerer = prometheus.NewRegistry()
	}
	var hist kedascaler.History
	switch c.History {
	case config.KEDAHistoryStore:
		if d.Metrics == nil {
			return nil, errors.New("kedascaler: history store needs the series store")
		}
		hist = storeOnlySelectors(kedascaler.StoreHistory{Store: d.Metrics})
	case config.KEDAHistoryPrometheus:
		if c.PrometheusURL == "" {
			return nil, errors.New("kedascaler: history prometheus needs kedascaler.prometheus_url")
		}
		hist = kedascaler.PromHistory{Client: &promsource.Client{URL: c.PrometheusURL}}
	default:
		return nil, fmt.Errorf("kedascaler: history %q is not one of store, prometheus", c.History)
	}
	fo := forecast.DefaultOptions()
	fo.RefitEvery = time.Duration(c.RefitEvery)
	fo.Registerer = d.Registerer
	fo.Logger = d.Logger
	o := kedascaler.DefaultOptions()
	o.History, o.Forecaster, o.Now = hist, kedascaler.NewModelForecaster(fo), d.Now
	o.StreamInterval = time.Duration(c.StreamInterval)
	o.MinEvalInterval = time.Duration(c.MinEvalInterval)
	o.MaxObjects = c.MaxObjects
	o.Logger, o.Registerer = d.Logger, d.Registerer
	if c.Replicas != config.KEDAReplicasOff {
		client := d.KubeClient
		if client == nil {
			var err error
			if client, err = kubeDynamic("kedascaler", c.Kubeconfig); err != nil {
				return nil, err
			}
		}
		switch {
		case client != nil:
			o.Replicas = newKubeReplicas(client, d.Logger, c.MaxObjects)
		case c.Replicas == config.KEDAReplicasKube:
			return nil, errors.New("kedascaler: replicas kube needs kedascaler.kubeconfig or an in-cluster service account")
		}
	}
	sc, err := kedascaler.New(o)
	if err != nil {
		return nil, fmt.Errorf("kedascaler: %w", err)
	}
	gs := grpc.NewServer()
	sc.Register(gs)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	return &kedaScalerStage{cfg: c, log: d.Logger, scaler: sc, gs: gs, health: hs, served: make(chan struct{})}, nil
}

// start listens on the configured address and serves until Stop.
func (s *kedaScalerStage) start() error {
	lis, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("kedascaler: listen: %w", err)
	}
	s.lis = lis
	go func() {
		defer close(s.served)
		if err := s.gs.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.log.Error("kedascaler: serve", "err", err)
		}
	}()
	s.log.Info("kedascaler listening", "addr", lis.Addr().String(), "history", s.cfg.History)
	return nil
}

// Addr returns the listening address once started.
func (s *kedaScalerStage) Addr() net.Addr {
	if s.lis == nil {
		return nil
	}
	return s.lis.Addr()
}

// Stop marks the service not serving, lets unary calls in flight finish
// for a short grace (bounded by ctx), then closes every connection,
// open StreamIsActive streams included.
func (s *kedaScalerStage) Stop(ctx context.Context) error {
	s.health.Shutdown()
	graceful := make(chan struct{})
	go func() {
		defer close(graceful)
		s.gs.GracefulStop()
	}()
	t := time.NewTimer(kedaScalerStopGrace)
	defer t.Stop()
	select {
	case <-graceful:
	case <-t.C:
		s.gs.Stop()
	case <-ctx.Done():
		s.gs.Stop()
	}
	<-graceful
	if s.lis != nil {
		<-s.served
	}
	return nil
}

// storeOnlySelectors makes a query the series store cannot answer (PromQL)
// a metadata error, so KEDA is told InvalidArgument, with the fix, rather
// than Unavailable, which would look like an outage and trigger fallback.
func storeOnlySelectors(h kedascaler.History) kedascaler.History {
	return kedascaler.HistoryFunc(func(ctx context.Context, q kedascaler.Query, from, to time.Time, step time.Duration) ([]telemetry.Point, error) {
		pts, err := h.Range(ctx, q, from, to, step)
		if errors.Is(err, kedascaler.ErrWrongQueryKind) {
			return nil, fmt.Errorf("%w: %w (kedascaler.history is store: use %q, or history prometheus for PromQL)",
				kedascaler.ErrInvalidMetadata, err, kedascaler.KeySelector)
		}
		return pts, err
	})
}
