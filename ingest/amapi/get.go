package amapi

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"

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

// alertStatus is models.AlertStatus. Vigil has no silences or inhibitions
// in this API yet, so every listed alert is active and muted by nothing.
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
	var list []telemetry.Alert
	// Every alert is active (nothing silences or inhibits here yet), so
	// active=false selects nothing and the other selectors change nothing.
	if aq.active && (aq.receiver == nil || aq.receiver.MatchString(r.opts.ReceiverName)) {
		var match func(*telemetry.Alert) bool
		if len(aq.matchers) > 0 {
			match = func(a *telemetry.Alert) bool { return matchLabels(aq.matchers, a.Labels) }
		}
		list = r.state.Firing(r.opts.Now(), match)
	}

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	enc := json.NewEncoder(bw)
	receivers := []receiverRef{{Name: r.opts.ReceiverName}}
	empty := []string{}
	_ = bw.WriteByte('[')
	for i := range list {
		a := &list[i]
		if i > 0 {
			_ = bw.WriteByte(',')
		}
		ga := gettableAlert{
			Annotations:  a.Annotations,
			EndsAt:       formatTime(a.EndsAt),
			Fingerprint:  a.Fingerprint().String(),
			Receivers:    receivers,
			StartsAt:     formatTime(a.StartsAt),
			Status:       alertStatus{State: "active", SilencedBy: empty, InhibitedBy: empty, MutedBy: empty},
			UpdatedAt:    formatTime(a.UpdatedAt),
			GeneratorURL: a.GeneratorURL,
			Labels:       a.Labels,
		}
		if err := enc.Encode(&ga); err != nil {
			// Labels and strings always encode; a failure is the client
			// gone, and the status is already sent.
			return
		}
	}
	_, _ = bw.WriteString("]\n")
	_ = bw.Flush()
}
