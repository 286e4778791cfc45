// Package kube is the act executor for Kubernetes: scale a deployment,
// restart its rollout, undo it to the previous ReplicaSet's template, and
// cordon or uncordon a node, through client-go's dynamic client.
//
// Invariant: every object name and namespace is rendered from validated
// parameters and then checked again as an RFC 1123 name before any request
// is made, and patches are built as data (json.Marshal), never as text.
package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/vigilops/vigil/act"
)

// Resources the executor touches.
var (
	DeploymentsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	ReplicaSetsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	NodesGVR       = schema.GroupVersionResource{Group: "", Version: "v1", Resource: "nodes"}
)

// Annotations used by kubectl, which these operations mirror.
const (
	RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"
	RevisionAnnotation    = "deployment.kubernetes.io/revision"
	podTemplateHashLabel  = "pod-template-hash"
)

// MaxReplicas bounds a scale target.
const MaxReplicas = 1000

// ErrInvalidOptions is returned by New.
var ErrInvalidOptions = errors.New("invalid kube executor options")

var nameRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// Options configure the executor.
type Options struct {
	// Client is the dynamic client (dynamic.NewForConfig, or the fake).
	Client dynamic.Interface
	// Namespaces, when any, are the only namespaces it acts in.
	Namespaces []string
	// Now stamps restartedAt.
	Now    func() time.Time
	Logger *slog.Logger
}

// DefaultOptions returns the defaults; set Client.
func DefaultOptions() Options {
	return Options{Now: time.Now, Logger: slog.Default()}
}

func (o *Options) validate() error {
	if o.Client == nil {
		return fmt.Errorf("%w: client is required", ErrInvalidOptions)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Executor runs kube.* actions.
type Executor struct {
	opts Options
}

var (
	_ act.Executor  = (*Executor)(nil)
	_ act.Describer = (*Executor)(nil)
)

// NewChecker returns an Executor without a cluster, for validating and
// describing runbooks offline; its Plan and Apply return an error.
func NewChecker() *Executor {
	return &Executor{opts: Options{Now: time.Now, Logger: slog.New(slog.DiscardHandler)}}
}

var errNoClient = errors.New("kube executor has no cluster client (offline checker)")

// Describe implements act.Describer: the rendered, checked call.
func (e *Executor) Describe(c act.Call) (string, error) {
	t, err := e.target(c)
	if err != nil {
		return "", err
	}
	switch c.Op {
	case "scale":
		return fmt.Sprintf("scale deployment %s/%s to %d replicas", t.namespace, t.name, t.replicas), nil
	case "restart":
		return fmt.Sprintf("restart the rollout of deployment %s/%s (patch %s)", t.namespace, t.name, RestartedAtAnnotation), nil
	case "undo":
		return fmt.Sprintf("roll deployment %s/%s back to its previous revision", t.namespace, t.name), nil
	}
	return fmt.Sprintf("%s node %s", c.Op, t.node), nil
}

// New builds an Executor.
func New(o Options) (*Executor, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	return &Executor{opts: o}, nil
}

// keys lists each operation's With keys; all are required.
var keys = map[string][]string{
	"scale":    {"namespace", "name", "replicas"},
	"restart":  {"namespace", "name"},
	"undo":     {"namespace", "name"},
	"cordon":   {"node"},
	"uncordon": {"node"},
}

// Check implements act.Executor.
func (e *Executor) Check(op string, with map[string]any) error {
	ks, ok := keys[op]
	if !ok {
		return fmt.Errorf("unknown kube operation %q (scale, restart, undo, cordon, uncordon)", op)
	}
	if err := act.CheckKeys(with, ks...); err != nil {
		return err
	}
	for _, k := range ks {
		if _, err := act.StringArg(with, k, true); err != nil {
			return err
		}
	}
	return nil
}

// target is a rendered, checked call.
type target struct {
	namespace, name, node string
	replicas              int64
}

func (e *Executor) target(c act.Call) (target, error) {
	var t target
	if err := e.Check(c.Op, c.With); err != nil {
		return t, err
	}
	get := func(k string) (string, error) {
		v, err := act.RenderArg(c, k)
		if err != nil {
			return "", err
		}
		if k != "replicas" && (len(v) > 253 || !nameRe.MatchString(v)) {
			return "", fmt.Errorf("%s %q is not an RFC 1123 name", k, v)
		}
		return v, nil
	}
	var err error
	if c.Op == "cordon" || c.Op == "uncordon" {
		t.node, err = get("node")
		return t, err
	}
	if t.namespace, err = get("namespace"); err != nil {
		return t, err
	}
	if len(e.opts.Namespaces) > 0 && !slices.Contains(e.opts.Namespaces, t.namespace) {
		return t, fmt.Errorf("namespace %q is not one this executor may act in (%v)", t.namespace, e.opts.Namespaces)
	}
	if t.name, err = get("name"); err != nil {
		return t, err
	}
	if c.Op == "scale" {
		s, err := get("replicas")
		if err != nil {
			return t, err
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > MaxReplicas {
			return t, fmt.Errorf("replicas %q must be an integer within [0, %d]", s, MaxReplicas)
		}
		t.replicas = n
	}
	return t, nil
}

func (t target) deployment() string { return "deployment/" + t.namespace + "/" + t.name }

// Plan implements act.Executor: it reads the objects and changes nothing.
func (e *Executor) Plan(ctx context.Context, c act.Call) (act.Plan, error) {
	if e.opts.Client == nil {
		return act.Plan{}, errNoClient
	}
	t, err := e.target(c)
	if err != nil {
		return act.Plan{}, err
	}
	switch c.Op {
	case "scale":
		cur, err := e.replicas(ctx, t)
		if err != nil {
			return act.Plan{}, err
		}
		return act.Plan{
			Summary:  fmt.Sprintf("scale deployment %s/%s from %d to %d replicas", t.namespace, t.name, cur, t.replicas),
			Targets:  []string{t.deployment()},
			Replicas: &act.ReplicaChange{From: cur, To: t.replicas},
		}, nil
	case "restart":
		cur, err := e.replicas(ctx, t)
		if err != nil {
			return act.Plan{}, err
		}
		return act.Plan{
			Summary: fmt.Sprintf("restart the rollout of deployment %s/%s (%d pods replaced)", t.namespace, t.name, cur),
			Targets: []string{t.deployment()},
		}, nil
	case "undo":
		_, prev, err := e.previous(ctx, t)
		if err != nil {
			return act.Plan{}, err
		}
		return act.Plan{
			Summary: fmt.Sprintf("roll deployment %s/%s back to revision %s (replicaset %s)", t.namespace, t.name, prev.GetAnnotations()[RevisionAnnotation], prev.GetName()),
			Targets: []string{t.deployment()},
		}, nil
	default: // cordon, uncordon
		if _, err := e.opts.Client.Resource(NodesGVR).Get(ctx, t.node, metav1.GetOptions{}); err != nil {
			return act.Plan{}, fmt.Errorf("get node %s: %w", t.node, err)
		}
		return act.Plan{Summary: fmt.Sprintf("%s node %s", c.Op, t.node), Targets: []string{"node/" + t.node}}, nil
	}
}

// Apply implements act.Executor.
func (e *Executor) Apply(ctx context.Context, c act.Call) (act.Result, error) {
	if e.opts.Client == nil {
		return act.Result{}, errNoClient
	}
	t, err := e.target(c)
	if err != nil {
		return act.Result{}, err
	}
	switch c.Op {
	case "scale":
		return e.scale(ctx, c, t)
	case "restart":
		return e.restart(ctx, t)
	case "undo":
		return e.undo(ctx, t)
	default:
		return e.cordon(ctx, c, t, c.Op == "cordon")
	}
}

func (e *Executor) deployments(ns string) dynamic.ResourceInterface {
	return e.opts.Client.Resource(DeploymentsGVR).Namespace(ns)
}

// replicas reads spec.replicas (1 when unset, as the API defaults it).
func (e *Executor) replicas(ctx context.Context, t target) (int64, error) {
	d, err := e.deployments(t.namespace).Get(ctx, t.name, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("get deployment %s/%s: %w", t.namespace, t.name, err)
	}
	n, found, err := unstructured.NestedInt64(d.Object, "spec", "replicas")
	if err != nil {
		return 0, fmt.Errorf("deployment %s/%s: spec.replicas: %w", t.namespace, t.name, err)
	}
	if !found {
		n = 1
	}
	return n, nil
}

func (e *Executor) patch(ctx context.Context, ri dynamic.ResourceInterface, name string, patch map[string]any) error {
	b, err := json.Marshal(patch)
	if err != nil {
		return fmt.Errorf("encode patch: %w", err)
	}
	if _, err := ri.Patch(ctx, name, types.MergePatchType, b, metav1.PatchOptions{FieldManager: "vigil"}); err != nil {
		return err
	}
	return nil
}

func (e *Executor) scale(ctx context.Context, c act.Call, t target) (act.Result, error) {
	cur, err := e.replicas(ctx, t)
	if err != nil {
		return act.Result{}, err
	}
	if err := e.patch(ctx, e.deployments(t.namespace), t.name, map[string]any{"spec": map[string]any{"replicas": t.replicas}}); err != nil {
		return act.Result{}, fmt.Errorf("scale deployment %s/%s: %w", t.namespace, t.name, err)
	}
	undo := &act.Call{Runbook: c.Runbook, Step: c.Step + " (undo)", Op: "scale", With: map[string]any{
		"namespace": t.namespace, "name": t.name, "replicas": strconv.FormatInt(cur, 10),
	}}
	return act.Result{Detail: fmt.Sprintf("scaled deployment %s/%s from %d to %d replicas", t.namespace, t.name, cur, t.replicas), Undo: undo}, nil
}

func (e *Executor) restart(ctx context.Context, t target) (act.Result, error) {
	at := e.opts.Now().UTC().Format(time.RFC3339)
	p := map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
		"annotations": map[string]any{RestartedAtAnnotation: at},
	}}}}
	if err := e.patch(ctx, e.deployments(t.namespace), t.name, p); err != nil {
		return act.Result{}, fmt.Errorf("restart deployment %s/%s: %w", t.namespace, t.name, err)
	}
	// A restart cannot be undone: the old pods are gone.
	return act.Result{Detail: fmt.Sprintf("restarted the rollout of deployment %s/%s at %s", t.namespace, t.name, at)}, nil
}

// previous returns the deployment and the ReplicaSet of its previous
// revision: the deployment's own ReplicaSets, by revision annotation, the
// second highest.
func (e *Executor) previous(ctx context.Context, t target) (*unstructured.Unstructured, *unstructured.Unstructured, error) {
	d, err := e.deployments(t.namespace).Get(ctx, t.name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("get deployment %s/%s: %w", t.namespace, t.name, err)
	}
	ml, _, err := unstructured.NestedStringMap(d.Object, "spec", "selector", "matchLabels")
	if err != nil {
		return nil, nil, fmt.Errorf("deployment %s/%s: selector: %w", t.namespace, t.name, err)
	}
	list, err := e.opts.Client.Resource(ReplicaSetsGVR).Namespace(t.namespace).List(ctx,
		metav1.ListOptions{LabelSelector: labels.SelectorFromSet(ml).String()})
	if err != nil {
		return nil, nil, fmt.Errorf("list replicasets of %s/%s: %w", t.namespace, t.name, err)
	}
	type rev struct {
		n  int64
		rs *unstructured.Unstructured
	}
	var revs []rev
	for i := range list.Items {
		rs := &list.Items[i]
		if !ownedBy(rs, d) {
			continue
		}
		n, err := strconv.ParseInt(rs.GetAnnotations()[RevisionAnnotation], 10, 64)
		if err != nil {
			continue
		}
		revs = append(revs, rev{n, rs})
	}
	sort.Slice(revs, func(i, j int) bool { return revs[i].n > revs[j].n })
	if len(revs) < 2 {
		return nil, nil, fmt.Errorf("deployment %s/%s has no previous revision to roll back to", t.namespace, t.name)
	}
	return d, revs[1].rs, nil
}

func ownedBy(rs, d *unstructured.Unstructured) bool {
	for _, o := range rs.GetOwnerReferences() {
		if o.Kind == "Deployment" && o.Name == d.GetName() && (d.GetUID() == "" || o.UID == d.GetUID()) {
			return true
		}
	}
	return false
}

func (e *Executor) undo(ctx context.Context, t target) (act.Result, error) {
	d, prev, err := e.previous(ctx, t)
	if err != nil {
		return act.Result{}, err
	}
	tmpl, found, err := unstructured.NestedMap(prev.Object, "spec", "template")
	if err != nil || !found {
		return act.Result{}, fmt.Errorf("replicaset %s has no pod template", prev.GetName())
	}
	// The hash label belongs to the ReplicaSet; the deployment controller
	// sets it again (kubectl rollout undo drops it the same way).
	unstructured.RemoveNestedField(tmpl, "metadata", "labels", podTemplateHashLabel)
	if err := unstructured.SetNestedMap(d.Object, tmpl, "spec", "template"); err != nil {
		return act.Result{}, fmt.Errorf("set template: %w", err)
	}
	if _, err := e.deployments(t.namespace).Update(ctx, d, metav1.UpdateOptions{FieldManager: "vigil"}); err != nil {
		return act.Result{}, fmt.Errorf("roll back deployment %s/%s: %w", t.namespace, t.name, err)
	}
	return act.Result{Detail: fmt.Sprintf("rolled deployment %s/%s back to the template of revision %s (replicaset %s)",
		t.namespace, t.name, prev.GetAnnotations()[RevisionAnnotation], prev.GetName())}, nil
}

func (e *Executor) cordon(ctx context.Context, c act.Call, t target, on bool) (act.Result, error) {
	ri := e.opts.Client.Resource(NodesGVR)
	if err := e.patch(ctx, ri, t.node, map[string]any{"spec": map[string]any{"unschedulable": on}}); err != nil {
		return act.Result{}, fmt.Errorf("%s node %s: %w", c.Op, t.node, err)
	}
	back := "uncordon"
	if !on {
		back = "cordon"
	}
	return act.Result{
		Detail: fmt.Sprintf("%sed node %s", c.Op, t.node),
		Undo:   &act.Call{Runbook: c.Runbook, Step: c.Step + " (undo)", Op: back, With: map[string]any{"node": t.node}},
	}, nil
}
