package analyst

import "strings"

// The runtime half of the knowledge base: resources (memory, disk, file
// descriptors, connections), Kubernetes container states, code defects, and
// the generic fallback.

var sigOOM = Signature{
	ID:          "oom",
	Title:       "Out of memory",
	Explanation: "The process ran out of memory: either its runtime could not allocate more (a heap limit), or the kernel or the container runtime killed it for exceeding its memory limit (OOMKilled).",
	Causes: []string{
		"the memory limit is too low for the real working set",
		"a memory leak, or an unbounded cache, queue or batch",
		"a traffic spike or one huge request/response loaded whole into memory",
		"a heap limit (-Xmx, --max-old-space-size) that does not match the container limit",
	},
	Checks: []string{
		"confirm the kill and the limit: `kubectl describe pod <pod>` (Last State: OOMKilled, Limits) or `dmesg -T | grep -i -E 'killed process|out of memory'`",
		"look at memory over time before the kill: `kubectl top pod` or the container_memory_working_set_bytes metric",
		"compare the runtime heap settings with the container memory limit",
		"if it grows steadily, take a heap dump or profile (jmap, pprof, tracemalloc)",
	},
	Severity:   SeverityCritical,
	States:     []string{"OOMKilled"},
	cause:      "the process ran out of memory (%s)",
	causeNone:  "the process ran out of memory",
	entityKind: "detail",
	matchers: []matcher{{
		any: []string{"oomkilled", "outofmemoryerror", "out of memory", "killed process", "oom-kill", "oom_kill",
			"oom killer", "oom-killer", "memoryerror", "cannot allocate memory", "memory limit exceeded", "exit code 137"},
		extract: oomDetail,
	}},
}

// oomDetail names what ran out: the JVM pool after OutOfMemoryError, or
// the process the kernel killed.
func oomDetail(l *line, at int) string {
	if i := strings.Index(l.lower, "outofmemoryerror:"); i >= 0 {
		rest := strings.TrimSpace(l.raw[i+len("outofmemoryerror:"):])
		return clip(rest)
	}
	if i := strings.Index(l.lower, "killed process "); i >= 0 {
		rest := l.raw[i:]
		if a := strings.IndexByte(rest, '('); a >= 0 {
			if b := strings.IndexByte(rest[a:], ')'); b > 0 {
				return clip(rest[a+1 : a+b])
			}
		}
	}
	return ""
}

var sigCrashLoop = Signature{
	ID:    "crashloop",
	Title: "CrashLoopBackOff",
	Explanation: "A container keeps exiting soon after it starts, so Kubernetes waits longer and longer before restarting it. " +
		"The reason is in the container's own last output or its exit code, not in the state itself.",
	Causes: []string{
		"the application exits on a startup error (bad configuration, a missing Secret or env var, an unreachable dependency)",
		"it is OOMKilled (exit code 137) or fails its liveness probe",
		"a wrong command or entrypoint",
	},
	Checks: []string{
		"read the last crash's output: `kubectl logs {entity} --previous`",
		"read the exit code and reason: `kubectl describe pod {entity}` (Last State, Exit Code, Events)",
		"check recent changes to the image, configuration and Secrets",
	},
	Severity:   SeverityCritical,
	Symptom:    true,
	States:     []string{"CrashLoopBackOff"},
	cause:      "the container of %s keeps crashing (CrashLoopBackOff)",
	causeNone:  "a container keeps crashing (CrashLoopBackOff)",
	entityKind: "pod",
	matchers: []matcher{{
		any:     []string{"crashloopbackoff", "back-off restarting failed container"},
		extract: podName,
	}},
}

var sigImagePull = Signature{
	ID:          "image-pull",
	Title:       "Image pull failure",
	Explanation: "Kubernetes cannot download the container image, so the container never starts.",
	Causes: []string{
		"a wrong image name or tag (typo, a tag that was never pushed)",
		"a private registry without (or with wrong) imagePullSecrets",
		"the registry is unreachable from the nodes, or rate limits pulls",
	},
	Checks: []string{
		"read the exact pull error: `kubectl describe pod <pod>` (Events)",
		"check the image exists: `docker manifest inspect {entity}` or `crane ls <repo>`",
		"check imagePullSecrets on the pod or its service account",
	},
	Severity:   SeverityCritical,
	States:     []string{"ImagePullBackOff", "ErrImagePull"},
	cause:      "the image %s cannot be pulled",
	causeNone:  "a container image cannot be pulled",
	entityKind: "image",
	matchers: []matcher{{
		any: []string{"imagepullbackoff", "errimagepull", "failed to pull image", "back-off pulling image",
			"pull access denied", "manifest unknown", "invalidimagename"},
		extract: after("failed to pull image ", "back-off pulling image ", "image="),
	}},
}

var sigDiskFull = Signature{
	ID:          "disk-full",
	Title:       "Disk full",
	Explanation: "A write failed because the file system has no free space (or no free inodes, or the quota is used up).",
	Causes: []string{
		"logs, temporary files or core dumps filling the volume",
		"data growth beyond the volume's size (database, queue, cache)",
		"many small files exhausting inodes while space remains",
	},
	Checks: []string{
		"see which file system is full: `df -h` and `df -i`",
		"find what grew: `du -xh --max-depth=1 / | sort -h`",
		"in Kubernetes: `kubectl describe node` (DiskPressure) and the PVC's size",
	},
	Severity:   SeverityCritical,
	cause:      "the disk is full (writing %s)",
	causeNone:  "the disk is full",
	entityKind: "path",
	matchers: []matcher{{
		any:     []string{"no space left on device", "enospc", "disk full", "disk quota exceeded", "edquot", "not enough space on the disk"},
		extract: either(path, after("file ")),
	}},
}

var sigTooManyFiles = Signature{
	ID:          "too-many-open-files",
	Title:       "Too many open files",
	Explanation: "The process hit its limit of open file descriptors. Sockets count too, so this often shows up as failing accepts or connects under load.",
	Causes: []string{
		"a file-descriptor limit (ulimit -n) too low for the load",
		"a leak: connections or files opened and never closed",
	},
	Checks: []string{
		"check the limit the process really has: `ulimit -n` in its shell, or `cat /proc/<pid>/limits`",
		"count what it holds open: `ls /proc/<pid>/fd | wc -l` and `lsof -p <pid>`",
		"watch whether the count grows steadily (a leak) or follows traffic",
	},
	Severity:   SeverityCritical,
	causeNone:  "the process ran out of file descriptors (too many open files)",
	entityKind: "path",
	matchers: []matcher{{
		any:     []string{"too many open files", "emfile", "enfile"},
		extract: either(path, endpoint),
	}},
}

var sigDeadlock = Signature{
	ID:          "deadlock",
	Title:       "Deadlock",
	Explanation: "Two or more transactions or threads each waited for a lock the other held, so one of them was aborted (databases) or everything stopped (threads).",
	Causes: []string{
		"transactions that lock the same rows or tables in different orders",
		"long transactions holding locks while doing slow work",
		"in code, locks taken in inconsistent order, or waiting on a channel nobody writes",
	},
	Checks: []string{
		"PostgreSQL: the server log's DETAIL lines name both processes; `SELECT * FROM pg_locks WHERE NOT granted;`",
		"MySQL: `SHOW ENGINE INNODB STATUS\\G` (LATEST DETECTED DEADLOCK)",
		"threads: take a thread dump (`jstack <pid>`, SIGQUIT for Go) and look for the cycle",
		"make transactions lock in a consistent order and retry on deadlock errors",
	},
	Severity:  SeverityError,
	causeNone: "transactions or threads deadlocked",
	matchers: []matcher{{
		any: []string{"deadlock detected", "deadlock found when trying to get lock", "all goroutines are asleep - deadlock",
			"java-level deadlock", "deadlockloserdataaccessexception", "deadlock victim"},
	}},
}

var sigNullPointer = Signature{
	ID:    "null-pointer",
	Title: "Null / nil dereference",
	Explanation: "The code used a value that was not there: a null, nil, None or undefined where it expected an object. " +
		"It is a bug, often triggered by input or a dependency returning nothing.",
	Causes: []string{
		"a missing field in a request, response or configuration",
		"a dependency call that failed and returned nothing, unchecked",
		"a recent code change",
	},
	Checks: []string{
		"read the stack trace just below the error: the top frame in your own code is where the value was missing",
		"find the request or input that triggered it (trace id, request id) and replay it",
		"check whether it started with a deploy: `kubectl rollout history deploy/<name>`",
	},
	Severity:   SeverityError,
	cause:      "a bug dereferences a missing value (%s)",
	causeNone:  "a bug dereferences a missing (null/nil/undefined) value",
	entityKind: "exception",
	matchers: []matcher{{
		any: []string{"nullpointerexception", "nullreferenceexception", "cannot read properties of undefined",
			"cannot read properties of null", "cannot read property", "undefined is not an object", "'nonetype' object",
			"nil pointer dereference", "sigsegv", "segmentation fault", "object reference not set to an instance"},
		extract: exceptionClass,
	}},
}

var sigPermission = Signature{
	ID:          "permission-denied",
	Title:       "Permission denied",
	Explanation: "The operating system or an API refused an operation because the identity the service runs as is not allowed to do it.",
	Causes: []string{
		"file or directory ownership and mode (often a volume mounted root-owned while the container runs as non-root)",
		"a missing RBAC role, IAM policy or grant",
		"SELinux/AppArmor, or a read-only file system",
	},
	Checks: []string{
		"check ownership and mode: `ls -ld {path}` and `id` as the service's user",
		"in Kubernetes: the pod's securityContext (runAsUser, fsGroup) and `kubectl auth can-i ... --as=system:serviceaccount:<ns>:<sa>`",
		"check audit logs (SELinux `ausearch -m avc`, cloud IAM) for the denial",
	},
	Severity:   SeverityError,
	cause:      "permission denied on %s",
	causeNone:  "an operation is denied for lack of permission",
	entityKind: "path",
	matchers: []matcher{{
		any: []string{"permission denied", "eacces", "operation not permitted", "eperm", "accessdeniedexception",
			"permissionerror", "403 forbidden", "is forbidden", "access denied", "read-only file system"},
		status: 403, statusMax: 403,
		extract: path,
	}},
}

var sigDBConnections = Signature{
	ID:    "db-connections",
	Title: "Database connection limit or pool exhausted",
	Explanation: "The database refused a new connection because it already serves as many as it allows, or the application's connection pool has none free. " +
		"Requests queue up waiting for a connection and then fail.",
	Causes: []string{
		"too many replicas times pool size for the database's max_connections",
		"connections leaked (not returned to the pool) or held by long transactions",
		"slow queries keeping every pooled connection busy",
	},
	Checks: []string{
		"count connections by client: PostgreSQL `SELECT usename, application_name, state, count(*) FROM pg_stat_activity GROUP BY 1,2,3;`, MySQL `SHOW PROCESSLIST;`",
		"compare replicas × pool size with `SHOW max_connections;`",
		"look for long-running or idle-in-transaction sessions",
		"consider a pooler (PgBouncer, ProxySQL) in front of the database",
	},
	Severity:  SeverityCritical,
	causeNone: "the database has no free connections (connection limit or pool exhausted)",
	matchers: []matcher{{
		any: []string{"too many connections", "too many clients already", "remaining connection slots are reserved",
			"connection pool exhausted", "pool exhausted", "connection is not available, request timed out",
			"timeout waiting for connection from pool", "max number of clients reached", "max_connections"},
	}},
}

var sigGeneric = Signature{
	ID:          "error",
	Title:       "Unrecognised error",
	Explanation: "An error that matches none of the known failure signatures. The message itself is the best clue.",
	Causes:      []string{"see the message and any stack trace that follows it"},
	Checks: []string{
		"read the full message and stack trace around the first occurrence",
		"check whether it started with a deploy or configuration change",
	},
	Severity:   SeverityWarning,
	Symptom:    true,
	cause:      "an unrecognised error (%s)",
	causeNone:  "an unrecognised error",
	entityKind: "exception",
}

// genericPhrases flag an error in lines whose level the parser could not
// tell.
var genericPhrases = []string{"error", "exception", "fatal", "panic", "traceback", "failed", "failure", "critical"}

// podName finds the pod a Kubernetes message is about, or the first column
// of a `kubectl get pods` row.
func podName(l *line, at int) string {
	if v := after("pod=", "pod/", "in pod ", "pod ")(l, at); v != "" {
		return v
	}
	if f := strings.Fields(l.raw); len(f) >= 3 && strings.Contains(f[1], "/") && at > len(f[0]) {
		return clip(f[0])
	}
	return ""
}

// knowledgeBase lists the signatures in matching order: when a line
// matches several, the first wins, so the more specific come first and
// symptoms last. Each line tells one story, which keeps counts meaningful.
var knowledgeBase = []*Signature{
	&sigCrashLoop, &sigImagePull, &sigOOM, &sigDBConnections, &sigTooManyFiles, &sigDiskFull,
	&sigDeadlock, &sigTLS, &sigDNS, &sigConnectionRefused, &sigAuth, &sigPermission,
	&sigNullPointer, &sigRateLimit, &sigHTTP5xx, &sigTimeout, &sigConfigError, &sigPending, &sigEvicted,
	&sigHealthCheck, &sigRetry,
}
