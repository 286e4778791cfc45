package kedascaler

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/matcher/parse"
	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/vigilops/vigil/ingest/promsource"
	"github.com/vigilops/vigil/metricstore"
	"github.com/vigilops/vigil/telemetry"
)

// ErrWrongQueryKind is returned by a History that cannot read the kind of
// query it was given.
var ErrWrongQueryKind = errors.New("query kind not supported by this history")

// maxSelectorSeries bounds the series one selector may sum, so that a
// selector as broad as {job=~".+"} is refused instead of summed.
const maxSelectorSeries = 1000

// PromHistory reads history from Prometheus' query_range API. A selector is
// valid PromQL, so both kinds work; the query must return one series
// (aggregate it, e.g. sum(rate(...[1m]))), since one ScaledObject scales on
// one number.
type PromHistory struct {
	Client *promsource.Client
}

var _ History = PromHistory{}

// Range implements History.
func (h PromHistory) Range(ctx context.Context, q Query, from, to time.Time, step time.Duration) ([]telemetry.Point, error) {
	ss, err := h.Client.QueryRange(ctx, q.Expr, from, to, step)
	if err != nil {
		return nil, fmt.Errorf("query prometheus: %w", err)
	}
	switch len(ss) {
	case 0:
		return nil, nil
	case 1:
		return ss[0].Points, nil
	}
	return nil, fmt.Errorf("query %q returns %d series, want one: aggregate it (e.g. sum(...))", q.Expr, len(ss))
}

// StoreHistory reads the series Vigil holds in its metric store, by
// selector (`name{label="value",...}`, label matchers in Prometheus
// syntax). The matched series are summed per step; counters (names ending
// in _total) are turned into per-second rates first, series by series, so
// the sum is a request rate rather than an ever-growing count.
type StoreHistory struct {
	Store *metricstore.Store
}

var _ History = StoreHistory{}

// Range implements History.
func (h StoreHistory) Range(_ context.Context, q Query, from, to time.Time, step time.Duration) ([]telemetry.Point, error) {
	if q.Kind != QuerySelector {
		return nil, fmt.Errorf("%w: the metric store answers %q, not %q", ErrWrongQueryKind, KeySelector, q.Kind)
	}
	if step <= 0 {
		return nil, fmt.Errorf("store history: step %s is not positive", step)
	}
	name, ms, err := ParseSelector(q.Expr)
	if err != nil {
		return nil, err
	}
	refs := h.Store.Series(ms...)
	if len(refs) > maxSelectorSeries {
		return nil, fmt.Errorf("selector %q matches %d series, more than %d: narrow it", q.Expr, len(refs), maxSelectorSeries)
	}
	counter := strings.HasSuffix(name, "_total")
	sum := map[int64]float64{}
	for _, ref := range refs {
		var pts []telemetry.Point
		if counter {
			// Rates from the finest points the store has, then averaged
			// per step: averaging the counter first would smear a reset
			// over two windows.
			pts = windowMeans(counterRate(h.Store.Range(ref, from.Add(-step), to, 0)), from, step)
		} else {
			pts = h.Store.Range(ref, from, to, step)
		}
		for _, p := range pts {
			if !math.IsNaN(p.V) {
				sum[p.T] += p.V
			}
		}
	}
	out := make([]telemetry.Point, 0, len(sum))
	for t, v := range sum {
		out = append(out, telemetry.Point{T: t, V: v})
	}
	slices.SortFunc(out, func(a, b telemetry.Point) int {
		switch {
		case a.T < b.T:
			return -1
		case a.T > b.T:
			return 1
		}
		return 0
	})
	return out, nil
}

// counterRate turns counter points into per-second rates between
// consecutive points, stamped with the later one; a decrease is a reset,
// after which the new value itself is the increase.
func counterRate(pts []telemetry.Point) []telemetry.Point {
	if len(pts) < 2 {
		return nil
	}
	out := make([]telemetry.Point, 0, len(pts)-1)
	for i := 1; i < len(pts); i++ {
		dt := float64(pts[i].T-pts[i-1].T) / 1000
		if dt <= 0 {
			continue
		}
		inc := pts[i].V - pts[i-1].V
		if inc < 0 {
			inc = pts[i].V
		}
		out = append(out, telemetry.Point{T: pts[i].T, V: inc / dt})
	}
	return out
}

// windowMeans averages points into step-wide windows aligned to the Unix
// epoch, stamped with the window's start, dropping windows before from.
func windowMeans(pts []telemetry.Point, from time.Time, step time.Duration) []telemetry.Point {
	ms := step.Milliseconds()
	lo := from.UnixMilli()
	var out []telemetry.Point
	n := 0
	for _, p := range pts {
		w := p.T - ((p.T%ms)+ms)%ms
		if w+ms <= lo {
			continue
		}
		if len(out) > 0 && out[len(out)-1].T == w {
			last := &out[len(out)-1]
			n++
			last.V += (p.V - last.V) / float64(n)
			continue
		}
		out = append(out, telemetry.Point{T: w, V: p.V})
		n = 1
	}
	return out
}

// ParseSelector splits `name{matchers}` (either part optional) into the
// metric name and matchers for it, __name__ included.
func ParseSelector(sel string) (string, []*labels.Matcher, error) {
	sel = strings.TrimSpace(sel)
	name, rest := sel, ""
	if i := strings.IndexByte(sel, '{'); i >= 0 {
		name, rest = strings.TrimSpace(sel[:i]), sel[i:]
	}
	if name == "" && rest == "" {
		return "", nil, badKey(KeySelector, "empty")
	}
	for i, r := range name {
		if !(r == '_' || r == ':' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return "", nil, badKey(KeySelector, "%q is not a metric name", name)
		}
	}
	var ms []*labels.Matcher
	if rest != "" {
		parsed, err := parse.Matchers(rest)
		if err != nil {
			return "", nil, badKey(KeySelector, "%v", err)
		}
		ms = parsed
	}
	if name != "" {
		m, err := labels.NewMatcher(labels.MatchEqual, telemetry.MetricNameLabel, name)
		if err != nil {
			return "", nil, badKey(KeySelector, "%v", err)
		}
		ms = append(ms, m)
	} else {
		for _, m := range ms {
			if m.Name == telemetry.MetricNameLabel && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
	}
	if len(ms) == 0 {
		return "", nil, badKey(KeySelector, "%q matches every series: name a metric or a label", sel)
	}
	return name, ms, nil
}
