package analyst

// The network half of the knowledge base: failures to reach, resolve, trust
// or be served by another endpoint, and the symptoms they usually cause.

var sigConnectionRefused = Signature{
	ID:    "connection-refused",
	Title: "Connection refused",
	Explanation: "The service tried to open a TCP connection and the other side answered that nothing is listening on that port. " +
		"The host was reachable, but the process it wanted was down, still starting, listening on another port or address, or a firewall rejected the connection.",
	Causes: []string{
		"the target process is down, crashed or still starting",
		"wrong host or port in the configuration (or a Service/endpoint with no ready pods)",
		"the target listens on 127.0.0.1 only, not on the address being dialled",
		"a firewall, network policy or security group rejects the connection",
	},
	Checks: []string{
		"test the port from where the service runs: `nc -vz {host} {port}`",
		"check that the target is running and listening: `ss -ltnp | grep {port}` on its host, or `kubectl get pods,endpoints` for a Kubernetes Service",
		"compare the configured host and port with where the target actually listens",
		"look for a NetworkPolicy, firewall rule or security group that blocks port {port}",
	},
	Severity:   SeverityCritical,
	cause:      "the service cannot connect to %s: the connection was refused",
	dbCause:    "the service cannot reach its database at %s: the connection was refused",
	causeNone:  "the service cannot connect to a dependency: the connection was refused",
	entityKind: "endpoint",
	matchers: []matcher{{
		any: []string{"connection refused", "connectionrefusederror", "econnrefused", "errno 111",
			"java.net.connectexception", "connectexception", "connect: connection refused", "actively refused"},
		extract: endpoint,
	}},
}

var sigTimeout = Signature{
	ID:    "timeout",
	Title: "Connection or read timeout",
	Explanation: "A call to another endpoint got no answer in time. Either the connection could not be set up (packets dropped, host down or unroutable) " +
		"or the other side accepted it but was too slow to respond.",
	Causes: []string{
		"the target is overloaded or stuck (slow queries, GC pauses, exhausted thread pool)",
		"packets are silently dropped by a firewall, security group or network policy",
		"the timeout is shorter than the operation legitimately takes",
		"network trouble between the two sides (MTU, packet loss, a bad node)",
	},
	Checks: []string{
		"time a request to the target from the same place: `nc -vz -w 5 {host} {port}` or `curl -sv -m 10 ...`",
		"look at the target's latency and saturation (CPU, connection pool, queue depth) at the same time",
		"check firewall rules, security groups and network policies: a DROP shows as a timeout, a REJECT as connection refused",
		"compare the configured timeout with the target's normal latency",
	},
	Severity:   SeverityError,
	cause:      "calls to %s are timing out",
	dbCause:    "calls to the service's database at %s are timing out",
	causeNone:  "calls to a dependency are timing out",
	entityKind: "endpoint",
	matchers: []matcher{{
		any: []string{"connection timed out", "timed out", "i/o timeout", "context deadline exceeded", "deadline exceeded",
			"etimedout", "sockettimeoutexception", "read timeout", "readtimeout", "connecttimeout", "connect timeout",
			"connecttimeouterror", "timeoutexception", "timeout expired", "request timeout"},
		// nginx's "upstream timed out" is the proxy's view of a slow
		// backend: the 5xx story, told by http-5xx.
		not:     []string{"upstream timed out"},
		extract: endpoint,
	}},
}

var sigDNS = Signature{
	ID:    "dns",
	Title: "DNS resolution failure",
	Explanation: "The service could not turn a host name into an address, so it never got as far as connecting. " +
		"The name is wrong, does not exist (yet), or the resolver the service uses is unreachable or failing.",
	Causes: []string{
		"a typo or wrong environment in the configured host name",
		"the Service, record or zone does not exist (or was deleted)",
		"in Kubernetes, a short name used from another namespace (use name.namespace.svc.cluster.local)",
		"the DNS server (CoreDNS, resolv.conf nameserver) is down or unreachable",
	},
	Checks: []string{
		"resolve the name from where the service runs: `nslookup {host}` or `dig {host}`",
		"read the resolver configuration: `cat /etc/resolv.conf` (search domains, nameserver)",
		"in Kubernetes: `kubectl get svc -A | grep {host}` and `kubectl -n kube-system logs -l k8s-app=kube-dns`",
	},
	Severity:   SeverityCritical,
	cause:      "the host name %s does not resolve (DNS)",
	dbCause:    "the service cannot find its database: the host name %s does not resolve (DNS)",
	causeNone:  "a host name does not resolve (DNS)",
	entityKind: "host",
	matchers: []matcher{{
		any: []string{"no such host", "nxdomain", "unknownhostexception", "getaddrinfo", "enotfound", "eai_again",
			"name or service not known", "temporary failure in name resolution", "could not resolve host",
			"could not translate host name", "failed to resolve", "nodename nor servname provided", "name resolution failed"},
		extract: either(after("lookup ", "unknownhostexception: ", "enotfound ", "eai_again ", "could not resolve host: ",
			"could not translate host name ", "failed to resolve ", "nxdomain for ", "nxdomain "), endpoint),
	}},
}

var sigTLS = Signature{
	ID:    "tls",
	Title: "TLS / certificate error",
	Explanation: "The encrypted connection could not be set up: one side did not trust the other's certificate, the certificate has expired or names another host, " +
		"or the two sides could not agree on a protocol version or cipher.",
	Causes: []string{
		"an expired certificate (or a clock that is wrong)",
		"a certificate signed by a private CA that the client does not trust",
		"the certificate does not list the host name being used",
		"a protocol or cipher mismatch, or plain HTTP spoken to a TLS port (or the reverse)",
	},
	Checks: []string{
		"inspect the certificate the server presents: `openssl s_client -connect {host}:{port} -servername {host} </dev/null | openssl x509 -noout -dates -subject -issuer`",
		"check the clock on both sides: `date -u`",
		"check the client's CA bundle (e.g. SSL_CERT_FILE, the Java truststore) includes the issuing CA",
		"if cert-manager issues the certificate: `kubectl get certificate,certificaterequest -A`",
	},
	Severity:   SeverityCritical,
	cause:      "TLS connections to %s fail (certificate or handshake error)",
	dbCause:    "TLS connections to the service's database at %s fail (certificate or handshake error)",
	causeNone:  "TLS connections fail (certificate or handshake error)",
	entityKind: "endpoint",
	matchers: []matcher{{
		any: []string{"x509:", "certificate has expired", "certificate expired", "certificate is not valid", "unknown authority",
			"certificate verify failed", "certificate_verify_failed", "handshake failure", "handshake_failure", "tls handshake",
			"sslhandshakeexception", "pkix path building failed", "ssl routines", "sslerror", "unable to get local issuer certificate",
			"self signed certificate", "self-signed certificate", "bad certificate", "tls: "},
		extract: endpoint,
	}},
}

var sigRateLimit = Signature{
	ID:    "rate-limit",
	Title: "Rate limited (HTTP 429)",
	Explanation: "The other side is refusing requests because this client sends more than it allows. " +
		"Requests are rejected on purpose; sending them faster makes it worse.",
	Causes: []string{
		"a traffic spike, a batch job or a retry storm",
		"a quota or plan limit on an external API",
		"many replicas sharing one API key or client identity",
	},
	Checks: []string{
		"read the Retry-After and X-RateLimit-* headers in the responses",
		"compare the request rate with the provider's documented limit or quota",
		"check the retry policy uses exponential backoff with jitter and honours Retry-After",
	},
	Severity:   SeverityWarning,
	cause:      "requests are being rate limited (%s)",
	causeNone:  "requests are being rate limited",
	entityKind: "status",
	matchers: []matcher{{
		any: []string{"429 too many requests", "too many requests", "rate limited", "rate_limited", "ratelimited", "rate-limited",
			"rate limit exceeded", "ratelimitexceeded", "rate_limit_exceeded", "throttlingexception", "requestlimitexceeded"},
		status: 429, statusMax: 429,
		extract: statusCode(429, 429),
	}},
}

var sigHTTP5xx = Signature{
	ID:    "http-5xx",
	Title: "HTTP 5xx server errors",
	Explanation: "Requests are failing on the server side. A 502 or 504 from a proxy or load balancer means the backend behind it did not answer properly or in time; " +
		"a 503 means no healthy backend was available; a 500 is an unhandled error in the application.",
	Causes: []string{
		"the backend is down, restarting or failing its health checks",
		"the backend is too slow (504, upstream timed out)",
		"an application bug or failing dependency (500)",
	},
	Checks: []string{
		"find which upstream answers badly: the proxy's error log (`upstream` in nginx, `response_flags` in Envoy)",
		"check the backend's pods or instances: `kubectl get pods` and `kubectl get endpoints`",
		"look at the backend's own logs at the same time for the underlying error",
	},
	Severity:   SeverityError,
	Symptom:    true,
	cause:      "requests are failing with HTTP %s",
	causeNone:  "requests are failing with HTTP 5xx errors",
	entityKind: "status",
	matchers: []matcher{{
		any: []string{"500 internal server error", "502 bad gateway", "503 service unavailable", "504 gateway time-out",
			"504 gateway timeout", "bad gateway", "service unavailable", "gateway timeout", "gateway time-out",
			"upstream timed out", "upstream prematurely closed", "no healthy upstream", "upstream connect error", "no live upstreams"},
		status: 500, statusMax: 599,
		extract: statusCode(500, 599),
	}},
}

var sigAuth = Signature{
	ID:          "auth",
	Title:       "Authentication failure",
	Explanation: "The other side rejected the credentials this service presented: a password, token, key or certificate identity was wrong, expired or missing.",
	Causes: []string{
		"a rotated or expired password, token or API key",
		"a Secret that was not updated or not mounted (empty credentials)",
		"the wrong user or database for this environment",
	},
	Checks: []string{
		"check the credentials the service actually uses: `kubectl get secret <name> -o yaml` (decode with base64 -d) or its environment",
		"try the same credentials by hand (e.g. `psql -h <host> -U {entity}`, `curl -H 'Authorization: ...'`)",
		"check the server side for the user's state (locked, expired, pg_hba.conf / grants)",
	},
	Severity:   SeverityCritical,
	cause:      "authentication fails (%s)",
	causeNone:  "authentication fails: the credentials are rejected",
	entityKind: "user",
	matchers: []matcher{{
		any: []string{"password authentication failed", "access denied for user", "login failed for user", "invalid credentials",
			"bad credentials", "authentication failed", "401 unauthorized", "unauthorized", "invalid api key", "invalid token",
			"token has expired", "token expired", "jwt expired", "noauth authentication required", "wrongpass",
			"authentication required", "unauthenticated"},
		status: 401, statusMax: 401,
		extract: either(after("for user "), statusCode(401, 401)),
	}},
}

var sigHealthCheck = Signature{
	ID:          "health-check",
	Title:       "Health check failing",
	Explanation: "A health, readiness or liveness check is failing. This is usually a symptom: the check fails because something the service needs is not working.",
	Causes: []string{
		"a dependency the check tests (database, cache, downstream) is unreachable",
		"the service is overloaded and answers too slowly",
		"the probe's path, port or timeout is wrong",
	},
	Checks: []string{
		"read the probe's result: `kubectl describe pod <pod>` (Events)",
		"call the health endpoint by hand from inside the pod: `curl -sv localhost:<port>/healthz`",
		"check the probe's timeoutSeconds and failureThreshold against the service's startup time",
	},
	Severity:   SeverityWarning,
	Symptom:    true,
	causeNone:  "health checks are failing",
	entityKind: "endpoint",
	matchers: []matcher{{
		any: []string{"health check failed", "healthcheck failed", "health-check failed", "health check failure",
			"failed health check", "health check timed out", "readiness probe failed", "liveness probe failed",
			"startup probe failed", "unhealthy"},
		extract: endpoint,
	}},
}

var sigRetry = Signature{
	ID:          "retry",
	Title:       "Retrying",
	Explanation: "The service is retrying an operation that failed. Retries are a symptom: the story is in the failure being retried.",
	Causes:      []string{"an earlier error, usually on the line before"},
	Checks:      []string{"look at the error just before the retries; check the retries back off and eventually give up"},
	Severity:    SeverityInfo,
	Symptom:     true,
	causeNone:   "an operation is being retried",
	matchers: []matcher{{
		any: []string{"retrying", "will retry", "retry attempt", "reconnecting", "backing off", "retries exhausted"},
	}},
}
