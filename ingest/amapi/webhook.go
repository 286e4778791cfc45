package amapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// WebhookVersion is the Alertmanager webhook payload version accepted.
const WebhookVersion = "4"

// Webhook receives Alertmanager webhook notifications. Point a receiver at
// it in alertmanager.yml:
//
//	receivers:
//	- name: vigil
//	  webhook_configs:
//	  - url: http://vigil:9380/api/v1/alertmanager/webhook
//	    send_resolved: true
//
// Firing alerts arrive without endsAt (Alertmanager hides an end not yet
// reached) and are delivered so, open-ended; resolved ones carry their
// endsAt. Its handler is safe for concurrent use.
type Webhook struct {
	opts      WebhookOptions
	metrics   *metrics
	truncated prometheus.Counter
}

var _ ingest.HTTPReceiver = (*Webhook)(nil)

// NewWebhook returns a Webhook.
func NewWebhook(opts WebhookOptions) (*Webhook, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer, "amwebhook")
	if err != nil {
		return nil, err
	}
	truncated := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vigil_ingest_amwebhook_truncated_total",
		Help: "Alerts Alertmanager left out of webhook notifications (its max_alerts), as it reported them.",
	})
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(truncated); err != nil {
			return nil, fmt.Errorf("register amwebhook metrics: %w", err)
		}
	}
	return &Webhook{opts: opts, metrics: m, truncated: truncated}, nil
}

// Name implements ingest.Receiver.
func (wh *Webhook) Name() string { return "amwebhook" }

// Start implements ingest.Receiver; the webhook only serves a route.
func (wh *Webhook) Start(context.Context) error { return nil }

// Stop implements ingest.Receiver; nothing is buffered.
func (wh *Webhook) Stop(context.Context) error { return nil }

// Routes implements ingest.HTTPReceiver.
func (wh *Webhook) Routes() []ingest.Route {
	pattern := "POST " + wh.opts.Path
	h := wh.opts.Auth.Wrap(wh.metrics.instrument(pattern, http.HandlerFunc(wh.serve)))
	return []ingest.Route{{Pattern: pattern, Handler: h}}
}

// webhookMessage is Alertmanager's webhook payload (notify/webhook.Message):
// {version, groupKey, truncatedAlerts, status, receiver, groupLabels,
// commonLabels, commonAnnotations, externalURL, alerts}. Only the fields
// decoded here are used: the group fields describe how Alertmanager grouped
// the alerts, which Vigil redoes its own way, and leaving them undecoded
// means a quirk in them cannot cost the alerts.
type webhookMessage[A any] struct {
	Version         string `json:"version"`
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts uint64 `json:"truncatedAlerts"`
	Alerts          []A    `json:"alerts"`
}

// webhookAlert is one alert of a webhook payload (template.Alert).
type webhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     jsonTime          `json:"startsAt"`
	EndsAt       jsonTime          `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

var errNotWebhook = errors.New("body must be an Alertmanager webhook payload (a JSON object)")

func (wh *Webhook) serve(w http.ResponseWriter, req *http.Request) {
	body, err := ingest.ReadBody(req, wh.opts.Limits, false)
	if err != nil {
		ingest.WriteError(w, err, http.StatusBadRequest)
		return
	}
	now := wh.opts.Now()
	var res ingest.Result
	alerts, err := wh.decode(body, now, &res)
	if err != nil {
		ingest.WriteError(w, err, http.StatusBadRequest)
		return
	}
	if len(alerts) > 0 {
		if err := wh.opts.Sink.Alerts(req.Context(), alerts); err != nil {
			writeSinkError(w, err)
			return
		}
	}
	res.Accepted = len(alerts)
	wh.metrics.received.WithLabelValues("alert").Add(float64(len(alerts)))
	ingest.WriteResult(w, res, http.StatusOK)
}

// decode returns the valid alerts of a webhook body; invalid ones are
// rejected into res by their index in the payload's alerts.
func (wh *Webhook) decode(body []byte, now time.Time, res *ingest.Result) ([]telemetry.Alert, error) {
	// Fast path: the whole payload decodes. Otherwise decode the alerts one
	// by one, so that one malformed alert costs only itself.
	var msg webhookMessage[webhookAlert]
	var alerts []telemetry.Alert
	if err := json.Unmarshal(body, &msg); err == nil {
		if err := wh.checkEnvelope(msg.Version, msg.TruncatedAlerts, msg.GroupKey); err != nil {
			return nil, err
		}
		alerts = make([]telemetry.Alert, 0, len(msg.Alerts))
		for i := range msg.Alerts {
			alerts = wh.appendAlert(alerts, &msg.Alerts[i], i, now, res)
		}
		return alerts, nil
	}
	var raw webhookMessage[json.RawMessage]
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", errNotWebhook, err)
	}
	if err := wh.checkEnvelope(raw.Version, raw.TruncatedAlerts, raw.GroupKey); err != nil {
		return nil, err
	}
	alerts = make([]telemetry.Alert, 0, len(raw.Alerts))
	for i := range raw.Alerts {
		var wa webhookAlert
		if err := json.Unmarshal(raw.Alerts[i], &wa); err != nil {
			reason := reasonDecode
			if te := (*timeError)(nil); errors.As(err, &te) {
				reason = reasonTime
			}
			wh.reject(res, i, reason, "decode alert: "+err.Error())
			continue
		}
		alerts = wh.appendAlert(alerts, &wa, i, now, res)
	}
	return alerts, nil
}

func (wh *Webhook) checkEnvelope(version string, truncated uint64, groupKey string) error {
	if version != WebhookVersion {
		return fmt.Errorf("unsupported webhook payload version %q: want %q", truncate(version, 32), WebhookVersion)
	}
	if truncated > 0 {
		// Alertmanager dropped these for max_alerts; we cannot get them
		// back, but make the loss visible.
		wh.truncated.Add(float64(truncated))
		wh.opts.Logger.Warn("alertmanager truncated a webhook notification", "group_key", truncate(groupKey, 256), "truncated_alerts", truncated)
	}
	return nil
}

func (wh *Webhook) appendAlert(alerts []telemetry.Alert, wa *webhookAlert, i int, now time.Time, res *ingest.Result) []telemetry.Alert {
	a, reason, msg := wh.convert(wa, now)
	if reason != "" {
		wh.reject(res, i, reason, msg)
		return alerts
	}
	return append(alerts, a)
}

// convert validates one webhook alert. Its status is authoritative: a
// firing alert keeps only an endsAt still ahead (Alertmanager sends none),
// a resolved one keeps its endsAt, or gets now when it has none or one
// ahead (a sender's clock running fast).
func (wh *Webhook) convert(wa *webhookAlert, now time.Time) (a telemetry.Alert, reason, msg string) {
	a.StartsAt, a.EndsAt = time.Time(wa.StartsAt), time.Time(wa.EndsAt)
	switch wa.Status {
	case "firing":
		if !a.EndsAt.After(now) {
			a.EndsAt = time.Time{}
		}
	case "resolved":
		if a.EndsAt.IsZero() || a.EndsAt.After(now) {
			a.EndsAt = now
		}
	default:
		return a, reasonStatus, fmt.Sprintf("status %q is neither firing nor resolved", truncate(wa.Status, 32))
	}
	if a.StartsAt.IsZero() {
		a.StartsAt = now
		if !a.EndsAt.IsZero() && a.EndsAt.Before(now) {
			a.StartsAt = a.EndsAt
		}
	}
	if !a.EndsAt.IsZero() && a.EndsAt.Before(a.StartsAt) {
		return a, reasonTime, "start time must be before end time"
	}
	var err error
	if a.Labels, err = buildLabels(wa.Labels, wh.opts.LegacyLabelNames); err != nil {
		return a, reasonLabels, "invalid label set: " + err.Error()
	}
	if len(a.Labels) == 0 {
		return a, reasonLabels, "at least one label pair required"
	}
	if a.Annotations, err = buildLabels(wa.Annotations, wh.opts.LegacyLabelNames); err != nil {
		return a, reasonAnnotations, "invalid annotations: " + err.Error()
	}
	a.GeneratorURL = wa.GeneratorURL
	a.UpdatedAt = now
	return a, "", ""
}

func (wh *Webhook) reject(res *ingest.Result, i int, reason, msg string) {
	res.Reject(i, msg)
	wh.metrics.rejected.WithLabelValues(reason).Inc()
}
