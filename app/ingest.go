package app

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/vigilops/vigil/api"
	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/ingest/file"
	"github.com/vigilops/vigil/ingest/loki"
	"github.com/vigilops/vigil/ingest/ndjson"
	"github.com/vigilops/vigil/ingest/otlp"
	"github.com/vigilops/vigil/ingest/syslog"
	"github.com/vigilops/vigil/store"
)

// receivers holds what the ingest wiring built that other parts read.
type receivers struct {
	otlp *otlp.Receiver // nil when disabled
}

// startIngest builds the enabled receivers: HTTP ones are mounted on the API
// server (before it starts listening), stream ones are started. HTTP
// receivers publish without blocking, so a full pipeline answers 429;
// stream receivers block, so a full pipeline stops them reading.
func (a *App) startIngest(ctx context.Context, srv *api.Server, cfg config.Config) error {
	in := cfg.Ingest
	auth, err := ingestAuth(in.Auth)
	if err != nil {
		return err
	}
	limits := ingest.Limits{
		MaxBodyBytes:    int64(in.MaxBodyBytes),
		MaxDecodedBytes: int64(in.MaxDecodedBytes),
		MaxLineBytes:    int(in.MaxLineBytes),
	}
	httpSink := ingest.NewBusSink(a.bus, false)
	streamSink := ingest.NewBusSink(a.bus, true)
	var httpRecv []ingest.HTTPReceiver

	if in.Loki.Enabled {
		o := loki.DefaultOptions()
		o.Sink, o.Auth, o.Limits, o.Logger, o.Registerer = httpSink, auth, limits, a.log.With("component", "loki"), a.reg
		r, err := loki.New(o)
		if err != nil {
			return fmt.Errorf("loki receiver: %w", err)
		}
		httpRecv = append(httpRecv, r)
	}
	if in.NDJSON.Enabled {
		o := ndjson.DefaultOptions()
		o.Sink, o.Auth, o.Limits, o.Logger, o.Registerer, o.Now = httpSink, auth, limits, a.log.With("component", "ndjson"), a.reg, a.clock
		r, err := ndjson.New(o)
		if err != nil {
			return fmt.Errorf("ndjson receiver: %w", err)
		}
		httpRecv = append(httpRecv, r)
	}
	if in.OTLP.Enabled {
		o := otlp.DefaultOptions()
		o.Sink, o.Auth, o.Limits, o.Logger, o.Registerer, o.Now = httpSink, auth, limits, a.log.With("component", "otlp"), a.reg, a.clock
		o.Topology.Registerer = a.reg
		r, err := otlp.New(o)
		if err != nil {
			return fmt.Errorf("otlp receiver: %w", err)
		}
		a.recv.otlp = r
		if al := a.alerting; al != nil {
			al.traces.Store(r.Topology())
		}
		httpRecv = append(httpRecv, r)
	}
	extra, err := a.moreHTTPReceivers(httpSink, auth, limits, cfg)
	if err != nil {
		return err
	}
	httpRecv = append(httpRecv, extra...)
	for _, r := range httpRecv {
		for _, rt := range r.Routes() {
			srv.Mount(rt.Pattern, rt.Handler)
		}
		if err := a.startReceiver(ctx, r); err != nil {
			return err
		}
	}

	if in.Syslog.UDPListen != "" || in.Syslog.TCPListen != "" {
		o := syslog.DefaultOptions()
		o.UDPListen, o.TCPListen = in.Syslog.UDPListen, in.Syslog.TCPListen
		o.MaxMessageBytes = int(in.MaxLineBytes)
		o.Sink, o.Logger, o.Registerer, o.Now = streamSink, a.log.With("component", "syslog"), a.reg, a.clock
		r, err := syslog.New(o)
		if err != nil {
			return fmt.Errorf("syslog receiver: %w", err)
		}
		if err := a.startReceiver(ctx, r); err != nil {
			return err
		}
	}
	for i, f := range in.Files {
		o := file.DefaultOptions()
		o.Name = "file-" + strconv.Itoa(i)
		o.Include, o.Exclude, o.Service, o.Labels = f.Include, f.Exclude, f.Service, f.Labels
		if f.StartAt != "" {
			o.StartAt = f.StartAt
		}
		o.MaxLineBytes = int(in.MaxLineBytes)
		// Each tailer keeps its positions under its own key: sharing one
		// would let them overwrite each other's offsets.
		o.Offsets = file.NewStateOffsetStore(a.store, file.DefaultOffsetsKey+"/"+o.Name)
		o.Sink, o.Logger, o.Registerer, o.Now = streamSink, a.log.With("component", o.Name), a.reg, a.clock
		r, err := file.New(o)
		if err != nil {
			return fmt.Errorf("file receiver %d: %w", i, err)
		}
		if err := a.startReceiver(ctx, r); err != nil {
			return err
		}
	}
	a.registerIngestRoutes(srv)
	a.registerSeriesRoutes(srv)
	return nil
}

func (a *App) startReceiver(ctx context.Context, r ingest.Receiver) error {
	if err := r.Start(ctx); err != nil {
		return fmt.Errorf("start %s receiver: %w", r.Name(), err)
	}
	a.onStop("receiver "+r.Name(), r.Stop)
	return nil
}

func ingestAuth(c config.IngestAuth) (ingest.Auth, error) {
	bearer, err := config.Secret(c.BearerToken, c.BearerTokenFile)
	if err != nil {
		return ingest.Auth{}, fmt.Errorf("ingest.auth.bearer_token_file: %w", err)
	}
	pass, err := config.Secret(c.BasicPassword, c.BasicPasswordFile)
	if err != nil {
		return ingest.Auth{}, fmt.Errorf("ingest.auth.basic_password_file: %w", err)
	}
	return ingest.Auth{BearerToken: bearer, BasicUsername: c.BasicUsername, BasicPassword: pass}, nil
}

// registerIngestRoutes serves what receivers learned that is not telemetry
// itself, such as the call edges reduced from traces.
func (a *App) registerIngestRoutes(srv *api.Server) {
	srv.Handle("GET /api/v1/topology/edges", store.RoleViewer, func(w http.ResponseWriter, _ *http.Request) error {
		if a.recv.otlp == nil {
			return api.Errorf(http.StatusNotFound, "not_found", "the OTLP receiver is disabled (ingest.otlp.enabled)")
		}
		api.WriteJSON(w, http.StatusOK, map[string]any{"edges": a.recv.otlp.Topology().Snapshot()})
		return nil
	})
}
