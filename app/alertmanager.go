package app

import (
	"context"
	"fmt"
	"time"

	"github.com/vigilops/vigil/bus"
	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/ingest/amapi"
	"github.com/vigilops/vigil/telemetry"
)

// alertStateGCInterval is how often resolved alerts leave the Alertmanager
// API's view.
const alertStateGCInterval = time.Minute

// alertmanagerReceivers builds the Alertmanager API v2 and webhook
// receivers. The API's alert state is fed from the bus, so alerts from every
// source (webhook, the demo's simulated Prometheus) show in amtool.
func (a *App) alertmanagerReceivers(sink ingest.Sink, auth ingest.Auth, limits ingest.Limits, cfg config.Config) ([]ingest.HTTPReceiver, error) {
	am := cfg.Ingest.Alertmanager
	if !am.Enabled {
		return nil, nil
	}
	so := amapi.DefaultStateOptions()
	so.MaxAlerts, so.Registerer, so.Logger = am.MaxAlerts, a.reg, a.log.With("component", "amapi")
	st, err := amapi.NewState(so)
	if err != nil {
		return nil, fmt.Errorf("alert state: %w", err)
	}
	o := amapi.DefaultOptions()
	o.Sink, o.State, o.Auth, o.Limits, o.Now = sink, st, auth, limits, a.clock
	o.ReceiverName, o.ResolveTimeout = am.Receiver, time.Duration(am.ResolveTimeout)
	o.Version = amapi.VersionInfo{Version: a.opts.Version}
	if al := a.alerting; al != nil {
		o.Silences, o.Dispatcher = al.silences, al.disp
		o.SilenceAuth = silenceAuth(a.store, cfg.API.Listen, a.clock)
		orig, err := amStatusConfig(al.tree, al.receiverNames, time.Duration(am.ResolveTimeout))
		if err != nil {
			return nil, err
		}
		o.ConfigOriginal = orig
	}
	o.Logger, o.Registerer = a.log.With("component", "amapi"), a.reg
	rcv, err := amapi.New(o)
	if err != nil {
		return nil, fmt.Errorf("alertmanager api: %w", err)
	}
	wo := amapi.DefaultWebhookOptions()
	wo.Sink, wo.Auth, wo.Limits, wo.Now = sink, auth, limits, a.clock
	wo.Logger, wo.Registerer = a.log.With("component", "amwebhook"), a.reg
	wh, err := amapi.NewWebhook(wo)
	if err != nil {
		return nil, fmt.Errorf("alertmanager webhook: %w", err)
	}
	if _, err := a.bus.Subscribe(bus.TopicAlerts, bus.SubscribeOptions{Name: "amapi-state"}, bus.Handle(func(_ context.Context, _ string, as []telemetry.Alert) error {
		return st.Update(as, a.clock())
	})); err != nil {
		return nil, fmt.Errorf("subscribe alert state: %w", err)
	}
	a.alertState = st
	return []ingest.HTTPReceiver{rcv, wh}, nil
}
