package kube

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/vigilops/vigil/act"
)

func deployment(ns, name string, replicas int64, image string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name, "namespace": ns, "uid": "uid-" + name},
		"spec": map[string]any{
			"replicas": replicas,
			"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": name}},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": name, "image": image}}},
			},
		},
	}}
}

func replicaSet(ns, name, owner string, rev, image string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "ReplicaSet",
		"metadata": map[string]any{
			"name": name, "namespace": ns,
			"labels":      map[string]any{"app": owner, "pod-template-hash": name},
			"annotations": map[string]any{RevisionAnnotation: rev},
			"ownerReferences": []any{map[string]any{
				"apiVersion": "apps/v1", "kind": "Deployment", "name": owner, "uid": "uid-" + owner, "controller": true,
			}},
		},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": owner}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": owner, "pod-template-hash": name}},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": owner, "image": image}}},
			},
		},
	}}
}

func node(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Node", "metadata": map[string]any{"name": name}, "spec": map[string]any{},
	}}
}

// FakeCluster returns a fake dynamic client holding objs.
func fakeCluster(objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		DeploymentsGVR: "DeploymentList", ReplicaSetsGVR: "ReplicaSetList", NodesGVR: "NodeList",
	}, objs...)
}

var params = []act.Param{
	{Name: "ns", Type: act.TypeK8sName},
	{Name: "name", Type: act.TypeK8sName},
	{Name: "replicas", Type: act.TypeInt},
	{Name: "node", Type: act.TypeK8sName},
}

func call(t *testing.T, op string, with map[string]any, vals map[string]string) act.Call {
	t.Helper()
	in := map[string]string{"ns": "shop", "name": "redis", "replicas": "3", "node": "node-1"}
	for k, v := range vals {
		in[k] = v
	}
	v, err := act.BindValues(params, in)
	if err != nil {
		t.Fatal(err)
	}
	return act.Call{Runbook: "rb", Step: "s", Op: op, With: with, Values: v}
}

func get(t *testing.T, cl *dynamicfake.FakeDynamicClient, ns, name string) *unstructured.Unstructured {
	t.Helper()
	d, err := cl.Resource(DeploymentsGVR).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestScaleAndUndo(t *testing.T) {
	cl := fakeCluster(deployment("shop", "redis", 1, "redis:7"))
	e, err := New(Options{Client: cl})
	if err != nil {
		t.Fatal(err)
	}
	c := call(t, "scale", map[string]any{"namespace": "${ns}", "name": "${name}", "replicas": "${replicas}"}, nil)
	p, err := e.Plan(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if p.Replicas == nil || p.Replicas.From != 1 || p.Replicas.To != 3 || p.Targets[0] != "deployment/shop/redis" {
		t.Fatalf("plan = %+v", p)
	}
	if n, _, _ := unstructured.NestedInt64(get(t, cl, "shop", "redis").Object, "spec", "replicas"); n != 1 {
		t.Fatalf("Plan changed replicas to %d", n)
	}
	res, err := e.Apply(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if n, _, _ := unstructured.NestedInt64(get(t, cl, "shop", "redis").Object, "spec", "replicas"); n != 3 {
		t.Fatalf("replicas = %d after scale, want 3", n)
	}
	if res.Undo == nil {
		t.Fatal("no undo for scale")
	}
	if _, err := e.Apply(context.Background(), *res.Undo); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := unstructured.NestedInt64(get(t, cl, "shop", "redis").Object, "spec", "replicas"); n != 1 {
		t.Fatalf("replicas = %d after undo, want 1", n)
	}
}

func TestRestartRollout(t *testing.T) {
	cl := fakeCluster(deployment("shop", "checkout", 2, "checkout:1"))
	at := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	e, _ := New(Options{Client: cl, Now: func() time.Time { return at }})
	c := call(t, "restart", map[string]any{"namespace": "${ns}", "name": "checkout"}, nil)
	if _, err := e.Plan(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	res, err := e.Apply(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	d := get(t, cl, "shop", "checkout")
	ann, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "annotations")
	if ann[RestartedAtAnnotation] != "2026-01-05T10:00:00Z" {
		t.Fatalf("annotations = %v", ann)
	}
	// The rest of the template is untouched by the merge patch.
	if img, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers"); len(img) != 1 {
		t.Fatalf("containers = %v", img)
	}
	if res.Undo != nil {
		t.Fatal("a restart cannot be undone, but an undo was offered")
	}
}

func TestUndoRollout(t *testing.T) {
	cl := fakeCluster(
		deployment("shop", "catalog", 2, "catalog:3"),
		replicaSet("shop", "catalog-aaa", "catalog", "1", "catalog:1"),
		replicaSet("shop", "catalog-bbb", "catalog", "2", "catalog:2"),
		replicaSet("shop", "catalog-ccc", "catalog", "3", "catalog:3"),
		replicaSet("shop", "other-zzz", "other", "9", "other:9"),
	)
	e, _ := New(Options{Client: cl})
	c := call(t, "undo", map[string]any{"namespace": "shop", "name": "catalog"}, nil)
	p, err := e.Plan(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Summary, "revision 2") {
		t.Fatalf("plan = %q", p.Summary)
	}
	if _, err := e.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	d := get(t, cl, "shop", "catalog")
	cs, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	if img := cs[0].(map[string]any)["image"]; img != "catalog:2" {
		t.Fatalf("image = %v after undo, want catalog:2", img)
	}
	if l, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "labels"); l["pod-template-hash"] != "" || l["app"] != "catalog" {
		t.Fatalf("labels = %v", l)
	}
	// Without a previous revision there is nothing to roll back to.
	cl2 := fakeCluster(deployment("shop", "x", 1, "x:1"), replicaSet("shop", "x-1", "x", "1", "x:1"))
	e2, _ := New(Options{Client: cl2})
	if _, err := e2.Plan(context.Background(), call(t, "undo", map[string]any{"namespace": "shop", "name": "x"}, nil)); err == nil {
		t.Fatal("undo with one revision was planned")
	}
}

func TestCordon(t *testing.T) {
	cl := fakeCluster(node("node-1"))
	e, _ := New(Options{Client: cl})
	c := call(t, "cordon", map[string]any{"node": "${node}"}, nil)
	res, err := e.Apply(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := cl.Resource(NodesGVR).Get(context.Background(), "node-1", metav1.GetOptions{})
	if u, _, _ := unstructured.NestedBool(n.Object, "spec", "unschedulable"); !u {
		t.Fatal("node not cordoned")
	}
	if _, err := e.Apply(context.Background(), *res.Undo); err != nil {
		t.Fatal(err)
	}
	n, _ = cl.Resource(NodesGVR).Get(context.Background(), "node-1", metav1.GetOptions{})
	if u, _, _ := unstructured.NestedBool(n.Object, "spec", "unschedulable"); u {
		t.Fatal("node not uncordoned by the undo")
	}
}

func TestChecksAndRefusals(t *testing.T) {
	cl := fakeCluster(deployment("shop", "redis", 1, "r"))
	e, _ := New(Options{Client: cl, Namespaces: []string{"shop"}})
	tests := []struct {
		name string
		op   string
		with map[string]any
	}{
		{"unknown op", "delete", map[string]any{"namespace": "shop", "name": "redis"}},
		{"missing key", "scale", map[string]any{"namespace": "shop", "name": "redis"}},
		{"extra key", "restart", map[string]any{"namespace": "shop", "name": "redis", "force": "true"}},
		{"other namespace", "restart", map[string]any{"namespace": "kube-system", "name": "redis"}},
		{"bad literal name", "restart", map[string]any{"namespace": "shop", "name": "Redis;rm"}},
		{"too many replicas", "scale", map[string]any{"namespace": "shop", "name": "redis", "replicas": "100000"}},
		{"absent deployment", "scale", map[string]any{"namespace": "shop", "name": "nope", "replicas": "2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.Plan(context.Background(), call(t, tc.op, tc.with, nil)); err == nil {
				t.Fatal("accepted")
			}
			if _, err := e.Apply(context.Background(), call(t, tc.op, tc.with, nil)); err == nil {
				t.Fatal("applied")
			}
		})
	}
	if _, err := New(Options{}); err == nil {
		t.Fatal("New without a client")
	}
}
