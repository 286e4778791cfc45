package kedascaler

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestDeployManifests parses every document of deploy/kubernetes and checks
// what can be checked without a cluster: each is a Kubernetes object, and
// the ScaledObject's external trigger points at the vigil Service's gRPC
// port and carries metadata this package accepts.
func TestDeployManifests(t *testing.T) {
	dir := filepath.Join("..", "deploy", "kubernetes")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s (%v)", dir, err)
	}
	type object struct {
		APIVersion string         `yaml:"apiVersion"`
		Kind       string         `yaml:"kind"`
		Metadata   map[string]any `yaml:"metadata"`
		Spec       yaml.Node      `yaml:"spec"`
	}
	kinds := map[string]int{}
	var triggers []map[string]string
	var servicePorts []int
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for i := 0; ; i++ {
			var o object
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			if o.APIVersion == "" || o.Kind == "" || o.Metadata["name"] == nil {
				t.Fatalf("%s document %d lacks apiVersion, kind or metadata.name", f, i)
			}
			kinds[o.Kind]++
			switch o.Kind {
			case "ScaledObject":
				var spec struct {
					Triggers []struct {
						Type     string            `yaml:"type"`
						Metadata map[string]string `yaml:"metadata"`
					} `yaml:"triggers"`
				}
				if err := o.Spec.Decode(&spec); err != nil {
					t.Fatalf("%s: ScaledObject spec: %v", f, err)
				}
				for _, tr := range spec.Triggers {
					if tr.Type != "external" {
						t.Fatalf("%s: trigger type %q, want external", f, tr.Type)
					}
					triggers = append(triggers, tr.Metadata)
				}
			case "Service":
				var spec struct {
					Ports []struct {
						Name string `yaml:"name"`
						Port int    `yaml:"port"`
					} `yaml:"ports"`
				}
				if err := o.Spec.Decode(&spec); err != nil {
					t.Fatalf("%s: Service spec: %v", f, err)
				}
				for _, p := range spec.Ports {
					if p.Name == "grpc-scaler" {
						servicePorts = append(servicePorts, p.Port)
					}
				}
			}
		}
	}
	for _, k := range []string{"Deployment", "Service", "ScaledObject"} {
		if kinds[k] == 0 {
			t.Errorf("no %s among the manifests (have %v)", k, kinds)
		}
	}
	if len(servicePorts) != 1 {
		t.Fatalf("want one grpc-scaler Service port, have %v", servicePorts)
	}
	for _, m := range triggers {
		addr := m["scalerAddress"]
		if addr == "" || filepath.Ext(addr) == "" && !bytes.HasSuffix([]byte(addr), []byte(":9381")) {
			t.Fatalf("scalerAddress %q does not point at the grpc-scaler port %d", addr, servicePorts[0])
		}
		if _, err := ParseMetadata(m, DefaultOptions().MaxHistoryPoints); err != nil {
			t.Fatalf("the example trigger metadata is refused: %v", err)
		}
	}
}
