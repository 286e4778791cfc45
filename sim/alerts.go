package sim

import (
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// Alerting follows Prometheus' rule manager (rules/alerting.go): an alert is
// pending until its condition held for `for:`, then firing; firing alerts
// are sent when the resend delay has strictly elapsed since the last send
// (so with a 30s evaluation interval and a 1m delay a send goes out every
// 90s, exactly as Prometheus does); StartsAt is when it started firing,
// EndsAt is send time plus 4×max(interval, resend delay) while firing and
// the resolution time once resolved; resolved alerts are re-sent until 15m
// after resolution.

const (
	resendDelay       = time.Minute
	resolvedRetention = 15 * time.Minute
	windowRate        = 5 * time.Minute
	prometheusURL     = "http://prometheus:9090"
)

type alertState uint8

const (
	statePending alertState = iota
	stateFiring
	stateInactive
)

// ruleResult is one element of a rule expression's output vector.
type ruleResult struct {
	labels []string // name/value pairs, without alertname and severity
	value  float64
}

type alertRule struct {
	name, expr, severity string
	hold                 time.Duration
	eval                 func(s *Sim, ev *ruleEval) []ruleResult
	annotate             func(l telemetry.Labels, v float64) (summary, description string)
}

// ruleEval gives rules access to the current scrape and the one a rate
// window ago.
type ruleEval struct {
	now, then *scrape
	window    float64
}

func (ev *ruleEval) rate(i int) (float64, bool) {
	if ev.then == nil || !ev.now.present[i] || !ev.then.present[i] || ev.window <= 0 {
		return 0, false
	}
	return max(0, ev.now.vals[i]-ev.then.vals[i]) / ev.window, true
}

// activeAlert is one alert instance's state.
type activeAlert struct {
	rule                 int
	labels               telemetry.Labels
	key                  string
	state                alertState
	value                float64
	activeAt, firedAt    time.Time
	resolvedAt, lastSent time.Time
}

// alertEngine evaluates the rules; only the Advance goroutine touches it.
type alertEngine struct {
	rules  []alertRule
	active []*activeAlert
	urls   []string
}

func newAlertEngine() *alertEngine {
	e := &alertEngine{rules: alertRules()}
	for _, r := range e.rules {
		e.urls = append(e.urls, prometheusURL+"/graph?g0.expr="+url.QueryEscape(r.expr)+"&g0.tab=1")
	}
	return e
}

// evaluate runs every rule at ts and returns the alerts sent at ts.
func (e *alertEngine) evaluate(s *Sim, ts time.Time, ev *ruleEval, interval time.Duration) []telemetry.Alert {
	for ri := range e.rules {
		rule := &e.rules[ri]
		seen := map[string]bool{}
		for _, res := range rule.eval(s, ev) {
			nv := append([]string{"alertname", rule.name, "severity", rule.severity}, res.labels...)
			ls := telemetry.LabelsFromStrings(nv...)
			key := ls.String()
			seen[key] = true
			if a := e.find(ri, key); a != nil && a.state != stateInactive {
				a.value = res.value
				continue
			}
			e.remove(ri, key)
			e.active = append(e.active, &activeAlert{rule: ri, labels: ls, key: key, state: statePending, value: res.value, activeAt: ts})
		}
		keep := e.active[:0]
		for _, a := range e.active {
			if a.rule != ri {
				keep = append(keep, a)
				continue
			}
			if !seen[a.key] {
				if a.state == statePending || (!a.resolvedAt.IsZero() && ts.Sub(a.resolvedAt) > resolvedRetention) {
					continue
				}
				if a.state != stateInactive {
					a.state = stateInactive
					a.resolvedAt = ts
				}
				keep = append(keep, a)
				continue
			}
			if a.state == statePending && ts.Sub(a.activeAt) >= rule.hold {
				a.state = stateFiring
				a.firedAt = ts
			}
			keep = append(keep, a)
		}
		e.active = keep
	}
	slices.SortStableFunc(e.active, func(a, b *activeAlert) int {
		if a.rule != b.rule {
			return a.rule - b.rule
		}
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	var out []telemetry.Alert
	validFor := 4 * max(interval, resendDelay)
	for _, a := range e.active {
		if a.state == statePending {
			continue
		}
		if !a.resolvedAt.After(a.lastSent) && !a.lastSent.Add(resendDelay).Before(ts) {
			continue
		}
		a.lastSent = ts
		rule := &e.rules[a.rule]
		sum, desc := rule.annotate(a.labels, a.value)
		end := ts.Add(validFor)
		if a.state == stateInactive {
			end = a.resolvedAt
		}
		out = append(out, telemetry.Alert{
			Labels:       a.labels,
			Annotations:  telemetry.LabelsFromStrings("summary", sum, "description", desc),
			StartsAt:     a.firedAt,
			EndsAt:       end,
			GeneratorURL: e.urls[a.rule],
			UpdatedAt:    ts,
		})
	}
	return out
}

func (e *alertEngine) find(rule int, key string) *activeAlert {
	for _, a := range e.active {
		if a.rule == rule && a.key == key {
			return a
		}
	}
	return nil
}

func (e *alertEngine) remove(rule int, key string) {
	e.active = slices.DeleteFunc(e.active, func(a *activeAlert) bool { return a.rule == rule && a.key == key })
}

func pct(v float64) string { return strconv.FormatFloat(v*100, 'f', 1, 64) + "%" }
func num(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
func svcLabels(i int) []string {
	return []string{"service", svcNames[i], "instance", svcInstances[i], "job", svcNames[i]}
}

// errorRatio is sum(rate(5xx))/sum(rate(all)) of one service over the window.
func errorRatio(s *Sim, ev *ruleEval, svc int) (float64, bool) {
	var bad, all float64
	for c, code := range httpCodes[svc] {
		r, ok := ev.rate(s.seriesIdx[seriesKey{mHTTPRequests, svc, c}])
		if !ok {
			return 0, false
		}
		all += r
		if code[0] == '5' {
			bad += r
		}
	}
	if all == 0 {
		return 0, false
	}
	return bad / all, true
}

func alertRules() []alertRule {
	gauge := func(s *Sim, ev *ruleEval, k seriesKey) (float64, bool) {
		i := s.seriesIdx[k]
		return ev.now.vals[i], ev.now.present[i]
	}
	return []alertRule{
		{
			name: "TargetDown", severity: "critical", hold: time.Minute,
			expr: `up == 0`,
			eval: func(s *Sim, ev *ruleEval) []ruleResult {
				var out []ruleResult
				for i := 0; i < numOwn; i++ {
					if v, ok := gauge(s, ev, seriesKey{mUp, i, 0}); ok && v == 0 {
						out = append(out, ruleResult{svcLabels(i), v})
					}
				}
				return out
			},
			annotate: func(l telemetry.Labels, v float64) (string, string) {
				return "Target " + l.Get("instance") + " is down",
					l.Get("job") + " target " + l.Get("instance") + " has been unreachable for more than 1 minute."
			},
		},
		{
			name: "Service5xx", severity: "critical", hold: 2 * time.Minute,
			expr: `sum by (service, instance, job) (rate(http_requests_total{job="frontend",code=~"5.."}[5m])) / sum by (service, instance, job) (rate(http_requests_total{job="frontend"}[5m])) > 0.02`,
			eval: func(s *Sim, ev *ruleEval) []ruleResult {
				if r, ok := errorRatio(s, ev, svcFrontend); ok && r > 0.02 {
					return []ruleResult{{svcLabels(svcFrontend), r}}
				}
				return nil
			},
			annotate: func(l telemetry.Labels, v float64) (string, string) {
				return "Edge is serving 5xx", "The frontend answered " + pct(v) + " of requests with 5xx over the last 5 minutes (threshold 2%)."
			},
		},
		{
			name: "HighErrorRate", severity: "critical", hold: 5 * time.Minute,
			expr: `sum by (service, instance, job) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (service, instance, job) (rate(http_requests_total[5m])) > 0.05`,
			eval: func(s *Sim, ev *ruleEval) []ruleResult {
				var out []ruleResult
				for i := svcGateway; i < numOwn; i++ {
					if !isHTTP(i) {
						continue
					}
					if r, ok := errorRatio(s, ev, i); ok && r > 0.05 {
						out = append(out, ruleResult{svcLabels(i), r})
					}
				}
				return out
			},
			annotate: func(l telemetry.Labels, v float64) (string, string) {
				return "High 5xx error rate on " + l.Get("service"),
					l.Get("service") + " answered " + pct(v) + " of requests with 5xx over the last 5 minutes (threshold 5%)."
			},
		},
		{
			name: "HighLatencyP99", severity: "warning", hold: 5 * time.Minute,
			expr: `http_request_duration_seconds{quantile="0.99"} > 2.5`,
			eval: func(s *Sim, ev *ruleEval) []ruleResult {
				var out []ruleResult
				for i := 0; i < numOwn; i++ {
					if !isHTTP(i) {
						continue
					}
					if v, ok := gauge(s, ev, seriesKey{mHTTPDuration, i, 2}); ok && v > 2.5 {
						out = append(out, ruleResult{append(svcLabels(i), "quantile", "0.99"), v})
					}
				}
				return out
			},
			annotate: func(l telemetry.Labels, v float64) (string, string) {
				return "High p99 latency on " + l.Get("service"),
					l.Get("service") + " p99 latency is " + num(v) + "s (threshold 2.5s)."
			},
		},
		{
			name: "RedisMemoryHigh", severity: "warning", hold: 5 * time.Minute,
			expr: `redis_memory_used_bytes / redis_memory_max_bytes > 0.9`,
			eval: func(s *Sim, ev *ruleEval) []ruleResult {
				used, ok1 := gauge(s, ev, seriesKey{mRedisUsed, svcRedis, 0})
				mx, ok2 := gauge(s, ev, seriesKey{mRedisMax, svcRedis, 0})
				if ok1 && ok2 && mx > 0 && used/mx > 0.9 {
					return []ruleResult{{svcLabels(svcRedis), used / mx}}
				}
				return nil
			},
			annotate: func(l telemetry.Labels, v float64) (string, string) {
				return "Redis memory is almost full", "Redis uses " + pct(v) + " of maxmemory."
			},
		},
		{
			name: "RedisEvictions", severity: "warning", hold: 5 * time.Minute,
			expr: `rate(redis_evicted_keys_total[5m]) > 10`,
			eval: func(s *Sim, ev *ruleEval) []ruleResult {
				if r, ok := ev.rate(s.seriesIdx[seriesKey{mRedisEvicted, svcRedis, 0}]); ok && r > 10 {
					return []ruleResult{{svcLabels(svcRedis), r}}
				}
				return nil
			},
			annotate: func(l telemetry.Labels, v float64) (string, string) {
				return "Redis is evicting keys", "Redis evicts " + num(v) + " keys/s."
			},
		},
		{
			name: "PostgresConnectionsHigh", severity: "warning", hold: 5 * time.Minute,
			expr: `sum by (service, instance, job) (pg_stat_activity_count) / on (service, instance, job) pg_settings_max_connections > 0.8`,
			eval: func(s *Sim, ev *ruleEval) []ruleResult {
				a, ok1 := gauge(s, ev, seriesKey{mPGActivity, svcPostgres, 0})
				b, ok2 := gauge(s, ev, seriesKey{mPGActivity, svcPostgres, 1})
				mx, ok3 := gauge(s, ev, seriesKey{mPGMaxConn, svcPostgres, 0})
				if ok1 && ok2 && ok3 && mx > 0 && (a+b)/mx > 0.8 {
					return []ruleResult{{svcLabels(svcPostgres), (a + b) / mx}}
				}
				return nil
			},
			annotate: func(l telemetry.Labels, v float64) (string, string) {
				return "Postgres connections near max_connections", "Postgres uses " + pct(v) + " of max_connections."
			},
		},
		{
			name: "NodeLoadHigh", severity: "warning", hold: 10 * time.Minute,
			expr: `node_load1 > 6`,
			eval: func(s *Sim, ev *ruleEval) []ruleResult {
				var out []ruleResult
				for n := 0; n < numNodes; n++ {
					if v, ok := gauge(s, ev, seriesKey{mNodeLoad, -1, n}); ok && v > 6 {
						out = append(out, ruleResult{[]string{"node", nodeNames[n], "instance", nodeNames[n] + ":9100", "job", "node"}, v})
					}
				}
				return out
			},
			annotate: func(l telemetry.Labels, v float64) (string, string) {
				return "High load on " + l.Get("node"), l.Get("node") + " 1m load average is " + num(v) + " on 4 CPUs (threshold 6)."
			},
		},
	}
}
