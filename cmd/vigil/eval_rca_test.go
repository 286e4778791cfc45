package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sockShopFixture writes a small RCD Sock Shop layout: two services, two
// cases, each a CPU fault of the named service.
func sockShopFixture(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "sock-shop-data")
	for _, svc := range []string{"carts", "orders"} {
		p := filepath.Join(dir, svc+"-cpu", "1")
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		var normal, anom strings.Builder
		normal.WriteString("time,carts_cpu,orders_cpu,carts_lat_50\n")
		anom.WriteString("time,carts_cpu,orders_cpu,carts_lat_50\n")
		for i := 0; i < 100; i++ {
			w := float64(i%5) * 0.01
			fmt.Fprintf(&normal, "%d,%g,%g,%g\n", 1000+i, 1+w, 2+w, 0.1+w/10)
			c, o := 1+w, 2+w
			if svc == "carts" {
				c = 90
			} else {
				o = 90
			}
			fmt.Fprintf(&anom, "%d,%g,%g,%g\n", 5000+i, c, o, 0.1+w/10)
		}
		if err := os.WriteFile(filepath.Join(p, "normal.csv"), []byte(normal.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "anomalous.csv"), []byte(anom.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Dir(dir)
}

func TestEvalRCA(t *testing.T) {
	dir := sockShopFixture(t)
	var out bytes.Buffer
	root := newRootCmd()
	root.SetOut(&out)
	root.SetArgs([]string{"eval", "rca", "--data", dir, "--json"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Datasets []struct {
			Name  string  `json:"name"`
			Cases int     `json:"cases"`
			AC1   float64 `json:"ac1"`
			AC3   float64 `json:"ac3"`
			Avg5  float64 `json:"avg5"`
			Note  string  `json:"note"`
			// Groups are the fault kinds (cpu here).
			Groups map[string]struct {
				Cases int     `json:"cases"`
				AC1   float64 `json:"ac1"`
			} `json:"groups"`
		} `json:"datasets"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if len(got.Datasets) != 1 || got.Datasets[0].Name != "sockshop" || got.Datasets[0].Cases != 2 {
		t.Fatalf("datasets %+v", got.Datasets)
	}
	if d := got.Datasets[0]; d.AC1 != 1 || d.Avg5 != 1 || !strings.Contains(d.Note, "no call graph") {
		t.Errorf("scores %+v, want both cases right at 1 and a note on the missing graph", d)
	}
	if g, ok := got.Datasets[0].Groups["cpu"]; !ok || g.Cases != 2 || g.AC1 != 1 || len(got.Datasets[0].Groups) != 1 {
		t.Errorf("groups %+v, want cpu with both cases right", got.Datasets[0].Groups)
	}

	out.Reset()
	root = newRootCmd()
	root.SetOut(&out)
	root.SetArgs([]string{"eval", "rca", "--data", dir, "--misses", "--groups"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sockshop", "vigil", "n-sigma", "baro", "sockshop/cpu", "note: sockshop: no call graph"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestEvalRCAErrors(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"no data flag", []string{"eval", "rca"}, true, "--data DIR is required"},
		{"missing folder", []string{"eval", "rca", "--data", filepath.Join(t.TempDir(), "nope")}, false, "open dataset folder"},
		{"unknown layout", []string{"eval", "rca", "--data", t.TempDir()}, false, "unknown dataset layout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRootCmd()
			root.SetOut(&bytes.Buffer{})
			root.SetArgs(tt.args)
			err := root.Execute()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
			var ue usageError
			if errors.As(err, &ue) != tt.usage {
				t.Errorf("usage error %v, want %v", errors.As(err, &ue), tt.usage)
			}
		})
	}
}
