package amapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/common/model"

	"github.com/vigilops/vigil/ingest"
)

// Receiver serves the Alertmanager API v2 subset described in the package
// comment. Its handlers are safe for concurrent use.
type Receiver struct {
	opts    Options
	state   *State
	metrics *metrics
	// status and receivers are the fixed bodies of GET /api/v2/status and
	// /api/v2/receivers, built once by New.
	status    []byte
	receivers []byte
}

var _ ingest.HTTPReceiver = (*Receiver)(nil)

// New returns a Receiver.
func New(opts Options) (*Receiver, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	st := opts.State
	if st == nil {
		so := DefaultStateOptions()
		so.Registerer, so.Logger = opts.Registerer, opts.Logger
		var err error
		if st, err = NewState(so); err != nil {
			return nil, fmt.Errorf("new alert state: %w", err)
		}
	}
	m, err := newMetrics(opts.Registerer, "amapi")
	if err != nil {
		return nil, err
	}
	r := &Receiver{opts: opts, state: st, metrics: m}
	if r.status, err = json.Marshal(r.statusBody(opts.Now())); err != nil {
		return nil, fmt.Errorf("encode status: %w", err)
	}
	name := opts.ReceiverName
	refs := []receiverRef{{Name: name}}
	if opts.Dispatcher != nil {
		refs = refs[:0]
		for _, n := range opts.Dispatcher.Receivers() {
			refs = append(refs, receiverRef{Name: n})
		}
	}
	if r.receivers, err = json.Marshal(refs); err != nil {
		return nil, fmt.Errorf("encode receivers: %w", err)
	}
	return r, nil
}

// Name implements ingest.Receiver.
func (r *Receiver) Name() string { return "amapi" }

// Start implements ingest.Receiver; the receiver only serves routes.
func (r *Receiver) Start(context.Context) error { return nil }

// Stop implements ingest.Receiver. Every accepted alert was handed to the
// Sink before its request was answered, so there is nothing to flush.
func (r *Receiver) Stop(context.Context) error { return nil }

// State returns the alert state the receiver writes to and reads from. The
// app subscribes State.Update to the bus alerts topic and calls State.GC on
// a ticker.
func (r *Receiver) State() *State { return r.state }

// Routes implements ingest.HTTPReceiver. GET patterns also answer HEAD.
// The silence routes are present only with Options.Silences, the groups
// route only with Options.Dispatcher.
func (r *Receiver) Routes() []ingest.Route {
	routes := []routeDef{
		{"POST /api/v2/alerts", r.postAlertsV2, false},
		{"POST /api/v1/alerts", r.postAlertsV1, false},
		{"GET /api/v2/alerts", r.getAlerts, false},
		{"GET /api/v2/status", r.serveFixed(r.status), false},
		{"GET /api/v2/receivers", r.serveFixed(r.receivers), false},
		{"GET /-/healthy", serveOK, true},
		{"GET /-/ready", serveOK, true},
	}
	if r.opts.Silences != nil {
		routes = append(routes, []routeDef{
			{"GET /api/v2/silences", r.getSilences, false},
			{"POST /api/v2/silences", r.postSilence, false},
			{"GET /api/v2/silence/{id}", r.getSilence, false},
			{"DELETE /api/v2/silence/{id}", r.deleteSilence, false},
		}...)
	}
	if r.opts.Dispatcher != nil {
		routes = append(routes, routeDef{"GET /api/v2/alerts/groups", r.getGroups, false})
	}
	out := make([]ingest.Route, 0, len(routes))
	for _, rt := range routes {
		var h http.Handler = rt.h
		if r.opts.SilenceAuth != nil && (rt.pattern == "POST /api/v2/silences" || rt.pattern == "DELETE /api/v2/silence/{id}") {
			h = r.opts.SilenceAuth(h)
		}
		h = r.metrics.instrument(rt.pattern, h)
		if !rt.open {
			h = r.opts.Auth.Wrap(h)
		}
		out = append(out, ingest.Route{Pattern: rt.pattern, Handler: h})
	}
	return out
}

type routeDef struct {
	pattern string
	h       http.HandlerFunc
	open    bool
}

// serveOK answers health and readiness as Alertmanager does. The receiver
// has no dependency to wait for: it is ready as soon as it is routed.
func serveOK(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("OK"))
}

func (r *Receiver) serveFixed(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	}
}

// writeAMError answers a failed GET as Alertmanager does: the message as a
// JSON string, which is what go-swagger clients such as amtool decode.
func writeAMError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// receiverRef is models.ReceiverReference and models.Receiver.
type receiverRef struct {
	Name string `json:"name"`
}

// statusBody is models.AlertmanagerStatus.
type statusBody struct {
	Cluster struct {
		Status string     `json:"status"`
		Peers  []struct{} `json:"peers"`
	} `json:"cluster"`
	VersionInfo VersionInfo `json:"versionInfo"`
	Config      struct {
		Original string `json:"original"`
	} `json:"config"`
	// Uptime is, as in Alertmanager, the time the process started.
	Uptime string `json:"uptime"`
}

func (r *Receiver) statusBody(started time.Time) statusBody {
	var s statusBody
	s.Cluster.Status = "disabled"
	s.Cluster.Peers = []struct{}{}
	s.VersionInfo = r.opts.Version
	s.Config.Original = r.opts.ConfigOriginal
	s.Uptime = formatTime(started)
	return s
}

// amTimeLayout is how Alertmanager's API renders times (strfmt.DateTime).
const amTimeLayout = "2006-01-02T15:04:05.000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(amTimeLayout) }

// promDuration renders d as Prometheus configuration does ("5m", "1h30m").
func promDuration(d time.Duration) string { return model.Duration(d).String() }
