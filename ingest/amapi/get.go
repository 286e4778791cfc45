package amapi

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/alertmanager/matcher/parse"
	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/vigilops/vigil/telemetry"
)

// gettableAlert is models.GettableAlert as it travels.
type gettableAlert struct {
	Annotations  telemetry.Labels `json:"annotations"`
	EndsAt       string           `json:"endsAt"`
	Fingerprint  string           `json:"fingerprint"`
	Receivers    []receiverRef    `json:"receivers"`
	StartsAt     string           `json:"startsAt"`
	Status       alertStatus      `json:"status"`
	UpdatedAt    string           `json:"updatedAt"`
	GeneratorURL string           `json:"generatorURL,omitempty"`
	Labels       telemetry.Labels `json:"labels"`
}

// alertStatus is models.AlertStatus. Without a Dispatcher every listed
// alert is active and muted by nothing (or silenced, with only Silences).
type alertStatus struct {
	State       string   `json:"state"`
	SilencedBy  []string `json:"silencedBy"`
	InhibitedBy []string `json:"inhibitedBy"`
	MutedBy     []string `json:"mutedBy"`
}

// alertQuery is GET /api/v2/alerts' parameters.
type alertQuery struct {
	matchers []*labels.Matcher
	// The state selectors, each true by default as in Alertmanager.
	active, silenced, inhibited, unprocessed bool
	receiver                                 *regexp.Regexp
}

func parseAlertQuery(q url.Values) (alertQuery, error) {
	aq := alertQuery{active: true, silenced: true, inhibited: true, unprocessed: true}
	var err error
	if aq.matchers, err = parseFilters(q["filter"]); err != nil {
		return aq, err
	}
	for _, p := range []struct {
		name string
		dst  *bool
	}{{"active", &aq.active}, {"silenced", &aq.silenced}, {"inhibited", &aq.inhibited}, {"unprocessed", &aq.unprocessed}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return aq, fmt.Errorf("%s in query must be of type boolean: %q", p.name, truncate(v, 64))
		}
		*p.dst = b
	}
	// go-swagger clients (amtool) leave an empty receiver out; treat an
	// empty one as absent too rather than as a regexp matching only "".
	if v := q.Get("receiver"); v != "" {
		re, err := regexp.Compile("^(?:" + v + ")$")
		if err != nil {
			return aq, fmt.Errorf("failed to parse receiver param: %w", err)
		}
		aq.receiver = re
	}
	return aq, nil
}

// parseFilters parses each filter parameter as Alertmanager's default
// (fallback) mode does: with the UTF-8 matcher parser, falling back to the
// classic one for inputs only it accepts (alertname=Foo Bar). Unlike
// Alertmanager, one parameter may hold several matchers ({a="b",c=~"d"});
// all matchers of all parameters must match. An empty parameter matches
// everything.
func parseFilters(filters []string) ([]*labels.Matcher, error) {
	var out []*labels.Matcher
	for _, f := range filters {
		ms, err := parse.Matchers(f)
		if err != nil {
			// The classic parser reads some garbage ("{", "}") as no
			// matchers at all; only a fallback that yields matchers counts.
			classic, cerr := labels.ParseMatchers(f)
			if cerr != nil || len(classic) == 0 {
				return nil, fmt.Errorf("bad matcher format %q: %v", truncate(f, 256), err)
			}
			ms = classic
		}
		out = append(out, ms...)
	}
	return out, nil
}

// matchLabels applies matchers as Alertmanager's API filter does: an
// absent label has the empty value, so a="" selects alerts without a and
// a!="" alerts with it.
func matchLabels(ms []*labels.Matcher, ls telemetry.Labels) bool {
	for _, m := range ms {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

func (r *Receiver) getAlerts(w http.ResponseWriter, req *http.Request) {
	aq, err := parseAlertQuery(req.URL.Query())
	if err != nil {
		writeAMError(w, http.StatusBadRequest, err.Error())
		return
	}
	now := r.opts.Now()
	var match func(*telemetry.Alert) bool
	if len(aq.matchers) > 0 {
		match = func(a *telemetry.Alert) bool { return matchLabels(aq.matchers, a.Labels) }
	}
	list := r.state.Firing(now, match)

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	enc := json.NewEncoder(bw)
	_ = bw.WriteByte('[')
	n := 0
	for i := range list {
		ga, ok := r.gettable(&list[i], now, &aq)
		if !ok {
			continue
		}
		if n > 0 {
			_ = bw.WriteByte(',')
		}
		n++
		if err := enc.Encode(&ga); err != nil {
			// Labels and strings always encode; a failure is the client
			// gone, and the status is already sent.
			return
		}
	}
	_, _ = bw.WriteString("]\n")
	_ = bw.Flush()
}

// gettable renders an alert with its receivers and status, or reports
// false when the query's state and receiver selectors leave it out, as
// Alertmanager's alert filter does.
func (r *Receiver) gettable(a *telemetry.Alert, now time.Time, aq *alertQuery) (gettableAlert, bool) {
	empty := []string{}
	status := alertStatus{State: "active", SilencedBy: empty, InhibitedBy: empty, MutedBy: empty}
	receivers := []receiverRef{{Name: r.opts.ReceiverName}}
	if d := r.opts.Dispatcher; d != nil {
		st := d.Status(a.Labels, now)
		status = alertStatus{State: st.State, SilencedBy: st.SilencedBy, InhibitedBy: st.InhibitedBy, MutedBy: st.MutedBy}
		receivers = receivers[:0]
		for _, name := range d.ReceiversFor(a.Labels) {
			receivers = append(receivers, receiverRef{Name: name})
		}
	} else if s := r.opts.Silences; s != nil {
		if ids := s.MutedBy(a.Labels, now); len(ids) > 0 {
			status.State, status.SilencedBy = "suppressed", ids
		}
	}
	switch {
	case !aq.active && status.State == "active",
		!aq.silenced && len(status.SilencedBy) > 0,
		!aq.inhibited && len(status.InhibitedBy) > 0:
		return gettableAlert{}, false
	}
	if aq.receiver != nil {
		ok := false
		for _, rr := range receivers {
			if aq.receiver.MatchString(rr.Name) {
				ok = true
				break
			}
		}
		if !ok {
			return gettableAlert{}, false
		}
	}
	return gettableAlert{
		Annotations:  a.Annotations,
		EndsAt:       formatTime(a.EndsAt),
		Fingerprint:  a.Fingerprint().String(),
		Receivers:    receivers,
		StartsAt:     formatTime(a.StartsAt),
		Status:       status,
		UpdatedAt:    formatTime(a.UpdatedAt),
		GeneratorURL: a.GeneratorURL,
		Labels:       a.Labels,
	}, true
}

// alertGroup is models.AlertGroup.
type alertGroup struct {
	Labels   telemetry.Labels `json:"labels"`
	Receiver receiverRef      `json:"receiver"`
	Alerts   []gettableAlert  `json:"alerts"`
}

// getGroups serves GET /api/v2/alerts/groups from the dispatcher's
// aggregation groups, with the same filters as GET /api/v2/alerts; groups
// left without alerts are not listed.
func (r *Receiver) getGroups(w http.ResponseWriter, req *http.Request) {
	aq, err := parseAlertQuery(req.URL.Query())
	if err != nil {
		writeAMError(w, http.StatusBadRequest, err.Error())
		return
	}
	now := r.opts.Now()
	var keep func(string) bool
	if aq.receiver != nil {
		keep = aq.receiver.MatchString
	}
	out := []alertGroup{}
	for _, g := range r.opts.Dispatcher.Groups(keep) {
		ag := alertGroup{Labels: g.Labels, Receiver: receiverRef{Name: g.Receiver}, Alerts: []gettableAlert{}}
		for i := range g.Alerts {
			a := &g.Alerts[i]
			// Resolved alerts wait in their group for the next flush;
			// Alertmanager lists only those not yet resolved.
			if a.Resolved(now) || (len(aq.matchers) > 0 && !matchLabels(aq.matchers, a.Labels)) {
				continue
			}
			ga, ok := r.gettable(a, now, &aq)
			if !ok {
				continue
			}
			ag.Alerts = append(ag.Alerts, ga)
		}
		if len(ag.Alerts) > 0 {
			out = append(out, ag)
		}
	}
	writeJSON(w, http.StatusOK, out)
}
