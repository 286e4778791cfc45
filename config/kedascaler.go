package config

import (
	"net/url"
	"os"
	"time"
)

// KEDAScaler configures the KEDA external-scaler gRPC service, which
// serves load forecasts to KEDA ScaledObjects (deploy/kubernetes has an
// example).
type KEDAScaler struct {
	// Listen is the gRPC address ("127.0.0.1:9381"); empty turns the
	// service off.
	Listen string `yaml:"listen"`
	// History is where metric history comes from: "store" (the series
	// Vigil receives itself, named by a ScaledObject's selector) or
	// "prometheus" (query_range at PrometheusURL, by query or selector).
	History string `yaml:"history"`
	// PrometheusURL is the Prometheus server's base URL, for history
	// "prometheus".
	PrometheusURL string `yaml:"prometheus_url"`
	// StreamInterval is how often StreamIsActive (KEDA's external-push
	// trigger) re-evaluates.
	StreamInterval Duration `yaml:"stream_interval"`
	// MinEvalInterval is the shortest interval between two evaluations of
	// one ScaledObject: KEDA's operator and metrics adapter both ask.
	MinEvalInterval Duration `yaml:"min_eval_interval"`
	// MaxObjects bounds the ScaledObjects whose state is kept.
	MaxObjects int `yaml:"max_objects"`
	// RefitEvery is the refit cadence of each object's forecast model.
	RefitEvery Duration `yaml:"refit_every"`
	// Replicas is where the scaler learns each ScaledObject's current
	// replica count, which lets it place the served value where the HPA's
	// tolerance band acts: "kube" reads the scale target's /scale
	// subresource through the Kubernetes API (kubeconfig, or the in-cluster
	// service account), "off" never asks, and "auto" (the default) reads it
	// when Vigil runs in a cluster or kubeconfig is set. A ScaledObject's
	// replicasQuery metadata is used when this is off or there is no cluster.
	Replicas string `yaml:"replicas"`
	// Kubeconfig is the kubeconfig file for replicas "kube" or "auto"
	// outside a cluster; empty uses the in-cluster service account.
	Kubeconfig string `yaml:"kubeconfig"`
}

// History sources of the KEDA scaler.
const (
	KEDAHistoryStore      = "store"
	KEDAHistoryPrometheus = "prometheus"
)

// Replica-count sources of the KEDA scaler.
const (
	KEDAReplicasAuto = "auto"
	KEDAReplicasKube = "kube"
	KEDAReplicasOff  = "off"
)

func defaultKEDAScaler() KEDAScaler {
	return KEDAScaler{
		History:         KEDAHistoryStore,
		StreamInterval:  Duration(15 * time.Second),
		MinEvalInterval: Duration(10 * time.Second),
		MaxObjects:      1000,
		RefitEvery:      Duration(24 * time.Hour),
		Replicas:        KEDAReplicasAuto,
	}
}

// Enabled reports whether the scaler service is to run.
func (k *KEDAScaler) Enabled() bool { return k.Listen != "" }

// validate reports the problems of the kedascaler section through add,
// naming keys by their full path. The timing keys are checked even when
// the service is off, so that turning it on later does not reveal them.
func (k *KEDAScaler) validate(add func(key, format string, args ...any)) {
	if k.Listen != "" {
		if err := checkListen(k.Listen); err != nil {
			add("kedascaler.listen", "%v", err)
		}
	}
	switch k.History {
	case KEDAHistoryStore:
		if k.PrometheusURL != "" {
			add("kedascaler.prometheus_url", "is set but kedascaler.history is %q; set history: prometheus to use it", k.History)
		}
	case KEDAHistoryPrometheus:
		if k.PrometheusURL == "" {
			if k.Listen != "" {
				add("kedascaler.prometheus_url", "must be set when kedascaler.history is prometheus")
			}
		} else if u, err := url.Parse(k.PrometheusURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("kedascaler.prometheus_url", "%q is not an http(s) URL", k.PrometheusURL)
		}
	default:
		add("kedascaler.history", "%q is not one of store, prometheus", k.History)
	}
	if d := time.Duration(k.StreamInterval); d < time.Second || d > time.Hour {
		add("kedascaler.stream_interval", "%s is outside 1s..1h", k.StreamInterval)
	}
	if d := time.Duration(k.MinEvalInterval); d < 0 || d > time.Hour {
		add("kedascaler.min_eval_interval", "%s is outside 0s..1h", k.MinEvalInterval)
	}
	if k.MaxObjects < 1 || k.MaxObjects > 100_000 {
		add("kedascaler.max_objects", "%d is outside 1..100000", k.MaxObjects)
	}
	if d := time.Duration(k.RefitEvery); d < time.Minute || d > 30*24*time.Hour {
		add("kedascaler.refit_every", "%s is outside 1m..30d", k.RefitEvery)
	}
	switch k.Replicas {
	case KEDAReplicasAuto, KEDAReplicasKube, KEDAReplicasOff:
	default:
		add("kedascaler.replicas", "%q is not one of auto, kube, off", k.Replicas)
	}
	if k.Kubeconfig != "" {
		if k.Replicas == KEDAReplicasOff {
			add("kedascaler.kubeconfig", "is set but kedascaler.replicas is off")
		} else if _, err := os.Stat(k.Kubeconfig); err != nil {
			add("kedascaler.kubeconfig", "%s", err)
		}
	}
}
