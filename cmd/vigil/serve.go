package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/app"
	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/store"
)

func newServeCmd() *cobra.Command {
	var (
		cfgFile, dataDir, listen, logLevel string
		demo                               bool
	)
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run Vigil: receive telemetry, serve the API",
		Long: `Run Vigil as a long-lived process.

Settings come from, in increasing precedence: built-in defaults, the file
given with --config, environment variables (VIGIL_API_LISTEN for api.listen,
and so on for every key), and these flags.

With --demo, a simulated microservice shop with injected faults drives the
pipeline in accelerated time, and reads need no token, so you can look
around with curl:

  vigil serve --demo
  curl -s localhost:9380/healthz
  curl -s localhost:9380/api/v1/demo
  curl -s localhost:9380/api/v1/incidents   # or: vigil incidents list

Alerts are routed and notified as by an Alertmanager (alerting.config_file
names an alertmanager.yml; amtool works against --listen), and alerts, log
anomalies and change events fold into incidents.

On first start Vigil writes an admin API token to DATA_DIR/admin.token.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgFile, os.Environ())
			if err != nil {
				return err
			}
			fl := cmd.Flags()
			if fl.Changed("data-dir") {
				cfg.DataDir = dataDir
			}
			if fl.Changed("listen") {
				cfg.API.Listen = listen
			}
			if fl.Changed("log-level") {
				cfg.Log.Level = logLevel
			}
			if demo {
				cfg.Demo.Enabled = true
				// The demo is for looking around: reads without a token.
				// Mutations still need one.
				if cfg.API.AnonymousRole == "" {
					cfg.API.AnonymousRole = store.RoleViewer
				}
			}
			if ps := cfg.Validate(); len(ps) > 0 {
				errs := make(config.Errors, len(ps))
				for i, p := range ps {
					errs[i] = &config.FieldError{Source: "flags", Key: p.Key, Msg: p.Msg}
				}
				return errs
			}
			logger, err := newLogger(cmd.ErrOrStderr(), cfg.Log)
			if err != nil {
				return err
			}
			a, err := app.New(app.Options{Config: cfg, Logger: logger, Version: buildVersion()})
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return a.Run(ctx)
		},
	}
	fl := c.Flags()
	fl.StringVar(&cfgFile, "config", "", "YAML configuration file (default: built-in defaults)")
	fl.StringVar(&dataDir, "data-dir", "./vigil-data", "directory for the embedded store and state")
	fl.StringVar(&listen, "listen", "127.0.0.1:9380", "API listen address (host:port)")
	fl.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.BoolVar(&demo, "demo", false, "drive Vigil with the built-in simulated shop")
	return c
}

func newLogger(w io.Writer, c config.LogConfig) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	ho := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return slog.New(slog.NewTextHandler(w, ho)), nil
}
