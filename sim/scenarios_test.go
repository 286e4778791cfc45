package sim

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// scenarioEnd is how far the scenario runs go: past the longest fault, its
// recovery and Prometheus' 15 minutes of resolved sends.
var scenarioEnd = peakOnset.Add(110 * time.Minute)

var (
	cleanOnce  sync.Once
	cleanBatch Batch
)

// clean is the no-fault run every scenario is compared against: the same
// seed and window, so any difference is the fault's doing.
func clean(t *testing.T) *Batch {
	cleanOnce.Do(func() {
		o := DefaultOptions()
		o.Start = evening
		cleanBatch = run(t, o, scenarioEnd)
	})
	return &cleanBatch
}

type window struct{ from, to time.Time }

type scenarioCheck struct {
	f, c *Batch
	on   time.Time
	end  time.Time
	full window // where the fault is at full strength
}

func (sc *scenarioCheck) metricMean(b *Batch, name string, match ...string) float64 {
	return mean(series(b, name, match...), sc.full.from, sc.full.to)
}

func (sc *scenarioCheck) metricIncrease(b *Batch, name string, match ...string) float64 {
	return increase(series(b, name, match...), sc.full.from, sc.full.to)
}

func TestScenarios(t *testing.T) {
	cases := []struct {
		scenario string
		// settle is how long after onset the fault is at full strength.
		settle time.Duration
		// alert and on name the alert that must page (on is the service
		// or node label); empty alert means no alert may fire at all.
		alert, on string
		check     func(t *testing.T, sc *scenarioCheck)
	}{
		{ScenarioRedisMemory, 15 * time.Minute, "RedisMemoryHigh", "redis", func(t *testing.T, sc *scenarioCheck) {
			evF, evC := sc.metricIncrease(sc.f, "redis_evicted_keys_total"), sc.metricIncrease(sc.c, "redis_evicted_keys_total")
			if evF < 5*evC || evF < 1000 {
				t.Errorf("evictions %v in the window, clean %v: want at least 5× and 1000", evF, evC)
			}
			if hf, hc := sc.metricMean(sc.f, "redis_keyspace_hit_ratio"), sc.metricMean(sc.c, "redis_keyspace_hit_ratio"); hf > hc-0.2 {
				t.Errorf("hit ratio %.3f vs clean %.3f", hf, hc)
			}
			if af, ac := sc.metricMean(sc.f, "pg_stat_activity_count", "state", "active"), sc.metricMean(sc.c, "pg_stat_activity_count", "state", "active"); af < 1.5*ac {
				t.Errorf("postgres active connections %.1f vs clean %.1f", af, ac)
			}
			ratio(t, sc, "catalog p99", 1.5, "http_request_duration_seconds", "service", "catalog", "quantile", "0.99")
			ratio(t, sc, "gateway p50", 1.2, "http_request_duration_seconds", "service", "api-gateway", "quantile", "0.5")
			slowF := countContaining(logsOf(sc.f, "postgres", sc.full.from, sc.full.to), "LOG:  duration:")
			slowC := countContaining(logsOf(sc.c, "postgres", sc.full.from, sc.full.to), "LOG:  duration:")
			if slowF < 3*slowC+3 {
				t.Errorf("postgres slow-query lines %d vs clean %d", slowF, slowC)
			}
			missF := missShare(sc.f, sc.full)
			missC := missShare(sc.c, sc.full)
			if missF < 2*missC {
				t.Errorf("catalog cache-miss share of request lines %.3f vs clean %.3f", missF, missC)
			}
		}},
		{ScenarioPaymentProvider200, 3 * time.Minute, "", "", func(t *testing.T, sc *scenarioCheck) {
			const snippet = `body="{\"error\":\"rate_limited\"`
			during := countContaining(logsOf(sc.f, "payments", sc.on, sc.end.Add(2*time.Minute)), snippet)
			before := countContaining(logsOf(sc.f, "payments", evening, sc.on), snippet)
			after := countContaining(logsOf(sc.f, "payments", sc.end.Add(2*time.Minute), scenarioEnd), snippet)
			cleanN := countContaining(logsOf(sc.c, "payments", evening, scenarioEnd), snippet)
			if during == 0 || before+after+cleanN != 0 {
				t.Errorf("rate-limited provider bodies: %d during, %d before, %d after, %d in the clean run", during, before, after, cleanN)
			}
			if n := countContaining(logsOf(sc.f, "payments", sc.on, sc.end), `msg="charge failed" reason=rate_limited`); n == 0 {
				t.Error("no charge-failed lines")
			}
			if f, c := countContaining(logsOf(sc.f, "checkout", sc.on, sc.end), "Payment pending for order"),
				countContaining(logsOf(sc.c, "checkout", evening, scenarioEnd), "Payment pending for order"); f == 0 || c != 0 {
				t.Errorf("checkout pending-payment lines: %d in the fault, %d clean", f, c)
			}
			w := window{sc.on, sc.end}
			if f, c := increase5xx(sc.f, "payments", w), increase5xx(sc.c, "payments", w); f > c+3 {
				t.Errorf("payments 5xx rose from %v to %v: metrics must look normal", c, f)
			}
			if f, c := sc.metricMean(sc.f, "http_request_duration_seconds", "service", "payments", "quantile", "0.99"),
				sc.metricMean(sc.c, "http_request_duration_seconds", "service", "payments", "quantile", "0.99"); f > 1.15*c || f < 0.85*c {
				t.Errorf("payments p99 %.3f vs clean %.3f", f, c)
			}
		}},
		{ScenarioBadDeploy, 3 * time.Minute, "HighErrorRate", "checkout", func(t *testing.T, sc *scenarioCheck) {
			var deploy, rollback *telemetry.Event
			for i := range sc.f.Events {
				e := &sc.f.Events[i]
				if e.Kind == telemetry.EventDeploy && e.Service == "checkout" {
					switch {
					case e.Time.Equal(sc.on):
						deploy = e
					case e.Time.Equal(sc.end):
						rollback = e
					}
				}
			}
			if deploy == nil || deploy.Attributes["version"] == "" || deploy.Attributes["version"] == deploy.Attributes["previous_version"] {
				t.Fatalf("no checkout deploy with a new version at onset: %+v", deploy)
			}
			if rollback == nil || rollback.Attributes["rollback"] != "true" || rollback.Attributes["version"] != deploy.Attributes["previous_version"] {
				t.Errorf("no rollback to %s at the end: %+v", deploy.Attributes["previous_version"], rollback)
			}
			if f, c := errRatio(sc.f, "checkout", sc.full.from, sc.full.to), errRatio(sc.c, "checkout", sc.full.from, sc.full.to); f < 0.08 || c > 0.01 {
				t.Errorf("checkout 5xx ratio %.3f vs clean %.3f", f, c)
			}
			ratio(t, sc, "checkout p99", 1.5, "http_request_duration_seconds", "service", "checkout", "quantile", "0.99")
			if f, c := errRatio(sc.f, "api-gateway", sc.full.from, sc.full.to), errRatio(sc.c, "api-gateway", sc.full.from, sc.full.to); f < c+0.004 {
				t.Errorf("gateway 5xx ratio %.4f vs clean %.4f", f, c)
			}
			if n := countContaining(logsOf(sc.c, "checkout", evening, scenarioEnd), "NullPointerException"); n != 0 {
				t.Errorf("clean run has %d NullPointerException lines", n)
			}
			first := time.Time{}
			var prev string
			for _, l := range sc.f.Logs {
				if l.Service != "checkout" {
					continue
				}
				if strings.HasPrefix(l.Raw, "java.lang.NullPointerException") {
					if first.IsZero() {
						first = l.Time
					}
					if !strings.Contains(prev, " ERROR ") {
						t.Fatalf("stack trace does not follow its ERROR head line: %q then %q", prev, l.Raw)
					}
				}
				prev = l.Raw
			}
			if first.IsZero() || first.Before(sc.on.Add(time.Minute)) || first.After(sc.on.Add(3*time.Minute)) {
				t.Errorf("first NullPointerException at %v, want one to three minutes after the deploy at %v", first, sc.on)
			}
		}},
		{ScenarioTrafficSurge, 10 * time.Minute, "Service5xx", "frontend", func(t *testing.T, sc *scenarioCheck) {
			ratio(t, sc, "edge requests", 2, "http_requests_total", "service", "frontend")
			evF, evC := sc.metricIncrease(sc.f, "redis_evicted_keys_total"), sc.metricIncrease(sc.c, "redis_evicted_keys_total")
			if evF <= 5*evC || evF == 0 {
				t.Errorf("evictions %v vs clean %v", evF, evC)
			}
			if hf, hc := sc.metricMean(sc.f, "redis_keyspace_hit_ratio"), sc.metricMean(sc.c, "redis_keyspace_hit_ratio"); hf > hc-0.05 {
				t.Errorf("hit ratio %.3f vs clean %.3f", hf, hc)
			}
			if f, c := errRatio(sc.f, "frontend", sc.full.from, sc.full.to), errRatio(sc.c, "frontend", sc.full.from, sc.full.to); f < 0.03 || c > 0.005 {
				t.Errorf("frontend 5xx ratio %.3f vs clean %.3f", f, c)
			}
			for _, s := range []string{`" 502 `, "upstream timed out (110: Connection timed out)"} {
				f := countContaining(logsOf(sc.f, "frontend", sc.on, sc.end), s)
				c := countContaining(logsOf(sc.c, "frontend", evening, scenarioEnd), s)
				if f == 0 || c != 0 {
					t.Errorf("%q: %d lines in the fault, %d in the clean run", s, f, c)
				}
			}
		}},
		{ScenarioNetworkPartition, 2 * time.Minute, "HighErrorRate", "cart", func(t *testing.T, sc *scenarioCheck) {
			f := countContaining(logsOf(sc.f, "cart", sc.on, sc.end), "JedisConnectionException")
			c := countContaining(logsOf(sc.c, "cart", evening, scenarioEnd), "JedisConnectionException")
			if f == 0 || c != 0 {
				t.Errorf("JedisConnectionException: %d in the fault, %d clean", f, c)
			}
			if f, c := errRatio(sc.f, "cart", sc.full.from, sc.full.to), errRatio(sc.c, "cart", sc.full.from, sc.full.to); f < 0.3 || c > 0.01 {
				t.Errorf("cart 5xx ratio %.3f vs clean %.3f", f, c)
			}
			ratio(t, sc, "cart p99", 2, "http_request_duration_seconds", "service", "cart", "quantile", "0.99")
			if f, c := errRatio(sc.f, "checkout", sc.full.from, sc.full.to), errRatio(sc.c, "checkout", sc.full.from, sc.full.to); f < 0.1 || f < 5*c {
				t.Errorf("checkout 5xx ratio %.3f vs clean %.3f", f, c)
			}
			if f, c := sc.metricMean(sc.f, "redis_connected_clients"), sc.metricMean(sc.c, "redis_connected_clients"); f > c-5 {
				t.Errorf("redis clients %.1f vs clean %.1f", f, c)
			}
		}},
		{ScenarioDBConnectionRefused, time.Minute, "TargetDown", "postgres", func(t *testing.T, sc *scenarioCheck) {
			const java = "java.net.ConnectException: Connection refused (db-prod-1:5432)"
			if f, c := countContaining(logsOf(sc.f, "checkout", sc.on, sc.end), java), countContaining(logsOf(sc.c, "checkout", evening, scenarioEnd), java); f == 0 || c != 0 {
				t.Errorf("%q: %d in the fault, %d clean", java, f, c)
			}
			const py = "ConnectionRefusedError: [Errno 111] Connection refused: 'db-prod-1:5432'"
			if n := countContaining(logsOf(sc.f, "reports-cron", sc.on, sc.end), py); n == 0 {
				t.Errorf("no %q from the reports job", py)
			}
			if n := countContaining(logsOf(sc.f, "catalog", sc.on, sc.end), "connect: connection refused"); n == 0 {
				t.Error("catalog logs no refused connections")
			}
			for _, smp := range series(sc.f, "up", "service", "postgres") {
				if inWindow(smp.T, sc.on, sc.end) && smp.V != 0 {
					t.Fatalf("postgres up=%v at %v during the outage", smp.V, smp.Time())
				}
			}
			for _, smp := range series(sc.f, "pg_stat_activity_count") {
				if inWindow(smp.T, sc.on, sc.end) {
					t.Fatalf("postgres metrics present at %v during the outage", smp.Time())
				}
			}
			pg := logsOf(sc.f, "postgres", sc.on, sc.end)
			if len(pg) == 0 || !strings.Contains(pg[len(pg)-1], "database system is shut down") {
				t.Errorf("postgres' last lines in the outage should end with the shutdown, got %d lines", len(pg))
			}
			if n := len(logsOf(sc.f, "postgres", sc.on.Add(2*time.Second), sc.end)); n != 0 {
				t.Errorf("postgres wrote %d lines while down", n)
			}
			if n := countContaining(logsOf(sc.f, "postgres", sc.end, sc.end.Add(time.Minute)), "ready to accept connections"); n != 1 {
				t.Errorf("postgres restart lines: %d", n)
			}
			if f := errRatio(sc.f, "checkout", sc.full.from, sc.full.to); f < 0.5 {
				t.Errorf("checkout 5xx ratio %.3f", f)
			}
		}},
		{ScenarioRunawayCron, 15 * time.Minute, "NodeLoadHigh", "node-2", func(t *testing.T, sc *scenarioCheck) {
			if f, c := sc.metricMean(sc.f, "node_load1", "node", "node-2"), sc.metricMean(sc.c, "node_load1", "node", "node-2"); f < 2*c || f < 6 {
				t.Errorf("node-2 load %.2f vs clean %.2f", f, c)
			}
			if f, c := sc.metricMean(sc.f, "node_load1", "node", "node-1"), sc.metricMean(sc.c, "node_load1", "node", "node-1"); f > 1.2*c {
				t.Errorf("node-1 load %.2f vs clean %.2f: the blast radius is node-2", f, c)
			}
			if f := sc.metricMean(sc.f, "process_cpu_usage_ratio", "service", "reports-cron"); f < 0.5 {
				t.Errorf("reports-cron cpu %.2f", f)
			}
			ratio(t, sc, "reports-cron memory", 3, "process_resident_memory_bytes", "service", "reports-cron")
			ratio(t, sc, "checkout p99", 1.4, "http_request_duration_seconds", "service", "checkout", "quantile", "0.99")
			if n := countContaining(logsOf(sc.f, "reports-cron", sc.on, sc.end), "exceeds soft limit"); n == 0 {
				t.Error("no memory warnings from the job")
			}
			if n := countContaining(logsOf(sc.f, "reports-cron", sc.end, sc.end.Add(time.Minute)), "Out of memory: Killed process"); n != 1 {
				t.Errorf("%d OOM kills at the end", n)
			}
			f := countContaining(logsOf(sc.f, "checkout", sc.on, sc.end), "Thread starvation or clock leap detected")
			c := countContaining(logsOf(sc.c, "checkout", evening, scenarioEnd), "Thread starvation or clock leap detected")
			if f == 0 || c != 0 {
				t.Errorf("Hikari starvation warnings: %d in the fault, %d clean", f, c)
			}
		}},
		{ScenarioSilence, 0, "", "", func(t *testing.T, sc *scenarioCheck) {
			if n := len(logsOf(sc.f, "catalog", sc.on, sc.end)); n != 0 {
				t.Errorf("catalog wrote %d lines while silent", n)
			}
			if n := len(logsOf(sc.c, "catalog", sc.on, sc.end)); n < 50 {
				t.Errorf("clean catalog wrote only %d lines in the window", n)
			}
			if n := len(logsOf(sc.f, "catalog", sc.end, sc.end.Add(10*time.Minute))); n == 0 {
				t.Error("catalog did not resume logging")
			}
			ratio(t, sc, "catalog requests", 0.85, "http_requests_total", "service", "catalog")
			if f, c := sc.metricIncrease(sc.f, "http_requests_total", "service", "catalog"), sc.metricIncrease(sc.c, "http_requests_total", "service", "catalog"); f > 1.15*c {
				t.Errorf("catalog requests %v vs clean %v", f, c)
			}
		}},
		{ScenarioNone, 0, "", "", func(t *testing.T, sc *scenarioCheck) {}},
	}
	for _, tc := range cases {
		t.Run(tc.scenario, func(t *testing.T) {
			o := DefaultOptions()
			o.Start = evening
			o.Faults = []Fault{{Scenario: tc.scenario, Onset: peakOnset}}
			s := newSim(t, o)
			var f Batch
			for s.Now().Before(scenarioEnd) {
				b := s.Advance(minTime(s.Now().Add(time.Hour), scenarioEnd))
				f.Logs = append(f.Logs, b.Logs...)
				f.Samples = append(f.Samples, b.Samples...)
				f.Alerts = append(f.Alerts, b.Alerts...)
				f.Events = append(f.Events, b.Events...)
			}
			def, _ := lookupScenario(tc.scenario)
			end := peakOnset.Add(def.info.DefaultDuration)
			sc := &scenarioCheck{f: &f, c: clean(t), on: peakOnset, end: end, full: window{peakOnset.Add(tc.settle), end}}

			checkTruth(t, s.Truth(), tc.scenario, peakOnset, end)
			checkSameBeforeOnset(t, sc)
			checkAlert(t, sc, tc.alert, tc.on)
			tc.check(t, sc)
		})
	}
}

func checkTruth(t *testing.T, truths []Truth, scenario string, on, end time.Time) {
	t.Helper()
	if scenario == ScenarioNone {
		if len(truths) != 0 {
			t.Errorf("none has ground truth %+v", truths)
		}
		return
	}
	if len(truths) != 1 {
		t.Fatalf("%d truths, want 1", len(truths))
	}
	tr := truths[0]
	def, _ := lookupScenario(scenario)
	if tr.Scenario != scenario || !tr.Onset.Equal(on) || !tr.End.Equal(end) || tr.RootCause != def.info.RootCause {
		t.Errorf("truth %s %s root %s [%v, %v), want %s root %s [%v, %v)", tr.Scenario, tr.Component, tr.RootCause, tr.Onset, tr.End, scenario, def.info.RootCause, on, end)
	}
	if len(tr.Chain) == 0 || len(tr.Signals) == 0 || len(tr.Affected) == 0 {
		t.Errorf("truth lacks chain, signals or affected services: %+v", tr)
	}
	topo := shopTopology()
	known := func(n string) bool {
		_, ok := topo.Service(n)
		return ok || strings.HasPrefix(n, "node-")
	}
	for _, l := range tr.Chain {
		if !known(l.From) || !known(l.To) || l.Signal == "" {
			t.Errorf("chain link %+v names an unknown service or no signal", l)
		}
	}
	for _, s := range tr.Signals {
		if !known(s.Service) || s.Change == "" {
			t.Errorf("signal %+v", s)
		}
	}
}

// checkSameBeforeOnset: before the fault starts a faulty run is the clean
// run, record for record.
func checkSameBeforeOnset(t *testing.T, sc *scenarioCheck) {
	t.Helper()
	cut := func(b *Batch) Batch {
		var out Batch
		for _, l := range b.Logs {
			if l.Time.Before(sc.on) {
				out.Logs = append(out.Logs, l)
			}
		}
		for _, s := range b.Samples {
			if s.T < sc.on.UnixMilli() {
				out.Samples = append(out.Samples, s)
			}
		}
		return out
	}
	f, c := cut(sc.f), cut(sc.c)
	df, dc := newDigest(), newDigest()
	df.add(&f)
	dc.add(&c)
	if df.sum() != dc.sum() {
		t.Errorf("output before onset differs from the clean run (%d/%d lines, %d/%d samples)", df.logs, dc.logs, df.samples, dc.samples)
	}
}

// checkAlert verifies the paging alert: firing after onset, later resolved;
// or, with no alert expected, that nothing fired at all.
func checkAlert(t *testing.T, sc *scenarioCheck, name, on string) {
	t.Helper()
	if name == "" {
		for _, a := range sc.f.Alerts {
			t.Errorf("unexpected alert %s at %v", a.Labels, a.UpdatedAt)
		}
		return
	}
	match := func(a telemetry.Alert) bool {
		return a.Name() == name && (a.Labels.Get("service") == on || a.Labels.Get("node") == on)
	}
	var firing, resolved *telemetry.Alert
	for i := range sc.f.Alerts {
		a := &sc.f.Alerts[i]
		if !match(*a) {
			continue
		}
		if !a.Resolved(a.UpdatedAt) && firing == nil {
			firing = a
		}
		if a.Resolved(a.UpdatedAt) && firing != nil {
			resolved = a
		}
	}
	if firing == nil {
		t.Fatalf("no firing %s for %s", name, on)
	}
	if !firing.StartsAt.After(sc.on) || firing.StartsAt.After(sc.end) {
		t.Errorf("%s started firing at %v, want inside (%v, %v]", name, firing.StartsAt, sc.on, sc.end)
	}
	if resolved == nil || !resolved.UpdatedAt.After(sc.end) || resolved.EndsAt.Before(sc.end) {
		t.Errorf("no resolved send of %s after the fault ended at %v: %+v", name, sc.end, resolved)
	}
	for _, a := range sc.c.Alerts {
		if match(a) {
			t.Errorf("clean run fires %s too", a.Labels)
		}
	}
}

func ratio(t *testing.T, sc *scenarioCheck, what string, min float64, name string, match ...string) {
	t.Helper()
	var f, c float64
	if strings.HasSuffix(name, "_total") {
		f, c = sc.metricIncrease(sc.f, name, match...), sc.metricIncrease(sc.c, name, match...)
	} else {
		f, c = sc.metricMean(sc.f, name, match...), sc.metricMean(sc.c, name, match...)
	}
	if f < min*c {
		t.Errorf("%s: %.4g in the fault vs %.4g clean, want at least %.2f×", what, f, c, min)
	}
}

func increase5xx(b *Batch, svc string, w window) float64 {
	var five []telemetry.Sample
	for _, s := range series(b, "http_requests_total", "service", svc) {
		if strings.HasPrefix(s.Labels.Get("code"), "5") {
			five = append(five, s)
		}
	}
	return increase(five, w.from, w.to)
}

func missShare(b *Batch, w window) float64 {
	lines := logsOf(b, "catalog", w.from, w.to)
	served := countContaining(lines, `"msg":"request served"`)
	if served == 0 {
		return 0
	}
	return float64(countContaining(lines, `"cache":"miss"`)) / float64(served)
}
