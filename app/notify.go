package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/correlate/route"
	"github.com/vigilops/vigil/notify"
	"github.com/vigilops/vigil/notify/email"
	"github.com/vigilops/vigil/notify/pagerduty"
	"github.com/vigilops/vigil/notify/slack"
	"github.com/vigilops/vigil/notify/webhook"
	"github.com/vigilops/vigil/store"
)

// notifyRepeatFraction sets notify's own repeat interval below the
// smallest repeat_interval of the routing tree: the dispatcher decides when
// a repeat is due, and notify must not swallow it as a duplicate; the log
// still stops a restart from re-sending identical content at once.
const notifyRepeatFraction = 0.9

// buildReceivers makes one notify.Receiver per configured receiver that has
// integrations, all sharing one notification log persisted in st. Secrets
// given as *_file are read here, once, at start.
func buildReceivers(am *config.AlertmanagerConfig, tree *route.Route, st store.StateStore, retention time.Duration, log *slog.Logger, reg prometheus.Registerer) (map[string]*notify.Receiver, error) {
	lo := notify.DefaultLogOptions()
	lo.Store, lo.Retention, lo.Logger = st, retention, log
	nlog, err := notify.NewLog(lo)
	if err != nil {
		return nil, fmt.Errorf("notification log: %w", err)
	}
	repeat := time.Duration(0)
	tree.Walk(func(r *route.Route) {
		if r.RepeatInterval > 0 && (repeat == 0 || r.RepeatInterval < repeat) {
			repeat = r.RepeatInterval
		}
	})
	out := map[string]*notify.Receiver{}
	for i := range am.Receivers {
		rc := &am.Receivers[i]
		ins, err := integrations(rc, am.Global, log)
		if err != nil {
			return nil, fmt.Errorf("receiver %q: %w", rc.Name, err)
		}
		if len(ins) == 0 {
			// A receiver without integrations (Alertmanager's "null"
			// receiver) swallows what is routed to it.
			continue
		}
		ro := notify.DefaultReceiverOptions()
		ro.Log = nlog
		ro.RepeatInterval = time.Duration(float64(repeat) * notifyRepeatFraction)
		// send_resolved is per integration (see sendResolved below).
		ro.SendResolved = true
		ro.Logger, ro.Registerer = log, reg
		r, err := notify.NewReceiver(rc.Name, ins, ro)
		if err != nil {
			return nil, err
		}
		out[rc.Name] = r
	}
	return out, nil
}

// integrations maps one configured receiver's *_configs onto notifiers,
// with the global settings as fallbacks.
func integrations(rc *config.Receiver, g config.AMGlobal, log *slog.Logger) ([]notify.Notifier, error) {
	var out []notify.Notifier
	for i, c := range rc.SlackConfigs {
		o := slack.DefaultOptions()
		u, err := secretOr(c.APIURL, c.APIURLFile, g.SlackAPIURL, g.SlackAPIURLFile)
		if err != nil {
			return nil, fmt.Errorf("slack_configs[%d].api_url_file: %w", i, err)
		}
		o.WebhookURL, o.Channel, o.Username, o.Title, o.Text = u, c.Channel, c.Username, c.Title, c.Text
		o.Logger = log
		n, err := slack.New(o)
		if err != nil {
			return nil, fmt.Errorf("slack_configs[%d]: %w", i, err)
		}
		out = append(out, sendResolved(n, c.SendResolved.Or(false)))
	}
	for i, c := range rc.PagerdutyConfigs {
		o := pagerduty.DefaultOptions()
		// Events API v1 service keys are accepted by the v2 enqueue
		// endpoint as routing keys for v1 integrations.
		o.RoutingKey = c.RoutingKey
		if o.RoutingKey == "" {
			o.RoutingKey = c.ServiceKey
		}
		switch {
		case c.URL != "":
			o.URL = c.URL
		case g.PagerdutyURL != "":
			o.URL = g.PagerdutyURL
		}
		if c.Severity != "" {
			o.Severity = c.Severity
		}
		o.Logger = log
		n, err := pagerduty.New(o)
		if err != nil {
			return nil, fmt.Errorf("pagerduty_configs[%d]: %w", i, err)
		}
		out = append(out, sendResolved(n, c.SendResolved.Or(true)))
	}
	for i, c := range rc.WebhookConfigs {
		o := webhook.DefaultOptions()
		o.URL, o.MaxAlerts, o.Logger = c.URL, c.MaxAlerts, log
		n, err := webhook.New(o)
		if err != nil {
			return nil, fmt.Errorf("webhook_configs[%d]: %w", i, err)
		}
		out = append(out, sendResolved(n, c.SendResolved.Or(true)))
	}
	for i, c := range rc.EmailConfigs {
		o := email.DefaultOptions()
		for _, to := range strings.Split(c.To, ",") {
			if to = strings.TrimSpace(to); to != "" {
				o.To = append(o.To, to)
			}
		}
		o.From = firstNonEmpty(c.From, g.SMTPFrom)
		o.Smarthost = firstNonEmpty(c.Smarthost, g.SMTPSmarthost)
		o.AuthUsername = firstNonEmpty(c.AuthUsername, g.SMTPAuthUsername)
		pw, err := secretOr(c.AuthPassword, c.AuthPasswordFile, g.SMTPAuthPassword, g.SMTPAuthPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("email_configs[%d].auth_password_file: %w", i, err)
		}
		o.AuthPassword = pw
		o.RequireTLS = c.RequireTLS.Or(g.SMTPRequireTLS.Or(true))
		o.Logger = log
		n, err := email.New(o)
		if err != nil {
			return nil, fmt.Errorf("email_configs[%d]: %w", i, err)
		}
		out = append(out, sendResolved(n, c.SendResolved.Or(false)))
	}
	return out, nil
}

// secretOr returns the integration's own secret (value or file), else the
// global one.
func secretOr(v, file, gv, gfile string) (string, error) {
	if v != "" || file != "" {
		return config.Secret(v, file)
	}
	return config.Secret(gv, gfile)
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// resolvedFilter applies one integration's send_resolved: without it,
// resolved alerts are dropped from alert-group messages and a message left
// with no firing alert is skipped, as Alertmanager does. Incident messages
// pass unchanged: their resolution is the news.
type resolvedFilter struct {
	next notify.Notifier
	name string
}

func sendResolved(n notify.Notifier, want bool) notify.Notifier {
	if want {
		return n
	}
	name := "integration"
	if in, ok := n.(notify.Integrator); ok {
		name = in.Integration()
	}
	return &resolvedFilter{next: n, name: name}
}

// Integration keeps the wrapped integration's name, so that metrics and
// notification log keys are those of the integration itself.
func (f *resolvedFilter) Integration() string { return f.name }

// Notify implements notify.Notifier.
func (f *resolvedFilter) Notify(ctx context.Context, m *notify.Message) error {
	if m.Incident != nil {
		return f.next.Notify(ctx, m)
	}
	firing := m.Firing()
	if len(firing) == 0 {
		return nil
	}
	if len(firing) == len(m.Alerts) {
		return f.next.Notify(ctx, m)
	}
	cp := notify.NewMessage(m.Receiver, m.GroupKey, m.GroupLabels, firing, m.ExternalURL, m.Now)
	return f.next.Notify(ctx, cp)
}
