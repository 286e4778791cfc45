package sim

import "time"

// SignalKind says where a ground-truth signal shows.
type SignalKind string

// Kinds of signals.
const (
	SignalMetric SignalKind = "metric"
	SignalLog    SignalKind = "log"
	SignalAlert  SignalKind = "alert"
	SignalEvent  SignalKind = "event"
)

// Link is one step of a fault's causal chain. From and To name services (or,
// for node-level effects, nodes).
type Link struct {
	From        string `json:"from"`
	To          string `json:"to"`
	Signal      string `json:"signal"`
	Description string `json:"description"`
}

// Signal is something a detector should be able to see during the fault.
type Signal struct {
	Kind    SignalKind `json:"kind"`
	Service string     `json:"service"`
	// Name is the metric name, the alert name or the event kind.
	Name string `json:"name,omitempty"`
	// Selector narrows a metric to a series ({quantile="0.99"}, code=~"5..").
	Selector string `json:"selector,omitempty"`
	// Snippet is a substring of the log lines that show the fault.
	Snippet string `json:"snippet,omitempty"`
	// Change is how the signal moves: up, down, appears, absent, unchanged.
	Change      string `json:"change"`
	Description string `json:"description,omitempty"`
}

// Truth is the ground truth of one injected fault.
type Truth struct {
	Scenario  string `json:"scenario"`
	RootCause string `json:"root_cause"`
	Component string `json:"component,omitempty"`
	Metric    string `json:"metric,omitempty"`
	// Onset is when the cause starts; End when it stops (symptoms may trail
	// by a few minutes while the system recovers).
	Onset    time.Time `json:"onset"`
	End      time.Time `json:"end"`
	Affected []string  `json:"affected"`
	Chain    []Link    `json:"chain"`
	Signals  []Signal  `json:"signals"`
}

const p99 = `{quantile="0.99"}`
const code5xx = `{code=~"5.."}`

// truthFor builds the ground truth of an injected fault.
func truthFor(f injected) Truth {
	t := Truth{Scenario: f.Scenario, RootCause: f.def.info.RootCause, Onset: f.Onset, End: f.end}
	m := func(svc, name, sel, change, desc string) Signal {
		return Signal{Kind: SignalMetric, Service: svc, Name: name, Selector: sel, Change: change, Description: desc}
	}
	l := func(svc, snippet, change, desc string) Signal {
		return Signal{Kind: SignalLog, Service: svc, Snippet: snippet, Change: change, Description: desc}
	}
	a := func(svc, name string) Signal {
		return Signal{Kind: SignalAlert, Service: svc, Name: name, Change: "appears"}
	}
	switch f.Scenario {
	case ScenarioRedisMemory:
		t.Component, t.Metric = "memory", "redis_memory_used_bytes"
		t.Affected = []string{"redis", "catalog", "postgres", "api-gateway", "frontend"}
		t.Chain = []Link{
			{"redis", "redis", "redis_memory_used_bytes", "memory used climbs to maxmemory"},
			{"redis", "redis", "redis_evicted_keys_total", "allkeys-lru starts evicting keys"},
			{"redis", "catalog", "redis_keyspace_hit_ratio", "the cache hit ratio falls, catalog misses more"},
			{"catalog", "postgres", "pg_stat_activity_count", "misses become database queries: postgres load and connections rise"},
			{"postgres", "catalog", "http_request_duration_seconds", "slower queries raise catalog latency"},
			{"catalog", "api-gateway", "http_request_duration_seconds", "gateway latency follows catalog's"},
		}
		t.Signals = []Signal{
			m("redis", "redis_memory_used_bytes", "", "up", "used/max above 0.9"),
			m("redis", "redis_evicted_keys_total", "", "up", "eviction rate from ~0 to hundreds a second"),
			m("redis", "redis_keyspace_hit_ratio", "", "down", ""),
			m("postgres", "pg_stat_activity_count", `{state="active"}`, "up", ""),
			m("catalog", "http_request_duration_seconds", p99, "up", ""),
			m("api-gateway", "http_request_duration_seconds", p99, "up", ""),
			l("catalog", `"cache":"miss"`, "up", "more request lines served from the database"),
			l("postgres", "LOG:  duration:", "up", "slow-query lines"),
			a("redis", "RedisMemoryHigh"),
			a("redis", "RedisEvictions"),
		}
	case ScenarioPaymentProvider200:
		t.Component = "rate limiting"
		t.Affected = []string{"payments", "checkout"}
		t.Chain = []Link{
			{"payment-provider", "payments", "log", "the provider rate-limits but answers HTTP 200 with an error body"},
			{"payments", "checkout", "log", "charges are left pending; checkout still answers 200"},
		}
		t.Signals = []Signal{
			l("payments", `body="{\"error\":\"rate_limited\"`, "appears", "provider responses with status=200 carry an error body"),
			l("payments", `msg="charge failed" reason=rate_limited`, "appears", ""),
			l("checkout", "Payment pending for order", "appears", "orders placed without a confirmed payment"),
			m("payments", "http_requests_total", code5xx, "unchanged", "no 5xx: metrics look normal"),
		}
	case ScenarioBadDeploy:
		t.Component, t.Metric = "deploy", "http_requests_total"
		t.Affected = []string{"checkout", "api-gateway", "frontend"}
		t.Chain = []Link{
			{"checkout", "checkout", "deploy", "a new checkout version rolls out"},
			{"checkout", "checkout", "http_requests_total", "the new version throws NullPointerException: 5xx and latency rise"},
			{"checkout", "api-gateway", "http_requests_total", "the gateway returns checkout's 5xx"},
			{"api-gateway", "frontend", "http_requests_total", "the edge serves the 5xx"},
		}
		t.Signals = []Signal{
			{Kind: SignalEvent, Service: "checkout", Name: "deploy", Change: "appears", Description: "the deploy at onset; a rollback deploy at the end"},
			m("checkout", "http_requests_total", code5xx, "up", ""),
			m("checkout", "http_request_duration_seconds", p99, "up", ""),
			l("checkout", "java.lang.NullPointerException", "appears", "stack traces follow ERROR lines"),
			l("api-gateway", `"msg":"upstream error"`, "up", ""),
			a("checkout", "HighErrorRate"),
		}
	case ScenarioTrafficSurge:
		t.Component, t.Metric = "traffic", "http_requests_total"
		t.Affected = []string{"frontend", "api-gateway", "catalog", "cart", "redis", "postgres"}
		t.Chain = []Link{
			{"frontend", "api-gateway", "http_requests_total", "edge traffic triples"},
			{"api-gateway", "api-gateway", "http_request_duration_seconds", "the gateway saturates: queueing latency and dropped connections"},
			{"catalog", "redis", "redis_evicted_keys_total", "more keys than fit: the cache fills and evicts"},
			{"redis", "catalog", "redis_keyspace_hit_ratio", "the hit ratio falls"},
			{"api-gateway", "frontend", "http_requests_total", "upstream timeouts and resets surface as 502/504"},
		}
		t.Signals = []Signal{
			m("frontend", "http_requests_total", "", "up", "request rate"),
			m("frontend", "http_requests_total", code5xx, "up", "502 and 504"),
			m("api-gateway", "http_request_duration_seconds", p99, "up", ""),
			m("redis", "redis_evicted_keys_total", "", "up", ""),
			m("redis", "redis_keyspace_hit_ratio", "", "down", ""),
			l("frontend", "upstream timed out (110: Connection timed out)", "appears", "nginx error log"),
			l("frontend", `" 502 `, "appears", "nginx access lines with 502"),
			{Kind: SignalEvent, Service: "api-gateway", Name: "scaling", Change: "appears", Description: "the autoscaler adds replicas up to its maximum"},
			a("frontend", "Service5xx"),
		}
	case ScenarioNetworkPartition:
		t.Component = "network to redis"
		t.Affected = []string{"cart", "checkout", "api-gateway", "frontend", "redis"}
		t.Chain = []Link{
			{"cart", "redis", "log", "cart's redis connections time out or are refused"},
			{"cart", "checkout", "http_requests_total", "checkout fails when it cannot load the cart"},
			{"cart", "api-gateway", "http_requests_total", "the gateway returns cart's 5xx"},
			{"api-gateway", "frontend", "http_requests_total", "the edge serves the 5xx"},
		}
		t.Signals = []Signal{
			l("cart", "JedisConnectionException", "appears", "stack traces follow ERROR lines"),
			m("cart", "http_requests_total", code5xx, "up", ""),
			m("cart", "http_request_duration_seconds", p99, "up", "2s socket timeouts"),
			m("redis", "redis_connected_clients", "", "down", "cart's pool disappears"),
			m("checkout", "http_requests_total", code5xx, "up", ""),
			a("cart", "HighErrorRate"),
		}
	case ScenarioDBConnectionRefused:
		t.Component, t.Metric = "process", "up"
		t.Affected = []string{"postgres", "checkout", "catalog", "reports-cron", "api-gateway", "frontend"}
		t.Chain = []Link{
			{"postgres", "postgres", "up", "postgres shuts down: its target is down, its logs stop"},
			{"postgres", "checkout", "log", "connection refused to db-prod-1:5432"},
			{"postgres", "catalog", "log", "connection refused to db-prod-1:5432"},
			{"checkout", "api-gateway", "http_requests_total", "the gateway returns 5xx"},
			{"catalog", "api-gateway", "http_requests_total", "the gateway returns 5xx"},
		}
		t.Signals = []Signal{
			m("postgres", "up", "", "down", "up=0; pg_* series absent"),
			l("postgres", "database system is shut down", "appears", "then no postgres lines until restart"),
			l("checkout", "java.net.ConnectException: Connection refused (db-prod-1:5432)", "appears", ""),
			l("catalog", "connect: connection refused", "appears", ""),
			l("reports-cron", "ConnectionRefusedError: [Errno 111] Connection refused: 'db-prod-1:5432'", "appears", "when a job runs during the outage"),
			m("checkout", "http_requests_total", code5xx, "up", ""),
			m("catalog", "http_requests_total", code5xx, "up", ""),
			{Kind: SignalEvent, Service: "postgres", Name: "kubernetes", Change: "appears", Description: "BackOff restarting the container"},
			a("postgres", "TargetDown"),
			a("checkout", "HighErrorRate"),
		}
	case ScenarioRunawayCron:
		t.Component, t.Metric = "cpu", "process_cpu_usage_ratio"
		t.Affected = []string{"reports-cron", "checkout", "payments"}
		t.Chain = []Link{
			{"reports-cron", "node-2", "node_load1", "the runaway job takes every core and most memory of node-2"},
			{"node-2", "checkout", "http_request_duration_seconds", "checkout is starved of CPU and slows down"},
			{"node-2", "payments", "http_request_duration_seconds", "payments is starved of CPU and slows down"},
		}
		t.Signals = []Signal{
			m("reports-cron", "process_cpu_usage_ratio", "", "up", ""),
			m("reports-cron", "process_resident_memory_bytes", "", "up", ""),
			{Kind: SignalMetric, Service: "reports-cron", Name: "node_load1", Selector: `{node="node-2"}`, Change: "up"},
			{Kind: SignalMetric, Service: "reports-cron", Name: "node_memory_MemAvailable_bytes", Selector: `{node="node-2"}`, Change: "down"},
			m("checkout", "http_request_duration_seconds", p99, "up", ""),
			l("reports-cron", "exceeds soft limit", "appears", "syslog lines from the job"),
			l("checkout", "Thread starvation or clock leap detected", "appears", ""),
			a("reports-cron", "NodeLoadHigh"),
		}
	case ScenarioSilence:
		t.Component = "logging"
		t.Affected = []string{"catalog"}
		t.Chain = []Link{
			{"catalog", "catalog", "log", "the log writer blocks: no lines at all while requests are still served"},
		}
		t.Signals = []Signal{
			{Kind: SignalLog, Service: "catalog", Change: "absent", Description: "zero catalog log lines during the window"},
			m("catalog", "http_requests_total", "", "unchanged", "traffic continues"),
			m("catalog", "http_request_duration_seconds", p99, "up", "slightly"),
		}
	}
	return t
}
