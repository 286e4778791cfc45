package analyst

import (
	"testing"

	"github.com/vigilops/vigil/telemetry"
)

// classifyLine runs one line through the same path as Explain.
func classifyLine(t *testing.T, a *Analyst, raw string) (string, string) {
	t.Helper()
	rep := a.Explain([]string{raw})
	if len(rep.Findings) == 0 {
		return "", ""
	}
	return rep.Findings[0].Signature, rep.Findings[0].Entity
}

func TestSignatures(t *testing.T) {
	type hit struct{ line, entity string }
	tests := []struct {
		sig  string
		hits []hit
		// misses must not be classified as sig (they may match another
		// signature or none).
		misses []string
	}{
		{"connection-refused", []hit{
			{"ConnectionRefusedError: [Errno 111] Connection refused: 'db-prod-1:5432'", "db-prod-1:5432"},
			{`level=error msg="query failed" err="dial tcp 10.0.3.7:6379: connect: connection refused"`, "10.0.3.7:6379"},
			{"java.net.ConnectException: Connection refused (Connection refused)", ""},
			{"Error: connect ECONNREFUSED 127.0.0.1:27017", "127.0.0.1:27017"},
			{"io.netty.channel.AbstractChannel$AnnotatedConnectException: Connection refused: localhost/127.0.0.1:9042", "localhost:9042"},
			{"connection refused count=0 metric", ""},
		}, []string{"refusedConnectionsTotal=0", "metric econnrefused_total 3", "connections accepted: 12"}},
		{"timeout", []hit{
			{`Get "http://inventory:8080/items": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`, "inventory:8080"},
			{"java.net.SocketTimeoutException: Read timed out", ""},
			{"read tcp 10.1.0.4:51234->10.1.0.9:443: i/o timeout", "10.1.0.9:443"},
		}, []string{"timeout=30s", "read_timeout: 10", "setting connect_timeout to 5s"}},
		{"dns", []hit{
			{"dial tcp: lookup payments on 10.96.0.10:53: no such host", "payments"},
			{"java.net.UnknownHostException: api.example.com", "api.example.com"},
			{"Error: getaddrinfo ENOTFOUND redis-master", "redis-master"},
			{`psql: error: could not translate host name "pg-main" to address: Name or service not known`, "pg-main"},
		}, []string{"resolved host api.example.com to 10.0.0.1", "dns cache size=512"}},
		{"tls", []hit{
			{"x509: certificate has expired or is not yet valid: current time 2024-03-01T10:00:00Z is after 2024-02-28T23:59:59Z", ""},
			{`Get "https://registry.internal:5000/v2/": x509: certificate signed by unknown authority`, "registry.internal:5000"},
			{"javax.net.ssl.SSLHandshakeException: Received fatal alert: handshake_failure", ""},
		}, []string{"tls enabled, certificate loaded from /etc/tls/tls.crt", "certificate_expiry_days=42"}},
		{"oom", []hit{
			{"Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space", "Java heap space"},
			{"[812.112] Out of memory: Killed process 4121 (java) total-vm:8123456kB", "java"},
			{"    Reason:       OOMKilled", ""},
			{"FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory", ""},
		}, []string{"memory usage 40% of limit", "oom_score_adj=-999", "outofmemory_total 0"}},
		{"crashloop", []hit{
			{"checkout-7d9f8b6c4-x2x9q   0/1     CrashLoopBackOff   5 (32s ago)   6m", "checkout-7d9f8b6c4-x2x9q"},
			{`Warning  BackOff  kubelet  Back-off restarting failed container app in pod checkout-7d9_prod(1234)`, "checkout-7d9_prod"},
		}, []string{"crashloop_restarts_total 0"}},
		{"image-pull", []hit{
			{`Failed to pull image "registry.example.com/shop/api:v9.9.9": rpc error: code = NotFound desc = manifest unknown`, "registry.example.com/shop/api:v9.9.9"},
			{"api-5f6d7c8b9-abcde   0/1     ImagePullBackOff   0          2m", ""},
			{`Back-off pulling image "nginx:1.99"`, "nginx:1.99"},
		}, []string{"pulled image nginx:1.25 in 3.2s"}},
		{"disk-full", []hit{
			{"write /var/lib/checkout/queue/000231.seg: no space left on device", "/var/lib/checkout/queue/000231.seg"},
			{"Error: ENOSPC: no space left on device, write", ""},
			{`PANIC: could not write to file "pg_wal/xlogtemp.123": No space left on device`, ""},
		}, []string{"disk usage 71% on /data", "free space left: 20G"}},
		{"too-many-open-files", []hit{
			{"http: Accept error: accept tcp [::]:8080: accept4: too many open files; retrying in 5ms", "[::]:8080"},
			{"open /var/log/app/requests.log: too many open files", "/var/log/app/requests.log"},
			{"Error: EMFILE: too many open files, open '/app/config.json'", "/app/config.json"},
		}, []string{"open files limit set to 65536", "max_open_files=1024"}},
		{"rate-limit", []hit{
			{`10.0.0.5 - - [11/Mar/2024:08:14:07 +0000] "GET /v1/quote HTTP/1.1" 429 87 "-" "python-requests/2.31"`, "429"},
			{`upstream responded {"error":{"type":"rate_limited","message":"slow down"}}`, ""},
			{"HTTP 429 Too Many Requests from api.stripe.com", "429"},
		}, []string{"request id=14290 served in 12ms", "ratelimit config: burst=100", "took 429ms"}},
		{"http-5xx", []hit{
			{`10.2.0.17 - - [11/Mar/2024:08:14:07 +0000] "POST /api/checkout HTTP/1.1" 502 157 "-" "curl/8.5.0"`, "502"},
			{"upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.0.0.1", ""},
			{"HTTP/1.1 503 Service Unavailable", "503"},
		}, []string{`10.2.0.17 - - [11/Mar/2024:08:14:07 +0000] "GET / HTTP/1.1" 200 5023 "-" "curl/8.5.0"`, "processed 503 items"}},
		{"deadlock", []hit{
			{"ERROR:  deadlock detected", ""},
			{"com.mysql.cj.jdbc.exceptions.MySQLTransactionRollbackException: Deadlock found when trying to get lock; try restarting transaction", ""},
			{"fatal error: all goroutines are asleep - deadlock!", ""},
		}, []string{"deadlock_timeout = 1s", "deadlocks=0"}},
		{"null-pointer", []hit{
			{"java.lang.NullPointerException: Cannot invoke \"String.length()\" because \"s\" is null", "java.lang.NullPointerException"},
			{"TypeError: Cannot read properties of undefined (reading 'id')", "TypeError"},
			{"AttributeError: 'NoneType' object has no attribute 'get'", "AttributeError"},
			{"panic: runtime error: invalid memory address or nil pointer dereference [signal SIGSEGV: segmentation violation]", ""},
		}, []string{"nullable=true", "pointer to struct updated"}},
		{"permission-denied", []hit{
			{"open /data/app.db: permission denied", "/data/app.db"},
			{"Error: EACCES: permission denied, mkdir '/var/cache/app'", "/var/cache/app"},
			{`pods is forbidden: User "system:serviceaccount:shop:api" cannot list resource "pods"`, ""},
		}, []string{"permissions updated for role reader", "access granted"}},
		{"auth", []hit{
			{`FATAL:  password authentication failed for user "app"`, "app"},
			{"Access denied for user 'root'@'10.0.0.7' (using password: YES)", "root"},
			{`10.0.0.5 - - [11/Mar/2024:08:14:07 +0000] "GET /admin HTTP/1.1" 401 12 "-" "curl"`, "401"},
			{"NOAUTH Authentication required.", ""},
		}, []string{"unauthorized_requests_total 0", "user app authenticated"}},
		{"db-connections", []hit{
			{"FATAL:  sorry, too many clients already", ""},
			{"SQLSTATE[08004] [1040] Too many connections", ""},
			{"HikariPool-1 - Connection is not available, request timed out after 30000ms.", ""},
		}, []string{"pool size=10 connections=4"}},
		{"health-check", []hit{
			{"Readiness probe failed: Get \"http://10.1.2.3:8080/healthz\": context canceled", "10.1.2.3:8080"},
			{"Database health check failed. Retrying in 5s...", ""},
			{"target group member i-0abc is unhealthy", ""},
		}, []string{"health check ok", "unhealthyThreshold=3", "healthy=true"}},
		{"retry", []hit{
			{"retrying payment in 2s", ""},
			{"attempt 3 failed, will retry", ""},
		}, []string{"retries=0 configured"}},
		{"pending", []hit{
			{"Warning  FailedScheduling  default-scheduler  0/3 nodes are available: 3 Insufficient memory.", ""},
		}, []string{"job pending in queue"}},
		{"evicted", []hit{
			{"The node was low on resource: ephemeral-storage. Container app was using 12Gi", ""},
		}, []string{"cache evicted 20 keys"}},
		{"create-container-config-error", []hit{
			{"api-5f6d7c8b9-abcde   0/1     CreateContainerConfigError   0   1m", "api-5f6d7c8b9-abcde"},
			{`Error: secret "db-credentials" not found`, ""},
		}, []string{"secret rotated"}},
		{"error", []hit{
			{"2024-03-11 08:14:05 ERROR something odd happened in ledger sync", ""},
			{"Traceback (most recent call last):", ""},
			{"ValueError: invalid literal for int() with base 10: 'abc'", "ValueError"},
		}, []string{"2024-03-11 08:14:05 INFO retried 0 errors", "errors=0 warnings=2"}},
	}
	a := newTestAnalyst(t)
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.sig] = true
		t.Run(tt.sig, func(t *testing.T) {
			for _, h := range tt.hits {
				sig, ent := classifyLine(t, a, h.line)
				if sig != tt.sig || (h.entity != "" && ent != h.entity) {
					t.Errorf("%q\n  got %s %q, want %s %q", h.line, sig, ent, tt.sig, h.entity)
				}
			}
			for _, m := range tt.misses {
				if sig, _ := classifyLine(t, a, m); sig == tt.sig {
					t.Errorf("%q matched %s; it must not", m, sig)
				}
			}
		})
	}
	for _, s := range Signatures() {
		if !covered[s.ID] {
			t.Errorf("signature %s has no table test", s.ID)
		}
	}
}

func TestSignaturesWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Signatures() {
		if seen[s.ID] {
			t.Errorf("duplicate id %s", s.ID)
		}
		seen[s.ID] = true
		if s.Title == "" || s.Explanation == "" || len(s.Causes) == 0 || len(s.Checks) == 0 {
			t.Errorf("%s: title, explanation, causes and checks are all required", s.ID)
		}
		if s.ID != sigGeneric.ID && len(s.matchers) == 0 {
			t.Errorf("%s: no matchers", s.ID)
		}
	}
}

func TestWordIndex(t *testing.T) {
	tests := []struct {
		s, p string
		want int
	}{
		{"connection refused", "connection refused", 0},
		{"xconnection refused", "connection refused", -1},
		{"refusedconnectionstotal", "refused", -1},
		{"a refused_b", "refused", -1},
		{"x509: bad", "x509:", 0},
		{"id=14290", "429", -1},
		{"status 429 ", "429", 7},
	}
	for _, tt := range tests {
		if got := wordIndex(tt.s, tt.p); got != tt.want {
			t.Errorf("wordIndex(%q, %q) = %d, want %d", tt.s, tt.p, got, tt.want)
		}
	}
}

func TestHostPorts(t *testing.T) {
	tests := []struct {
		s    string
		want []string
	}{
		{"2023-10-27 10:00:05 refused 'db:5432'", []string{"db:5432"}},
		{"caller=server.go:123 addr=10.0.0.1:80", []string{"10.0.0.1:80"}},
		{"2024-03-11T08:14:05.991Z", nil},
		{"localhost/127.0.0.1:6379", []string{"localhost:6379"}},
		{"http://api:8080/x", []string{"api:8080"}},
		{"port :99999", nil},
	}
	for _, tt := range tests {
		got := hostPorts(tt.s)
		if len(got) != len(tt.want) || (len(got) > 0 && got[0] != tt.want[0]) {
			t.Errorf("hostPorts(%q) = %q, want %q", tt.s, got, tt.want)
		}
	}
}

func TestGenericNeedsErrorLevel(t *testing.T) {
	l := line{raw: "error", lower: "error"}
	if _, _, ok := classify(&l, telemetry.LevelInfo); ok {
		t.Error("an INFO line mentioning error was classified")
	}
	if _, _, ok := classify(&l, telemetry.LevelUnknown); !ok {
		t.Error("an unlevelled error line was not classified")
	}
}
