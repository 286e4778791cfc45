// Package amapi lets what already speaks to Alertmanager speak to Vigil
// unchanged. It holds two receivers and the alert state they share:
//
//   - Receiver serves the part of the Alertmanager API v2 that senders and
//     amtool use: POST /api/v2/alerts (Prometheus' and vmalert's notifier,
//     amtool alert add; also the legacy POST /api/v1/alerts), GET
//     /api/v2/alerts with Alertmanager's filters (amtool alert query),
//     GET /api/v2/status and /api/v2/receivers, /-/healthy and /-/ready.
//     With Options.Silences it also serves /api/v2/silences (GET with
//     filter, POST to create or update) and /api/v2/silence/{id} (GET,
//     DELETE), which amtool silence add/query/expire use; with
//     Options.Dispatcher, GET /api/v2/alerts/groups, and each alert's
//     receivers and status (silencedBy, inhibitedBy, mutedBy) come from the
//     routing tree, silences, inhibit rules and time intervals.
//   - Webhook accepts Alertmanager's webhook notifications (payload version
//     "4") at POST /api/v1/alertmanager/webhook, for teams that keep their
//     Alertmanager and add Vigil as one more webhook receiver.
//   - State is the in-memory view GET /api/v2/alerts answers from: the
//     latest version of each alert by fingerprint, fed by the Receiver
//     directly and by anything else through State.Update (the app subscribes
//     it to the bus alerts topic, so alerts from the webhook or the
//     simulator show in amtool too).
//
// Alerts are validated and completed as Alertmanager does (missing startsAt
// becomes now, or endsAt when only that is set; missing endsAt becomes now
// plus the resolve timeout; an endsAt at or before now means resolved), and
// their labels are never changed, so fingerprints stay the ones
// Alertmanager and amtool show.
//
// Invariant: an alert in a batch is either delivered to the Sink (and, for
// the API, into the State) or reported back to the sender with its index and
// reason; a full State refuses new alerts with a reason and never evicts a
// firing one to make room.
package amapi

import (
	"unicode/utf8"

	"github.com/vigilops/vigil/telemetry"
)

// ServiceLabels are the labels that name the service an alert is about, in
// the order ServiceName consults them: an explicit service label first, then
// the OpenTelemetry and Kubernetes recommended names, then the looser app
// and container names, and job last because Prometheus jobs often name a
// scrape pool ("kubernetes-pods") rather than a service.
var ServiceLabels = []string{
	"service",
	"service_name",
	"app_kubernetes_io_name",
	"app",
	"k8s_app",
	"container",
	"job",
}

// ServiceName returns the value of the first label in ServiceLabels that ls
// carries, or "" when none is set. Receivers here never add a service label
// to an alert, as that would change its fingerprint; consumers that shard or
// group by service call this instead.
func ServiceName(ls telemetry.Labels) string {
	for _, name := range ServiceLabels {
		if v := ls.Get(name); v != "" {
			return v
		}
	}
	return ""
}

// validLabelName reports whether name is acceptable as a label or
// annotation name. Alertmanager since 0.27 accepts any non-empty UTF-8 name
// (Prometheus 3 emits such names); legacy restricts names to
// [a-zA-Z_][a-zA-Z0-9_]* as Alertmanager 0.26 and earlier did.
func validLabelName(name string, legacy bool) bool {
	if name == "" {
		return false
	}
	if !legacy {
		return utf8.ValidString(name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}
