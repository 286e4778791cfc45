package analyst

// Kubernetes pod states that have no log line of their own (or one too
// vague to match safely): ExplainState knows them; Pending and
// CreateContainerConfigError also match their unambiguous event texts.

var sigPending = Signature{
	ID:    "pending",
	Title: "Pod stuck Pending",
	Explanation: "The pod has been accepted but not started: the scheduler found no node that fits it, or it waits for a volume. " +
		"The scheduler's event says which constraint failed.",
	Causes: []string{
		"not enough free CPU or memory on any node for the pod's requests",
		"node selectors, affinity, taints or topology constraints that no node satisfies",
		"a PersistentVolumeClaim that is not bound (no matching storage class or volume, or the wrong zone)",
		"a quota in the namespace",
	},
	Checks: []string{
		"read the scheduler's reason: `kubectl describe pod <pod>` (Events: FailedScheduling)",
		"see what the nodes have left: `kubectl describe nodes | grep -A5 'Allocated resources'`",
		"check volume claims: `kubectl get pvc`",
		"check the cluster autoscaler, if any, is allowed to add a node of the right shape",
	},
	Severity:  SeverityError,
	States:    []string{"Pending"},
	causeNone: "the pod cannot be scheduled (Pending)",
	matchers: []matcher{{
		any: []string{"failedscheduling", "nodes are available", "pod has unbound immediate persistentvolumeclaims"},
	}},
}

var sigEvicted = Signature{
	ID:          "evicted",
	Title:       "Pod evicted",
	Explanation: "The kubelet removed the pod from its node to protect the node, usually because the node ran short of memory or disk.",
	Causes: []string{
		"node memory or disk pressure (ephemeral storage: logs, emptyDir, image layers)",
		"the pod exceeding its ephemeral-storage limit",
		"pods without requests (BestEffort) are evicted first",
	},
	Checks: []string{
		"read the reason: `kubectl describe pod <pod>` (Status: Failed, Reason: Evicted, Message)",
		"check the node's conditions: `kubectl describe node <node>` (MemoryPressure, DiskPressure)",
		"set requests and limits, including ephemeral-storage, so the pod is not first in line",
	},
	Severity:  SeverityError,
	States:    []string{"Evicted"},
	causeNone: "the pod was evicted from its node (resource pressure)",
	matchers: []matcher{{
		any: []string{"the node was low on resource", "evicted pod", "pod was evicted"},
	}},
}

var sigConfigError = Signature{
	ID:          "create-container-config-error",
	Title:       "CreateContainerConfigError",
	Explanation: "Kubernetes cannot build the container's configuration, almost always because a Secret or ConfigMap (or a key in one) that the pod references does not exist.",
	Causes: []string{
		"a referenced Secret or ConfigMap is missing, or in another namespace",
		"a key named in env valueFrom / volume items does not exist",
		"runAsNonRoot set with an image whose user is root",
	},
	Checks: []string{
		"read the exact reference: `kubectl describe pod <pod>` (Events)",
		"list what exists: `kubectl get secret,configmap -n <namespace>`",
		"compare the keys: `kubectl get secret <name> -o jsonpath='{.data}'`",
	},
	Severity:  SeverityCritical,
	States:    []string{"CreateContainerConfigError"},
	causeNone: "the container cannot be configured: a referenced Secret or ConfigMap is missing",
	matchers: []matcher{
		{any: []string{"createcontainerconfigerror"}, extract: podName},
		{any: []string{"couldn't find key", "secret \"", "configmap \""}, all: []string{"not found"}},
	},
}
