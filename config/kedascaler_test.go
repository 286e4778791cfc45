package config

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestKEDAScalerValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(k *KEDAScaler)
		want   string // "" for no problem, else a substring of the only problem
	}{
		{"defaults (off)", func(*KEDAScaler) {}, ""},
		{"on with store", func(k *KEDAScaler) { k.Listen = "127.0.0.1:9381" }, ""},
		{"bad listen", func(k *KEDAScaler) { k.Listen = "9381" }, "kedascaler.listen:"},
		{"bad port", func(k *KEDAScaler) { k.Listen = "127.0.0.1:99999" }, "kedascaler.listen:"},
		{"unknown history", func(k *KEDAScaler) { k.History = "influx" }, `kedascaler.history: "influx" is not one of store, prometheus`},
		{"prometheus without url", func(k *KEDAScaler) {
			k.Listen, k.History = "127.0.0.1:9381", KEDAHistoryPrometheus
		}, "kedascaler.prometheus_url: must be set"},
		{"prometheus without url while off", func(k *KEDAScaler) { k.History = KEDAHistoryPrometheus }, ""},
		{"prometheus bad url", func(k *KEDAScaler) {
			k.History, k.PrometheusURL = KEDAHistoryPrometheus, "prometheus:9090"
		}, "kedascaler.prometheus_url:"},
		{"prometheus ok", func(k *KEDAScaler) {
			k.Listen, k.History, k.PrometheusURL = "0.0.0.0:9381", KEDAHistoryPrometheus, "http://prometheus:9090"
		}, ""},
		{"url without prometheus", func(k *KEDAScaler) { k.PrometheusURL = "http://p:9090" }, "kedascaler.prometheus_url: is set but"},
		{"stream interval", func(k *KEDAScaler) { k.StreamInterval = Duration(time.Millisecond) }, "kedascaler.stream_interval"},
		{"eval interval", func(k *KEDAScaler) { k.MinEvalInterval = Duration(-time.Second) }, "kedascaler.min_eval_interval"},
		{"max objects", func(k *KEDAScaler) { k.MaxObjects = 0 }, "kedascaler.max_objects: 0 is outside"},
		{"refit", func(k *KEDAScaler) { k.RefitEvery = Duration(time.Second) }, "kedascaler.refit_every"},
		{"unknown replicas", func(k *KEDAScaler) { k.Replicas = "hpa" }, `kedascaler.replicas: "hpa" is not one of auto, kube, off`},
		{"replicas kube", func(k *KEDAScaler) { k.Replicas = KEDAReplicasKube }, ""},
		{"missing kubeconfig", func(k *KEDAScaler) { k.Kubeconfig = filepath.Join(t.TempDir(), "nope") }, "kedascaler.kubeconfig:"},
		{"kubeconfig while off", func(k *KEDAScaler) {
			k.Replicas, k.Kubeconfig = KEDAReplicasOff, filepath.Join(t.TempDir(), "kc")
		}, "kedascaler.kubeconfig: is set but kedascaler.replicas is off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := defaultKEDAScaler()
			tt.change(&k)
			ps := problemsOf(k.validate)
			switch {
			case tt.want == "" && len(ps) > 0:
				t.Fatalf("problems %v, want none", ps)
			case tt.want != "" && (len(ps) != 1 || !strings.Contains(ps[0], tt.want)):
				t.Fatalf("problems %v, want one containing %q", ps, tt.want)
			}
		})
	}
}

func TestKEDAScalerDefaults(t *testing.T) {
	k := defaultKEDAScaler()
	if k.Enabled() || k.History != KEDAHistoryStore || time.Duration(k.StreamInterval) != 15*time.Second ||
		time.Duration(k.MinEvalInterval) != 10*time.Second || k.MaxObjects != 1000 || time.Duration(k.RefitEvery) != 24*time.Hour ||
		k.Replicas != KEDAReplicasAuto || k.Kubeconfig != "" {
		t.Fatalf("defaults %+v", k)
	}
}

// TestKEDAScalerDeployManifest decodes the kedascaler section of the
// example deployment's configuration strictly, so that a key renamed here
// and not there (or misspelt there) fails, and validates it.
func TestKEDAScalerDeployManifest(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "deploy", "kubernetes", "vigil.yaml"))
	if err != nil {
		t.Skipf("no deployment example: %v", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc struct {
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
		}
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				t.Fatal("no ConfigMap with vigil.yaml in the example")
			}
			t.Fatal(err)
		}
		if doc.Kind != "ConfigMap" || doc.Data["vigil.yaml"] == "" {
			continue
		}
		var sec struct {
			KEDAScaler yaml.Node `yaml:"kedascaler"`
		}
		if err := yaml.Unmarshal([]byte(doc.Data["vigil.yaml"]), &sec); err != nil {
			t.Fatal(err)
		}
		k := defaultKEDAScaler()
		b, _ := yaml.Marshal(&sec.KEDAScaler)
		kd := yaml.NewDecoder(bytes.NewReader(b))
		kd.KnownFields(true)
		if err := kd.Decode(&k); err != nil {
			t.Fatalf("the example's kedascaler section: %v", err)
		}
		if ps := problemsOf(k.validate); len(ps) > 0 {
			t.Fatalf("the example's kedascaler section: %v", ps)
		}
		if !strings.HasSuffix(k.Listen, ":9381") {
			t.Errorf("the example listens on %q; the Service and ScaledObject use 9381", k.Listen)
		}
		return
	}
}
