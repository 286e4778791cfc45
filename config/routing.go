package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/matcher/parse"
	"github.com/prometheus/alertmanager/pkg/labels"
	"gopkg.in/yaml.v3"

	"github.com/vigilops/vigil/correlate/timeinterval"
)

// Routing defaults, as in Alertmanager.
const (
	DefaultGroupWait      = 30 * time.Second
	DefaultGroupInterval  = 5 * time.Minute
	DefaultRepeatInterval = 4 * time.Hour
	// GroupByAll is the group_by value that groups by every label.
	GroupByAll = "..."
)

// AlertmanagerConfig is the subset of alertmanager.yml that Vigil
// understands: routing, inhibition, time intervals and receivers, plus
// Vigil's maintenance windows. An existing alertmanager.yml loads as is;
// settings Vigil does not implement (other receiver types, http_config,
// templates) are dropped with a warning in Warnings instead of failing.
type AlertmanagerConfig struct {
	Global        AMGlobal       `yaml:"global"`
	Route         Route          `yaml:"route"`
	InhibitRules  []InhibitRule  `yaml:"inhibit_rules"`
	Receivers     []Receiver     `yaml:"receivers"`
	TimeIntervals []TimeInterval `yaml:"time_intervals"`
	// MuteTimeIntervals is the deprecated name of TimeIntervals; both are
	// read and share one name space.
	MuteTimeIntervals []TimeInterval `yaml:"mute_time_intervals"`
	// MaintenanceWindows are Vigil's: named time intervals that mute the
	// alerts their matchers select, on every route.
	MaintenanceWindows []MaintenanceWindow `yaml:"maintenance_windows"`
	// Warnings lists what was ignored, with file and line.
	Warnings []string `yaml:"-"`
}

// AMGlobal holds the global settings receivers inherit.
type AMGlobal struct {
	ResolveTimeout       OptDuration `yaml:"resolve_timeout"`
	SMTPFrom             string      `yaml:"smtp_from"`
	SMTPSmarthost        string      `yaml:"smtp_smarthost"`
	SMTPAuthUsername     string      `yaml:"smtp_auth_username"`
	SMTPAuthPassword     string      `yaml:"smtp_auth_password"`
	SMTPAuthPasswordFile string      `yaml:"smtp_auth_password_file"`
	SMTPRequireTLS       OptBool     `yaml:"smtp_require_tls"`
	SlackAPIURL          string      `yaml:"slack_api_url"`
	SlackAPIURLFile      string      `yaml:"slack_api_url_file"`
	PagerdutyURL         string      `yaml:"pagerduty_url"`
}

// Route is one node of the routing tree.
type Route struct {
	Receiver string   `yaml:"receiver"`
	GroupBy  []string `yaml:"group_by"`
	// Matchers use Alertmanager's matcher syntax, one per entry
	// (severity=~"critical|page", team!=db).
	Matchers []string `yaml:"matchers"`
	// Match and MatchRE are the deprecated equality and (anchored) regular
	// expression matchers.
	Match               map[string]string `yaml:"match"`
	MatchRE             map[string]string `yaml:"match_re"`
	Continue            bool              `yaml:"continue"`
	GroupWait           OptDuration       `yaml:"group_wait"`
	GroupInterval       OptDuration       `yaml:"group_interval"`
	RepeatInterval      OptDuration       `yaml:"repeat_interval"`
	MuteTimeIntervals   []string          `yaml:"mute_time_intervals"`
	ActiveTimeIntervals []string          `yaml:"active_time_intervals"`
	Routes              []Route           `yaml:"routes"`
}

// InhibitRule mutes target alerts while a source alert with the same
// values of the Equal labels fires.
type InhibitRule struct {
	SourceMatchers []string          `yaml:"source_matchers"`
	TargetMatchers []string          `yaml:"target_matchers"`
	SourceMatch    map[string]string `yaml:"source_match"`
	SourceMatchRE  map[string]string `yaml:"source_match_re"`
	TargetMatch    map[string]string `yaml:"target_match"`
	TargetMatchRE  map[string]string `yaml:"target_match_re"`
	Equal          []string          `yaml:"equal"`
}

// TimeInterval is a named list of time ranges.
type TimeInterval struct {
	Name          string              `yaml:"name"`
	TimeIntervals []timeinterval.Spec `yaml:"time_intervals"`
}

// MaintenanceWindow mutes the alerts Matchers select while one of its
// named TimeIntervals contains the current time.
type MaintenanceWindow struct {
	Name          string   `yaml:"name"`
	Matchers      []string `yaml:"matchers"`
	TimeIntervals []string `yaml:"time_intervals"`
}

// Receiver names a set of notification integrations.
type Receiver struct {
	Name             string            `yaml:"name"`
	SlackConfigs     []SlackConfig     `yaml:"slack_configs"`
	PagerdutyConfigs []PagerdutyConfig `yaml:"pagerduty_configs"`
	WebhookConfigs   []WebhookConfig   `yaml:"webhook_configs"`
	EmailConfigs     []EmailConfig     `yaml:"email_configs"`
}

// SlackConfig posts to a Slack incoming webhook. send_resolved defaults to
// false, as in Alertmanager.
type SlackConfig struct {
	SendResolved OptBool `yaml:"send_resolved"`
	APIURL       string  `yaml:"api_url"`
	APIURLFile   string  `yaml:"api_url_file"`
	Channel      string  `yaml:"channel"`
	Username     string  `yaml:"username"`
	Title        string  `yaml:"title"`
	Text         string  `yaml:"text"`
}

// PagerdutyConfig sends PagerDuty events. RoutingKey selects Events API
// v2, ServiceKey the older v1; send_resolved defaults to true.
type PagerdutyConfig struct {
	SendResolved OptBool `yaml:"send_resolved"`
	RoutingKey   string  `yaml:"routing_key"`
	ServiceKey   string  `yaml:"service_key"`
	URL          string  `yaml:"url"`
	Severity     string  `yaml:"severity"`
}

// WebhookConfig posts Alertmanager's webhook payload; send_resolved
// defaults to true. MaxAlerts 0 sends every alert.
type WebhookConfig struct {
	SendResolved OptBool `yaml:"send_resolved"`
	URL          string  `yaml:"url"`
	MaxAlerts    int     `yaml:"max_alerts"`
}

// EmailConfig sends mail; send_resolved defaults to false. Empty From,
// Smarthost and auth fields are taken from the global smtp_ settings.
type EmailConfig struct {
	SendResolved     OptBool `yaml:"send_resolved"`
	To               string  `yaml:"to"`
	From             string  `yaml:"from"`
	Smarthost        string  `yaml:"smarthost"`
	AuthUsername     string  `yaml:"auth_username"`
	AuthPassword     string  `yaml:"auth_password"`
	AuthPasswordFile string  `yaml:"auth_password_file"`
	RequireTLS       OptBool `yaml:"require_tls"`
}

// OptDuration is a Duration that remembers whether it was set, so that a
// route can tell "inherit" from an explicit value.
type OptDuration struct {
	Duration
	Valid bool
}

// Set implements the decoder's setter.
func (d *OptDuration) Set(s string) error {
	if err := d.Duration.Set(s); err != nil {
		return err
	}
	d.Valid = true
	return nil
}

// Or returns the duration if set, else def.
func (d OptDuration) Or(def time.Duration) time.Duration {
	if d.Valid {
		return time.Duration(d.Duration)
	}
	return def
}

// OptBool is a bool that remembers whether it was set.
type OptBool struct {
	Value, Valid bool
}

// Set implements the decoder's setter.
func (b *OptBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	b.Value, b.Valid = v, true
	return nil
}

// Or returns the value if set, else def.
func (b OptBool) Or(def bool) bool {
	if b.Valid {
		return b.Value
	}
	return def
}

// LoadAlertmanagerConfig reads and validates an alertmanager.yml.
func LoadAlertmanagerConfig(path string) (*AlertmanagerConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read alertmanager config: %w", err)
	}
	return parseAlertmanagerConfig(path, b)
}

// ParseAlertmanagerConfig parses and validates alertmanager.yml content.
// Errors are Errors: every problem, each with its line.
func ParseAlertmanagerConfig(data []byte) (*AlertmanagerConfig, error) {
	return parseAlertmanagerConfig("alertmanager.yml", data)
}

func parseAlertmanagerConfig(name string, data []byte) (*AlertmanagerConfig, error) {
	cfg := &AlertmanagerConfig{}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Errors{{Source: name, Line: yamlErrLine(err), Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if len(root.Content) == 0 {
		return nil, Errors{{Source: name, Msg: "empty configuration: a route and its receiver are required"}}
	}
	lines := map[string]int{}
	cfg.Warnings = stripUnsupported(name, root.Content[0])
	d := decoder{file: name, lines: lines}
	d.decodeStruct(root.Content[0], reflectValue(cfg), "")
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	var errs Errors
	for _, p := range cfg.Validate() {
		fe := &FieldError{Source: name, Key: p.Key, Msg: p.Msg}
		if l, ok := lineFor(lines, p.Key); ok {
			fe.Line = l
		}
		errs = append(errs, fe)
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
		return nil, errs
	}
	return cfg, nil
}

// unsupportedAM lists alertmanager.yml keys Vigil knows but does not
// implement, per mapping kind; they are dropped with a warning. Anything
// else unknown is an error, so that typos are caught.
var unsupportedAM = map[string][]string{
	"top": {"templates", "tracing"},
	"global": {"http_config", "smtp_hello", "smtp_auth_identity", "smtp_auth_secret", "smtp_auth_secret_file", "smtp_tls_config",
		"opsgenie_api_url", "opsgenie_api_key", "opsgenie_api_key_file", "wechat_api_url", "wechat_api_secret", "wechat_api_corp_id",
		"victorops_api_url", "victorops_api_key", "victorops_api_key_file", "telegram_api_url", "webex_api_url", "jira_api_url",
		"rocketchat_api_url", "rocketchat_token", "rocketchat_token_id", "rocketchat_token_file", "rocketchat_token_id_file", "slack_app_token", "slack_app_token_file"},
	"receiver": {"opsgenie_configs", "victorops_configs", "pushover_configs", "wechat_configs", "telegram_configs", "sns_configs",
		"webex_configs", "discord_configs", "msteams_configs", "msteamsv2_configs", "jira_configs", "rocketchat_configs", "incidentio_configs"},
	"integration": {"http_config", "url_file", "routing_key_file", "service_key_file", "client", "client_url", "description", "details",
		"images", "links", "class", "component", "group", "source", "icon_emoji", "icon_url", "link_names", "short_fields", "fields",
		"actions", "callback_id", "color", "fallback", "footer", "mrkdwn_in", "pretext", "title_link", "image_url", "thumb_url",
		"headers", "html", "tls_config", "hello", "auth_identity", "auth_secret", "auth_secret_file", "timeout", "message_text"},
}

func stripUnsupported(file string, top *yaml.Node) []string {
	var warns []string
	strip := func(n *yaml.Node, kind, path string) {
		if n == nil || n.Kind != yaml.MappingNode {
			return
		}
		bad := unsupportedAM[kind]
		out := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			drop := false
			for _, b := range bad {
				if k.Value == b {
					drop = true
					break
				}
			}
			if drop {
				warns = append(warns, fmt.Sprintf("%s:%d: %s: not supported by Vigil; ignored", file, k.Line, join(path, k.Value)))
				continue
			}
			out = append(out, n.Content[i], n.Content[i+1])
		}
		n.Content = out
	}
	child := func(n *yaml.Node, key string) *yaml.Node {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
		return nil
	}
	strip(top, "top", "")
	strip(child(top, "global"), "global", "global")
	if rs := child(top, "receivers"); rs != nil && rs.Kind == yaml.SequenceNode {
		for i, r := range rs.Content {
			p := fmt.Sprintf("receivers[%d]", i)
			strip(r, "receiver", p)
			for _, kind := range []string{"slack_configs", "pagerduty_configs", "webhook_configs", "email_configs"} {
				if list := child(r, kind); list != nil && list.Kind == yaml.SequenceNode {
					for j, c := range list.Content {
						strip(c, "integration", fmt.Sprintf("%s.%s[%d]", p, kind, j))
					}
				}
			}
		}
	}
	return warns
}

// AllTimeIntervals returns time_intervals and the deprecated
// mute_time_intervals together.
func (c *AlertmanagerConfig) AllTimeIntervals() []TimeInterval {
	return append(append([]TimeInterval(nil), c.TimeIntervals...), c.MuteTimeIntervals...)
}

// Intervals parses every named time interval.
func (c *AlertmanagerConfig) Intervals() (map[string]timeinterval.Intervals, error) {
	out := map[string]timeinterval.Intervals{}
	for _, ti := range c.AllTimeIntervals() {
		var ivs timeinterval.Intervals
		for i, s := range ti.TimeIntervals {
			iv, err := timeinterval.Parse(s)
			if err != nil {
				return nil, fmt.Errorf("time interval %s[%d]: %w", ti.Name, i, err)
			}
			ivs = append(ivs, iv)
		}
		out[ti.Name] = ivs
	}
	return out, nil
}

// ParseMatchers turns the matchers, match and match_re settings into one
// list. Matchers use Alertmanager's UTF-8 parser, falling back to the
// classic one as Alertmanager's default mode does; match_re is anchored.
func ParseMatchers(matchers []string, match, matchRE map[string]string) (labels.Matchers, error) {
	var out labels.Matchers
	for i, s := range matchers {
		m, err := parse.Matcher(s)
		if err != nil {
			classic, cerr := labels.ParseMatchers(s)
			if cerr != nil || len(classic) != 1 {
				return nil, fmt.Errorf("matchers[%d]: %q: %v", i, s, err)
			}
			m = classic[0]
		}
		out = append(out, m)
	}
	for _, k := range sortedMapKeys(match) {
		if !validAMLabelName(k) {
			return nil, fmt.Errorf("match: %q is not a valid label name", k)
		}
		m, _ := labels.NewMatcher(labels.MatchEqual, k, match[k])
		out = append(out, m)
	}
	for _, k := range sortedMapKeys(matchRE) {
		if !validAMLabelName(k) {
			return nil, fmt.Errorf("match_re: %q is not a valid label name", k)
		}
		m, err := labels.NewMatcher(labels.MatchRegexp, k, matchRE[k])
		if err != nil {
			return nil, fmt.Errorf("match_re: %s: %q is not a regular expression: %v", k, matchRE[k], err)
		}
		out = append(out, m)
	}
	return out, nil
}

func sortedMapKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var amLabelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func validAMLabelName(s string) bool { return amLabelNameRE.MatchString(s) }

// Validate checks the configuration as Alertmanager does and returns every
// problem, keyed by the setting's path.
func (c *AlertmanagerConfig) Validate() []Problem {
	var ps []Problem
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	receivers := map[string]bool{}
	for i, r := range c.Receivers {
		key := fmt.Sprintf("receivers[%d]", i)
		switch {
		case r.Name == "":
			add(key+".name", "a receiver needs a name")
		case receivers[r.Name]:
			add(key+".name", "receiver %q is defined twice", r.Name)
		}
		receivers[r.Name] = true
		c.validateReceiver(key, &r, add)
	}
	intervals := map[string]bool{}
	for _, list := range []struct {
		key string
		tis []TimeInterval
	}{{"time_intervals", c.TimeIntervals}, {"mute_time_intervals", c.MuteTimeIntervals}} {
		for i, ti := range list.tis {
			key := fmt.Sprintf("%s[%d]", list.key, i)
			switch {
			case ti.Name == "":
				add(key+".name", "a time interval needs a name")
			case intervals[ti.Name]:
				add(key+".name", "time interval %q is defined twice", ti.Name)
			}
			intervals[ti.Name] = true
			for j, s := range ti.TimeIntervals {
				if _, err := timeinterval.Parse(s); err != nil {
					add(fmt.Sprintf("%s.time_intervals[%d]", key, j), "%v", err)
				}
			}
		}
	}
	r := &c.Route
	if r.Receiver == "" {
		add("route.receiver", "the root route needs a receiver")
	}
	if len(r.Matchers) > 0 || len(r.Match) > 0 || len(r.MatchRE) > 0 {
		add("route", "the root route must not have matchers: it receives every alert")
	}
	if r.Continue {
		add("route.continue", "the root route cannot have continue set")
	}
	if len(r.MuteTimeIntervals) > 0 || len(r.ActiveTimeIntervals) > 0 {
		add("route", "the root route must not have mute_time_intervals or active_time_intervals")
	}
	validateRoute("route", r, receivers, intervals, add)
	for i, ir := range c.InhibitRules {
		key := fmt.Sprintf("inhibit_rules[%d]", i)
		if _, err := ParseMatchers(ir.SourceMatchers, ir.SourceMatch, ir.SourceMatchRE); err != nil {
			add(key+".source_matchers", "%v", err)
		}
		if _, err := ParseMatchers(ir.TargetMatchers, ir.TargetMatch, ir.TargetMatchRE); err != nil {
			add(key+".target_matchers", "%v", err)
		}
		for j, e := range ir.Equal {
			if e == "" {
				add(fmt.Sprintf("%s.equal[%d]", key, j), "empty label name")
			}
		}
	}
	windows := map[string]bool{}
	for i, w := range c.MaintenanceWindows {
		key := fmt.Sprintf("maintenance_windows[%d]", i)
		switch {
		case w.Name == "":
			add(key+".name", "a maintenance window needs a name")
		case windows[w.Name]:
			add(key+".name", "maintenance window %q is defined twice", w.Name)
		}
		windows[w.Name] = true
		if _, err := ParseMatchers(w.Matchers, nil, nil); err != nil {
			add(key+".matchers", "%v", err)
		}
		if len(w.TimeIntervals) == 0 {
			add(key+".time_intervals", "name at least one time interval")
		}
		for j, n := range w.TimeIntervals {
			if !intervals[n] {
				add(fmt.Sprintf("%s.time_intervals[%d]", key, j), "time interval %q is not defined", n)
			}
		}
	}
	return ps
}

func validateRoute(key string, r *Route, receivers, intervals map[string]bool, add func(string, string, ...any)) {
	if r.Receiver != "" && !receivers[r.Receiver] {
		add(key+".receiver", "receiver %q is not defined", r.Receiver)
	}
	if _, err := ParseMatchers(r.Matchers, r.Match, r.MatchRE); err != nil {
		add(key+".matchers", "%v", err)
	}
	all := false
	seen := map[string]bool{}
	for i, g := range r.GroupBy {
		k := fmt.Sprintf("%s.group_by[%d]", key, i)
		switch {
		case g == GroupByAll:
			all = true
		case g == "":
			add(k, "empty label name")
		case seen[g]:
			add(k, "label %q is listed twice", g)
		}
		seen[g] = true
	}
	if all && len(r.GroupBy) > 1 {
		add(key+".group_by", "'...' groups by all labels and cannot be combined with others")
	}
	if r.GroupInterval.Valid && r.GroupInterval.Duration <= 0 {
		add(key+".group_interval", "must be positive")
	}
	if r.RepeatInterval.Valid && r.RepeatInterval.Duration <= 0 {
		add(key+".repeat_interval", "must be positive")
	}
	if r.GroupWait.Valid && r.GroupWait.Duration < 0 {
		add(key+".group_wait", "must not be negative")
	}
	for _, list := range []struct {
		name  string
		names []string
	}{{"mute_time_intervals", r.MuteTimeIntervals}, {"active_time_intervals", r.ActiveTimeIntervals}} {
		for i, n := range list.names {
			if !intervals[n] {
				add(fmt.Sprintf("%s.%s[%d]", key, list.name, i), "time interval %q is not defined", n)
			}
		}
	}
	for i := range r.Routes {
		validateRoute(fmt.Sprintf("%s.routes[%d]", key, i), &r.Routes[i], receivers, intervals, add)
	}
}

func (c *AlertmanagerConfig) validateReceiver(key string, r *Receiver, add func(string, string, ...any)) {
	g := &c.Global
	for i, s := range r.SlackConfigs {
		k := fmt.Sprintf("%s.slack_configs[%d]", key, i)
		switch {
		case s.APIURL != "" && s.APIURLFile != "":
			add(k+".api_url", "api_url and api_url_file are mutually exclusive")
		case s.APIURL != "":
			if err := checkURL(s.APIURL); err != nil {
				add(k+".api_url", "%v", err)
			}
		case s.APIURLFile == "" && g.SlackAPIURL == "" && g.SlackAPIURLFile == "":
			add(k+".api_url", "no api_url here nor global slack_api_url")
		}
	}
	for i, p := range r.PagerdutyConfigs {
		k := fmt.Sprintf("%s.pagerduty_configs[%d]", key, i)
		if (p.RoutingKey == "") == (p.ServiceKey == "") {
			add(k+".routing_key", "set exactly one of routing_key (Events API v2) and service_key (v1)")
		}
		if p.URL != "" {
			if err := checkURL(p.URL); err != nil {
				add(k+".url", "%v", err)
			}
		}
		switch p.Severity {
		case "", "critical", "error", "warning", "info":
		default:
			if !strings.Contains(p.Severity, "{{") {
				add(k+".severity", "%q is not one of critical, error, warning, info", p.Severity)
			}
		}
	}
	for i, w := range r.WebhookConfigs {
		k := fmt.Sprintf("%s.webhook_configs[%d]", key, i)
		if w.URL == "" {
			add(k+".url", "a webhook needs a url")
		} else if err := checkURL(w.URL); err != nil {
			add(k+".url", "%v", err)
		}
		if w.MaxAlerts < 0 {
			add(k+".max_alerts", "%d is negative", w.MaxAlerts)
		}
	}
	for i, e := range r.EmailConfigs {
		k := fmt.Sprintf("%s.email_configs[%d]", key, i)
		if e.To == "" {
			add(k+".to", "an email config needs a to address")
		}
		if e.From == "" && g.SMTPFrom == "" {
			add(k+".from", "no from here nor global smtp_from")
		}
		host := e.Smarthost
		if host == "" {
			host = g.SMTPSmarthost
		}
		if host == "" {
			add(k+".smarthost", "no smarthost here nor global smtp_smarthost")
		} else if _, port, err := net.SplitHostPort(host); err != nil || port == "" {
			add(k+".smarthost", "%q is not host:port", host)
		}
		if e.AuthPassword != "" && e.AuthPasswordFile != "" {
			add(k+".auth_password", "auth_password and auth_password_file are mutually exclusive")
		}
	}
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}

func reflectValue(c *AlertmanagerConfig) reflect.Value { return reflect.ValueOf(c).Elem() }
