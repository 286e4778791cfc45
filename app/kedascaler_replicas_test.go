package app

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/vigilops/vigil/act/kube"
	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/internal/syncbuf"
	"github.com/vigilops/vigil/metricstore"
)

var (
	deploymentsGVR  = kube.DeploymentsGVR
	statefulSetsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}
)

// replicaCluster is a fake cluster with two ScaledObjects in "shop":
// "frontend" (resolved by KEDA: status.scaleTargetGVKR set) over a
// Deployment with 7 replicas, "db" (not yet resolved) over a StatefulSet
// with 3, "idle" over a Deployment scaled to zero (spec.replicas omitted),
// and "odd" whose target kind cannot be resolved without KEDA's status.
func replicaCluster() dynamic.Interface {
	obj := func(apiVersion, kind, name string, fields map[string]any) *unstructured.Unstructured {
		o := map[string]any{"apiVersion": apiVersion, "kind": kind,
			"metadata": map[string]any{"name": name, "namespace": "shop"}}
		for k, v := range fields {
			o[k] = v
		}
		return &unstructured.Unstructured{Object: o}
	}
	so := func(name string, ref map[string]any, status map[string]any) *unstructured.Unstructured {
		f := map[string]any{"spec": map[string]any{"scaleTargetRef": ref}}
		if status != nil {
			f["status"] = status
		}
		return obj("keda.sh/v1alpha1", "ScaledObject", name, f)
	}
	objs := []runtime.Object{
		so("frontend", map[string]any{"name": "web"}, map[string]any{"scaleTargetGVKR": map[string]any{
			"group": "apps", "version": "v1", "kind": "Deployment", "resource": "deployments"}}),
		so("db", map[string]any{"name": "pg", "apiVersion": "apps/v1", "kind": "StatefulSet"}, nil),
		so("idle", map[string]any{"name": "batch"}, nil),
		so("odd", map[string]any{"name": "x", "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout"}, nil),
		obj("apps/v1", "Deployment", "web", map[string]any{"spec": map[string]any{"replicas": int64(7)}}),
		obj("apps/v1", "StatefulSet", "pg", map[string]any{"spec": map[string]any{"replicas": int64(3)}}),
		obj("apps/v1", "Deployment", "batch", map[string]any{"spec": map[string]any{}}),
	}
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{scaledObjectGVR: "ScaledObjectList",
			deploymentsGVR: "DeploymentList", statefulSetsGVR: "StatefulSetList"},
		objs...)
}

func TestKubeReplicas(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		want    int
		wantErr string
	}{
		{"frontend", 7, ""},
		{"db", 3, ""},
		{"idle", 0, ""},
		{"odd", 0, "Rollout"},
		{"missing", 0, "get scaledobject shop/missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newKubeReplicas(replicaCluster(), slog.New(slog.DiscardHandler), 10)
			n, err := k.Replicas(ctx, "shop", tt.name)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Replicas = %d, %v; want %d", n, err, tt.want)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Replicas = %d, %v; want an error naming %q", n, err, tt.wantErr)
			case n != tt.want:
				t.Fatalf("Replicas = %d, want %d", n, tt.want)
			}
		})
	}
}

// TestKubeReplicasCacheAndWarnings: a count is reused for the TTL and read
// again after it; a failing object warns once however often it is asked,
// and again only when its error changes.
func TestKubeReplicasCacheAndWarnings(t *testing.T) {
	ctx := context.Background()
	client := replicaCluster()
	var logs syncbuf.Buffer
	k := newKubeReplicas(client, slog.New(slog.NewTextHandler(&logs, nil)), 2)
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	k.now = func() time.Time { return now }

	if n, err := k.Replicas(ctx, "shop", "frontend"); n != 7 || err != nil {
		t.Fatalf("Replicas = %d, %v", n, err)
	}
	web, err := client.Resource(deploymentsGVR).Namespace("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(web.Object, int64(12), "spec", "replicas"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Resource(deploymentsGVR).Namespace("shop").Update(ctx, web, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(kubeReplicasTTL / 2)
	if n, _ := k.Replicas(ctx, "shop", "frontend"); n != 7 {
		t.Fatalf("within the TTL Replicas = %d, want the cached 7", n)
	}
	now = now.Add(kubeReplicasTTL)
	if n, _ := k.Replicas(ctx, "shop", "frontend"); n != 12 {
		t.Fatalf("after the TTL Replicas = %d, want 12", n)
	}

	for i := 0; i < 5; i++ {
		now = now.Add(kubeReplicasTTL)
		if _, err := k.Replicas(ctx, "shop", "missing"); err == nil {
			t.Fatal("missing ScaledObject: no error")
		}
	}
	if c := strings.Count(logs.String(), "cannot read the scale target"); c != 1 {
		t.Fatalf("%d warnings for one failing object, want 1:\n%s", c, logs.String())
	}
	// The cache stays bounded by max objects.
	for _, name := range []string{"db", "idle", "odd", "frontend"} {
		_, _ = k.Replicas(ctx, "shop", name)
	}
	k.mu.Lock()
	size := len(k.cache)
	k.mu.Unlock()
	if size > 2 {
		t.Fatalf("cache holds %d objects, max 2", size)
	}
}

// TestKEDAScalerStageReadsReplicas: with a cluster, the served value is
// placed for the HPA's tolerance band from the replica count the cluster
// reports (Decision.Replicas), and without one it is not.
func TestKEDAScalerStageReadsReplicas(t *testing.T) {
	ctx := context.Background()
	meta := map[string]string{
		"selector":    `shop_requests_per_second{service="frontend"}`,
		"targetValue": "20", "lookback": "3d", "step": "5m",
	}
	for _, tc := range []struct {
		name     string
		replicas string
		client   dynamic.Interface
		want     int
	}{
		{"kube", config.KEDAReplicasKube, replicaCluster(), 7},
		{"auto with a cluster", config.KEDAReplicasAuto, replicaCluster(), 7},
		{"off", config.KEDAReplicasOff, replicaCluster(), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, now := ksStore(t)
			c := ksConfig()
			c.Replicas = tc.replicas
			s, err := newKEDAScalerStage(kedaScalerDeps{Config: c, Metrics: st, KubeClient: tc.client,
				Now: func() time.Time { return now }, Registerer: prometheus.NewRegistry()})
			if err != nil {
				t.Fatal(err)
			}
			dec, err := s.scaler.Evaluate(ctx, "shop", "frontend", meta)
			if err != nil {
				t.Fatal(err)
			}
			if dec.Replicas != tc.want {
				t.Fatalf("Decision.Replicas = %d, want %d (decision %+v)", dec.Replicas, tc.want, dec)
			}
		})
	}
	// kube without any cluster is a configuration error, named.
	c := ksConfig()
	c.Replicas = config.KEDAReplicasKube
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := newKEDAScalerStage(kedaScalerDeps{Config: c, Metrics: &metricstore.Store{}}); err == nil || !strings.Contains(err.Error(), "replicas kube") {
		t.Fatalf("err = %v, want one naming replicas kube", err)
	}
}
