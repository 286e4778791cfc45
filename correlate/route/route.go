// Package route is Alertmanager's routing tree: it decides which routes,
// and so which receivers and grouping settings, an alert goes to.
//
// Invariant: a Route tree is immutable once built by New, so Match is safe
// for concurrent use and costs the same whatever the number of alerts.
// Settings follow Alertmanager: receiver, group_by and the three timers are
// inherited from the parent; matchers, continue and the time intervals are
// not.
package route

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/correlate/timeinterval"
	"github.com/vigilops/vigil/telemetry"
)

// ErrInvalid is matched by errors.Is for a tree that cannot be built.
var ErrInvalid = errors.New("invalid route")

// Route is one node of the routing tree with every inherited setting
// resolved.
type Route struct {
	Parent   *Route
	Receiver string
	Matchers labels.Matchers
	// GroupBy is the sorted list of labels alerts are grouped by, unless
	// GroupByAll, when every label is used.
	GroupBy        []string
	GroupByAll     bool
	GroupWait      time.Duration
	GroupInterval  time.Duration
	RepeatInterval time.Duration
	Continue       bool
	// MuteTimeIntervals and ActiveTimeIntervals name time intervals; the
	// parsed intervals are in Intervals, by name.
	MuteTimeIntervals   []string
	ActiveTimeIntervals []string
	Intervals           map[string]timeinterval.Intervals
	Routes              []*Route

	// key is Alertmanager's route key (parent key, "/", matchers); id
	// adds the position among siblings so that two siblings with equal
	// matchers stay apart; index numbers routes depth-first from 0.
	key, id string
	index   int
}

// New builds the tree from its configuration. intervals holds the parsed
// time intervals routes may name (config.AlertmanagerConfig.Intervals).
func New(cfg *config.Route, intervals map[string]timeinterval.Intervals) (*Route, error) {
	root := &Route{
		GroupWait:      config.DefaultGroupWait,
		GroupInterval:  config.DefaultGroupInterval,
		RepeatInterval: config.DefaultRepeatInterval,
	}
	if cfg.Receiver == "" {
		return nil, fmt.Errorf("%w: the root route needs a receiver", ErrInvalid)
	}
	n := 0
	if err := root.fill(cfg, nil, "", intervals, &n); err != nil {
		return nil, err
	}
	return root, nil
}

func (r *Route) fill(cfg *config.Route, parent *Route, pos string, intervals map[string]timeinterval.Intervals, n *int) error {
	r.index = *n
	*n++
	if parent != nil {
		r.Parent = parent
		r.Receiver, r.GroupBy, r.GroupByAll = parent.Receiver, parent.GroupBy, parent.GroupByAll
		r.GroupWait, r.GroupInterval, r.RepeatInterval = parent.GroupWait, parent.GroupInterval, parent.RepeatInterval
	}
	if cfg.Receiver != "" {
		r.Receiver = cfg.Receiver
	}
	if cfg.GroupBy != nil {
		r.GroupBy, r.GroupByAll = nil, false
		for _, g := range cfg.GroupBy {
			if g == config.GroupByAll {
				r.GroupByAll = true
				continue
			}
			r.GroupBy = append(r.GroupBy, g)
		}
		sort.Strings(r.GroupBy)
	}
	r.GroupWait = cfg.GroupWait.Or(r.GroupWait)
	r.GroupInterval = cfg.GroupInterval.Or(r.GroupInterval)
	r.RepeatInterval = cfg.RepeatInterval.Or(r.RepeatInterval)
	if r.GroupInterval <= 0 || r.RepeatInterval <= 0 || r.GroupWait < 0 {
		return fmt.Errorf("%w: route %s: group_interval and repeat_interval must be positive, group_wait not negative", ErrInvalid, pos)
	}
	r.Continue = cfg.Continue
	ms, err := config.ParseMatchers(cfg.Matchers, cfg.Match, cfg.MatchRE)
	if err != nil {
		return fmt.Errorf("%w: route %s: %v", ErrInvalid, pos, err)
	}
	r.Matchers = ms
	r.MuteTimeIntervals, r.ActiveTimeIntervals = cfg.MuteTimeIntervals, cfg.ActiveTimeIntervals
	r.Intervals = map[string]timeinterval.Intervals{}
	for _, name := range append(append([]string(nil), cfg.MuteTimeIntervals...), cfg.ActiveTimeIntervals...) {
		iv, ok := intervals[name]
		if !ok {
			return fmt.Errorf("%w: route %s: time interval %q is not defined", ErrInvalid, pos, name)
		}
		r.Intervals[name] = iv
	}
	if parent == nil {
		r.key, r.id = "{}", "{}"
	} else {
		r.key = parent.key + "/" + ms.String()
		r.id = parent.id + "/" + ms.String() + "/" + pos[strings.LastIndexByte(pos, '[')+1:len(pos)-1]
	}
	for i := range cfg.Routes {
		c := &Route{}
		if err := c.fill(&cfg.Routes[i], r, pos+".routes["+strconv.Itoa(i)+"]", intervals, n); err != nil {
			return err
		}
		r.Routes = append(r.Routes, c)
	}
	return nil
}

// Key is Alertmanager's route key, which prefixes group keys.
func (r *Route) Key() string { return r.key }

// ID is unique within the tree, unlike Key for siblings with equal
// matchers.
func (r *Route) ID() string { return r.id }

// Index numbers the route depth-first from 0 (the root).
func (r *Route) Index() int { return r.index }

// Matches reports whether the route's own matchers select ls; an absent
// label has the empty value.
func (r *Route) Matches(ls telemetry.Labels) bool {
	for _, m := range r.Matchers {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

// Match returns the routes an alert with labels ls goes to: the deepest
// matching routes, depth-first, siblings after a match only when it has
// continue set, and the route itself when no child matches.
func (r *Route) Match(ls telemetry.Labels) []*Route {
	if !r.Matches(ls) {
		return nil
	}
	var all []*Route
	for _, c := range r.Routes {
		m := c.Match(ls)
		all = append(all, m...)
		if m != nil && !c.Continue {
			break
		}
	}
	if len(all) == 0 {
		all = append(all, r)
	}
	return all
}

// GroupLabels returns the labels of ls the route groups by.
func (r *Route) GroupLabels(ls telemetry.Labels) telemetry.Labels {
	if r.GroupByAll {
		return ls
	}
	out := make(telemetry.Labels, 0, len(r.GroupBy))
	for _, l := range ls {
		// GroupBy is sorted, and ls is too, so out stays sorted.
		i := sort.SearchStrings(r.GroupBy, l.Name)
		if i < len(r.GroupBy) && r.GroupBy[i] == l.Name {
			out = append(out, l)
		}
	}
	return out
}

// Walk calls fn on the route and its descendants, depth-first.
func (r *Route) Walk(fn func(*Route)) {
	fn(r)
	for _, c := range r.Routes {
		c.Walk(fn)
	}
}

// MutedBy returns the names of the route's time intervals that mute it at
// now: a mute interval containing now, or, when active intervals are set
// and none contains now, all of them.
func (r *Route) MutedBy(now time.Time) []string {
	var out []string
	for _, n := range r.MuteTimeIntervals {
		if r.Intervals[n].Contains(now) {
			out = append(out, n)
		}
	}
	if len(r.ActiveTimeIntervals) > 0 {
		active := false
		for _, n := range r.ActiveTimeIntervals {
			if r.Intervals[n].Contains(now) {
				active = true
				break
			}
		}
		if !active {
			out = append(out, r.ActiveTimeIntervals...)
		}
	}
	return out
}
