package sim

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestMetricsInventory(t *testing.T) {
	o := DefaultOptions()
	s := newSim(t, o)
	b := s.Advance(o.Start.Add(o.Step))
	if n := len(b.Samples); n < 100 || n > 200 {
		t.Fatalf("%d series per scrape, want 100-200", n)
	}
	seen := map[string]bool{}
	for _, smp := range b.Samples {
		ls := smp.Labels
		if !ls.Valid() {
			t.Errorf("labels %s are not sorted", ls)
		}
		for _, l := range []string{"__name__", "instance", "job"} {
			if !ls.Has(l) {
				t.Errorf("%s lacks %s", ls, l)
			}
		}
		if !ls.Has("service") && !ls.Has("node") {
			t.Errorf("%s has neither service nor node", ls)
		}
		key := ls.String()
		if seen[key] {
			t.Errorf("duplicate series %s", key)
		}
		seen[key] = true
	}
	for _, name := range []string{
		"http_requests_total", "http_request_duration_seconds", "process_cpu_usage_ratio", "process_resident_memory_bytes",
		"redis_memory_used_bytes", "redis_memory_max_bytes", "redis_evicted_keys_total", "redis_keyspace_hit_ratio",
		"pg_stat_activity_count", "pg_settings_max_connections", "node_load1", "up",
	} {
		if len(series(&b, name)) == 0 {
			t.Errorf("no %s series", name)
		}
	}
	for _, q := range []string{"0.5", "0.95", "0.99"} {
		if len(series(&b, "http_request_duration_seconds", "service", "checkout", "quantile", q)) != 1 {
			t.Errorf("no checkout quantile %s", q)
		}
	}
}

func TestCountersMonotonicAndGaugesSane(t *testing.T) {
	o := DefaultOptions()
	o.LogScale = 0
	o.Faults = []Fault{{Scenario: ScenarioDBConnectionRefused, Onset: o.Start.Add(6 * time.Hour)}}
	b := run(t, o, o.Start.Add(12*time.Hour))
	last := map[string]float64{}
	quant := map[int64]map[string][3]float64{}
	for _, smp := range b.Samples {
		name := smp.Labels.Get("__name__")
		if math.IsNaN(smp.V) || math.IsInf(smp.V, 0) || smp.V < 0 {
			t.Fatalf("%s = %v", smp.Labels, smp.V)
		}
		if strings.HasSuffix(name, "_total") {
			k := smp.Labels.String()
			if prev, ok := last[k]; ok && smp.V < prev {
				t.Fatalf("counter %s went from %v to %v", k, prev, smp.V)
			}
			if smp.V != math.Trunc(smp.V) {
				t.Fatalf("counter %s = %v is not an integer", k, smp.V)
			}
			last[k] = smp.V
		}
		if strings.HasSuffix(name, "_ratio") && smp.V > 1 {
			t.Fatalf("%s = %v above 1", smp.Labels, smp.V)
		}
		if name == "http_request_duration_seconds" {
			svc := smp.Labels.Get("service")
			m := quant[smp.T]
			if m == nil {
				m = map[string][3]float64{}
				quant[smp.T] = m
			}
			q := m[svc]
			q[map[string]int{"0.5": 0, "0.95": 1, "0.99": 2}[smp.Labels.Get("quantile")]] = smp.V
			m[svc] = q
		}
	}
	for ts, m := range quant {
		for svc, q := range m {
			if !(q[0] <= q[1] && q[1] <= q[2]) {
				t.Fatalf("%s at %d: quantiles %v not ordered", svc, ts, q)
			}
		}
	}
}

func TestRedisAndPostgresBaseline(t *testing.T) {
	o := DefaultOptions()
	o.LogScale = 0
	b := run(t, o, o.Start.Add(24*time.Hour))
	used := series(&b, "redis_memory_used_bytes")
	mx := series(&b, "redis_memory_max_bytes")
	for i := range used {
		if r := used[i].V / mx[i].V; r > 0.85 || r < 0.2 {
			t.Fatalf("clean redis at %.2f of maxmemory", r)
		}
	}
	if ev := increase(series(&b, "redis_evicted_keys_total"), o.Start, o.Start.Add(24*time.Hour)); ev > 0 {
		t.Errorf("clean redis evicted %v keys", ev)
	}
	if hit := mean(series(&b, "redis_keyspace_hit_ratio"), o.Start, o.Start.Add(24*time.Hour)); hit < 0.9 {
		t.Errorf("clean hit ratio %.3f", hit)
	}
	for _, smp := range series(&b, "up") {
		if smp.V != 1 {
			t.Fatalf("clean run has %s down", smp.Labels)
		}
	}
}
