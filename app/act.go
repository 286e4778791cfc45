package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/vigilops/vigil/act"
	"github.com/vigilops/vigil/act/audit"
	acthttp "github.com/vigilops/vigil/act/http"
	"github.com/vigilops/vigil/act/kube"
	"github.com/vigilops/vigil/act/shell"
	"github.com/vigilops/vigil/api"
	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/correlate"
	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/diagnose"
	"github.com/vigilops/vigil/incident"
	"github.com/vigilops/vigil/sim"
	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// The act stage is guarded remediation in vigil serve: the runbooks of
// act.runbooks_dir, the executors the configuration enables, the guard's
// limits, approvals through the API, and the hash-chained audit log at
// DATA_DIR/audit.jsonl. The diagnosis stage hands it every diagnosis
// (OnDiagnosis); matching runbooks then alert, suggest, ask for approval or
// run on their own as their level and the guard allow.
//
// In the demo the only executor is a fake Kubernetes cluster holding the
// simulator's deployments (one replica each, namespace shop), and dry run
// is off: nothing real can change, so the approved scale-up can be seen
// happening. Without act.runbooks_dir the demo loads its built-in runbook
// (the same as runbooks/redis-scale-up.yaml).
//
// Glue (for the lead):
//
//	config.Config:   Act Act `yaml:"act"`
//	config.Default:  Act: defaultAct(),
//	config.Validate: c.Act.validate(add)
//	config.Load:     c.Act.ResolveRunbooksDir(path), beside resolvePaths and
//	                 before Validate (validate checks that the directory exists)
//	App:             act *actStage
//	Start, once the correlator and the anomalies stage exist and before
//	srv.Start (routes are mounted before listening), before the diagnosis
//	stage (which calls OnDiagnosis):
//
//		firing, alerts := storeAlertLookup(a.store, anomalyClock(a.anomalies))
//		as, err := newActStage(ctx, actDeps{
//			Log: a.log, Registerer: a.reg, Config: cfg.Act, DataDir: cfg.DataDir, Now: a.clock,
//			AddEntry: corr.AddEntry,
//			Notify: nil, Escalate: nil,      // logged until connected to notify
//			Firing: firing, Alerts: alerts,
//			Anomalies: anomalyRange(a.anomalies), Clock: anomalyClock(a.anomalies),
//			Demo: cfg.Demo.Enabled,
//		})
//		if err != nil { return err }
//		as.Register(srv)
//		a.onStop("act", as.Stop)   // before the API's onStop: stops after the API, before the store
//		a.act = as
//
// as.Stop stops the service (svc.Stop) and then closes the audit log.

// demoNamespace is where the demo's fake cluster holds the simulator's
// deployments.
const demoNamespace = "shop"

// demoRunbook is runbooks/redis-scale-up.yaml, built in so that the demo
// works from any directory (a test keeps the two equal).
const demoRunbook = `# Redis near maxmemory and evicting keys: add a replica. In the demo, the
# simulator's redis-memory scenario opens an incident, the diagnosis names
# redis, and this runbook asks an operator to approve the scale-up
# (level 2); once approved it runs and is verified when RedisMemoryHigh
# stops firing for redis.
name: redis-scale-up
description: Redis is close to maxmemory and evicting keys; scale the redis deployment to more replicas.
risk: low
level: 2
match: 'diagnosis.service == "redis" || any(alerts, .labels.alertname == "RedisMemoryHigh")'
params:
  - name: namespace
    type: k8s_name
    default: shop
  - name: deployment
    type: k8s_name
    default: redis
  - name: replicas
    type: int
    min: 1
    max: 6
    default: "2"
steps:
  - name: scale-up
    action: kube.scale
    with:
      namespace: ${namespace}
      name: ${deployment}
      replicas: ${replicas}
verify:
  check: alert_resolved
  with:
    alertname: RedisMemoryHigh
    service: ${deployment}
  timeout: 10m
  interval: 30s
`

// Verification checks the act stage evaluates.
const (
	// checkAlertResolved passes when no alert named with.alertname fires
	// for with.service.
	checkAlertResolved = "alert_resolved"
	// checkAnomalyGone passes when with.service has had no anomaly (of
	// with.type, when given) in the last anomalyGoneWindow.
	checkAnomalyGone = "anomaly_gone"
	// anomalyGoneWindow is how far back anomaly_gone looks.
	anomalyGoneWindow = 5 * time.Minute
	// actSituationLookback is how far before an incident opened its
	// anomalies are given to runbook matching.
	actSituationLookback = 15 * time.Minute
)

// actDeps is everything the act stage uses; only Log, Config and DataDir
// are required.
type actDeps struct {
	Log        *slog.Logger
	Registerer prometheus.Registerer
	Config     config.Act
	// DataDir holds the audit log.
	DataDir string
	// Now is the clock of approvals, rate limits and change windows.
	Now func() time.Time
	// AddEntry writes on an incident's timeline: (*correlate.Correlator).AddEntry.
	AddEntry func(ctx context.Context, id string, e incident.Entry, kind correlate.ChangeKind) (incident.Incident, error)
	// Notify and Escalate reach people (package notify); nil logs them.
	Notify   func(ctx context.Context, n act.Notice) error
	Escalate func(ctx context.Context, e act.Escalation) error
	// Firing reports whether an alert named alertname ("" any) is firing
	// for service: the alert_resolved check. Nil: that check never passes.
	Firing func(ctx context.Context, service, alertname string) (bool, error)
	// Alerts returns the firing alerts of services, for runbook matching.
	Alerts func(ctx context.Context, services []string) []telemetry.Alert
	// Anomalies returns the log anomalies whose window overlaps [from, to].
	Anomalies func(from, to time.Time) []detect.Anomaly
	// Clock returns evaluation time (the newest signal time), which
	// anomaly_gone judges by; nil uses Now.
	Clock func() time.Time
	// Demo makes the only executor a fake cluster holding the simulator's
	// deployments, and turns dry run off.
	Demo bool
	// TimeScale is how many seconds of Now pass per real second: the
	// demo's speed, else 0 or 1. The approval TTL is a time given to
	// people, so it is stretched by it onto Now's clock.
	TimeScale float64
	// KubeClient, when set, is the cluster (tests); otherwise it comes from
	// act.kube.kubeconfig, the in-cluster account, or the demo.
	KubeClient dynamic.Interface
}

// actStage runs the act service; see the comment above.
type actStage struct {
	d     actDeps
	log   *slog.Logger
	svc   *act.Service
	audit *audit.Log
	// cluster is the Kubernetes client in use (nil: none); the demo's is
	// the fake one, which tests read back.
	cluster dynamic.Interface
}

// newActStage builds the act service: executors, runbooks, guard and audit.
func newActStage(ctx context.Context, d actDeps) (_ *actStage, err error) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.DataDir == "" {
		return nil, errors.New("act stage: no data directory for the audit log")
	}
	s := &actStage{d: d, log: d.Log.With("component", "act")}
	cfg := d.Config

	execs, err := s.executors(ctx)
	if err != nil {
		return nil, err
	}
	var rbs []*act.Runbook
	switch {
	case cfg.RunbooksDir != "":
		if rbs, err = act.LoadDir(cfg.RunbooksDir, execs); err != nil {
			return nil, fmt.Errorf("act stage: load runbooks: %w", err)
		}
	case d.Demo:
		if rbs, err = act.ParseRunbooks(strings.NewReader(demoRunbook), "built-in demo runbook", execs); err != nil {
			return nil, fmt.Errorf("act stage: demo runbook: %w", err)
		}
	}
	for _, rb := range rbs {
		if v := rb.Verify; v != nil && v.Check != checkAlertResolved && v.Check != checkAnomalyGone {
			return nil, fmt.Errorf("act stage: runbook %s (%s): unknown verification check %q (known: %s, %s)",
				rb.Name, rb.Source, v.Check, checkAlertResolved, checkAnomalyGone)
		}
	}

	g := act.DefaultGuardOptions()
	g.MaxLevel = act.Level(cfg.MaxLevel)
	g.MinConfidence, g.HighConfidence = cfg.MinConfidence, cfg.HighConfidence
	g.RunbookPerHour, g.GlobalPerHour = cfg.PerRunbookPerHour, cfg.GlobalPerHour
	g.MaxTargets, g.MaxReplicaChangePercent = cfg.MaxTargets, cfg.MaxReplicaChangePercent
	g.DryRun, g.KillSwitch = cfg.DryRun, cfg.KillSwitch
	for _, w := range cfg.ChangeWindows {
		cw, err := act.ParseChangeWindow(w)
		if err != nil {
			return nil, fmt.Errorf("act stage: change window %q: %w", w, err)
		}
		g.ChangeWindows = append(g.ChangeWindows, cw)
	}
	if d.Demo && g.DryRun {
		// Only the fake cluster can be reached in the demo.
		g.DryRun = false
		s.log.Info("demo: act runs against a simulated cluster with dry run off")
	}

	lg, err := audit.Open(filepath.Join(d.DataDir, audit.DefaultFileName), audit.Options{Now: d.Now})
	if err != nil {
		return nil, fmt.Errorf("act stage: open audit log: %w", err)
	}
	defer func() {
		if err != nil {
			_ = lg.Close()
		}
	}()
	s.audit = lg

	o := act.DefaultOptions()
	o.Runbooks, o.Executors, o.Guard = rbs, execs, g
	o.Audit, o.AuditVerify = lg, lg.Verify
	o.Verifier = act.VerifierFunc(s.verify)
	o.Notifier = act.NotifyFunc(s.notify)
	o.Escalator = act.EscalateFunc(s.escalate)
	if d.AddEntry != nil {
		o.Timeline = act.TimelineFunc(func(ctx context.Context, id string, e incident.Entry) error {
			if id == "" {
				return nil
			}
			_, err := d.AddEntry(ctx, id, e, correlate.ChangeUpdated)
			return err
		})
	}
	o.ApprovalTTL = scaledTTL(time.Duration(cfg.ApprovalTTL), d.TimeScale)
	o.VerifyTimeout = time.Duration(cfg.VerifyTimeout)
	o.Now, o.Logger, o.Registerer = d.Now, s.log, d.Registerer
	if s.svc, err = act.New(o); err != nil {
		return nil, fmt.Errorf("act stage: %w", err)
	}
	s.log.Info("act ready", "runbooks", len(rbs), "executors", len(execs), "dry_run", g.DryRun,
		"max_level", g.MaxLevel, "kill_switch", g.KillSwitch)
	return s, nil
}

// maxScaledTTL bounds a stretched TTL well inside time.Duration's range.
const maxScaledTTL = 100 * 365 * 24 * time.Hour

// scaledTTL is ttl of real time measured on a clock that runs scale times
// faster: in the demo (60x by default) an approval requested at simulated
// time T expires at T + 60h, which is still the configured hour for the
// operator, where an unscaled TTL would give them one minute.
func scaledTTL(ttl time.Duration, scale float64) time.Duration {
	if scale <= 1 {
		return ttl
	}
	if f := float64(ttl) * scale; f < float64(maxScaledTTL) {
		return time.Duration(f)
	}
	return maxScaledTTL
}

// executors builds the executors the configuration enables. The kube
// executor is always present so that runbooks using it load and validate;
// without a cluster it is a checker whose plans fail with a clear error.
func (s *actStage) executors(ctx context.Context) (map[string]act.Executor, error) {
	cfg := s.d.Config
	execs := map[string]act.Executor{}
	client, namespaces, err := s.kubeClient()
	if err != nil {
		return nil, err
	}
	if client == nil {
		execs["kube"] = kube.NewChecker()
	} else {
		ko := kube.DefaultOptions()
		ko.Client, ko.Namespaces, ko.Now = client, namespaces, s.d.Now
		ko.Logger = s.log.With("executor", "kube")
		kx, err := kube.New(ko)
		if err != nil {
			return nil, fmt.Errorf("act stage: kube executor: %w", err)
		}
		execs["kube"] = kx
		s.cluster = client
	}
	if s.d.Demo {
		return execs, nil
	}
	ho := acthttp.DefaultOptions()
	ho.AllowedHosts, ho.Logger = cfg.HTTP.AllowedHosts, s.log.With("executor", "http")
	hx, err := acthttp.New(ho)
	if err != nil {
		return nil, fmt.Errorf("act stage: http executor: %w", err)
	}
	execs["http"] = hx
	if len(cfg.Shell.AllowedCommands) > 0 {
		so := shell.DefaultOptions()
		so.AllowedCommands, so.Logger = cfg.Shell.AllowedCommands, s.log.With("executor", "shell")
		sx, err := shell.New(so)
		if err != nil {
			return nil, fmt.Errorf("act stage: shell executor: %w", err)
		}
		execs["shell"] = sx
	}
	return execs, nil
}

// kubeClient returns the cluster to act on and the namespaces allowed, or
// nil when none is configured.
func (s *actStage) kubeClient() (dynamic.Interface, []string, error) {
	cfg := s.d.Config.Kube
	switch {
	case s.d.KubeClient != nil:
		return s.d.KubeClient, cfg.Namespaces, nil
	case s.d.Demo:
		sm, err := sim.New(sim.DefaultOptions())
		if err != nil {
			return nil, nil, fmt.Errorf("act stage: demo topology: %w", err)
		}
		return demoCluster(sm.Topology()), []string{demoNamespace}, nil
	}
	client, err := kubeDynamic("act stage", cfg.Kubeconfig)
	if err != nil || client == nil {
		return nil, nil, err
	}
	return client, cfg.Namespaces, nil
}

// demoCluster is a fake cluster holding one deployment per simulated
// service of ours (external ones have none), each with one replica.
func demoCluster(t sim.Topology) dynamic.Interface {
	var objs []runtime.Object
	for _, svc := range t.Services {
		if svc.External {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": svc.Name, "namespace": demoNamespace},
			"spec":     map[string]any{"replicas": int64(1)},
		}})
	}
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{kube.DeploymentsGVR: "DeploymentList", kube.ReplicaSetsGVR: "ReplicaSetList", kube.NodesGVR: "NodeList"},
		objs...)
}

// Register mounts the act routes (runbooks, approvals, executions, kill
// switch, audit verification).
func (s *actStage) Register(srv *api.Server) { s.svc.Register(srv) }

// Stop stops the service (in-flight executions roll back what they can),
// then closes the audit log they write to.
func (s *actStage) Stop(ctx context.Context) error {
	err := s.svc.Stop(ctx)
	return errors.Join(err, s.audit.Close())
}

// OnDiagnosis matches the incident and its diagnosis against the runbooks
// and acts as each allows. The diagnosis stage calls it from its worker.
func (s *actStage) OnDiagnosis(ctx context.Context, inc incident.Incident, d *diagnose.Diagnosis) {
	sit := s.situation(ctx, inc, d)
	ds, err := s.svc.Trigger(ctx, sit)
	if err != nil {
		s.log.Warn("act on diagnosis", "incident", inc.ID, "err", err)
	}
	for _, dec := range ds {
		s.log.Info("runbook decision", "incident", inc.ID, "runbook", dec.Runbook, "outcome", dec.Outcome,
			"reason", dec.Reason, "approval", dec.Approval, "execution", dec.Execution)
	}
}

// situation is what runbooks are matched against: the incident, the top
// candidate (its strongest metric evidence names the component), the
// anomalies of its services and their firing alerts.
func (s *actStage) situation(ctx context.Context, inc incident.Incident, d *diagnose.Diagnosis) *act.Situation {
	inc = inc.Clone()
	sit := &act.Situation{IncidentID: inc.ID, Incident: &inc, RequestedBy: act.SystemActor}
	if d != nil && len(d.Candidates) > 0 {
		c := d.Candidates[0]
		ad := &act.Diagnosis{Service: c.Service, Summary: c.Reason, Confidence: c.Confidence}
		best := -1.0
		for _, e := range c.Evidence {
			if e.Kind == diagnose.EvidenceMetric && e.Score > best {
				best, ad.Component, ad.Metric = e.Score, string(e.MetricKind), e.Series
			}
		}
		sit.Diagnosis = ad
	}
	services := map[string]bool{}
	for _, svc := range inc.Services {
		services[svc] = true
	}
	if s.d.Anomalies != nil {
		for _, a := range s.d.Anomalies(inc.OpenedAt.Add(-actSituationLookback), s.evalNow(inc)) {
			if services[a.Service] {
				sit.Anomalies = append(sit.Anomalies, a)
			}
		}
	}
	if s.d.Alerts != nil {
		sit.Alerts = s.d.Alerts(ctx, inc.Services)
	}
	return sit
}

// evalNow is evaluation time: the newest signal time, or at least the
// incident's last update.
func (s *actStage) evalNow(inc incident.Incident) time.Time {
	now := inc.UpdatedAt
	if s.d.Clock != nil {
		if t := s.d.Clock(); t.After(now) {
			now = t
		}
	}
	return now
}

// verify evaluates a runbook's check: alert_resolved asks whether the alert
// still fires for the service, anomaly_gone whether the service has had an
// anomaly lately. Both report what they saw.
func (s *actStage) verify(ctx context.Context, req act.VerifyRequest) (act.VerifyResult, error) {
	service, _ := req.With["service"].(string)
	switch req.Check {
	case checkAlertResolved:
		alertname, _ := req.With["alertname"].(string)
		if s.d.Firing == nil {
			return act.VerifyResult{Detail: "no alert lookup is wired: cannot tell whether the alert stopped"}, nil
		}
		firing, err := s.d.Firing(ctx, service, alertname)
		if err != nil {
			return act.VerifyResult{}, fmt.Errorf("look up alerts: %w", err)
		}
		what := alertname
		if what == "" {
			what = "any alert"
		}
		if firing {
			return act.VerifyResult{Detail: fmt.Sprintf("%s still firing for %s", what, service)}, nil
		}
		return act.VerifyResult{OK: true, Detail: fmt.Sprintf("%s no longer firing for %s", what, service)}, nil
	case checkAnomalyGone:
		if s.d.Anomalies == nil {
			return act.VerifyResult{Detail: "no anomaly lookup is wired: cannot tell whether the anomaly is gone"}, nil
		}
		typ, _ := req.With["type"].(string)
		now := req.Now
		if s.d.Clock != nil {
			if t := s.d.Clock(); !t.IsZero() {
				now = t
			}
		}
		n := 0
		for _, a := range s.d.Anomalies(now.Add(-anomalyGoneWindow), now) {
			if (service == "" || a.Service == service) && (typ == "" || string(a.Type) == typ) {
				n++
			}
		}
		if n > 0 {
			return act.VerifyResult{Detail: fmt.Sprintf("%d anomalies of %s in the last %s", n, service, anomalyGoneWindow)}, nil
		}
		return act.VerifyResult{OK: true, Detail: fmt.Sprintf("no anomaly of %s in the last %s", service, anomalyGoneWindow)}, nil
	}
	return act.VerifyResult{}, fmt.Errorf("unknown verification check %q", req.Check)
}

func (s *actStage) notify(ctx context.Context, n act.Notice) error {
	if s.d.Notify != nil {
		return s.d.Notify(ctx, n)
	}
	s.log.Info("act notice", "kind", n.Kind, "text", n.Text)
	return nil
}

func (s *actStage) escalate(ctx context.Context, e act.Escalation) error {
	if s.d.Escalate != nil {
		return s.d.Escalate(ctx, e)
	}
	s.log.Warn("act escalation", "incident", e.IncidentID, "runbook", e.Runbook, "reason", e.Reason)
	return nil
}

// actAlertLookupMax bounds the active alerts read per lookup.
const actAlertLookupMax = 1000

// storeAlertLookup answers the act stage's Firing and Alerts from the alert
// history in the store, as of evaluation time (clock; the newest signal
// time, which in the demo is simulated time). An alert is firing when it
// started at or before then and had not ended by then.
func storeAlertLookup(as store.AlertStore, clock func() time.Time) (
	firing func(ctx context.Context, service, alertname string) (bool, error),
	alerts func(ctx context.Context, services []string) []telemetry.Alert,
) {
	active := func(ctx context.Context) ([]telemetry.Alert, error) {
		now := clock()
		if now.IsZero() {
			return nil, nil
		}
		return as.Alerts(ctx, store.AlertQuery{ActiveAt: now, Limit: actAlertLookupMax})
	}
	firing = func(ctx context.Context, service, alertname string) (bool, error) {
		als, err := active(ctx)
		if err != nil {
			return false, err
		}
		for _, a := range als {
			if (service == "" || a.Labels.Get("service") == service) && (alertname == "" || a.Labels.Get("alertname") == alertname) {
				return true, nil
			}
		}
		return false, nil
	}
	alerts = func(ctx context.Context, services []string) []telemetry.Alert {
		als, err := active(ctx)
		if err != nil {
			return nil
		}
		want := map[string]bool{}
		for _, s := range services {
			want[s] = true
		}
		var out []telemetry.Alert
		for _, a := range als {
			if want[a.Labels.Get("service")] {
				out = append(out, a)
			}
		}
		return out
	}
	return firing, alerts
}
