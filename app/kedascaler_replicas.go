package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// scaledObjectGVR is KEDA's ScaledObject resource.
var scaledObjectGVR = schema.GroupVersionResource{Group: "keda.sh", Version: "v1alpha1", Resource: "scaledobjects"}

// kubeReplicasTTL is how long a replica count read from the cluster is
// reused. The HPA itself syncs every 15 s and KEDA's operator and metrics
// adapter both ask the scaler, so reading the API on every request would
// only add load; a count up to 5 s old is as good as the HPA's own view.
const kubeReplicasTTL = 5 * time.Second

// kubeReplicas reads a ScaledObject's current replica count for the KEDA
// scaler (kedascaler.Replicas): the ScaledObject names its scale target,
// and the target's /scale subresource gives spec.replicas, the count the
// HPA divides the metric by. It needs get on scaledobjects.keda.sh and on
// the targets' scale subresource (deploy/kubernetes/vigil.yaml grants it
// for Deployments and StatefulSets). Safe for concurrent use; the cache
// holds at most max objects.
type kubeReplicas struct {
	client dynamic.Interface
	log    *slog.Logger
	now    func() time.Time // wall clock: the cache protects the API server
	max    int

	mu     sync.Mutex
	cache  map[string]replicaEntry // namespace/name -> last read
	warned map[string]string       // namespace/name -> last error logged
}

type replicaEntry struct {
	n    int
	err  error
	read time.Time
}

func newKubeReplicas(client dynamic.Interface, log *slog.Logger, max int) *kubeReplicas {
	return &kubeReplicas{client: client, log: log, now: time.Now, max: max,
		cache: map[string]replicaEntry{}, warned: map[string]string{}}
}

// Replicas implements kedascaler.Replicas.
func (k *kubeReplicas) Replicas(ctx context.Context, namespace, name string) (int, error) {
	key := namespace + "/" + name
	now := k.now()
	k.mu.Lock()
	if e, ok := k.cache[key]; ok && now.Sub(e.read) < kubeReplicasTTL {
		k.mu.Unlock()
		return e.n, e.err
	}
	k.mu.Unlock()

	n, err := k.read(ctx, namespace, name)
	if ctx.Err() != nil {
		return 0, err // a cancelled request says nothing about the cluster
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.cache) >= k.max {
		for key, e := range k.cache { // drop what has expired, else everything
			if now.Sub(e.read) >= kubeReplicasTTL {
				delete(k.cache, key)
			}
		}
		if len(k.cache) >= k.max {
			clear(k.cache)
			clear(k.warned)
		}
	}
	k.cache[key] = replicaEntry{n: n, err: err, read: now}
	// An error the scaler would only log at debug level (it serves the
	// forecast unshaped) is worth one warning: it is usually RBAC.
	if err != nil && k.warned[key] != err.Error() {
		k.warned[key] = err.Error()
		k.log.Warn("kedascaler: cannot read the scale target's replica count; serving the forecast without placing it for the HPA's tolerance band",
			"scaledobject", key, "err", err)
	} else if err == nil {
		delete(k.warned, key)
	}
	return n, err
}

// read asks the cluster: the ScaledObject, then its target's scale.
func (k *kubeReplicas) read(ctx context.Context, namespace, name string) (int, error) {
	so, err := k.client.Resource(scaledObjectGVR).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("get scaledobject %s/%s: %w", namespace, name, err)
	}
	gvr, target, err := scaleTarget(so)
	if err != nil {
		return 0, fmt.Errorf("scaledobject %s/%s: %w", namespace, name, err)
	}
	scale, err := k.client.Resource(gvr).Namespace(namespace).Get(ctx, target, metav1.GetOptions{}, "scale")
	if err != nil {
		return 0, fmt.Errorf("get %s %s/%s scale: %w", gvr.Resource, namespace, target, err)
	}
	// spec.replicas is omitted when zero (scaled to zero by KEDA).
	n, _, err := unstructured.NestedInt64(scale.Object, "spec", "replicas")
	if err != nil {
		return 0, fmt.Errorf("%s %s/%s scale: spec.replicas: %w", gvr.Resource, namespace, target, err)
	}
	if n < 0 || n > 1e6 {
		return 0, fmt.Errorf("%s %s/%s scale: spec.replicas %d out of range", gvr.Resource, namespace, target, n)
	}
	return int(n), nil
}

// scaleTarget resolves a ScaledObject's scale target: KEDA records the
// resolved group/version/resource in status.scaleTargetGVKR; before it
// has, spec.scaleTargetRef's apiVersion and kind (default apps/v1
// Deployment, as KEDA's) are mapped for the two built-in scalable kinds.
func scaleTarget(so *unstructured.Unstructured) (schema.GroupVersionResource, string, error) {
	name, _, _ := unstructured.NestedString(so.Object, "spec", "scaleTargetRef", "name")
	if name == "" {
		return schema.GroupVersionResource{}, "", errors.New("spec.scaleTargetRef.name is empty")
	}
	if res, _, _ := unstructured.NestedString(so.Object, "status", "scaleTargetGVKR", "resource"); res != "" {
		group, _, _ := unstructured.NestedString(so.Object, "status", "scaleTargetGVKR", "group")
		version, _, _ := unstructured.NestedString(so.Object, "status", "scaleTargetGVKR", "version")
		if version == "" {
			return schema.GroupVersionResource{}, "", errors.New("status.scaleTargetGVKR has no version")
		}
		return schema.GroupVersionResource{Group: group, Version: version, Resource: res}, name, nil
	}
	apiVersion, _, _ := unstructured.NestedString(so.Object, "spec", "scaleTargetRef", "apiVersion")
	kind, _, _ := unstructured.NestedString(so.Object, "spec", "scaleTargetRef", "kind")
	if apiVersion == "" {
		apiVersion = "apps/v1"
	}
	if kind == "" {
		kind = "Deployment"
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return schema.GroupVersionResource{}, "", fmt.Errorf("spec.scaleTargetRef.apiVersion: %w", err)
	}
	switch {
	case gv.Group == "apps" && kind == "Deployment":
		return gv.WithResource("deployments"), name, nil
	case gv.Group == "apps" && kind == "StatefulSet":
		return gv.WithResource("statefulsets"), name, nil
	}
	return schema.GroupVersionResource{}, "", fmt.Errorf("scale target kind %s (%s) is not resolved yet: KEDA has not set status.scaleTargetGVKR", kind, strings.TrimSpace(apiVersion))
}
