package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/vigilops/vigil/api"

	"github.com/vigilops/vigil/bus"
	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/ingest/promsource"
	"github.com/vigilops/vigil/ingest/promwrite"
	"github.com/vigilops/vigil/metricstore"
	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// metricsPruneInterval is how often the series store folds and drops old
// points.
const metricsPruneInterval = 5 * time.Minute

// moreHTTPReceivers builds the Alertmanager and remote-write receivers.
func (a *App) moreHTTPReceivers(sink ingest.Sink, auth ingest.Auth, limits ingest.Limits, cfg config.Config) ([]ingest.HTTPReceiver, error) {
	var out []ingest.HTTPReceiver
	if cfg.Ingest.RemoteWrite.Enabled {
		o := promwrite.DefaultOptions()
		o.Sink, o.Auth, o.Limits, o.Now = sink, auth, limits, a.clock
		o.Logger, o.Registerer = a.log.With("component", "promwrite"), a.reg
		r, err := promwrite.New(o)
		if err != nil {
			return nil, fmt.Errorf("remote write receiver: %w", err)
		}
		out = append(out, r)
	}
	am, err := a.alertmanagerReceivers(sink, auth, limits, cfg)
	if err != nil {
		return nil, err
	}
	return append(out, am...), nil
}

// startMetricStore keeps every sample that reaches the pipeline (remote
// write, OTLP, Prometheus pulls, the demo) in the in-memory series store.
// It subscribes before any receiver starts, so it sees every sample.
func (a *App) startMetricStore(cfg config.Config) error {
	o := metricstore.DefaultOptions()
	o.MemoryLimit = int64(cfg.Metrics.MemoryLimit)
	o.RawWindow = time.Duration(cfg.Metrics.RawRetention)
	o.Retention = time.Duration(cfg.Metrics.Retention)
	o.OutOfOrderWindow = o.Retention
	o.Logger, o.Registerer = a.log.With("component", "metricstore"), a.reg
	st, err := metricstore.New(o)
	if err != nil {
		return fmt.Errorf("metric store: %w", err)
	}
	a.metrics = st
	if _, err := a.bus.Subscribe(bus.TopicSamples, bus.SubscribeOptions{Name: "metricstore", Workers: 2}, bus.Handle(st.Handle)); err != nil {
		return fmt.Errorf("subscribe metric store: %w", err)
	}
	return nil
}

// startSources starts the pulls from Prometheus servers.
func (a *App) startSources(ctx context.Context, cfg config.Config) error {
	sink := ingest.NewBusSink(a.bus, true)
	for _, p := range cfg.Sources.Prometheus {
		bearer, err := config.Secret(p.BearerToken, p.BearerTokenFile)
		if err != nil {
			return fmt.Errorf("sources.prometheus %s: %w", p.Name, err)
		}
		pass, err := config.Secret(p.BasicPassword, p.BasicPasswordFile)
		if err != nil {
			return fmt.Errorf("sources.prometheus %s: %w", p.Name, err)
		}
		o := promsource.DefaultOptions()
		o.URL, o.Queries = p.URL, p.Queries
		o.Step, o.Backfill, o.Interval, o.Timeout = time.Duration(p.Step), time.Duration(p.Backfill), time.Duration(p.Interval), time.Duration(p.Timeout)
		o.BearerToken = bearer
		o.BasicAuth = promsource.BasicAuth{Username: p.BasicUsername, Password: pass}
		// The wall clock, not the app's: it places the window pulled from
		// a real Prometheus, whose samples are in real time even in the demo.
		o.Sink, o.Now = sink, a.now
		o.Logger, o.Registerer = a.log.With("component", "promsource", "source", p.Name), a.reg
		src, err := promsource.New(o)
		if err != nil {
			return fmt.Errorf("sources.prometheus %s: %w", p.Name, err)
		}
		if err := a.startReceiver(ctx, src); err != nil {
			return err
		}
	}
	return nil
}

// seriesLimit bounds one answer of GET /api/v1/series.
const seriesLimit = 10_000

// registerSeriesRoutes serves what the series store holds.
func (a *App) registerSeriesRoutes(srv *api.Server) {
	srv.Handle("GET /api/v1/series", store.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		match := r.URL.Query().Get("match")
		var ms []*labels.Matcher
		if match != "" {
			var err error
			if ms, err = labels.ParseMatchers(match); err != nil {
				return api.Errorf(http.StatusBadRequest, "bad_request", "match %q: %v", match, err)
			}
		}
		refs := a.metrics.Series(ms...)
		type seriesView struct {
			Labels telemetry.Labels `json:"labels"`
			Latest *telemetry.Point `json:"latest,omitempty"`
		}
		out := make([]seriesView, 0, min(len(refs), seriesLimit))
		for _, ref := range refs[:min(len(refs), seriesLimit)] {
			v := seriesView{Labels: ref.Labels}
			if p, ok := a.metrics.Latest(ref); ok {
				v.Latest = &p
			}
			out = append(out, v)
		}
		api.WriteJSON(w, http.StatusOK, map[string]any{"series": out, "total": len(refs), "truncated": len(refs) > seriesLimit})
		return nil
	})
}
